"""Whole-file operations beside other processes: a restore, migrations, a new file, an empty file.

A restore writes the backup into the live file through SQLite's backup API (one transaction, the same
inode) and gives it a new file identity; a writer that had the old file open stops at its next write or
when it closes instead of reporting rows stored. Real processes on a real project file.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys

import pytest

from gradeapp.db import open_project
from gradeapp.db.connection import ProjectReplaced
from gradeapp.services.backup import restore, snapshot
from tests.fakeopenai import make_project
from tests.helpers import count, hold_write_lock


def cli(*args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "gradeapp", *args],
        capture_output=True,
        text=True,
        env={**os.environ, "OPENAI_API_KEY": "sk-test-whole-1234", **env},
    )


def test_a_restore_during_a_judge_run_stops_the_judge_instead_of_reporting_rows_stored(tmp_path, fake_openai):
    path = make_project(tmp_path / "p.gradeapp", n_generations=12)
    fake_openai.hold_after(6)  # six calls are answered (and stored), the next ones wait in flight
    judge = subprocess.Popen(
        [sys.executable, "-m", "gradeapp", "judge", "--project", str(path), "--model", "m", "--runs", "1"]
        + ["--base-url", fake_openai.base_url, "--concurrency", "2", "--max-retries", "0"],
        env={**os.environ, "OPENAI_API_KEY": "sk-test-whole-1234"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        fake_openai.wait_held(2)
        # the answered calls are committed once the judge's flusher has run: wait for the rows
        while count(path, "SELECT COUNT(*) FROM replies") < 6:
            assert judge.poll() is None, judge.communicate()
        restored = cli("backup", "restore", "latest", "--project", str(path))  # the judge's opening backup
        assert restored.returncode == 0, restored.stderr
    finally:
        fake_openai.release()
    out, err = judge.communicate(timeout=120)
    assert count(path, "SELECT COUNT(*) FROM replies") == 0  # the backup was taken before the run
    assert judge.returncode == 1, (out, err)
    assert "restored from a backup by another process" in err and "Traceback" not in err
    assert "12 of 12 judge runs stored" not in out


def test_a_restore_writes_into_the_live_file_and_an_open_writer_stops(tmp_path):
    path = make_project(tmp_path / "p.gradeapp", n_generations=3)
    with open_project(path) as store:
        snapshot(store, "before-kites")
    inode = path.stat().st_ino
    path.chmod(0o600)
    writer = open_project(path)
    reader = sqlite3.connect(path)
    writer.add_topics(["Kites"])
    restore(path, "latest")
    assert path.stat().st_ino == inode and path.stat().st_mode & 0o777 == 0o600
    # a connection opened before the restore sees the restored content at its next read
    assert reader.execute("SELECT COUNT(*) FROM topics WHERE name = 'Kites'").fetchone()[0] == 0
    reader.close()
    with pytest.raises(ProjectReplaced, match="restored from a backup"), writer.atomic():
        writer.add_topics(["Falcons"])  # nothing is written into the restored file
    with pytest.raises(ProjectReplaced):
        writer.close()
    assert count(path, "SELECT COUNT(*) FROM topics WHERE name = 'Falcons'") == 0
    with open_project(path) as fresh:  # a new process (or connection) works on the restored file
        fresh.add_topics(["Falcons"])


def test_a_restore_refuses_in_one_line_while_another_process_keeps_the_project_busy(tmp_path):
    path = make_project(tmp_path / "p.gradeapp", n_generations=3)
    with open_project(path) as store:
        snapshot(store, "first")
        store.add_topics(["Kites"])
    holder = hold_write_lock(path)
    try:
        done = cli("backup", "restore", "latest", "--project", str(path), GRADEAPP_LOCK_TIMEOUT="0.5")
    finally:
        holder.communicate("\n", timeout=30)
    assert done.returncode == 1, done.stderr
    errors = [line for line in done.stderr.splitlines() if line.startswith("gradeapp: error")]
    assert len(errors) == 1 and "the project is open in another process: close it and retry" in errors[0]
    assert count(path, "SELECT COUNT(*) FROM topics WHERE name = 'Kites'") == 1  # nothing was changed


OPENER = """
import sys
from gradeapp.db import open_project
open_project(sys.argv[1]).close()
"""


def test_processes_creating_one_new_project_at_once_apply_each_migration_once(tmp_path):
    path = tmp_path / "new.gradeapp"
    openers = [
        subprocess.Popen([sys.executable, "-c", OPENER, str(path)], stderr=subprocess.PIPE, text=True)
        for _ in range(4)
    ]
    errors = [p.communicate(timeout=120)[1] for p in openers]
    assert [p.returncode for p in openers] == [0, 0, 0, 0], errors
    conn = sqlite3.connect(path)
    names = [r[0] for r in conn.execute("SELECT name FROM _sqlite_migrations")]
    uuids = conn.execute("SELECT COUNT(*) FROM project WHERE key = 'uuid'").fetchone()[0]
    conn.close()
    assert len(names) == len(set(names)) and uuids == 1


def test_grade_refuses_an_empty_file_and_leaves_it_empty(tmp_path):
    path = tmp_path / "empty.gradeapp"
    path.touch()
    done = cli("grade", "test-0", "--set", "topic=1", "--annotator", "ann", "--project", str(path))
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "an empty file (0 bytes), not a gradeapp project" in done.stderr
    assert path.stat().st_size == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty.gradeapp"]


FIRST_USE = """
import sys
from pathlib import Path
from gradeapp.services.demo import ensure_default_project
ensure_default_project(Path(sys.argv[1]))
"""


def test_the_default_project_appears_only_whole_to_a_second_process(tmp_path):
    path = tmp_path / "default.gradeapp"
    maker = subprocess.Popen([sys.executable, "-c", FIRST_USE, str(path)], stderr=subprocess.PIPE, text=True)
    while not path.exists():  # the first use, in another process, is making it
        assert maker.poll() is None or path.exists(), maker.communicate()
    # a second command starting now finds the file and uses it: it must be the whole demo already
    assert count(path, "SELECT COUNT(*) FROM generations") == 163
    assert maker.wait(timeout=300) == 0, maker.communicate()
    assert count(path, "SELECT COUNT(*) FROM generations") == 163
    assert sorted(p.name for p in tmp_path.iterdir()) == ["default.gradeapp"]
