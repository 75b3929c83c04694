"""SQL of the judge audit: audit draws, the lean verdict reads the statistics need, the judge-cell cache."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Sequence
from typing import Any

import pandas as pd

from gradeapp.db.connection import is_busy, now_iso
from gradeapp.errors import GradeappError


# -- audit draws ----------------------------------------------------------------------------------
def add_audit_draw(
    store,
    name: str,
    design: str,
    seed: int | None,
    params: dict[str, Any],
    items: Iterable[tuple[int, str, float]],
) -> int:
    """Record a draw and its items (generation_id, stratum, inclusion_prob) in one transaction; return its id."""
    with store.atomic():
        if store.conn.execute("SELECT 1 FROM audit_draws WHERE name = ?", [name]).fetchone():
            raise GradeappError(f"an audit draw named {name!r} exists already (choose another --name)")
        cur = store.conn.execute(
            "INSERT INTO audit_draws(name, design, seed, params, created) VALUES (?, ?, ?, ?, ?)",
            [name, design, seed, json.dumps(params, sort_keys=True), now_iso()],
        )
        draw_id = cur.lastrowid
        store.conn.executemany(
            "INSERT INTO audit_items(draw_id, generation_id, stratum, inclusion_prob) VALUES (?, ?, ?, ?)",
            ((draw_id, int(g), s, float(p)) for g, s, p in items),
        )
    return draw_id


def audit_draws_df(store) -> pd.DataFrame:
    """Return every draw with its item count (read-only)."""
    return pd.read_sql_query(
        "SELECT d.id, d.name, d.design, d.seed, d.params, d.created, COUNT(i.generation_id) AS items "
        "FROM audit_draws d LEFT JOIN audit_items i ON i.draw_id = d.id GROUP BY d.id ORDER BY d.id",
        store.conn,
    )


def audit_items_df(store, draw_id: int | None = None) -> pd.DataFrame:
    """Return the items of one draw (or of all): draw_id, generation_id, uid, stratum, inclusion_prob."""
    sql = (
        "SELECT i.draw_id, i.generation_id, g.uid, i.stratum, i.inclusion_prob FROM audit_items i "
        "JOIN generations g ON g.id = i.generation_id"
    )
    params: list[Any] = []
    if draw_id is not None:
        sql += " WHERE i.draw_id = ?"
        params.append(draw_id)
    return pd.read_sql_query(sql + " ORDER BY i.draw_id, i.generation_id", store.conn, params=params)


# -- lean reads for the statistics ----------------------------------------------------------------
def judge_graders(store) -> pd.DataFrame:
    """Return the judge graders with their count of verdicts, most verdicts first (one judge: not counted)."""
    judges = pd.read_sql_query(
        "SELECT id, name, key FROM graders WHERE kind = 'judge' ORDER BY id", store.conn
    )
    if len(judges) < 2:  # counting a judge's millions of rows would decide nothing
        return judges.assign(n=0)
    return pd.read_sql_query(
        "SELECT gr.id, gr.name, gr.key, (SELECT COUNT(*) FROM verdicts v WHERE v.grader_id = gr.id) AS n "
        "FROM graders gr WHERE gr.kind = 'judge' ORDER BY n DESC, gr.id",
        store.conn,
    )


# The rule of the verdict that counts, in one place: among the rows of one identity (grader x generation x
# criterion x run) the last in CURRENT_ORDER counts, and a current row with status 'retracted' hides it.
# Every reader below orders or ranks by it; the covering index of migration 030 follows this order.
IDENTITY = ("grader_id", "generation_id", "criterion", "run")
CURRENT_ORDER = ("id",)  # insertion order (migration 020): a client-supplied `created` never decides


def current_rule() -> str:
    """Return a text naming the current-verdict rule (the judge cell cache is rebuilt when it changes)."""
    return "last by " + ", ".join(CURRENT_ORDER)


def current_verdicts_sql(where: str, columns: str = "v.*") -> str:
    """Return a query of the current, non-retracted verdicts among the rows that match where (alias v).

    The window ranks each identity's rows by the rule; meant for selective filters (people, some items).
    """
    latest = ", ".join(f"{c} DESC" for c in CURRENT_ORDER)
    return (
        f"SELECT {columns} FROM (SELECT v.*, ROW_NUMBER() OVER (PARTITION BY {', '.join(IDENTITY)} "
        f"ORDER BY {latest}) AS current_rank FROM verdicts v WHERE {where}) v "
        "WHERE v.current_rank = 1 AND v.status != 'retracted'"
    )


def judge_points(store, grader_id: int) -> pd.DataFrame:
    """Return the current verdicts of one judge: generation_id, criterion, run, value (NaN if unparsed)."""
    return pd.read_sql_query(
        current_verdicts_sql("v.grader_id = ?", "v.generation_id, v.criterion, v.run, v.value")
        + " ORDER BY v.generation_id, v.criterion, v.run",
        store.conn,
        params=[grader_id],
        dtype={"value": "float64"},
    )


# -- a judge's rows packed for the cell cache (core/judge_cells.py) --------------------------------
# One integer per row: generation_id << 28 | code << 9 | run << 3 | value << 1 | retracted (value 2: none);
# code 1-3 the fixed criteria, 4 + skills.id a skill, 2^19 - 1 a criterion the catalog does not know.
_CODE_SQL = (
    "CASE v.criterion WHEN 'topic' THEN 1 WHEN 'makes_sense' THEN 2 WHEN 'sentence_limit' THEN 3 "
    "ELSE IFNULL((SELECT 4 + s.id FROM skills s WHERE 'skill:' || s.name = v.criterion AND "
    "s.name = substr(v.criterion, 7)), 524287) END"
)


def packed_judge_rows(
    store, grader_id: int, generation_ids: Sequence[int] | None = None, lo: int = 0, hi: int = 0
):
    """Return a judge's rows of some generations (ids, or the range lo..hi) packed, in identity + rule order.

    SQLite concatenates the packed integers into one text that numpy parses, so no Python object is
    made per verdict.
    """
    import numpy as np

    where = "v.grader_id = ? AND v.generation_id BETWEEN ? AND ?"
    params: list[Any] = [grader_id, lo, hi]
    if generation_ids is not None:
        where = "v.grader_id = ? AND v.generation_id IN (SELECT value FROM json_each(?))"
        params = [grader_id, json.dumps([int(g) for g in generation_ids])]
    order = ", ".join(f"v.{c}" for c in (*IDENTITY[1:], *CURRENT_ORDER))
    sql = (
        "SELECT group_concat(p) FROM (SELECT (v.generation_id << 28) | ("
        + _CODE_SQL
        + " << 9) | (MIN(v.run, 63) << 3) | (IFNULL(v.value, 2) << 1) | (v.status = 'retracted') AS p "
        f"FROM verdicts v INDEXED BY verdicts_identity_current WHERE {where} ORDER BY {order})"
    )
    text = store.conn.execute(sql, params).fetchone()[0]
    if not text:
        return np.zeros(0, np.int64)
    return np.array(text.split(","), dtype=np.int64) if len(text) < 64 else parse_ints(text)


def parse_ints(text: str):
    """Return the integers of a comma-separated text (SQLite group_concat) as an int64 array."""
    import numpy as np

    return np.fromstring(text, dtype=np.int64, sep=",")  # C-speed parse of a comma-separated text


def unknown_criterion_rows(store, grader_id: int, generation_ids: Sequence[int]) -> list[tuple]:
    """Return (generation_id, criterion, run, value, retracted) of some generations in identity + rule order."""
    order = ", ".join((*IDENTITY[1:], *CURRENT_ORDER))
    return store.conn.execute(
        "SELECT generation_id, criterion, run, IFNULL(value, -1), status = 'retracted' FROM verdicts "
        f"WHERE grader_id = ? AND generation_id IN (SELECT value FROM json_each(?)) ORDER BY {order}",
        [grader_id, json.dumps([int(g) for g in generation_ids])],
    ).fetchall()


def judged_generation_range(store, grader_id: int) -> tuple[int, int]:
    """Return the lowest and highest generation id a judge has a verdict on ((0, -1) when none)."""
    lo = store.conn.execute(
        "SELECT generation_id FROM verdicts WHERE grader_id = ? ORDER BY generation_id LIMIT 1", [grader_id]
    ).fetchone()
    if lo is None:
        return 0, -1
    hi = store.conn.execute(
        "SELECT generation_id FROM verdicts WHERE grader_id = ? ORDER BY generation_id DESC LIMIT 1",
        [grader_id],
    ).fetchone()
    return int(lo[0]), int(hi[0])


def skill_names_by_id(store) -> dict[int, str]:
    """Return skills.id -> name (read-only)."""
    return dict(store.conn.execute("SELECT id, name FROM skills"))


def max_verdict_id(store) -> int:
    """Return the highest verdict id (0 when none)."""
    return int(store.conn.execute("SELECT IFNULL(MAX(id), 0) FROM verdicts").fetchone()[0])


def generations_changed_since(store, grader_id: int, verdict_id: int) -> list[int]:
    """Return the generations with a verdict of this grader newer than verdict_id (a rowid range scan)."""
    return [
        r[0]
        for r in store.conn.execute(
            "SELECT DISTINCT generation_id FROM verdicts WHERE id > ? AND grader_id = ?",
            [verdict_id, grader_id],
        )
    ]


def cell_cache_state(store, grader_id: int) -> tuple[int, str] | None:
    """Return (max verdict id, rule signature) of a judge's cell cache, or None when it has none."""
    row = store.conn.execute(
        "SELECT max_verdict_id, rule FROM judge_cells_state WHERE grader_id = ?", [grader_id]
    ).fetchone()
    return None if row is None else (int(row[0]), str(row[1]))


def read_cells(
    store, grader_id: int, generation_ids: Sequence[int] | None = None
) -> tuple[list[int], list[bytes]]:
    """Return the cached generation ids and packed cells of a judge (of some generations only), by generation."""
    if generation_ids is None:
        rows = store.conn.execute(
            "SELECT generation_id, cells FROM judge_cells WHERE grader_id = ? ORDER BY generation_id",
            [grader_id],
        ).fetchall()
    else:
        rows = store.conn.execute(
            "SELECT generation_id, cells FROM judge_cells WHERE grader_id = ? "
            "AND generation_id IN (SELECT value FROM json_each(?)) ORDER BY generation_id",
            [grader_id, json.dumps([int(g) for g in generation_ids])],
        ).fetchall()
    return [r[0] for r in rows], [r[1] for r in rows]


def write_cells(
    store, grader_id: int, rows: Iterable[tuple[int, bytes]], max_id: int, rule: str, *, rebuild: bool
) -> bool:
    """Store a judge's packed cells (generation_id, cells) and the state they are valid for, in one transaction.

    Return whether they were kept. A read-only project keeps nothing, nor does one whose write lock
    another program held past the limit ("database is locked"): the cells are a cache, the next load
    writes them. Any other failure (a full disk, an I/O error, a file made read-only under us) is raised.
    """
    if store.readonly:
        return False
    try:
        with store.atomic():
            if rebuild:
                store.conn.execute("DELETE FROM judge_cells WHERE grader_id = ?", [grader_id])
            store.conn.executemany(
                "INSERT OR REPLACE INTO judge_cells(grader_id, generation_id, cells) VALUES (?, ?, ?)",
                ((grader_id, int(g), c) for g, c in rows),
            )
            store.conn.execute(
                "INSERT OR REPLACE INTO judge_cells_state(grader_id, max_verdict_id, rule) VALUES (?, ?, ?)",
                [grader_id, max_id, rule],
            )
    except sqlite3.OperationalError as exc:
        if is_busy(exc):
            return False
        raise
    return True


def generations_frame(store) -> pd.DataFrame:
    """Return id, uid, student, round, combination_id, k, topic of every generation, by id (read-only).

    The columns of Store.generations_df, read as two packed texts that numpy and str.split parse, not as a
    Python tuple per generation.
    """
    import numpy as np

    students = [r[0] for r in store.conn.execute("SELECT DISTINCT student FROM generations")]
    topics = dict(store.conn.execute("SELECT id, name FROM topics"))
    cols = ["id", "uid", "student", "round", "combination_id", "k", "topic"]
    parts = []
    for code, student in enumerate(students):  # each student's generations from the covering index
        text = store.conn.execute(
            "SELECT group_concat(id || ',' || combination_id || ',' || round) FROM generations "
            "INDEXED BY generations_student WHERE student = ?",
            [student],
        ).fetchone()[0]
        part = parse_ints(text).reshape(-1, 3)
        parts.append(np.column_stack([part, np.full(len(part), code)]))
    if not parts:
        return pd.DataFrame({c: pd.Series([], dtype="int64" if c not in ("uid", "student", "topic") else "str")
                             for c in cols})  # fmt: skip
    rows = np.concatenate(parts)
    rows = rows[np.argsort(rows[:, 0], kind="stable")]
    combos = parse_ints(
        store.conn.execute(
            "SELECT group_concat(id || ',' || k || ',' || topic_id) FROM combinations"
        ).fetchone()[0]
    ).reshape(-1, 3)
    combos = combos[np.argsort(combos[:, 0])]
    at = np.searchsorted(combos[:, 0], rows[:, 1])
    flat = np.column_stack([rows[:, 0], rows[:, 2], rows[:, 1], combos[at, 1], combos[at, 2], rows[:, 3]])
    uid_text = store.conn.execute(
        "SELECT group_concat(uid, char(31)) FROM (SELECT uid FROM generations ORDER BY id)"
    ).fetchone()[0]
    uids = uid_text.split("\x1f")
    if len(uids) != len(flat):  # a uid holding the separator: read them one by one
        uids = [r[0] for r in store.conn.execute("SELECT uid FROM generations ORDER BY id")]
    topic_ids = np.unique(flat[:, 4])
    topic_names = np.array([topics.get(int(t)) for t in topic_ids], dtype=object)
    return pd.DataFrame(
        {
            "id": flat[:, 0],
            "uid": pd.array(uids, dtype="str"),
            "student": pd.array(np.array(students, dtype=object)[flat[:, 5]], dtype="str"),
            "round": flat[:, 1],
            "combination_id": flat[:, 2],
            "k": flat[:, 3],
            "topic": pd.array(topic_names[np.searchsorted(topic_ids, flat[:, 4])], dtype="str"),
        }
    )


def checks_arrays(store):
    """Return (generation_id, n_sentences) arrays of the cached checks and {generation_id: named skills JSON}."""
    import numpy as np

    text = store.conn.execute(
        "SELECT group_concat(generation_id || ',' || n_sentences) FROM checks"
    ).fetchone()[0]
    flat = parse_ints(text) if text else np.zeros(0, np.int64)
    named = dict(
        store.conn.execute("SELECT generation_id, named_skills FROM checks WHERE named_skills != '[]'")
    )
    return flat[0::2], flat[1::2], named


def judged_generations(store) -> pd.DataFrame:
    """Return generation_id, student, k of every generation with at least one judge verdict (read-only)."""
    return pd.read_sql_query(
        "SELECT g.id AS generation_id, g.student, c.k FROM generations g "
        "JOIN combinations c ON c.id = g.combination_id "
        "WHERE EXISTS (SELECT 1 FROM verdicts v WHERE v.generation_id = g.id "
        "  AND v.grader_id IN (SELECT id FROM graders WHERE kind = 'judge')) ORDER BY g.id",
        store.conn,
    )


# (grader_id, generation_id) of items whose latest submit/unsubmit event (by id, the insertion order:
# never a client-supplied time, see migration 020) is a submit.
SUBMITTED_SQL = (
    "SELECT grader_id, generation_id FROM ("
    "  SELECT grader_id, generation_id, action, ROW_NUMBER() OVER ("
    "    PARTITION BY grader_id, generation_id ORDER BY id DESC) AS latest "
    "  FROM reviews WHERE action IN ('submit', 'unsubmit')"
    ") WHERE latest = 1 AND action = 'submit'"
)


def human_points(store) -> pd.DataFrame:
    """Return the current verdicts of people with two flags: submitted (latest submit/unsubmit is a submit)
    and post_reveal. Columns: grader_id, grader, generation_id, criterion, value, post_reveal, submitted.

    The submitted flag is looked up per verdict through the reviews_identity index (grader_id, generation_id,
    id): a join with SUBMITTED_SQL scanned the whole submit list for every verdict (4.4 s for 15,600 verdicts
    of 2,400 submitted items, quadratic in the project's size)."""
    people = "v.grader_id IN (SELECT id FROM graders WHERE kind = 'human')"
    return pd.read_sql_query(
        f"WITH cur AS ({current_verdicts_sql(people)}) "
        "SELECT v.grader_id, gr.name AS grader, v.generation_id, v.criterion, v.value, v.post_reveal, "
        "  IFNULL((SELECT r.action FROM reviews r WHERE r.grader_id = v.grader_id "
        "    AND r.generation_id = v.generation_id AND r.action IN ('submit', 'unsubmit') "
        "    ORDER BY r.id DESC LIMIT 1) = 'submit', 0) AS submitted "
        "FROM cur v JOIN graders gr ON gr.id = v.grader_id "
        "ORDER BY v.id",
        store.conn,
        dtype={"value": "float64"},
    )


def judge_ids(store) -> list[tuple[int, str]]:
    """Return (id, name) of every judge grader, by id."""
    return store.conn.execute("SELECT id, name FROM graders WHERE kind = 'judge' ORDER BY id").fetchall()


def people_cell_verdicts(store) -> pd.DataFrame:
    """Return the current verdicts of people and adjudicators with the columns of team_store.cell_verdicts."""
    where = "v.grader_id IN (SELECT id FROM graders WHERE kind IN ('human', 'adjudicator'))"
    return pd.read_sql_query(
        f"WITH cur AS ({current_verdicts_sql(where)}) "
        "SELECT v.id, gr.kind, gr.name AS grader, v.generation_id, g.uid, v.criterion, v.run, v.value, "
        "v.status, v.reason, v.note, v.seconds, v.guideline_version, v.created FROM cur v "
        "JOIN graders gr ON gr.id = v.grader_id JOIN generations g ON g.id = v.generation_id ORDER BY v.id",
        store.conn,
    )


def common_combinations(store) -> set[int]:
    """Return the ids of combinations holding a skill flagged common (read-only)."""
    return {
        r[0]
        for r in store.conn.execute(
            "SELECT DISTINCT cs.combination_id FROM combination_skills cs JOIN skills s ON s.id = cs.skill_id "
            "WHERE s.common = 1"
        )
    }


def skill_categories(store) -> pd.DataFrame:
    """Return criterion ('skill:<name>') -> category for every skill (read-only)."""
    return pd.read_sql_query("SELECT 'skill:' || name AS criterion, category FROM skills", store.conn)


def change_marker(store) -> tuple[int, int]:
    """Return (max verdict id, max review id): it changes whenever a verdict or a review is added."""
    row = store.conn.execute(
        "SELECT (SELECT IFNULL(MAX(id), 0) FROM verdicts), (SELECT IFNULL(MAX(id), 0) FROM reviews)"
    ).fetchone()
    return int(row[0]), int(row[1])
