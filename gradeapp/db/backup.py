"""Rolling backups of project files, written with SQLite's online backup API.

Backups live in the user's data folder (gradeapp.paths.data_dir(), GRADEAPP_DATA_DIR overrides it):
`backups/<project stem>-<hash of its absolute path>/<UTC time>-<reason>.gradeapp`. The folder is named
after the project's path, not its uuid, so that the backups of a damaged file (whose uuid cannot be
read) are still found. The newest GRADEAPP_BACKUPS (default 10) of each project are kept.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from gradeapp.errors import GradeappError
from gradeapp.paths import data_dir, file_slug

KEEP_ENV = "GRADEAPP_BACKUPS"
DEFAULT_KEEP = 10
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


def write_backup(conn: sqlite3.Connection, project: str | Path, reason: str) -> Backup:
    """Copy the database of conn (the project at `project`) into a new backup; prune old ones.

    The copy is a consistent snapshot (SQLite's backup API), written to a temporary name and renamed,
    so a backup that exists is complete. When the file has not changed since the newest backup (two
    refused imports in a row), that backup is returned instead of a copy that would push older ones out.
    """
    folder = backup_folder(project)
    folder.mkdir(parents=True, exist_ok=True)
    marker = folder / "last-source.txt"
    newest = list_backups(project)
    fingerprint = _fingerprint(project)
    if newest and marker.exists() and marker.read_text(encoding="utf-8") == fingerprint:
        return newest[0]
    taken = datetime.now(UTC)
    dest = folder / f"{taken.strftime('%Y%m%dT%H%M%S%fZ')}-{file_slug(reason, 'backup', 20)}{SUFFIX}"
    partial = dest.with_name(dest.name + ".partial")
    try:
        target = sqlite3.connect(str(partial))
        try:
            conn.backup(target)
            # a backup is a single self-contained file: no -wal beside it
            target.execute("PRAGMA journal_mode = DELETE")
        finally:
            target.close()
        os.replace(partial, dest)
        marker.write_text(fingerprint, encoding="utf-8")
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    prune(project)
    return Backup(dest, taken, reason)


def prune(project: str | Path) -> None:
    """Delete all but the newest keep_count() backups of a project."""
    for old in list_backups(project)[keep_count() :]:
        old.path.unlink(missing_ok=True)
