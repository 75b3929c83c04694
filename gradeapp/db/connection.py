"""Open a project file: look at it read-only first, then pragmas; waiting on a busy project.

Nothing here changes a file before `inspect_file` has read, read-only, that it is a gradeapp project
(its SQLite `application_id`, or the record of our migrations) or a new, empty file: a foreign SQLite
file is refused exactly as it was found (no WAL switch, no -wal/-shm left behind).
"""

from __future__ import annotations

import os
import sqlite3
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote

from gradeapp.db.migrations import APPLICATION_ID, MIGRATION_SET, canonical_names
from gradeapp.errors import EnvironmentFailure, GradeappError, ProjectError

LOCK_TIMEOUT_ENV = "GRADEAPP_LOCK_TIMEOUT"
DEFAULT_LOCK_TIMEOUT = 60.0  # seconds a writer waits for a busy project before it gives up
NOTICE_AFTER = 1.0  # seconds of waiting before the one-line notice
WAIT_SLICE_MS = 250  # a long wait for the write lock is many short ones, so that Ctrl+C stops it at once
BUSY_TIMEOUT_MS = int(DEFAULT_LOCK_TIMEOUT * 1000)


class ProjectDamaged(ProjectError, EnvironmentFailure):
    """The project file is damaged (failed quick_check or a malformed page): restore a backup."""


class ProjectUnreadable(ProjectError, EnvironmentFailure):
    """The project file exists but cannot be read (permissions, an I/O error, a size limit)."""


class ProjectReplaced(ProjectError, EnvironmentFailure):
    """The project was restored from a backup (or replaced) by another process while this one had it open."""


class ProjectInUse(ProjectError, EnvironmentFailure):
    """A whole-file operation found the project open and busy in another process beyond the time limit."""


class ProjectReadOnly(ProjectError, EnvironmentFailure):
    """A command that writes was given a project that can only be read (permissions, read-only medium)."""


def now_iso() -> str:
    """Return the current UTC time as ISO 8601 with microseconds (sortable as text)."""
    return datetime.now(UTC).isoformat(timespec="microseconds")


def lock_timeout() -> float:
    """Return the seconds a writer waits for a busy project (GRADEAPP_LOCK_TIMEOUT, default 60)."""
    raw = os.environ.get(LOCK_TIMEOUT_ENV)
    if raw is None or raw.strip() == "":
        return DEFAULT_LOCK_TIMEOUT
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not 0 <= value <= 86_400:
        raise GradeappError(f"{LOCK_TIMEOUT_ENV}={raw!r}: expected a number of seconds between 0 and 86400")
    return value


def is_busy(exc: BaseException) -> bool:
    """Return whether an SQLite error means that another connection holds the lock."""
    return isinstance(exc, sqlite3.OperationalError) and (
        "locked" in str(exc) or getattr(exc, "sqlite_errorcode", None) == sqlite3.SQLITE_BUSY
    )


def is_damaged(exc: BaseException) -> bool:
    """Return whether an SQLite error means a damaged file (malformed page, not a database...)."""
    code = getattr(exc, "sqlite_errorcode", None)
    return code in (sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB) or "malformed" in str(exc)


def file_uri(path: str | Path, **params: str) -> str:
    """Return an SQLite URI for a file path; '#', '?' and '%' in the path stay part of the name."""
    # Path.as_uri() percent-encodes the path (a '#' or '?' becomes %23 / %3F), so SQLite reads the
    # whole name as a path; the query holds only our own parameters.
    uri = Path(path).resolve().as_uri()
    if params:
        uri += "?" + "&".join(f"{k}={quote(v)}" for k, v in params.items())
    return uri


def on_readonly_medium(path: str | Path) -> bool:
    """Return whether path (or its folder) cannot be written: a read-only mount or file permissions."""
    path = Path(path)
    folder = path.parent if path.parent != Path("") else Path(".")
    try:
        if os.statvfs(folder).f_flag & os.ST_RDONLY:
            return True
    except OSError:
        return False
    target = path if path.exists() else folder
    return not os.access(target, os.W_OK)


def peek(path: str | Path) -> sqlite3.Connection:
    """Open the main file as it is on disk, read-only, creating nothing beside it (raises sqlite3.Error).

    `immutable=1`: no -wal is read and no -shm is made, so a foreign WAL file is left exactly as it was.
    The file is opened by SQLite, never by open(): SQLite's connections in one process share their
    POSIX locks and defer closing a descriptor while another connection holds a lock on the file, where
    closing a descriptor of our own would drop every lock this process holds on it ("How To Corrupt An
    SQLite Database File", section 2.2).
    """
    return sqlite3.connect(file_uri(path, mode="ro", immutable="1"), uri=True, check_same_thread=False)


def open_readonly(path: str | Path, *, brief: bool = True) -> sqlite3.Connection:
    """Open an SQLite file read-only, never creating or changing anything (raises sqlite3.Error).

    A WAL-mode file needs a -shm beside it, which a read-only connection would create (and leave).
    `immutable=1` reads the file as it is instead, when that is safe: on a read-only medium (nobody
    can write to it), or for a brief look (brief=True: checking a file, reading a package) when no
    -wal or -journal exists (no connection has the file open, so nothing is pending). A long-lived
    read-only store (brief=False) on a writable medium must see others' writes, so it never uses immutable.
    """
    params = {"mode": "ro"}
    idle = not any(Path(f"{path}{suffix}").exists() for suffix in ("-wal", "-journal"))
    if on_readonly_medium(path) or (brief and idle):
        params["immutable"] = "1"
    conn = sqlite3.connect(file_uri(path, **params), uri=True, check_same_thread=False)
    try:
        conn.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()
    except BaseException:
        conn.close()
        raise
    return conn


@dataclass(frozen=True)
class FileInfo:
    """What a read-only look at a file found: its SQLite application_id, tables and our migrations."""

    exists: bool
    application_id: int = 0
    tables: frozenset[str] = frozenset()
    migrations: tuple[str, ...] = ()
    unclean: bool = False  # a -wal left beside it: the last writer did not close (or is still open)


def _header_application_id(path: Path) -> int:
    """Return the application_id in the file's header through an immutable connection; refuse a non-SQLite file.

    0 when the file alone cannot be read (it is checked again through the -wal by the caller).
    """
    try:
        conn = peek(path)
        try:
            return conn.execute("PRAGMA application_id").fetchone()[0]
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        if getattr(exc, "sqlite_errorcode", None) == sqlite3.SQLITE_NOTADB:
            raise ProjectError(
                f"{path}: not a gradeapp project file (not an SQLite database), left untouched"
            ) from None
        if is_damaged(exc):
            # the file alone may be inconsistent while its -wal holds the rest (a checkpoint cut short by
            # a full disk or a kill): the connection of inspect_file() reads both and decides
            return 0
        raise ProjectUnreadable(f"{path}: cannot read the file ({exc})") from None


def inspect_file(path: str | Path) -> FileInfo:
    """Look at a project file read-only; refuse a file that is not SQLite or is another program's."""
    path = Path(path)
    if not path.exists():
        return FileInfo(exists=False)
    if path.is_dir():
        raise ProjectError(f"{path}: is a folder, not a project file")
    if path.stat().st_size == 0:
        return FileInfo(exists=True)
    wal = Path(f"{path}-wal")
    unclean = wal.exists() and wal.stat().st_size > 0
    header_id = _header_application_id(path)
    if header_id not in (0, APPLICATION_ID):
        raise ProjectError(
            f"{path}: an SQLite file of another program (application_id {header_id:#x}), left untouched"
        )
    try:
        conn = open_readonly(path)
    except sqlite3.DatabaseError as exc:
        if is_damaged(exc):
            raise ProjectError(f"{path}: not a gradeapp project file (not an SQLite database)") from None
        raise ProjectUnreadable(f"{path}: cannot read the file ({exc})") from None
    try:
        app_id = conn.execute("PRAGMA application_id").fetchone()[0]
        tables = table_names(conn)
        migrations = tuple(applied_migrations(conn, tables))
    except sqlite3.DatabaseError as exc:
        if is_damaged(exc):
            raise ProjectDamaged(
                f"{path}: the file is damaged ({exc}); restore a backup (gradeapp backup list --project {path})"
            ) from None
        raise ProjectUnreadable(f"{path}: cannot read the file ({exc})") from None
    finally:
        conn.close()
    if app_id not in (0, APPLICATION_ID):
        raise ProjectError(
            f"{path}: an SQLite file of another program (application_id {app_id:#x}), left untouched"
        )
    if app_id == 0 and not migrations and tables:
        raise ProjectError(f"{path}: an SQLite file that is not a gradeapp project, left untouched")
    return FileInfo(True, app_id, frozenset(tables), migrations, unclean)


def connect(path: str | Path, *, readonly: bool = False) -> sqlite3.Connection:
    """Connect with the project's pragmas; statements outside Store.atomic() commit at once.

    Call inspect_file() first: this sets WAL mode, which changes the file.
    """
    if readonly:
        # mode=ro keeps the file unchanged; TEMP tables (a cache of checks) stay possible
        conn = open_readonly(path, brief=False)
        conn.isolation_level = None
        return conn
    timeout = lock_timeout()
    # isolation_level=None: no implicit BEGIN, so a single write is on disk when execute() returns
    # and multi-step writes use Store.atomic() (explicit BEGIN/COMMIT, savepoints when nested).
    # The path goes as a plain file name (uri=False): a '#' or '?' in it is part of the name.
    conn = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False, timeout=timeout)
    try:
        conn.execute(f"PRAGMA busy_timeout = {int(timeout * 1000)}")
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA foreign_keys = ON")
        conn.execute("PRAGMA synchronous = FULL")
        conn.execute("PRAGMA recursive_triggers = ON")  # as sqlite-utils sets it
    except sqlite3.DatabaseError as exc:
        conn.close()
        if is_busy(exc):
            raise
        raise ProjectError(f"{path}: not a gradeapp project file ({exc})") from exc
    return conn


def begin_immediate(conn: sqlite3.Connection, notify: Callable[[str], None] | None, patient: bool) -> None:
    """Start a write transaction, waiting for a busy project: a notice after a second, then up to the limit.

    The limit is the connection's busy_timeout (GRADEAPP_LOCK_TIMEOUT when opened); a patient caller
    (a long job that must not lose its work) keeps waiting past it, with a notice each time. After the
    first second the wait is taken in slices of WAIT_SLICE_MS: SQLite's own busy wait does not return to
    Python, so a Ctrl+C during one wait of the whole limit was only seen when the limit ran out.
    """
    limit_ms = conn.execute("PRAGMA busy_timeout").fetchone()[0]
    first_ms = min(limit_ms, int(NOTICE_AFTER * 1000))
    conn.execute(f"PRAGMA busy_timeout = {first_ms}")
    try:
        try:
            conn.execute("BEGIN IMMEDIATE")
            return
        except sqlite3.OperationalError as exc:
            if not is_busy(exc) or limit_ms <= first_ms:
                raise
        conn.execute(f"PRAGMA busy_timeout = {min(WAIT_SLICE_MS, limit_ms - first_ms)}")
        while True:
            if notify:
                notify(
                    "gradeapp: the project is busy (another program is writing to it); waiting up to "
                    f"{limit_ms / 1000:g} s ({LOCK_TIMEOUT_ENV} sets the limit)"
                )
            deadline = time.monotonic() + (limit_ms - first_ms) / 1000
            while True:
                try:
                    conn.execute("BEGIN IMMEDIATE")
                    return
                except sqlite3.OperationalError as exc:
                    if not is_busy(exc):
                        raise
                    if time.monotonic() >= deadline:
                        if not patient:
                            raise
                        break
    finally:
        conn.execute(f"PRAGMA busy_timeout = {limit_ms}")


IDENTITY_KEY = "file_identity"  # the project row a restore changes: the file's content is another one


def file_identity(conn: sqlite3.Connection) -> str | None:
    """Return the project's file identity (None for a file without a project table or the row)."""
    try:
        row = conn.execute("SELECT value FROM project WHERE key = ?", [IDENTITY_KEY]).fetchone()
    except sqlite3.OperationalError:
        return None  # no project table yet: a new file
    return row[0] if row else None


def check_identity(conn: sqlite3.Connection, expected: str, path: str | Path) -> None:
    """Raise ProjectReplaced unless the file still has the identity it had when this process opened it.

    Called inside every write transaction (the row cannot change before COMMIT) and when a store is
    closed: a writer whose project was restored underneath it stops instead of reporting rows stored.
    """
    if file_identity(conn) != expected:
        raise ProjectReplaced(
            f"{path}: the project was restored from a backup by another process while this command ran; "
            "what it wrote before the restore is not in the file: run the command again"
        )


def set_file_identity(conn: sqlite3.Connection) -> str:
    """Give the file a new identity (a new project, or a restored copy): open writers of the old one stop."""
    value = str(uuid.uuid4())
    conn.execute(
        "INSERT INTO project(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        [IDENTITY_KEY, value],
    )
    return value


def table_names(conn: sqlite3.Connection) -> set[str]:
    """Return the names of the tables of a connection's main database (read-only)."""
    return {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}


def applied_migrations(conn: sqlite3.Connection, tables: set[str]) -> list[str]:
    """Return our migrations applied to the file, in order (read-only)."""
    if "_sqlite_migrations" not in tables:
        return []
    rows = conn.execute(
        "SELECT name FROM _sqlite_migrations WHERE migration_set = ? ORDER BY rowid", [MIGRATION_SET]
    )
    return canonical_names([r[0] for r in rows])


__all__ = ["APPLICATION_ID", "MIGRATION_SET", "connect", "inspect_file", "now_iso", "open_readonly"]
