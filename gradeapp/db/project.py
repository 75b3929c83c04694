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
    connect,
    file_identity,
    inspect_file,
    now_iso,
    on_readonly_medium,
    set_file_identity,
)
from gradeapp.db.integrity import ALWAYS_CHECK_BYTES, check_structure, quick_check
from gradeapp.db.migrations import apply_migrations, known_migrations
from gradeapp.db.store import Store
from gradeapp.errors import ProjectError


def _refuse_newer(path: Path, info: FileInfo) -> None:
    unknown = [m for m in info.migrations if m not in known_migrations()]
    if unknown:
        raise ProjectError(
            f"{path}: written by a newer gradeapp (schema {unknown[-1]}); upgrade gradeapp to open it"
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
    if _has_pages(path) and not _wal_holds_commits(path):  # with commits in its -wal, the file is not all
        check_structure(path)
    info = inspect_file(path)
    if info.exists and not create and not info.migrations and _is_empty(path):
        # an empty file given as a project (a typo, a failed copy) stays empty: 'init' makes projects
        raise ProjectError(f"{path}: an empty file (0 bytes), not a gradeapp project; nothing was changed")
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
        store.identity = file_identity(conn)
        if store.identity is None:
            _give_identity(store, name or path.stem)
    except BaseException:
        conn.close()
        raise
    return store


def _give_identity(store: Store, name: str) -> None:
    """Write a new project's uuid, name and file identity (or a file identity an older project lacks)."""
    conn = store.conn
    with store.atomic():  # read again under the write lock: two processes may be creating the file at once
        if conn.execute("SELECT COUNT(*) FROM project WHERE key = 'uuid'").fetchone()[0] == 0:
            conn.execute("INSERT INTO project(key, value) VALUES ('uuid', ?)", [str(uuid.uuid4())])
            conn.execute("INSERT INTO project(key, value) VALUES ('created', ?)", [now_iso()])
            conn.execute("INSERT INTO project(key, value) VALUES ('name', ?)", [name])
        if file_identity(conn) is None:
            set_file_identity(conn)
        store.identity = file_identity(conn)


def _has_pages(path: Path) -> bool:
    try:
        return path.is_file() and path.stat().st_size > 0
    except OSError:
        return False


def _wal_holds_commits(path: Path) -> bool:
    try:
        return Path(f"{path}-wal").stat().st_size > 0
    except OSError:
        return False


def _is_empty(path: Path) -> bool:
    try:
        return path.stat().st_size == 0
    except OSError:
        return False


def _upgrade(store: Store, path: Path, info: FileInfo) -> None:
    pending = set(known_migrations()) - set(info.migrations)
    if pending:
        if info.migrations:  # an existing project: keep a copy of it as it was
            write_backup(store.conn, path, "migration")
        try:
            # one transaction under the write lock: another process opening the file at the same moment
            # waits, then finds every migration applied (sqlite-utils reads what is pending inside it)
            with store.atomic():
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
    store = Store(conn, path, readonly=True)
    store.identity = file_identity(conn)
    if info.unclean and on_readonly_medium(path):
        # nothing can write the -shm a reader of the -wal needs: the file is read as it is, without them
        store.notice = (
            f"gradeapp: {path}: read-only here and its -wal holds commits not yet in the file, so what is "
            "shown may be incomplete; open it where it can be written to see everything"
        )
    return store
