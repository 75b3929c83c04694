"""Backups as people expect from a desktop app: rolling copies of a project, listed and restored.

A copy is taken (SQLite's online backup API, gradeapp.db.backup) when a project is opened for writing,
at most once per ROLLING_INTERVAL, so that the desk, opened many times a day, does not copy a large
project at every start; and always before a merge, a migration (gradeapp.db.project) and an import.
The newest GRADEAPP_BACKUPS (default 10) of each project are kept in the user's data folder, within
GRADEAPP_BACKUP_GB (default 20 GB) per project and never fewer than two (gradeapp.db.backup).
"""

from __future__ import annotations

import os
import sqlite3
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

from gradeapp.db.backup import Backup, backup_folder, copy_database, list_backups, write_backup
from gradeapp.db.connection import open_readonly
from gradeapp.db.project import quick_check_result
from gradeapp.errors import EnvironmentFailure, GradeappError, ProjectError

# An hour of work is the most a damaged file can cost when the only copy is the rolling one; the
# copies before merges and imports are taken whatever the interval.
ROLLING_INTERVAL = timedelta(hours=1)


class BackupFailed(ProjectError, EnvironmentFailure):
    """A backup that had to be taken first could not be written (disk full, permissions)."""


def snapshot(store, reason: str) -> Backup:
    """Back up an open project now (before a merge, an import...); a failure stops the caller."""
    try:
        return write_backup(store.conn, store.path, reason)
    except (OSError, sqlite3.Error) as exc:
        raise BackupFailed(
            f"cannot write a backup of {store.path} into {backup_folder(store.path)} ({exc}); "
            "nothing was changed: free some space or set GRADEAPP_DATA_DIR to a writable folder"
        ) from None


def _rolling_due(project: str | Path, now: datetime) -> bool:
    """Return whether the project's newest backup is older than ROLLING_INTERVAL (or there is none)."""
    found = list_backups(project)
    return not found or now - found[0].taken >= ROLLING_INTERVAL


def rolling(store, now: datetime | None = None) -> Backup | None:
    """Back up a project opened for writing unless its newest backup is younger than ROLLING_INTERVAL.

    Return the new backup, or None when none was due (or the copy could not be written: a rolling
    copy must not keep a person from working; the copies before merges and imports are strict).
    """
    if not _rolling_due(store.path, now or datetime.now(UTC)):
        return None
    try:
        return write_backup(store.conn, store.path, "open")
    except (OSError, sqlite3.Error):
        return None


def rolling_in_background(project: str | Path) -> threading.Thread:
    """Take the rolling backup of rolling() on a thread of its own, reading through its own connection.

    For the desk: a million-generation project is several GB, and its copy must not hold up the first
    item. The copy is one step of SQLite's backup API on a read-only connection, a consistent snapshot
    while the desk goes on writing (WAL); it is written under a temporary name, so a desk closed during
    the copy leaves no partial backup behind as a backup. Return the started thread.
    """

    def take() -> None:
        try:
            conn = open_readonly(project, brief=False)
        except sqlite3.Error:
            return
        try:
            if _rolling_due(project, datetime.now(UTC)):
                write_backup(conn, project, "open")
        except (OSError, sqlite3.Error):
            return  # a rolling copy must not keep a person from working
        finally:
            conn.close()

    thread = threading.Thread(target=take, name="gradeapp-rolling-backup", daemon=True)
    thread.start()
    return thread


def backups(project: str | Path) -> list[Backup]:
    """Return the backups of the project at this path, newest first (read-only)."""
    return list_backups(project)


def find_backup(project: str | Path, name: str) -> Backup:
    """Return the backup of the project named `name` (a file name from 'backup list', or 'latest')."""
    found = list_backups(project)
    if not found:
        raise GradeappError(f"{project}: no backups in {backup_folder(project)}")
    if name == "latest":
        return found[0]
    for b in found:
        if name in (b.name, b.path.stem):
            return b
    raise GradeappError(f"no backup named {name!r} for {project} (see 'gradeapp backup list')")


def restore(project: str | Path, name: str) -> tuple[Backup, Backup | None]:
    """Replace the project file by one of its backups; return (restored, copy of the replaced file).

    The current file is first backed up itself (when it can still be read), so a restore can be
    undone. The backup is copied beside the project under a temporary name and renamed over it, so
    the project is never half restored. Close the desk on this project first.
    """
    project = Path(project)
    chosen = find_backup(project, name)
    check = quick_check_result(chosen.path)
    if check != "ok":
        raise ProjectError(f"{chosen.path}: this backup is damaged too ({check}); choose an older one")
    previous = _save_current(project)
    partial = project.with_name(project.name + ".restoring")
    source = open_readonly(chosen.path)
    try:
        copy_database(source, partial, "WAL")
    finally:
        source.close()
    for suffix in ("-wal", "-shm"):
        Path(f"{project}{suffix}").unlink(missing_ok=True)
    os.replace(partial, project)
    return chosen, previous


def _save_current(project: Path) -> Backup | None:
    if not project.exists():
        return None
    try:
        conn = open_readonly(project)
    except sqlite3.Error:
        return None  # the file cannot even be read: nothing worth keeping
    try:
        return write_backup(conn, project, "before-restore")
    except sqlite3.Error:
        return None  # a damaged file cannot be copied page by page; it is the one being replaced
    finally:
        conn.close()
