"""Turn any failure into one line a person can act on, with the exit code scripts rely on.

Exit 2: a mistake in the input or the command (fix it and run again). Exit 1: the machine (disk full,
permissions, a busy or damaged project). The causes that can be fixed where they arise are fixed
there, with file, line and field (gradeapp.errors.InputError); this is the net under everything else.
"""

from __future__ import annotations

import contextlib
import errno
import io
import sqlite3
import sys
from collections.abc import Iterator

from gradeapp.errors import EnvironmentFailure, GradeappError
from gradeapp.paths import default_project
from gradeapp.services.project import LOCK_TIMEOUT_ENV, is_busy, is_damaged

USER, ENVIRONMENT = 2, 1

# C0 and C1 control characters (and DEL) but tab and newline: a name holding an escape sequence is
# shown as \x1b[...], never interpreted by the terminal.
_CONTROLS = {
    c: f"\\x{c:02x}" for c in [*range(0x00, 0x20), 0x7F, *range(0x80, 0xA0)] if c not in (0x09, 0x0A)
}


def visible(text: str) -> str:
    """Return text with terminal control characters written out (\\x1b), tab and newline kept."""
    return text.translate(_CONTROLS)


class _VisibleWriter(io.TextIOBase):
    """A text stream that writes control characters visibly into the stream it wraps."""

    def __init__(self, stream) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        self._stream.write(visible(text))
        return len(text)

    def flush(self) -> None:
        self._stream.flush()

    def fileno(self) -> int:
        return self._stream.fileno()

    def isatty(self) -> bool:
        return self._stream.isatty()

    @property
    def encoding(self) -> str:
        return self._stream.encoding


@contextlib.contextmanager
def visible_controls() -> Iterator[None]:
    """Route stdout through visible() while a command runs (names come from files people send)."""
    original = sys.stdout
    sys.stdout = _VisibleWriter(original)
    try:
        yield
    finally:
        sys.stdout = original


def describe_failure(exc: BaseException, project: str | None) -> tuple[int, str]:
    """Return (exit code, one-line message) for a failure that reached the command line."""
    where = project or str(default_project())
    if isinstance(exc, GradeappError):
        return (ENVIRONMENT if isinstance(exc, EnvironmentFailure) else USER), str(exc)
    if isinstance(exc, sqlite3.Error):
        return _sqlite_failure(exc, where)
    if isinstance(exc, OSError):
        return _os_failure(exc)
    if isinstance(exc, RecursionError):
        return (
            USER,
            "the input is nested too deeply to read (more than a few hundred levels); nothing was changed",
        )
    if isinstance(exc, OverflowError):
        return USER, f"a number is too large ({exc}); whole numbers must fit in 64 bits; nothing was changed"
    if isinstance(exc, UnicodeDecodeError):
        return USER, f"the input is not UTF-8 text ({exc.reason} at byte {exc.start}); save it as UTF-8"
    if isinstance(exc, MemoryError):
        return ENVIRONMENT, "out of memory; close other programs or split the input"
    return ENVIRONMENT, (
        f"unexpected failure ({type(exc).__name__}: {exc}); nothing further was done. "
        "Run the command again with --debug and report the traceback"
    )


def _sqlite_failure(exc: sqlite3.Error, where: str) -> tuple[int, str]:
    code = getattr(exc, "sqlite_errorcode", None)
    if is_busy(exc):
        return ENVIRONMENT, (
            f"{where}: the project is busy (another program held its write lock past the limit); nothing "
            f"was changed by the last step; run again when it has finished, or raise {LOCK_TIMEOUT_ENV} (seconds)"
        )
    if is_damaged(exc):
        return ENVIRONMENT, (
            f"{where}: the project file is damaged ({exc}); restore a backup: "
            f"gradeapp backup list --project {where}"
        )
    if code == sqlite3.SQLITE_FULL or "full" in str(exc):
        return (
            ENVIRONMENT,
            f"{where}: the disk is full ({exc}); free some space and run again; nothing was changed",
        )
    if code == sqlite3.SQLITE_READONLY or "readonly" in str(exc):
        return (
            ENVIRONMENT,
            f"{where}: the project cannot be written here ({exc}); copy it to a writable folder",
        )
    if code in (sqlite3.SQLITE_IOERR, sqlite3.SQLITE_CANTOPEN) or "unable to open" in str(exc):
        return (
            ENVIRONMENT,
            f"{where}: cannot read or write the project file ({exc}); check the disk and its permissions",
        )
    if isinstance(exc, sqlite3.IntegrityError | sqlite3.ProgrammingError | sqlite3.InterfaceError):
        return USER, f"{where}: a value the project cannot hold ({exc}); nothing was changed"
    return ENVIRONMENT, f"{where}: database error ({exc})"


def _os_failure(exc: OSError) -> tuple[int, str]:
    name = exc.filename if exc.filename is not None else "a file"
    reason = exc.strerror or str(exc)
    if exc.errno in (errno.ENOSPC, errno.EFBIG, errno.EDQUOT):
        return (
            ENVIRONMENT,
            f"{name}: {reason} (the disk or a size limit is full); free some space and run again",
        )
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return ENVIRONMENT, f"{name}: {reason}; check the permissions or choose a writable folder"
    if exc.errno == errno.ENOENT:
        return USER, f"{name}: no such file or folder (moved or deleted?)"
    if exc.errno == errno.EISDIR:
        return USER, f"{name}: is a folder; give a file"
    if exc.errno in (errno.ENOTDIR, errno.EEXIST):
        return USER, f"{name}: {reason}; a file is in the way of a folder (or the reverse)"
    if exc.errno == errno.ENAMETOOLONG:
        return USER, f"{name}: the name is too long for the file system; choose shorter names"
    return ENVIRONMENT, f"{name}: {reason}"
