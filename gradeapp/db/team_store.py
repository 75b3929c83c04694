"""SQL of the team workflow: packages, merge, adjudication, guidelines and annotator signals.

Functions take a Store (or, for a package being merged, a read-only sqlite3 connection) and use
store.atomic() around multi-step writes; callers decide the outer transaction.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import time
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gradeapp.db import connection
from gradeapp.db.connection import now_iso
from gradeapp.db.migrations import canonical_names
from gradeapp.db.store import VERDICT_COLUMNS, Store

if TYPE_CHECKING:  # pandas loads where a table is built: opening the desk does not need it
    import pandas as pd

ASSIGNMENT_PREFIX = "package:"

# What a merged verdict carries besides its identity (annotator, generation uid, criterion, run, created).
MERGED_VERDICT_FIELDS = (
    "value",
    "raw_value",
    "status",
    "reason",
    "note",
    "seconds",
    "post_reveal",
    "guideline_version",
)
MERGED_REVIEW_FIELDS = ("seconds", "note")


def _rows(conn: sqlite3.Connection, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
    cur = conn.execute(sql, list(params))
    cols = [c[0] for c in cur.description]
    return [dict(zip(cols, r, strict=True)) for r in cur]


# -- audit draws ----------------------------------------------------------------------------------
def draws(store: Store) -> list[dict[str, Any]]:
    """Return the audit draws with their item counts, oldest first (read-only)."""
    return _rows(
        store.conn,
        "SELECT d.id, d.name, d.design, d.seed, d.created, COUNT(i.generation_id) AS n "
        "FROM audit_draws d LEFT JOIN audit_items i ON i.draw_id = d.id GROUP BY d.id ORDER BY d.id",
    )


def draw_generation_ids(store: Store, draw_id: int) -> list[int]:
    """Return the generation ids of one audit draw, in id order (read-only)."""
    return [
        r[0]
        for r in store.conn.execute(
            "SELECT generation_id FROM audit_items WHERE draw_id = ? ORDER BY generation_id", [draw_id]
        )
    ]


def all_generation_ids(store: Store) -> list[int]:
    """Return every generation id, in id order (read-only)."""
    return [r[0] for r in store.conn.execute("SELECT id FROM generations ORDER BY id")]


def generation_fingerprints(
    conn: sqlite3.Connection, ids: Iterable[int] | None = None
) -> list[dict[str, Any]]:
    """Return uid, text, topic and skill names of generations (all, or the given ids), for hashing."""
    sql = (
        "SELECT g.id, g.uid, g.text, t.name AS topic, "
        "(SELECT json_group_array(s.name) FROM (SELECT s.name FROM combination_skills cs "
        " JOIN skills s ON s.id = cs.skill_id WHERE cs.combination_id = g.combination_id ORDER BY cs.position) s"
        ") AS skills FROM generations g JOIN combinations c ON c.id = g.combination_id "
        "JOIN topics t ON t.id = c.topic_id"
    )
    if ids is None:
        rows = _rows(conn, sql + " ORDER BY g.id")
    else:
        rows = []
        for chunk in _chunks(sorted(set(ids)), 500):
            rows += _rows(conn, sql + f" WHERE g.id IN ({', '.join('?' * len(chunk))}) ORDER BY g.id", chunk)
    for r in rows:
        r["skills"] = json.loads(r["skills"])
    return rows


# -- assignment records (kept in the main project's key/value table) ------------------------------
def save_assignment(store: Store, package_id: str, record: dict[str, Any]) -> None:
    """Record what a package was given (annotator, generation uid -> content hash...)."""
    store.set_project_value(ASSIGNMENT_PREFIX + package_id, json.dumps(record, sort_keys=True))


def assignment(store: Store, package_id: str) -> dict[str, Any] | None:
    """Return the record of a package this project issued, or None (read-only)."""
    row = store.conn.execute(
        "SELECT value FROM project WHERE key = ?", [ASSIGNMENT_PREFIX + package_id]
    ).fetchone()
    return json.loads(row[0]) if row else None


def assignments(store: Store) -> dict[str, dict[str, Any]]:
    """Return every package record by package id (read-only)."""
    cur = store.conn.execute("SELECT key, value FROM project WHERE key LIKE ?", [ASSIGNMENT_PREFIX + "%"])
    return {k[len(ASSIGNMENT_PREFIX) :]: json.loads(v) for k, v in cur}


def package_merge_counts(store: Store) -> list[tuple[str, dict[str, int]]]:
    """Return (package id, counts) of every package merge the imports log holds, oldest first (read-only)."""
    cur = store.conn.execute("SELECT sha256, counts FROM imports WHERE kind = 'package' ORDER BY id")
    return [(sha, json.loads(counts)) for sha, counts in cur]


# -- building a package -----------------------------------------------------------------------------
def copy_into_package(main: Store, package: Store, generation_ids: Sequence[int]) -> None:
    """Copy the catalog, the given generations (with combinations and checks) and guidelines; keep ids.

    Never copies verdicts, replies, reviews or graders: a package holds nothing of the judge.
    """
    src, dst = main.conn, package.conn
    ids = sorted(set(generation_ids))
    with package.atomic():
        for table in ("skills", "topics", "students", "guidelines"):
            rows = src.execute(f"SELECT * FROM {table}").fetchall()
            if rows:
                marks = ", ".join("?" * len(rows[0]))
                dst.executemany(f"INSERT INTO {table} VALUES ({marks})", rows)
        gen_rows = []
        for chunk in _chunks(ids, 500):
            marks = ", ".join("?" * len(chunk))
            gen_rows += src.execute(f"SELECT * FROM generations WHERE id IN ({marks})", chunk).fetchall()
        combo_ids = sorted({r[2] for r in gen_rows})
        for chunk in _chunks(combo_ids, 500):
            marks = ", ".join("?" * len(chunk))
            dst.executemany(
                "INSERT INTO combinations VALUES (?, ?, ?, ?, ?)",
                src.execute(f"SELECT * FROM combinations WHERE id IN ({marks})", chunk).fetchall(),
            )
            dst.executemany(
                "INSERT INTO combination_skills VALUES (?, ?, ?)",
                src.execute(
                    f"SELECT * FROM combination_skills WHERE combination_id IN ({marks})", chunk
                ).fetchall(),
            )
        if gen_rows:
            dst.executemany(f"INSERT INTO generations VALUES ({', '.join('?' * len(gen_rows[0]))})", gen_rows)
        for chunk in _chunks(ids, 500):
            marks = ", ".join("?" * len(chunk))
            dst.executemany(
                "INSERT INTO checks VALUES (?, ?, ?, ?)",
                src.execute(f"SELECT * FROM checks WHERE generation_id IN ({marks})", chunk).fetchall(),
            )


def _chunks(items: Sequence[Any], size: int) -> Iterable[list[Any]]:
    for i in range(0, len(items), size):
        yield list(items[i : i + size])


# -- reading a package (a read-only connection to another file) -------------------------------------
def open_readonly(path: Path) -> sqlite3.Connection:
    """Open an SQLite file read-only (raises sqlite3.DatabaseError when it is not one).

    The URI is built from the file path (see gradeapp.db.connection.file_uri): a '#' or '?' in the
    name stays part of it, and a package on a read-only medium opens too.
    """
    return connection.open_readonly(path)


@contextlib.contextmanager
def time_bound(conn: sqlite3.Connection, seconds: float) -> Iterator[None]:
    """Stop any statement on conn once `seconds` have passed (SQLite's progress handler): TimeoutError.

    A crafted file can make a read endless (a view over an unbounded recursive query); the handler
    runs every few thousand virtual-machine steps, so even one endless statement is stopped.
    """
    deadline = time.monotonic() + seconds
    conn.set_progress_handler(lambda: time.monotonic() > deadline, 10_000)
    try:
        yield
    except sqlite3.OperationalError as exc:
        if "interrupt" in str(exc) and time.monotonic() > deadline:
            raise TimeoutError(f"reading took longer than {seconds:g} s") from None
        raise
    finally:
        conn.set_progress_handler(None, 0)


def schema_problem(conn: sqlite3.Connection, tables: Iterable[str]) -> str | None:
    """Return why a file's schema cannot be read as plain data, or None (read-only).

    Each of `tables` that exists must be an ordinary table without computed columns (a view or a
    virtual table runs code of the file's author on every read); the file holds no trigger.
    """
    kinds = {
        name: (kind, sql or "")
        for kind, name, sql in conn.execute("SELECT type, name, sql FROM sqlite_master")
    }
    for table in tables:
        kind, sql = kinds.get(table, ("table", ""))
        if kind != "table" or sql.upper().startswith("CREATE VIRTUAL"):
            return f"'{table}' is a {'virtual table' if kind == 'table' else kind}, not a table"
        computed = [r[1] for r in conn.execute(f'PRAGMA table_xinfo("{table}")') if r[6] != 0]
        if computed:
            return f"table '{table}' has a computed column '{computed[0]}'"
    triggers = sorted(name for name, (kind, _) in kinds.items() if kind == "trigger")
    if triggers:
        return f"holds a trigger ('{triggers[0]}'), which gradeapp never makes"
    return None


def table_names(conn: sqlite3.Connection) -> set[str]:
    """Return the table and view names of a connection's main database (read-only)."""
    return {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type IN ('table', 'view')")}


def package_migrations(conn: sqlite3.Connection) -> list[str]:
    """Return the gradeapp migrations applied to a file (read-only)."""
    rows = conn.execute("SELECT name FROM _sqlite_migrations WHERE migration_set = 'gradeapp'")
    return canonical_names([r[0] for r in rows])


def package_project(conn: sqlite3.Connection) -> dict[str, str]:
    """Return the key/value settings of a file (read-only)."""
    return dict(conn.execute("SELECT key, value FROM project").fetchall())


def package_graders(conn: sqlite3.Connection) -> list[dict[str, Any]]:
    """Return the graders of a package that wrote a verdict or a review (read-only)."""
    return _rows(
        conn,
        "SELECT id, kind, name FROM graders WHERE id IN (SELECT grader_id FROM verdicts UNION "
        "SELECT grader_id FROM reviews) ORDER BY id",
    )


def package_guidelines(conn: sqlite3.Connection) -> dict[int, str]:
    """Return guideline version -> text of a file (read-only)."""
    return dict(conn.execute("SELECT version, text FROM guidelines").fetchall())


def package_verdicts(conn: sqlite3.Connection) -> list[dict[str, Any]]:
    """Return every verdict of a package with its grader's kind and name and its generation uid."""
    fields = ", ".join(f"v.{f}" for f in MERGED_VERDICT_FIELDS)
    return _rows(
        conn,
        f"SELECT v.id, gr.kind, gr.name AS grader, g.uid, v.criterion, v.run, v.created, {fields} "
        "FROM verdicts v JOIN graders gr ON gr.id = v.grader_id JOIN generations g ON g.id = v.generation_id "
        "ORDER BY v.id",
    )


def package_reviews(conn: sqlite3.Connection) -> list[dict[str, Any]]:
    """Return every review event of a package with its grader and generation uid."""
    return _rows(
        conn,
        "SELECT r.id, gr.kind, gr.name AS grader, g.uid, r.action, r.created, r.seconds, r.note "
        "FROM reviews r JOIN graders gr ON gr.id = r.grader_id JOIN generations g ON g.id = r.generation_id "
        "ORDER BY r.id",
    )


# -- merging into the main project ------------------------------------------------------------------
def guideline_texts(store: Store) -> dict[int, str]:
    """Return guideline version -> text of the project (read-only)."""
    return package_guidelines(store.conn)


def uid_ids(store: Store) -> dict[str, int]:
    """Return generation uid -> id (read-only)."""
    return dict(store.conn.execute("SELECT uid, id FROM generations").fetchall())


def existing_verdicts(store: Store, grader_id: int) -> dict[tuple, dict[str, Any]]:
    """Return a person's verdicts keyed by identity (uid, criterion, run, created) (read-only)."""
    fields = ", ".join(f"v.{f}" for f in MERGED_VERDICT_FIELDS)
    rows = _rows(
        store.conn,
        f"SELECT g.uid, v.criterion, v.run, v.created, {fields} FROM verdicts v "
        "JOIN generations g ON g.id = v.generation_id WHERE v.grader_id = ?",
        [grader_id],
    )
    return {(r["uid"], r["criterion"], r["run"], r["created"]): r for r in rows}


def existing_reviews(store: Store, grader_id: int) -> dict[tuple, dict[str, Any]]:
    """Return a person's review events keyed by identity (uid, action, created) (read-only)."""
    rows = _rows(
        store.conn,
        "SELECT g.uid, r.action, r.created, r.seconds, r.note FROM reviews r "
        "JOIN generations g ON g.id = r.generation_id WHERE r.grader_id = ?",
        [grader_id],
    )
    return {(r["uid"], r["action"], r["created"]): r for r in rows}


def insert_verdicts(store: Store, rows: Sequence[dict[str, Any]]) -> int:
    """Append merged verdict rows (VERDICT_COLUMNS and merged_from), in the given order; return the count."""
    cols = (*VERDICT_COLUMNS, "merged_from")
    before = store.conn.total_changes
    store.conn.executemany(
        f"INSERT INTO verdicts({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})",
        [tuple(r.get(c) for c in cols) for r in rows],
    )
    return store.conn.total_changes - before


def insert_reviews(store: Store, rows: Iterable[dict[str, Any]]) -> int:
    """Append review rows (grader_id, generation_id, action, seconds, note, created, merged_from)."""
    before = store.conn.total_changes
    store.conn.executemany(
        "INSERT INTO reviews(grader_id, generation_id, action, seconds, note, created, merged_from) "
        "VALUES (?, ?, ?, ?, ?, ?, ?)",
        [
            (
                r["grader_id"],
                r["generation_id"],
                r["action"],
                r.get("seconds"),
                r.get("note"),
                r["created"],
                r.get("merged_from"),
            )  # fmt: skip
            for r in rows
        ],
    )
    return store.conn.total_changes - before


# -- content of a project, independent of row ids ---------------------------------------------------
def verdict_history(store: Store) -> list[tuple]:
    """Return every verdict as (kind, grader, uid, criterion, run, created, fields...), sorted (read-only)."""
    cols = ", ".join(
        f"v.{c}"
        for c in VERDICT_COLUMNS
        if c not in ("grader_id", "generation_id", "criterion", "run", "created", "reply_id")
    )
    return sorted(
        store.conn.execute(
            f"SELECT gr.kind, gr.name, g.uid, v.criterion, v.run, v.created, {cols} FROM verdicts v "
            "JOIN graders gr ON gr.id = v.grader_id JOIN generations g ON g.id = v.generation_id"
        ).fetchall(),
        key=repr,
    )


def current_verdict_content(store: Store) -> list[tuple]:
    """Return the current verdicts as (kind, grader, uid, criterion, run, created, value, status), sorted."""
    return sorted(
        store.conn.execute(
            "SELECT gr.kind, gr.name, g.uid, v.criterion, v.run, v.created, v.value, v.status FROM current_verdicts v "
            "JOIN graders gr ON gr.id = v.grader_id JOIN generations g ON g.id = v.generation_id"
        ).fetchall(),
        key=repr,
    )


def review_history(store: Store) -> list[tuple]:
    """Return every review event as (grader, uid, action, created, seconds, note), sorted (read-only)."""
    return sorted(
        store.conn.execute(
            "SELECT gr.name, g.uid, r.action, r.created, r.seconds, r.note FROM reviews r "
            "JOIN graders gr ON gr.id = r.grader_id JOIN generations g ON g.id = r.generation_id"
        ).fetchall(),
        key=repr,
    )


# -- adjudication and quality: the verdicts they read -----------------------------------------------
def cell_verdicts(store: Store) -> pd.DataFrame:
    """Return current verdicts with grader kind/name, generation uid, reason and note (read-only)."""
    import pandas as pd

    return pd.read_sql_query(
        "SELECT v.id, gr.kind, gr.name AS grader, v.generation_id, g.uid, v.criterion, v.run, v.value, "
        "v.status, v.reason, v.note, v.seconds, v.guideline_version, v.created FROM current_verdicts v "
        "JOIN graders gr ON gr.id = v.grader_id JOIN generations g ON g.id = v.generation_id",
        store.conn,
    )


def generation_notes(store: Store, generation_ids: Iterable[int]) -> dict[int, list[tuple[str, str]]]:
    """Return the people's review notes per generation as (person, note) (read-only)."""
    out: dict[int, list[tuple[str, str]]] = {}
    ids = sorted(set(generation_ids))
    for chunk in _chunks(ids, 500):
        marks = ", ".join("?" * len(chunk))
        for gid, name, note in store.conn.execute(
            f"SELECT r.generation_id, gr.name, r.note FROM reviews r JOIN graders gr ON gr.id = r.grader_id "
            f"WHERE r.generation_id IN ({marks}) AND r.note IS NOT NULL AND r.note != '' ORDER BY r.created, r.id",
            chunk,
        ):
            out.setdefault(gid, []).append((name, note))
    return out


def judge_replies(store: Store, generation_id: int) -> list[dict[str, Any]]:
    """Return the judges' raw replies to a generation, by run (read-only)."""
    return _rows(
        store.conn,
        "SELECT gr.name AS judge, r.run, r.raw, r.parse_status FROM replies r JOIN graders gr ON gr.id = r.grader_id "
        "WHERE r.generation_id = ? ORDER BY gr.name, r.run",
        [generation_id],
    )


def submit_reviews(store: Store) -> pd.DataFrame:
    """Return the people's submit events: grader, generation_id, seconds, created (read-only)."""
    import pandas as pd

    return pd.read_sql_query(
        "SELECT gr.name AS grader, r.generation_id, r.seconds, r.created FROM reviews r "
        "JOIN graders gr ON gr.id = r.grader_id WHERE r.action = 'submit' AND gr.kind = 'human'",
        store.conn,
    )


# -- guidelines -------------------------------------------------------------------------------------
def guideline_versions(store: Store) -> list[dict[str, Any]]:
    """Return every guideline version (version, text, created), oldest first (read-only)."""
    return _rows(store.conn, "SELECT version, text, created FROM guidelines ORDER BY version")


def latest_guideline(store: Store) -> dict[str, Any] | None:
    """Return the newest guideline version, or None when there is none (read-only)."""
    rows = _rows(store.conn, "SELECT version, text, created FROM guidelines ORDER BY version DESC LIMIT 1")
    return rows[0] if rows else None


def add_guideline(store: Store, text: str, version: int | None = None) -> int:
    """Store a new guideline version (the next number unless given); return its number."""
    with store.atomic():
        if version is None:
            version = store.conn.execute("SELECT COALESCE(MAX(version), 0) + 1 FROM guidelines").fetchone()[0]
        store.conn.execute(
            "INSERT INTO guidelines(version, text, created) VALUES (?, ?, ?)", [version, text, now_iso()]
        )
    return int(version)


def resequence(store: Store, table: str, grader_id: int, generation_ids: Iterable[int], issued: str) -> int:
    """Move a person's rows merged from packages issued after `issued` behind the rows just added.

    Rows keep their content and get new ids, so that the insertion order (which decides what is
    current) follows the order in which the parent issued the packages, not the order of merging.
    Return how many rows moved.
    """
    if table not in ("verdicts", "reviews"):
        raise ValueError(table)
    cols = [r[1] for r in store.conn.execute(f"PRAGMA table_info({table})") if r[1] != "id"]
    moved = 0
    for chunk in _chunks(sorted(set(generation_ids)), 500):
        marks = ", ".join("?" * len(chunk))
        rows = store.conn.execute(
            f"SELECT id, {', '.join(cols)} FROM {table} WHERE grader_id = ? AND generation_id IN ({marks}) "
            "AND merged_from > ? ORDER BY merged_from, id",
            [grader_id, *chunk, issued],
        ).fetchall()
        if not rows:
            continue
        store.conn.executemany(f"DELETE FROM {table} WHERE id = ?", [(r[0],) for r in rows])
        store.conn.executemany(
            f"INSERT INTO {table}({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})",
            [r[1:] for r in rows],
        )
        moved += len(rows)
    return moved
