"""SQL of the judge audit: audit draws, the lean verdict reads the statistics need, bulk inserts."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import pandas as pd

from gradeapp.db.connection import now_iso
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
    """Return the judge graders with their count of current verdicts, most verdicts first."""
    return pd.read_sql_query(
        "SELECT gr.id, gr.name, gr.key, (SELECT COUNT(*) FROM verdicts v WHERE v.grader_id = gr.id) AS n "
        "FROM graders gr WHERE gr.kind = 'judge' ORDER BY n DESC, gr.id",
        store.conn,
    )


def judge_points(store, grader_id: int) -> pd.DataFrame:
    """Return the current verdicts of one judge: generation_id, criterion, run, value (NaN if unparsed).

    The same rows as the current_verdicts view (the last inserted, highest id, per identity; retractions
    hidden), but read with one index range scan and de-duplicated in pandas, which is several times
    faster than the view's correlated subquery on millions of rows.
    """
    # The identity index delivers rows grouped by identity in id (insertion) order, so the
    # last row of a group is the current one; a 0/1 flag instead of the status text keeps the fetch cheap.
    df = pd.read_sql_query(
        "SELECT generation_id, criterion, run, value, status = 'retracted' AS retracted FROM verdicts "
        "WHERE grader_id = ? ORDER BY generation_id, criterion, run, id",
        store.conn,
        params=[grader_id],
        dtype={"value": "float64"},
    )
    df = df[~df.duplicated(["generation_id", "criterion", "run"], keep="last")]
    return df[df["retracted"] == 0].drop(columns="retracted").reset_index(drop=True)


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
    and post_reveal. Columns: grader_id, grader, generation_id, criterion, value, post_reveal, submitted."""
    df = pd.read_sql_query(
        f"WITH sub AS ({SUBMITTED_SQL}) "
        "SELECT v.grader_id, gr.name AS grader, v.generation_id, v.criterion, v.value, v.post_reveal, v.status, "
        "  (s.grader_id IS NOT NULL) AS submitted "
        "FROM current_verdicts v JOIN graders gr ON gr.id = v.grader_id "
        "LEFT JOIN sub s ON s.grader_id = v.grader_id AND s.generation_id = v.generation_id "
        "WHERE gr.kind = 'human'",
        store.conn,
        dtype={"value": "float64"},
    )
    return df[df["status"] != "retracted"].drop(columns="status").reset_index(drop=True)


def common_combinations(store) -> set[int]:
    """Return the ids of combinations holding a skill flagged common (read-only)."""
    return {
        r[0]
        for r in store.conn.execute(
            "SELECT DISTINCT cs.combination_id FROM combination_skills cs JOIN skills s ON s.id = cs.skill_id "
            "WHERE s.common = 1"
        )
    }


@contextlib.contextmanager
def bulk_loading(store) -> Iterator[None]:
    """Load many verdicts fast: a large page cache and the verdict indexes rebuilt once at the end.

    Runs inside one transaction; on error the indexes come back with the rollback.
    """
    store.conn.execute("PRAGMA cache_size = -262144")  # 256 MB while loading
    with store.atomic():
        store.conn.execute("DROP INDEX IF EXISTS verdicts_identity")
        store.conn.execute("DROP INDEX IF EXISTS verdicts_generation")
        yield
        store.conn.execute(
            "CREATE INDEX verdicts_identity ON verdicts(grader_id, generation_id, criterion, run, id)"
        )
        store.conn.execute("CREATE INDEX verdicts_generation ON verdicts(generation_id)")


def is_submitted(store, grader_id: int, generation_id: int) -> bool:
    """Tell whether a person's latest submit/unsubmit event on a generation is a submit (read-only)."""
    row = store.conn.execute(
        "SELECT action FROM reviews WHERE grader_id = ? AND generation_id = ? AND action IN ('submit', 'unsubmit') "
        "ORDER BY id DESC LIMIT 1",
        [grader_id, generation_id],
    ).fetchone()
    return row is not None and row[0] == "submit"


def decided_criteria(store, grader_id: int, generation_id: int) -> set[str]:
    """Return the criteria a grader's current verdicts on a generation decide with a 1 or 0 (read-only)."""
    rows = store.conn.execute(
        "SELECT criterion, value FROM verdicts WHERE grader_id = ? AND generation_id = ? "
        "ORDER BY criterion, run, created, id",
        [grader_id, generation_id],
    ).fetchall()
    latest: dict[str, object] = {}
    for criterion, value in rows:  # ordered by created, id: the last row of a criterion counts
        latest[criterion] = value
    return {c for c, v in latest.items() if v is not None}


def active_draw_generations(store) -> tuple[str | None, set[int]]:
    """Return the latest audit draw's name and its generation ids ((None, set()) without a draw)."""
    row = store.conn.execute("SELECT id, name FROM audit_draws ORDER BY id DESC LIMIT 1").fetchone()
    if row is None:
        return None, set()
    ids = store.conn.execute("SELECT generation_id FROM audit_items WHERE draw_id = ?", [row[0]]).fetchall()
    return row[1], {i for (i,) in ids}


def skill_categories(store) -> pd.DataFrame:
    """Return criterion ('skill:<name>') -> category for every skill (read-only)."""
    return pd.read_sql_query("SELECT 'skill:' || name AS criterion, category FROM skills", store.conn)


def change_marker(store) -> tuple[int, int]:
    """Return (max verdict id, max review id): it changes whenever a verdict or a review is added."""
    row = store.conn.execute(
        "SELECT (SELECT IFNULL(MAX(id), 0) FROM verdicts), (SELECT IFNULL(MAX(id), 0) FROM reviews)"
    ).fetchone()
    return int(row[0]), int(row[1])


def verdicts_export_df(store) -> pd.DataFrame:
    """Return every current verdict in long format with the identity of its generation and grader.

    One row per grader x generation x criterion x run; 'submitted' marks a person's submitted item and
    'raw' carries a judge's raw reply once per reply (on its first criterion row).
    """
    df = pd.read_sql_query(
        f"WITH sub AS ({SUBMITTED_SQL}) "
        "SELECT g.uid AS generation, gr.kind, gr.name AS grader, gr.model, gr.endpoint_host, gr.prompt_version, "
        "  gr.prompt_hash, gr.temperature, gr.max_tokens, v.criterion, v.run, v.value, v.status, v.raw_value, "
        "  v.reason, v.note, v.seconds, v.post_reveal, v.guideline_version, v.created, "
        "  CASE WHEN gr.kind = 'human' THEN (s.grader_id IS NOT NULL) END AS submitted, v.reply_id, rp.raw, v.match_method "
        "FROM current_verdicts v JOIN graders gr ON gr.id = v.grader_id JOIN generations g ON g.id = v.generation_id "
        "LEFT JOIN sub s ON s.grader_id = v.grader_id AND s.generation_id = v.generation_id "
        "LEFT JOIN replies rp ON rp.id = v.reply_id "
        "ORDER BY gr.kind, gr.id, g.id, v.run, v.id",
        store.conn,
    )
    first = ~df["reply_id"].duplicated() & df["reply_id"].notna()
    df["raw"] = df["raw"].where(first)
    return df.drop(columns="reply_id")


# -- bulk writes (simulated projects) -------------------------------------------------------------
def bulk_insert_combinations(store, rows: Sequence[tuple[int, int, int, Sequence[int]]]) -> None:
    """Insert combinations (id, k, topic_id, skill_ids) and their skill links with executemany."""
    store.conn.executemany(
        "INSERT INTO combinations(id, k, topic_id, skill_key, seed) VALUES (?, ?, ?, ?, NULL)",
        ((cid, k, tid, ",".join(str(s) for s in sorted(sk))) for cid, k, tid, sk in rows),
    )
    store.conn.executemany(
        "INSERT INTO combination_skills(combination_id, position, skill_id) VALUES (?, ?, ?)",
        ((cid, pos, sid) for cid, _k, _t, sk in rows for pos, sid in enumerate(sk)),
    )


def bulk_insert_generations(store, rows: Iterable[tuple]) -> None:
    """Insert generations (id, uid, combination_id, student, round, text, created) with executemany."""
    store.conn.executemany(
        "INSERT INTO generations(id, uid, combination_id, student, round, text, source, created) "
        "VALUES (?, ?, ?, ?, ?, ?, 'simulated', ?)",
        rows,
    )


def bulk_insert_checks(store, rows: Iterable[tuple[int, int, int, str]]) -> None:
    """Insert cached checks (generation_id, n_sentences, n_sentences_ref, named_skills JSON)."""
    store.conn.executemany("INSERT OR REPLACE INTO checks VALUES (?, ?, ?, ?)", rows)


def bulk_insert_verdicts(store, rows: Iterable[tuple]) -> None:
    """Insert verdicts (grader_id, generation_id, criterion, run, value, status, created) with executemany."""
    store.conn.executemany(
        "INSERT INTO verdicts(grader_id, generation_id, criterion, run, value, raw_value, status, created) "
        "VALUES (?, ?, ?, ?, ?, CAST(? AS TEXT), ?, ?)",
        ((g, gen, c, r, v, v, s, t) for g, gen, c, r, v, s, t in rows),
    )


def bulk_insert_reviews(store, rows: Iterable[tuple[int, int, str, str]]) -> None:
    """Insert reviews (grader_id, generation_id, action, created) with executemany."""
    store.conn.executemany(
        "INSERT INTO reviews(grader_id, generation_id, action, created) VALUES (?, ?, ?, ?)", rows
    )
