"""Checks that a project is sound before anything writes to it, cheap ones whatever its size.

`PRAGMA quick_check` reads every page: O(size), well under a second below ALWAYS_CHECK_BYTES, so a project
of that size is checked whenever it is opened for writing. Above it, every opening runs the checks of
structure_damage(), which read the header and the schema only (O(schema), a few pages whatever the size):
- the file is as long as its header says (a truncated copy: page count x page size > file size);
- the freelist is no longer than the file;
- the schema (sqlite_master) is readable and every table's and index's root page lies inside the file.
The pages in between are checked by quick_check at least once an hour of writing: the rolling backup
(services/backup.py) checks its copy, and a damaged copy is discarded and stops the command.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from gradeapp.db.connection import ProjectDamaged, is_damaged, open_readonly, peek

# quick_check reads every page; below this size it costs well under a second, so a project opened for
# writing is always checked; a larger one only after an unclean close (see docs/safety.md).
ALWAYS_CHECK_BYTES = 64 * 1024 * 1024


def _restore_hint(path: Path) -> str:
    return f"nothing was changed. Restore a backup: gradeapp backup list --project {path}"


def structure_damage(path: Path) -> str | None:
    """Return what is wrong with the file's header and schema (None: nothing found); reads a few pages.

    Only meaningful when no -wal holds commits (the file is then all there is): the caller checks that.
    Runs before inspect_file(), which cannot read the schema of a truncated file: a file that is not
    SQLite at all is left to it (None here).
    """
    try:
        conn = peek(path)
        try:
            page_size = conn.execute("PRAGMA page_size").fetchone()[0]
            pages = conn.execute("PRAGMA page_count").fetchone()[0]
            size = path.stat().st_size
            if pages * page_size > size:
                return f"the file is truncated: {size:,} of its {pages * page_size:,} bytes are there"
            free = conn.execute("PRAGMA freelist_count").fetchone()[0]
            if free > pages:
                return f"the free-page list ({free} pages) is longer than the file ({pages} pages)"
            outside = conn.execute(
                "SELECT name FROM sqlite_master WHERE rootpage > ? OR rootpage < 0", [pages]
            ).fetchone()
            if outside:
                return f"the table or index {outside[0]!r} starts outside the file"
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        if getattr(exc, "sqlite_errorcode", None) == sqlite3.SQLITE_NOTADB:
            return None  # not SQLite at all: inspect_file() refuses it as another program's file
        if not is_damaged(exc):
            raise
        return str(exc)
    return None


def check_structure(path: Path) -> None:
    """Raise ProjectDamaged if structure_damage() finds anything (a truncated file says so)."""
    found = structure_damage(path)
    if found is not None:
        raise ProjectDamaged(f"{path}: the file is damaged ({found}); {_restore_hint(path)}")


def quick_check_result(path: Path, *, own_copy: bool = False) -> str:
    """Return what PRAGMA quick_check says of a file: 'ok' or the damage, on one line.

    The file is opened read-only, or with a plain connection for a copy of our own (own_copy: a backup or
    restore copy this process wrote, which no other connection has open).
    """
    try:
        conn = sqlite3.connect(str(path)) if own_copy else open_readonly(path)
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
        raise ProjectDamaged(f"{path}: the file is damaged ({result}); {_restore_hint(path)}")
