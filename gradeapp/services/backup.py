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

from gradeapp.db.backup import (
    Backup,
    backup_folder,
    copy_into_live,
    copy_into_new,
    file_mode,
    list_backups,
    replace_unreadable,
    stage_restore,
    write_backup,
)
from gradeapp.db.connection import ProjectDamaged, inspect_file, open_readonly
from gradeapp.db.integrity import quick_check_result
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


class RollingBackup(threading.Thread):
    """The desk's rolling backup on a thread of its own; `damage` holds why its copy was discarded, if it was."""

    def __init__(self, project: str | Path) -> None:
        super().__init__(name="gradeapp-rolling-backup", daemon=True)
        self.project = project
        self.damage: str | None = None

    def run(self) -> None:
        try:
            conn = open_readonly(self.project, brief=False)
        except sqlite3.Error:
            return
        try:
            if _rolling_due(self.project, datetime.now(UTC)):
                write_backup(conn, self.project, "open")
        except ProjectDamaged as exc:
            self.damage = str(exc)  # the copy failed quick_check: the project itself is damaged
        except (OSError, sqlite3.Error):
            return  # a rolling copy must not keep a person from working
        finally:
            conn.close()


def rolling_in_background(project: str | Path) -> RollingBackup:
    """Take the rolling backup of rolling() on a thread of its own, reading through its own connection.

    For the desk: a million-generation project is several GB, and its copy must not hold up the first
    item. The copy is one step of SQLite's backup API on a read-only connection (never a descriptor of
    our own: see docs/safety.md), a consistent snapshot while the desk goes on writing (WAL); it is
    written under a temporary name and checked, so a desk closed during the copy leaves no partial
    backup behind as a backup. A copy that fails quick_check is discarded and its reason kept in the
    thread's `damage`. Return the started thread.
    """
    thread = RollingBackup(project)
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
    """Write one of its backups over the project file; return (restored, copy of the replaced file).

    The current file is first backed up itself (when it can still be read), so a restore can be undone.
    The chosen backup is staged (copied, given a new file identity, checked) and then written into the
    live file by SQLite's backup API in one transaction: other processes see the old project or the
    restored one, and a writer that had the old one open stops at its next write instead of reporting
    rows stored. A project busy in another process past GRADEAPP_LOCK_TIMEOUT is left as it was.
    """
    project = Path(project)
    chosen = find_backup(project, name)
    check = quick_check_result(chosen.path)
    if check != "ok":
        raise ProjectError(f"{chosen.path}: this backup is damaged too ({check}); choose an older one")
    staging = chosen.path.with_name(f".restoring-{os.getpid()}-{chosen.name}")
    try:
        check = stage_restore(chosen.path, staging, file_mode(project))
        if check != "ok":
            raise ProjectError(f"{chosen.path}: its copy failed quick_check ({check}); nothing was changed")
        previous = _save_current(project)
        if not project.exists():
            copy_into_new(staging, project)
        elif _unreadable(project):
            replace_unreadable(staging, project)
        else:
            copy_into_live(staging, project)
    finally:
        staging.unlink(missing_ok=True)
    return chosen, previous


def _unreadable(project: Path) -> bool:
    """Return whether SQLite cannot read the project's header at all (a restore then replaces the file)."""
    try:
        inspect_file(project)
    except ProjectDamaged:
        return False  # damaged pages, a readable header: written over in place
    except ProjectError:
        return True
    return False


def _save_current(project: Path) -> Backup | None:
    if not project.exists():
        return None
    try:
        conn = open_readonly(project, brief=False)
    except sqlite3.Error:
        return None  # the file cannot even be read: nothing worth keeping
    try:
        return write_backup(conn, project, "before-restore")
    except (sqlite3.Error, ProjectDamaged):
        return None  # a damaged file cannot be copied whole; it is the one being replaced
    finally:
        conn.close()
