"""Open a project file: pragmas, migrations, project identity."""

from __future__ import annotations

import sqlite3
import uuid
from datetime import UTC, datetime
from pathlib import Path

from sqlite_utils import Database

from gradeapp.db.migrations import MIGRATION_SET, known_migrations, migrations
from gradeapp.errors import ProjectError

BUSY_TIMEOUT_MS = 5000


def now_iso() -> str:
    """Return the current UTC time as ISO 8601 with microseconds (sortable as text)."""
    return datetime.now(UTC).isoformat(timespec="microseconds")


def connect(path: str | Path) -> Database:
    """Connect with the project's pragmas; statements outside db.atomic() commit at once."""
    # isolation_level=None: no implicit BEGIN, so a single write is on disk when execute() returns
    # and multi-step writes use db.atomic() (explicit BEGIN/COMMIT, savepoints when nested).
    conn = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False, timeout=BUSY_TIMEOUT_MS / 1000)
    db = Database(conn)
    try:
        db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        db.execute("PRAGMA journal_mode = WAL")
        db.execute("PRAGMA foreign_keys = ON")
        db.execute("PRAGMA synchronous = FULL")
    except sqlite3.DatabaseError as exc:
        conn.close()
        raise ProjectError(f"{path}: not a gradeapp project file ({exc})") from exc
    return db


def _applied(db: Database) -> list[str]:
    if not db["_sqlite_migrations"].exists():
        return []
    return [m.name for m in migrations.applied(db)]


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
    db = connect(path)
    try:
        applied = _applied(db)
        unknown = [m for m in applied if m not in known_migrations()]
        if unknown:
            raise ProjectError(
                f"{path}: written by a newer gradeapp (schema {unknown[-1]}); upgrade gradeapp to open it"
            )
        tables = set(db.table_names())
        if not applied and tables - {"_sqlite_migrations"}:
            raise ProjectError(f"{path}: an SQLite file that is not a gradeapp project")
        try:
            migrations.apply(db)
        except sqlite3.OperationalError as exc:
            raise ProjectError(f"{path}: cannot upgrade the project ({exc})") from exc
        if db.execute("SELECT COUNT(*) FROM project WHERE key = 'uuid'").fetchone()[0] == 0:
            with db.atomic():
                db.execute("INSERT INTO project(key, value) VALUES ('uuid', ?)", [str(uuid.uuid4())])
                db.execute("INSERT INTO project(key, value) VALUES ('created', ?)", [now_iso()])
                db.execute("INSERT INTO project(key, value) VALUES ('name', ?)", [name or path.stem])
    except BaseException:
        db.close()
        raise
    return Store(db, path)


__all__ = ["MIGRATION_SET", "connect", "now_iso", "open_project"]
