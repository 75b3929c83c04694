"""Open a project file: create or upgrade it by its migrations, give it an identity."""

from __future__ import annotations

import sqlite3
import uuid
from pathlib import Path

from gradeapp.db.connection import applied_migrations, connect, now_iso, table_names
from gradeapp.db.migrations import known_migrations, migration_set
from gradeapp.db.store import Store
from gradeapp.errors import ProjectError


def open_project(path: str | Path, *, create: bool = True, name: str | None = None):
    """Open (and create or upgrade) the project at path; return a Store.

    Refuses a file whose schema was written by a newer gradeapp.
    """

    path = Path(path)
    if not path.exists() and not create:
        raise ProjectError(f"{path}: no such project file (create one with 'gradeapp init')")
    if path.exists() and path.is_dir():
        raise ProjectError(f"{path}: is a folder, not a project file")
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = connect(path)
    store = Store(conn, path)
    try:
        tables = table_names(conn)
        applied = applied_migrations(conn, tables)
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
