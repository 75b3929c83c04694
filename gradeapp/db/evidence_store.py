"""SQL of evidence: append-only marks and quotes, the current ones, and the tables the statistics read.

A mark is current when it is an 'add' row that no 'remove' row names. Nothing is updated or deleted.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from gradeapp.db.connection import now_iso
from gradeapp.db.store import Store

if TYPE_CHECKING:
    import pandas as pd

EVIDENCE_COLUMNS = (
    "grader_id",
    "generation_id",
    "criterion",
    "run",
    "action",
    "removes_id",
    "start_char",
    "end_char",
    "quote",
    "grounding",
    "score",
    "reply_id",
    "merged_from",
    "created",
)
# A grader's display name (its key only where two graders share a name: two configurations of one model).
_GRADER_NAME = (
    "CASE WHEN (SELECT COUNT(*) FROM graders same WHERE same.name = gr.name) > 1 THEN gr.key ELSE gr.name END"
)
_CURRENT = (
    "SELECT e.* FROM evidence e WHERE e.action = 'add' "
    "AND NOT EXISTS (SELECT 1 FROM evidence r WHERE r.removes_id = e.id)"
)


def insert_evidence(conn: sqlite3.Connection, rows: Iterable[dict[str, Any]]) -> list[int]:
    """Append evidence rows (dicts with EVIDENCE_COLUMNS keys; missing ones default); return their ids.

    Runs on the caller's connection, inside the caller's transaction (a judge's reply and its quotes,
    a person's verdict and the mark, are written together).
    """
    stamp = now_iso()
    ids = []
    sql = f"INSERT INTO evidence({', '.join(EVIDENCE_COLUMNS)}) VALUES ({', '.join('?' * len(EVIDENCE_COLUMNS))})"
    for row in rows:
        values = {
            "run": 1,
            "action": "add",
            "created": stamp,
            **{k: v for k, v in row.items() if v is not None},
        }
        ids.append(conn.execute(sql, [values.get(c) for c in EVIDENCE_COLUMNS]).lastrowid)
    return ids


def replace_reply_evidence(
    conn: sqlite3.Connection, reply_id: int, rows: Iterable[dict[str, Any]], stamp: str | None = None
) -> int:
    """Store a judge reply's quotes, first removing (by new rows) those of the reply it replaces; return the count.

    On the caller's connection and in its transaction: the judge's save path writes a reply, its
    verdicts and its quotes together.
    """
    stamp = stamp or now_iso()
    old = conn.execute(f"SELECT * FROM ({_CURRENT}) WHERE reply_id = ?", [reply_id])
    cols = [c[0] for c in old.description]
    removals = [
        {
            **{c: r[c] for c in cols if c in EVIDENCE_COLUMNS},
            "action": "remove",
            "removes_id": r["id"],
            "created": stamp,
        }
        for r in (dict(zip(cols, row, strict=True)) for row in old.fetchall())
    ]
    insert_evidence(conn, removals)
    return len(insert_evidence(conn, ({**r, "reply_id": reply_id, "created": stamp} for r in rows)))


def insert_new_evidence(conn: sqlite3.Connection, rows: Iterable[dict[str, Any]]) -> int:
    """Append the marks that are not already current (same grader, item, criterion, run, span and words).

    An import or merge run twice adds nothing the second time. Returns how many were added.
    """
    added = 0
    for row in rows:
        known = conn.execute(
            f"SELECT 1 FROM ({_CURRENT}) WHERE grader_id = ? AND generation_id = ? AND criterion = ? AND run = ? "
            "AND start_char IS ? AND end_char IS ? AND quote = ?",
            [row["grader_id"], row["generation_id"], row["criterion"], row.get("run", 1), row.get("start_char"),
             row.get("end_char"), row["quote"]],
        ).fetchone()  # fmt: skip
        if known is None:
            insert_evidence(conn, [row])
            added += 1
    return added


def add_evidence(store: Store, rows: Sequence[dict[str, Any]]) -> list[int]:
    """Append evidence rows in one transaction; return their ids."""
    with store.atomic():
        return insert_evidence(store.conn, rows)


def has_evidence(store: Store) -> bool:
    """Tell whether the project holds any evidence row (read-only)."""
    return store.execute("SELECT EXISTS (SELECT 1 FROM evidence)").fetchone()[0] == 1


def evidence_row(store: Store, evidence_id: int) -> dict[str, Any] | None:
    """Return one evidence row, or None (read-only)."""
    cur = store.execute("SELECT * FROM evidence WHERE id = ?", [evidence_id])
    row = cur.fetchone()
    return dict(zip([c[0] for c in cur.description], row, strict=True)) if row else None


def is_current(store: Store, evidence_id: int) -> bool:
    """Tell whether this 'add' row is still current (no 'remove' row names it) (read-only)."""
    row = store.execute(
        "SELECT action = 'add' AND NOT EXISTS (SELECT 1 FROM evidence r WHERE r.removes_id = e.id) "
        "FROM evidence e WHERE e.id = ?",
        [evidence_id],
    ).fetchone()
    return bool(row and row[0])


def current_evidence(
    store: Store, generation_id: int, grader_ids: Sequence[int] | None = None
) -> list[dict[str, Any]]:
    """Return the current evidence of a generation (of some graders), oldest first (read-only)."""
    sql = f"SELECT * FROM ({_CURRENT}) WHERE generation_id = ?"
    params: list[Any] = [generation_id]
    if grader_ids is not None:
        sql += f" AND grader_id IN ({', '.join('?' * len(grader_ids)) or 'NULL'})"
        params.extend(grader_ids)
    cur = store.execute(sql + " ORDER BY id", params)
    cols = [c[0] for c in cur.description]
    return [dict(zip(cols, r, strict=True)) for r in cur]


def cell_marks(store: Store, generation_id: int, criterion: str) -> list[dict[str, Any]]:
    """Return the current marks of every grader on one generation x criterion, with the grader's name and kind."""
    cur = store.execute(
        f"SELECT {_GRADER_NAME} AS grader, gr.kind, e.run, e.start_char, e.end_char, e.quote, e.grounding "
        f"FROM ({_CURRENT}) e JOIN graders gr ON gr.id = e.grader_id "
        "WHERE e.generation_id = ? AND e.criterion = ? ORDER BY gr.kind DESC, gr.name, e.id",
        [generation_id, criterion],
    )
    cols = [c[0] for c in cur.description]
    return [dict(zip(cols, r, strict=True)) for r in cur]


def current_evidence_df(store: Store) -> pd.DataFrame:
    """Return every current mark and quote with its grader's key and kind and the generation's k."""
    import pandas as pd  # deferred: pandas costs the desk's start

    return pd.read_sql_query(
        f"SELECT e.id, e.grader_id, {_GRADER_NAME} AS grader, gr.kind, e.generation_id, e.criterion, e.run, "
        'e.start_char AS start, e.end_char AS "end", e.quote, e.grounding, e.score, e.created, c.k '
        f"FROM ({_CURRENT}) e JOIN graders gr ON gr.id = e.grader_id "
        "JOIN generations g ON g.id = e.generation_id JOIN combinations c ON c.id = g.combination_id "
        "ORDER BY e.id",
        store.conn,
    )


def grader_marks(store: Store, grader_id: int, first: int, last: int) -> dict[tuple, list[dict[str, Any]]]:
    """Return one grader's current marks on generations first..last, per (generation, criterion, run)."""
    cur = store.execute(
        f"SELECT generation_id, criterion, run, start_char, end_char, quote, grounding FROM ({_CURRENT}) "
        "WHERE grader_id = ? AND generation_id BETWEEN ? AND ? ORDER BY id",
        [grader_id, first, last],
    )
    out: dict[tuple, list[dict[str, Any]]] = {}
    for gid, criterion, run, start, end, quote, grounding in cur:
        mark = {"start": start, "end": end, "quote": quote, "grounding": grounding}
        out.setdefault((gid, criterion, run), []).append(mark)
    return out


def all_evidence_rows(store: Store) -> list[dict[str, Any]]:
    """Return every evidence row, adds and removes, in insertion order (read-only; exports and packages)."""
    cur = store.execute("SELECT * FROM evidence ORDER BY id")
    cols = [c[0] for c in cur.description]
    return [dict(zip(cols, r, strict=True)) for r in cur]


def verdict_points_df(store: Store) -> pd.DataFrame:
    """Return every current verdict with a value: grader key, kind, generation, criterion, run, k, value."""
    import pandas as pd  # deferred: pandas costs the desk's start

    return pd.read_sql_query(
        f"SELECT {_GRADER_NAME} AS grader, gr.kind, v.generation_id, v.criterion, v.run, c.k, v.value "
        "FROM current_verdicts v JOIN graders gr ON gr.id = v.grader_id "
        "JOIN generations g ON g.id = v.generation_id JOIN combinations c ON c.id = g.combination_id "
        "WHERE v.value IS NOT NULL",
        store.conn,
    )


def generation_texts(store: Store, generation_ids: Iterable[int]) -> dict[int, str]:
    """Return the text of each of these generations (read-only)."""
    ids = sorted(set(generation_ids))
    out: dict[int, str] = {}
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        cur = store.execute(
            f"SELECT id, text FROM generations WHERE id IN ({', '.join('?' * len(chunk))})", chunk
        )
        out.update(dict(cur.fetchall()))
    return out


def package_marks(conn: sqlite3.Connection, person: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Return a package's (current marks, removed marks) of one person, each with its generation uid.

    Read on a package's own read-only connection (services/team.py's merge); a package made before
    migration 050 has no evidence table and gives none.
    """
    if (
        conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'evidence'").fetchone()
        is None
    ):
        return [], []
    select = (
        "SELECT g.uid, e.criterion, e.run, e.start_char, e.end_char, e.quote, e.created, "
        "EXISTS (SELECT 1 FROM evidence r WHERE r.removes_id = e.id) AS removed FROM evidence e "
        "JOIN graders gr ON gr.id = e.grader_id JOIN generations g ON g.id = e.generation_id "
        "WHERE e.action = 'add' AND gr.kind = 'human' AND gr.name = ? ORDER BY e.id"
    )
    cur = conn.execute(select, [person])
    cols = [c[0] for c in cur.description]
    rows = [dict(zip(cols, r, strict=True)) for r in cur]
    return [r for r in rows if not r["removed"]], [r for r in rows if r["removed"]]


def remove_matching(conn: sqlite3.Connection, row: dict[str, Any], stamp: str) -> int:
    """Append a 'remove' row for each current mark equal to row (grader, item, criterion, run, span, words)."""
    cur = conn.execute(
        f"SELECT id FROM ({_CURRENT}) WHERE grader_id = ? AND generation_id = ? AND criterion = ? AND run = ? "
        "AND start_char IS ? AND end_char IS ? AND quote = ?",
        [row["grader_id"], row["generation_id"], row["criterion"], row["run"], row["start_char"],
         row["end_char"], row["quote"]],
    )  # fmt: skip
    ids = [r[0] for r in cur.fetchall()]
    insert_evidence(conn, [{**row, "action": "remove", "removes_id": i, "created": stamp} for i in ids])
    return len(ids)
