"""Open a project file: check it read-only, create or upgrade it by its migrations, give it an identity.

Order matters: inspect_file() reads the file read-only and refuses what is not ours before anything
changes it (WAL mode, migrations); a project opened for writing after an unclean close (a -wal file was
left beside it) or small enough to check in well under a second passes `PRAGMA quick_check` first.
"""

from __future__ import annotations

import sqlite3
import uuid
from pathlib import Path

from gradeapp.db.backup import write_backup
from gradeapp.db.connection import (
    APPLICATION_ID,
    FileInfo,
    ProjectDamaged,
    connect,
    inspect_file,
    is_damaged,
    now_iso,
    on_readonly_medium,
    open_readonly,
)
from gradeapp.db.migrations import apply_migrations, known_migrations
from gradeapp.db.store import Store
from gradeapp.errors import ProjectError

# quick_check reads every page; below this size it costs well under a second, so a project opened for
# writing is always checked; a larger one only after an unclean close (see docs/desk.md).
ALWAYS_CHECK_BYTES = 64 * 1024 * 1024


def _refuse_newer(path: Path, info: FileInfo) -> None:
    unknown = [m for m in info.migrations if m not in known_migrations()]
    if unknown:
        raise ProjectError(
            f"{path}: written by a newer gradeapp (schema {unknown[-1]}); upgrade gradeapp to open it"
        )


def quick_check_result(path: Path) -> str:
    """Return what PRAGMA quick_check says of a file (read-only): 'ok' or the damage, on one line."""
    try:
        conn = open_readonly(path)
        try:
            result = conn.execute("PRAGMA quick_check(1)").fetchone()[0]
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        if not is_damaged(exc):
            raise
        result = str(exc)
    return " ".join(result.split())[:200]  # quick_check reports over several lines


def quick_check(path: Path) -> None:
    """Run PRAGMA quick_check on a read-only connection; raise ProjectDamaged unless it says ok."""
    result = quick_check_result(path)
    if result != "ok":
        raise ProjectDamaged(
            f"{path}: the file is damaged ({result}); nothing was changed. Restore a backup: "
            f"gradeapp backup list --project {path}"
        )


def open_project(path: str | Path, *, create: bool = True, name: str | None = None, readonly: bool = False):
    """Open (and create or upgrade) the project at path; return a Store.

    Refuses, without changing the file, another program's SQLite file, a schema written by a newer
    gradeapp and a damaged file. readonly (or a file on a read-only medium) opens it read-only: the
    store refuses writes, nothing is created beside it.
    """
    path = Path(path)
    if not path.exists() and not create:
        raise ProjectError(f"{path}: no such project file (create one with 'gradeapp init')")
    info = inspect_file(path)
    _refuse_newer(path, info)
    if info.exists and (readonly or on_readonly_medium(path)):
        return _open_readonly(path, info)
    path.parent.mkdir(parents=True, exist_ok=True)
    if info.migrations and (info.unclean or path.stat().st_size <= ALWAYS_CHECK_BYTES):
        quick_check(path)
    conn = connect(path)
    store = Store(conn, path)
    try:
        _upgrade(store, path, info)
        if conn.execute("SELECT COUNT(*) FROM project WHERE key = 'uuid'").fetchone()[0] == 0:
            with store.atomic():
                conn.execute("INSERT INTO project(key, value) VALUES ('uuid', ?)", [str(uuid.uuid4())])
                conn.execute("INSERT INTO project(key, value) VALUES ('created', ?)", [now_iso()])
                conn.execute("INSERT INTO project(key, value) VALUES ('name', ?)", [name or path.stem])
    except BaseException:
        conn.close()
        raise
    return store


def _upgrade(store: Store, path: Path, info: FileInfo) -> None:
    pending = set(known_migrations()) - set(info.migrations)
    if pending:
        if info.migrations:  # an existing project: keep a copy of it as it was
            write_backup(store.conn, path, "migration")
        try:
            apply_migrations(store.db)
        except sqlite3.OperationalError as exc:
            raise ProjectError(f"{path}: cannot upgrade the project ({exc})") from exc
    if store.conn.execute("PRAGMA application_id").fetchone()[0] != APPLICATION_ID:
        store.conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")


def _open_readonly(path: Path, info: FileInfo) -> Store:
    if not info.migrations:
        raise ProjectError(f"{path}: an empty file, not a gradeapp project")
    if set(known_migrations()) - set(info.migrations):
        raise ProjectError(
            f"{path}: made by an older gradeapp and read-only here, so it cannot be upgraded; "
            "copy it to a writable folder and open the copy"
        )
    try:
        conn = connect(path, readonly=True)
    except sqlite3.DatabaseError as exc:
        raise ProjectError(f"{path}: cannot open read-only ({exc})") from None
    return Store(conn, path, readonly=True)
