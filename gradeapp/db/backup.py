"""Rolling backups of project files, written with SQLite's online backup API.

Backups live in the user's data folder (gradeapp.paths.data_dir(), GRADEAPP_DATA_DIR overrides it):
`backups/<project stem>-<hash of its absolute path>/<UTC time>-<reason>.gradeapp`. The folder is named
after the project's path, not its uuid, so that the backups of a damaged file (whose uuid cannot be
read) are still found. The newest GRADEAPP_BACKUPS (default 10) of each project are kept, as many as fit
in GRADEAPP_BACKUP_GB (default 20 GB) per project, and never fewer than the newest two: ten copies of a
million-generation project (3.9 GB) would take 39 GB. When the disk has no room for the next copy, the
oldest copies of that project make room first.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from gradeapp.db.connection import (
    LOCK_TIMEOUT_ENV,
    ProjectDamaged,
    ProjectInUse,
    lock_timeout,
    open_readonly,
    set_file_identity,
)
from gradeapp.db.integrity import quick_check_result
from gradeapp.errors import GradeappError
from gradeapp.paths import data_dir, file_slug

KEEP_ENV = "GRADEAPP_BACKUPS"
DEFAULT_KEEP = 10
BUDGET_ENV = "GRADEAPP_BACKUP_GB"
DEFAULT_BUDGET_GB = 20.0
# whatever the budget: if the newest copy already holds unnoticed damage, the one before is the way back
ALWAYS_KEEP = 2
SUFFIX = ".gradeapp"


@dataclass(frozen=True)
class Backup:
    """One backup file: where it is, when it was taken (UTC, as in its name) and why."""

    path: Path
    taken: datetime
    reason: str

    @property
    def name(self) -> str:
        return self.path.name


def keep_count() -> int:
    """Return how many backups to keep per project (GRADEAPP_BACKUPS, default 10, at least 1)."""
    raw = os.environ.get(KEEP_ENV, "")
    try:
        return max(1, int(raw)) if raw.strip() else DEFAULT_KEEP
    except ValueError:
        raise GradeappError(f"{KEEP_ENV}={raw!r}: expected a whole number of backups to keep") from None


def budget_bytes() -> int:
    """Return the bytes the backups of one project may take (GRADEAPP_BACKUP_GB, default 20)."""
    raw = os.environ.get(BUDGET_ENV, "")
    try:
        gb = float(raw) if raw.strip() else DEFAULT_BUDGET_GB
    except ValueError:
        gb = -1.0
    if not gb > 0 or gb == float("inf"):
        raise GradeappError(f"{BUDGET_ENV}={raw!r}: expected a positive number of gigabytes for the backups")
    return int(gb * 1e9)


def backup_folder(project: str | Path) -> Path:
    """Return the folder holding the backups of the project at this path."""
    resolved = Path(project).resolve()
    digest = hashlib.sha256(str(resolved).encode("utf-8", "surrogateescape")).hexdigest()[:12]
    return data_dir() / "backups" / f"{file_slug(resolved.stem, 'project', 40)}-{digest}"


def list_backups(project: str | Path) -> list[Backup]:
    """Return the backups of a project, newest first (read-only)."""
    folder = backup_folder(project)
    found = []
    for p in folder.glob(f"*{SUFFIX}") if folder.is_dir() else ():
        stamp, _, reason = p.stem.partition("-")
        try:
            taken = datetime.strptime(stamp, "%Y%m%dT%H%M%S%fZ").replace(tzinfo=UTC)
        except ValueError:
            continue
        found.append(Backup(p, taken, reason))
    return sorted(found, key=lambda b: b.taken, reverse=True)


def _fingerprint(project: str | Path) -> str:
    """Return the size and modification time of the project file and its -wal (what any write changes)."""
    parts = []
    for p in (Path(project), Path(f"{project}-wal")):
        try:
            st = p.stat()
        except OSError:
            continue
        if st.st_size:  # an empty -wal (just opened) holds nothing
            parts.append(f"{p.name}:{st.st_size}:{st.st_mtime_ns}")
    return "|".join(parts)


class BackupDamaged(ProjectDamaged):
    """The copy of a project failed quick_check: it was discarded (the project itself is likely damaged)."""


def file_mode(project: str | Path) -> int:
    """Return the permission bits a copy of the project gets: the project's own (0600 stays 0600)."""
    try:
        return Path(project).stat().st_mode & 0o666
    except OSError:
        return 0o600  # no file to follow: the safest


def folder_mode(mode: int) -> int:
    """Return the folder bits that match a file's: whoever may read a copy may enter (0600 -> 0700)."""
    return mode | ((mode & 0o444) >> 2)


def write_backup(conn: sqlite3.Connection, project: str | Path, reason: str) -> Backup:
    """Copy the database of conn (the project at `project`) into a new backup; prune old ones.

    The copy is a consistent snapshot (SQLite's backup API), written to a temporary name, checked with
    quick_check and renamed, so a backup that exists is complete and sound; a damaged copy is discarded
    (BackupDamaged). It keeps the project's permissions (a 0600 project: 0600 copies in a 0700 folder).
    When the file has not changed since the newest backup (two refused imports in a row), that backup is
    returned instead of a copy that would push older ones out.
    """
    keep_count(), budget_bytes()  # a mistyped setting is refused before anything is written
    mode = file_mode(project)
    folder = backup_folder(project)
    folder.mkdir(parents=True, exist_ok=True)
    folder.chmod(folder_mode(mode))  # the project's folder of backups: ours, as open as the project
    marker = folder / "last-source.txt"
    newest = list_backups(project)
    fingerprint = _fingerprint(project)
    if newest and marker.exists() and marker.read_text(encoding="utf-8") == fingerprint:
        return newest[0]
    _make_room(project, folder, newest)
    taken = datetime.now(UTC)
    dest = folder / f"{taken.strftime('%Y%m%dT%H%M%S%fZ')}-{file_slug(reason, 'backup', 20)}{SUFFIX}"
    remove_stale_copies(folder)
    partial = dest.with_name(f"{dest.name}.{os.getpid()}.partial")
    try:
        copy_database(conn, partial, "DELETE")  # a backup is a single self-contained file: no -wal beside it
        partial.chmod(mode)
        result = quick_check_result(partial, own_copy=True)
        if result != "ok":
            raise BackupDamaged(
                f"{project}: its backup copy failed quick_check ({result}) and was discarded; the project "
                f"itself is probably damaged: restore a backup (gradeapp backup list --project {project})"
            )
        os.replace(partial, dest)
        marker.write_text(fingerprint, encoding="utf-8")
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    prune(project)
    return Backup(dest, taken, reason)


def remove_stale_copies(folder: Path) -> list[Path]:
    """Delete the temporary copies (`*.PID.partial`, `.restoring-PID-*`) of processes that are gone.

    A backup or restore killed half-way leaves its temporary copy; one of a process still running stays.
    """
    removed = []
    for path in [*folder.glob("*.partial"), *folder.glob(".restoring-*")]:
        if path.name.endswith(".partial"):
            pid_text = path.name.removesuffix(".partial").rpartition(".")[2]
        else:
            pid_text = path.name.removeprefix(".restoring-").partition("-")[0]
        if pid_text.isdigit() and not process_alive(int(pid_text)):
            path.unlink(missing_ok=True)
            removed.append(path)
    return removed


def process_alive(pid: int) -> bool:
    """Return whether a process of this machine with that id is running (a stale file's owner is not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process
    return True


def copy_database(conn: sqlite3.Connection, dest: Path, journal_mode: str) -> None:
    """Copy conn's database into a new file at dest (SQLite's backup API), in journal mode DELETE or WAL."""
    if journal_mode not in ("DELETE", "WAL"):
        raise ValueError(f"journal mode {journal_mode!r}")
    target = sqlite3.connect(str(dest))
    try:
        conn.backup(target)
        target.execute(f"PRAGMA journal_mode = {journal_mode}")
    finally:
        target.close()


def stage_restore(backup: Path, staging: Path, mode: int) -> str:
    """Copy a backup to staging with a new file identity; return what quick_check says of the copy."""
    source = open_readonly(backup)
    try:
        copy_database(source, staging, "DELETE")
    finally:
        source.close()
    staging.chmod(mode)
    conn = sqlite3.connect(str(staging), isolation_level=None)
    try:
        set_file_identity(conn)  # open writers of the project find another file and stop
    finally:
        conn.close()
    return quick_check_result(staging, own_copy=True)


def copy_into_live(staging: Path, project: Path) -> None:
    """Write staging over the live project through SQLite's backup API, in one write transaction.

    The project keeps its inode, permissions and WAL mode; every other connection sees the old content or
    the new, never a mix, and a writer of the old one stops at its next commit (its file identity changed).
    A writer holding the project is waited for up to GRADEAPP_LOCK_TIMEOUT, then the restore is refused.
    """
    timeout = lock_timeout()
    source = sqlite3.connect(str(staging))
    try:
        live = sqlite3.connect(str(project), isolation_level=None, timeout=timeout)
        try:
            live.execute(f"PRAGMA busy_timeout = {int(timeout * 1000)}")

            def refuse_when_busy(status: int, _remaining: int, _total: int) -> None:
                if status in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED):
                    raise ProjectInUse(
                        f"{project}: the project is open in another process: close it and retry "
                        f"(it stayed busy for {timeout:g} s; {LOCK_TIMEOUT_ENV} sets the limit); nothing was changed"
                    )

            source.backup(live, progress=refuse_when_busy)
        finally:
            live.close()
    finally:
        source.close()


def copy_into_new(staging: Path, project: Path) -> None:
    """Write staging to a project path where no file is (a restore of a deleted project), in WAL mode."""
    source = sqlite3.connect(str(staging))
    try:
        copy_database(source, project, "WAL")
    finally:
        source.close()


def replace_unreadable(staging: Path, project: Path) -> None:
    """Put staging in place of a project file SQLite cannot read at all (its header is gone).

    The one whole-file rename of a project: no connection can be using a file without a readable header,
    so its -wal and -shm (which belong to the lost content) go with it.
    """
    for suffix in ("-wal", "-shm"):
        Path(f"{project}{suffix}").unlink(missing_ok=True)
    os.replace(staging, project)


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _make_room(project: str | Path, folder: Path, found: list[Backup]) -> None:
    """Delete the project's oldest backups (all but the newest) while the disk cannot hold one more copy.

    A copy needs about the project's size (its file and -wal); without room, the strict backup before
    a merge or an import would fail and stop the user, although older copies of the same project are
    there to give way.
    """
    need = int(1.05 * sum(_size(Path(f"{project}{suffix}")) for suffix in ("", "-wal")))
    for old in reversed(found[1:]):
        if shutil.disk_usage(folder).free >= need:
            return
        old.path.unlink(missing_ok=True)


def prune(project: str | Path) -> None:
    """Keep the newest keep_count() backups of a project that fit in budget_bytes(); delete the others.

    The newest ALWAYS_KEEP (or keep_count(), if lower) stay whatever their size; after them, the first
    copy that would take the total over the budget goes, with every older one.
    """
    found = list_backups(project)
    keep, budget = keep_count(), budget_bytes()
    total, kept = 0, 0
    for b in found[:keep]:
        size = _size(b.path)
        if kept >= min(ALWAYS_KEEP, keep) and total + size > budget:
            break
        total += size
        kept += 1
    for old in found[kept:]:
        old.path.unlink(missing_ok=True)
