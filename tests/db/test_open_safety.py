"""Never touch a foreign file; open read-only files read-only; refuse damaged files before writing.

Real files: another program's SQLite database, a project on a read-only mount (a bind mount remounted
read-only; skipped with the reason where the machine does not allow mounting), damaged pages.
"""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from gradeapp.db import open_project
from gradeapp.db.connection import APPLICATION_ID, ProjectDamaged, file_uri, inspect_file
from gradeapp.db.migrations import known_migrations
from gradeapp.errors import ProjectError
from gradeapp.services.demo import build_demo
from gradeapp.services.team import assign
from tests.helpers import readonly_mount


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "gradeapp", *args], capture_output=True, text=True)


def test_every_project_carries_the_application_id(store):
    assert store.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID
    assert store.applied_migrations()[-len(known_migrations()) :] == known_migrations()


@pytest.mark.parametrize("journal", ["DELETE", "WAL"])
def test_a_foreign_sqlite_file_is_refused_byte_for_byte_unchanged(tmp_path, journal):
    path = tmp_path / "other.db"
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA journal_mode = {journal}")
    conn.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT)")
    conn.execute("INSERT INTO notes(text) VALUES ('mine')")
    conn.commit()
    conn.close()
    before = path.read_bytes()
    listing = sorted(p.name for p in tmp_path.iterdir())
    with pytest.raises(ProjectError, match="not a gradeapp project"):
        open_project(path, create=False)
    r = cli("info", "--project", str(path))
    assert r.returncode == 2 and "not a gradeapp project" in r.stderr
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == listing  # no -wal, no -shm left behind


def test_a_file_of_another_program_with_its_own_application_id_is_refused(tmp_path):
    path = tmp_path / "x.gradeapp"
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA application_id = 1234")
    conn.execute("CREATE TABLE _sqlite_migrations (id INTEGER PRIMARY KEY, migration_set TEXT, name TEXT)")
    conn.commit()
    conn.close()
    before = path.read_bytes()
    with pytest.raises(ProjectError, match="another program"):
        open_project(path, create=False)
    assert path.read_bytes() == before


def test_a_text_file_is_refused_unchanged(tmp_path):
    path = tmp_path / "notes.gradeapp"
    path.write_text("hello, this is not a database\n" * 50)
    before = path.read_bytes()
    with pytest.raises(ProjectError, match="not an SQLite database"):
        open_project(path, create=False)
    assert path.read_bytes() == before


def test_paths_with_hash_and_question_mark_are_file_paths(tmp_path):
    path = tmp_path / "a#b?c%20d.gradeapp"
    with open_project(path) as store:
        store.add_topics(["Kites"])
    assert path.exists()
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.endswith(("-wal", "-shm"))) == [path.name]
    with open_project(path, readonly=True) as store:
        assert store.topics() == ["Kites"]
    assert "%23" in file_uri(path) and "%3F" in file_uri(path)


def test_an_old_project_gets_the_id_and_a_backup_before_its_migration(tmp_path):
    path = tmp_path / "old.gradeapp"
    with open_project(path) as store:
        store.add_topics(["Kites"])
    # make it look like a file written before migrations 020/021
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA application_id = 0")
    conn.execute(
        "DELETE FROM _sqlite_migrations WHERE name IN ('020_current_by_insertion_order', '021_application_id')"
    )
    conn.execute("DROP VIEW current_verdicts")
    conn.execute(
        "CREATE VIEW current_verdicts AS SELECT v.* FROM verdicts v WHERE v.id IN "
        "(SELECT MAX(id) FROM verdicts GROUP BY grader_id, generation_id, criterion, run)"
    )
    conn.execute("ALTER TABLE verdicts DROP COLUMN merged_from")
    conn.execute("ALTER TABLE reviews DROP COLUMN merged_from")
    conn.commit()
    conn.close()
    assert inspect_file(path).application_id == 0
    with open_project(path) as store:
        assert store.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID
        assert store.topics() == ["Kites"]
    from gradeapp.db.backup import list_backups

    found = list_backups(path)
    assert [b.reason for b in found] == ["migration"]
    old = sqlite3.connect(found[0].path)
    names = [r[0] for r in old.execute("SELECT name FROM _sqlite_migrations")]
    old.close()
    assert "020_current_by_insertion_order" not in names and "001_initial_schema" in names


def _damage(path: Path) -> None:
    size = path.stat().st_size
    with open(path, "r+b") as fh:
        fh.seek(size // 2)
        fh.write(b"\xa5" * 8192)


def test_a_damaged_project_is_refused_for_writing_and_left_as_it_is(tmp_path):
    path = build_demo(tmp_path / "demo.gradeapp")
    _damage(path)
    before = path.read_bytes()
    with pytest.raises(ProjectDamaged, match="damaged.*gradeapp backup list"):
        open_project(path, create=False)
    assert path.read_bytes() == before


# -- a read-only medium -----------------------------------------------------------------------------
def test_reading_commands_work_on_a_read_only_medium_and_writing_ones_say_why_not(tmp_path):
    source = tmp_path / "src"
    source.mkdir()
    project = build_demo(source / "demo.gradeapp")
    with open_project(project) as store:
        pkg = Path(assign(store, ["ann"], source / "pkgs", overlap=0.0, use_all=True)["packages"][0]["path"])
    main_copy = shutil.copyfile(project, tmp_path / "main.gradeapp")
    with readonly_mount(source, tmp_path / "ro") as ro:
        ro_project = ro / "demo.gradeapp"
        listing = sorted(p.name for p in ro.iterdir())
        r = cli("info", "--json", "--project", str(ro_project))
        assert r.returncode == 0, r.stderr
        r = cli("stats", "--json", "--project", str(ro_project))
        assert r.returncode == 0, r.stderr
        r = cli("export", "--out", str(tmp_path / "exp"), "--project", str(ro_project))
        assert r.returncode == 0, r.stderr
        assert (tmp_path / "exp" / "report.html").exists()
        r = cli("merge", str(ro / "pkgs" / pkg.name), "--project", str(main_copy))
        assert r.returncode == 0, r.stderr
        r = cli("grade", "demo-001", "--set", "topic=1", "--annotator", "zed", "--project", str(ro_project))
        assert r.returncode == 1 and "can only be read" in r.stderr and "Traceback" not in r.stderr
        assert sorted(p.name for p in ro.iterdir()) == listing
