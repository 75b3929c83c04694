"""Rolling backups: taken on opening for writing (at most hourly) and before merges and imports, kept N
deep in the data folder (GRADEAPP_DATA_DIR, set per test by conftest), listed and restored from the CLI."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from gradeapp.db import open_project
from gradeapp.db.backup import list_backups
from gradeapp.errors import GradeappError
from gradeapp.services.backup import ROLLING_INTERVAL, restore, rolling, rolling_in_background, snapshot
from gradeapp.services.demo import build_demo
from tests.helpers import count


def cli(*args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "gradeapp", *args], capture_output=True, text=True, env={**os.environ, **env}
    )


@pytest.fixture(scope="module")
def demo_file(tmp_path_factory) -> Path:
    return build_demo(tmp_path_factory.mktemp("demo") / "demo.gradeapp")


@pytest.fixture
def project(demo_file, tmp_path) -> Path:
    return Path(shutil.copyfile(demo_file, tmp_path / "p.gradeapp"))


def test_rolling_backup_at_most_once_per_interval(project):
    with open_project(project) as store:
        first = rolling(store)
        assert first is not None and first.reason == "open"
        assert rolling(store) is None  # within the hour: no second copy
        store.add_topics(["Kites"])
        later = datetime.now(UTC) + ROLLING_INTERVAL + timedelta(seconds=1)
        second = rolling(store, now=later)
    assert second is not None and second.path != first.path
    assert count(second.path, "SELECT COUNT(*) FROM topics WHERE name = 'Kites'") == 1
    assert count(first.path, "SELECT COUNT(*) FROM topics WHERE name = 'Kites'") == 0


def test_the_desks_rolling_backup_is_a_snapshot_taken_beside_ongoing_writes(project):
    """The desk copies on a thread of its own; the person's writes meanwhile neither wait nor leak in."""
    with open_project(project) as store:
        before = count(project, "SELECT COUNT(*) FROM verdicts")
        store.conn.execute("BEGIN IMMEDIATE")  # a write under way while the copy starts
        store.add_topics(["Kites"])
        thread = rolling_in_background(project)
        thread.join(timeout=120)
        store.conn.execute("COMMIT")
        assert not thread.is_alive()
        assert rolling_in_background(project).join(timeout=120) is None  # within the hour: no second copy
    taken = list_backups(project)
    assert [b.reason for b in taken] == ["open"]
    assert count(taken[0].path, "SELECT COUNT(*) FROM verdicts") == before
    assert count(taken[0].path, "SELECT COUNT(*) FROM topics WHERE name = 'Kites'") == 0
    assert count(taken[0].path, "PRAGMA integrity_check") == "ok"


def test_only_the_newest_n_are_kept(project, monkeypatch):
    monkeypatch.setenv("GRADEAPP_BACKUPS", "3")
    with open_project(project) as store:
        for i in range(5):
            store.add_topics([f"topic {i}"])  # a change, so each snapshot is a new copy
            snapshot(store, "import")
    kept = list_backups(project)
    assert len(kept) == 3
    assert count(kept[0].path, "SELECT COUNT(*) FROM topics WHERE name LIKE 'topic %'") == 5


def test_an_unchanged_file_is_not_copied_twice(project):
    with open_project(project) as store:
        a = snapshot(store, "import")
        b = snapshot(store, "merge")
    assert a.path == b.path and len(list_backups(project)) == 1


def test_import_and_merge_back_up_first_and_the_backup_restores(project, tmp_path):
    gens = tmp_path / "g.jsonl"
    row = {"id": "n-1", "student": "m", "k": 1, "skills": ["hyperbole"], "topic": "Bookbinding", "text": "x"}
    gens.write_text(json.dumps(row) + "\n")
    generations_before = count(project, "SELECT COUNT(*) FROM generations")
    r = cli("import", str(gens), "--project", str(project))
    assert r.returncode == 0, r.stderr
    listed = json.loads(cli("backup", "list", "--json", "--project", str(project)).stdout)
    assert [b["reason"] for b in listed] == ["import"]
    assert count(Path(listed[0]["path"]), "SELECT COUNT(*) FROM generations WHERE uid = 'n-1'") == 0

    pkgs = cli(
        "assign",
        "--annotators",
        "ann",
        "--overlap",
        "0",
        "--all",
        "--out",
        str(tmp_path / "pk"),
        "--project",
        str(project),
    )
    assert pkgs.returncode == 0, pkgs.stderr
    pkg = next((tmp_path / "pk").iterdir())
    assert (
        cli(
            "grade",
            "demo-001",
            "--set",
            "topic=0",
            "--accept",
            "--submit",
            "--annotator",
            "ann",
            "--project",
            str(pkg),
        ).returncode
        == 0
    )
    assert cli("merge", str(pkg), "--project", str(project)).returncode == 0
    reasons = [
        b["reason"] for b in json.loads(cli("backup", "list", "--json", "--project", str(project)).stdout)
    ]
    assert reasons[0] == "merge" and "import" in reasons

    # Damage the project, then put the copy taken before the import back.
    size = project.stat().st_size
    with open(project, "r+b") as fh:
        fh.seek(size // 2)
        fh.write(b"\xa5" * 8192)
    bad = cli("info", "--project", str(project))
    assert bad.returncode == 1 and "backup" in bad.stderr
    name = listed[0]["name"]
    r = cli("backup", "restore", name, "--project", str(project))
    assert r.returncode == 0, r.stderr
    assert f"restored {project} from {name}" in r.stdout
    info = cli("info", "--json", "--project", str(project))
    assert info.returncode == 0, info.stderr
    assert json.loads(info.stdout)["generations"] == generations_before  # as it was before the import
    assert cli("backup", "restore", "nope", "--project", str(project)).returncode == 2


def test_restore_keeps_the_replaced_file(project):
    with open_project(project) as store:
        snapshot(store, "import")
        store.add_topics(["Kites"])
    chosen, previous = restore(project, "latest")
    assert previous is not None and previous.reason == "before-restore"
    assert count(project, "SELECT COUNT(*) FROM topics WHERE name = 'Kites'") == 0
    assert count(previous.path, "SELECT COUNT(*) FROM topics WHERE name = 'Kites'") == 1


def test_copies_beyond_the_size_budget_go_but_the_newest_two_stay(project, monkeypatch):
    size = project.stat().st_size
    monkeypatch.setenv("GRADEAPP_BACKUP_GB", str(3.5 * size / 1e9))  # room for three copies
    with open_project(project) as store:
        for i in range(5):
            store.add_topics([f"topic {i}"])
            snapshot(store, "import")
        kept = list_backups(project)
        assert len(kept) == 3 and sum(b.path.stat().st_size for b in kept) <= 3.5 * size
        assert count(kept[0].path, "SELECT COUNT(*) FROM topics WHERE name LIKE 'topic %'") == 5
        monkeypatch.setenv("GRADEAPP_BACKUP_GB", "0.000000001")  # smaller than one copy
        store.add_topics(["topic 5"])
        snapshot(store, "import")
        assert len(list_backups(project)) == 2  # never fewer than the newest two
        for bad in ("lots", "0", "-1", "inf", "nan"):
            monkeypatch.setenv("GRADEAPP_BACKUP_GB", bad)
            store.add_topics([f"topic {bad}"])
            with pytest.raises(GradeappError, match="GRADEAPP_BACKUP_GB"):
                snapshot(store, "import")
            assert len(list_backups(project)) == 2  # refused before anything was written


def test_a_full_disk_makes_room_by_deleting_the_projects_oldest_copies(project, monkeypatch):
    # A nearly full disk cannot be made portably in a test (no mount rights in CI): the free space the
    # backup module reads is replaced by a figure that counts the bytes the backups themselves hold.
    with open_project(project) as store:
        for i in range(4):
            store.add_topics([f"topic {i}"])
            snapshot(store, "import")
        folder = list_backups(project)[0].path.parent
        held = lambda: sum(p.stat().st_size for p in folder.glob("*.gradeapp"))  # noqa: E731
        limit = held() + project.stat().st_size // 2  # the disk has room for half a copy more

        class Usage:
            @property
            def free(self):
                return max(0, limit - held())

        monkeypatch.setattr("gradeapp.db.backup.shutil.disk_usage", lambda _p: Usage())
        store.add_topics(["topic 4"])
        snapshot(store, "merge")
    kept = list_backups(project)
    assert kept[0].reason == "merge" and len(kept) < 5  # old copies gave way, the new one was written
    assert count(kept[0].path, "SELECT COUNT(*) FROM topics WHERE name = 'topic 4'") == 1


def test_backups_and_restores_keep_a_private_projects_mode(project):
    import stat

    project.chmod(0o600)
    with open_project(project) as store:
        taken = snapshot(store, "private")
        store.add_topics(["Kites"])
    assert stat.S_IMODE(taken.path.stat().st_mode) == 0o600
    assert stat.S_IMODE(taken.path.parent.stat().st_mode) == 0o700
    _restored, previous = restore(project, taken.name)
    assert stat.S_IMODE(project.stat().st_mode) == 0o600  # the restore wrote into the file, not over it
    assert previous is not None and stat.S_IMODE(previous.path.stat().st_mode) == 0o600
    assert count(project, "SELECT COUNT(*) FROM topics WHERE name = 'Kites'") == 0


def test_the_temporary_copies_of_killed_backups_and_restores_are_removed_by_the_next_backup(project):
    import subprocess as sp

    from gradeapp.db.backup import backup_folder

    dead = sp.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    pid = int(dead.stdout)  # a process that has ended
    folder = backup_folder(project)
    folder.mkdir(parents=True)
    stale = [folder / f"20260101T000000000000Z-open.gradeapp.{pid}.partial", folder / f".restoring-{pid}-x"]
    running = folder / f"20260101T000000000000Z-open.gradeapp.{os.getpid()}.partial"
    for path in [*stale, running]:
        path.write_bytes(b"half a copy")
    with open_project(project) as store:
        snapshot(store, "next")
    assert not any(p.exists() for p in stale) and running.exists()
