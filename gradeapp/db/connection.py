"""Open a project file: pragmas, migrations, project identity."""

from __future__ import annotations

import sqlite3
import uuid
from datetime import UTC, datetime
from pathlib import Path

from gradeapp.db.migrations import MIGRATION_SET, known_migrations, migration_set
from gradeapp.errors import ProjectError

BUSY_TIMEOUT_MS = 5000


def now_iso() -> str:
    """Return the current UTC time as ISO 8601 with microseconds (sortable as text)."""
    return datetime.now(UTC).isoformat(timespec="microseconds")


def connect(path: str | Path) -> sqlite3.Connection:
    """Connect with the project's pragmas; statements outside Store.atomic() commit at once."""
    # isolation_level=None: no implicit BEGIN, so a single write is on disk when execute() returns
    # and multi-step writes use Store.atomic() (explicit BEGIN/COMMIT, savepoints when nested).
    conn = sqlite3.connect(
        str(path), isolation_level=None, check_same_thread=False, timeout=BUSY_TIMEOUT_MS / 1000
    )
    try:
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA foreign_keys = ON")
        conn.execute("PRAGMA synchronous = FULL")
        conn.execute("PRAGMA recursive_triggers = ON")  # as sqlite-utils sets it
    except sqlite3.DatabaseError as exc:
        conn.close()
        raise ProjectError(f"{path}: not a gradeapp project file ({exc})") from exc
    return conn


def _tables(conn: sqlite3.Connection) -> set[str]:
    return {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}


def _applied(conn: sqlite3.Connection, tables: set[str]) -> list[str]:
    if "_sqlite_migrations" not in tables:
        return []
    return [
        r[0]
        for r in conn.execute(
            "SELECT name FROM _sqlite_migrations WHERE migration_set = ? ORDER BY rowid", [MIGRATION_SET]
        )
    ]


def open_project(path: str | Path, *, create: bool = True, name: str | None = None):
    """Open (and create or upgrade) the project at path; return a Store.

    Refuses a file whose schema was written by a newer gradeapp.
    """
    from gradeapp.db.store import Store

    path = Path(path)
    if not path.exists() and not create:
        raise ProjectError(f"{path}: no such project file (create one with 'gradeapp init')")
    if path.exists() and path.is_dir():
        raise ProjectError(f"{path}: is a folder, not a project file")
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = connect(path)
    store = Store(conn, path)
    try:
        tables = _tables(conn)
        applied = _applied(conn, tables)
        unknown = [m for m in applied if m not in known_migrations()]
        if unknown:
            raise ProjectError(
                f"{path}: written by a newer gradeapp (schema {unknown[-1]}); upgrade gradeapp to open it"
            )
        if not applied and tables - {"_sqlite_migrations"}:
            raise ProjectError(f"{path}: an SQLite file that is not a gradeapp project")
        if set(known_migrations()) - set(applied):
            try:
                migration_set().apply(store.db)
            except sqlite3.OperationalError as exc:
                raise ProjectError(f"{path}: cannot upgrade the project ({exc})") from exc
        if conn.execute("SELECT COUNT(*) FROM project WHERE key = 'uuid'").fetchone()[0] == 0:
            with store.atomic():
                conn.execute("INSERT INTO project(key, value) VALUES ('uuid', ?)", [str(uuid.uuid4())])
                conn.execute("INSERT INTO project(key, value) VALUES ('created', ?)", [now_iso()])
                conn.execute("INSERT INTO project(key, value) VALUES ('name', ?)", [name or path.stem])
    except BaseException:
        conn.close()
        raise
    return store


__all__ = ["MIGRATION_SET", "connect", "now_iso", "open_project"]
