"""Open a project file: pragmas, migrations, project identity."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

from gradeapp.db.migrations import MIGRATION_SET
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


def table_names(conn: sqlite3.Connection) -> set[str]:
    return {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}


def applied_migrations(conn: sqlite3.Connection, tables: set[str]) -> list[str]:
    if "_sqlite_migrations" not in tables:
        return []
    return [
        r[0]
        for r in conn.execute(
            "SELECT name FROM _sqlite_migrations WHERE migration_set = ? ORDER BY rowid", [MIGRATION_SET]
        )
    ]


__all__ = ["MIGRATION_SET", "connect", "now_iso"]
