"""Damage never spreads: a damaged project is not written to whatever its size, its damaged copy never
enters the backups, a truncated file says so, and a read-only copy whose -wal holds commits says that
what it shows may be incomplete. Real files, damaged on disk while no connection has them open."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

import gradeapp.db.project as project_module
from gradeapp.db import open_project
from gradeapp.db.backup import BackupDamaged, list_backups
from gradeapp.db.connection import ProjectDamaged
from gradeapp.services.backup import rolling, rolling_in_background
from tests.fakeopenai import make_project
from tests.helpers import readonly_mount


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "gradeapp", *args], capture_output=True, text=True)


@pytest.fixture
def large(monkeypatch):
    """Make every project count as 'large' (over the size that is always quick_checked)."""
    monkeypatch.setattr(project_module, "ALWAYS_CHECK_BYTES", 0)


def _project(tmp_path: Path) -> Path:
    return make_project(tmp_path / "p.gradeapp", n_generations=400)


def _damage_table_page(path: Path, table: str = "generations") -> None:
    """Overwrite the root page of a table with garbage (no connection has the file open)."""
    conn = sqlite3.connect(path)
    page_size = conn.execute("PRAGMA page_size").fetchone()[0]
    root = conn.execute("SELECT rootpage FROM sqlite_master WHERE name = ?", [table]).fetchone()[0]
    conn.close()
    with open(path, "r+b") as fh:
        fh.seek((root - 1) * page_size)
        fh.write(b"\xa5" * page_size)


def test_a_truncated_large_project_is_refused_and_says_so(tmp_path, large):
    path = _project(tmp_path)
    size = path.stat().st_size
    os.truncate(path, size // 2)
    with pytest.raises(ProjectDamaged, match=r"truncated.*gradeapp backup list"):
        open_project(path, create=False)
    assert path.stat().st_size == size // 2 and not Path(f"{path}-wal").exists()
    done = cli("info", "--project", str(path))
    assert done.returncode == 1 and "truncated" in done.stderr and "gradeapp backup list" in done.stderr


def test_a_large_project_whose_pages_are_damaged_stops_at_its_rolling_copy(tmp_path, large):
    path = _project(tmp_path)
    _damage_table_page(path)
    store = open_project(path, create=False)  # the cheap checks read the header and schema only
    try:
        with pytest.raises(BackupDamaged, match=r"discarded.*gradeapp backup list"):
            rolling(store)  # what every writing command does first
    finally:
        store.close()
    assert list_backups(path) == []  # the damaged copy did not enter the rotation
    assert not any(p.name.endswith(".partial") for p in path.parent.rglob("*"))


def test_the_desks_background_copy_of_a_damaged_project_is_discarded_and_says_why(tmp_path):
    path = _project(tmp_path)
    with open_project(path) as store:
        store.add_topics(["Kites"])
    _damage_table_page(path)
    thread = rolling_in_background(path)
    thread.join()
    assert thread.damage is not None and "gradeapp backup list" in thread.damage
    assert list_backups(path) == []


def test_a_read_only_copy_with_commits_in_its_wal_says_it_may_be_incomplete(tmp_path):
    source = tmp_path / "src"
    source.mkdir()
    path = make_project(source / "p.gradeapp", n_generations=3)
    writer = open_project(path)
    writer.add_topics(["Kites"])  # in the -wal, not yet in the file
    shutil.copyfile(path, tmp_path / "copy.gradeapp")
    shutil.copyfile(f"{path}-wal", tmp_path / "copy.gradeapp-wal")
    writer.close()
    os.replace(tmp_path / "copy.gradeapp", path)
    os.replace(tmp_path / "copy.gradeapp-wal", f"{path}-wal")
    with readonly_mount(source, tmp_path / "ro") as ro:
        done = cli("info", "--project", str(ro / "p.gradeapp"))
    assert done.returncode == 0, done.stderr
    assert "may be incomplete" in done.stderr and "-wal" in done.stderr
