"""The desk on a project on a read-only medium: it shows the project, says read-only, grades nothing."""

from __future__ import annotations

import shutil
import sqlite3

from gradeapp.db.connection import file_uri
from tests.helpers import readonly_mount
from tests.ui.test_main_window import keys


def verdict_rows(path) -> int:
    """Count verdicts on a read-only medium (immutable: no -shm can be made there)."""
    conn = sqlite3.connect(file_uri(path, mode="ro", immutable="1"), uri=True)
    try:
        return conn.execute("SELECT COUNT(*) FROM verdicts").fetchone()[0]
    finally:
        conn.close()


def test_desk_on_a_read_only_medium_says_so_and_refuses_to_grade(qtbot, open_desk, demo_path, tmp_path):
    source = tmp_path / "medium"
    source.mkdir()
    shutil.copyfile(demo_path, source / "demo.gradeapp")
    with readonly_mount(source, tmp_path / "ro") as ro:
        path = ro / "demo.gradeapp"
        before = verdict_rows(path)
        window = open_desk(path)
        assert "read-only" in window.windowTitle()
        assert window.item is not None  # the item is shown
        keys(qtbot, window, "1")
        assert "read-only" in window.statusBar().currentMessage()
        assert window.saved_label.text() == ""
        assert verdict_rows(path) == before
        window.close()
        window.store.close()  # release the file before the medium is unmounted
        assert sorted(p.name for p in ro.iterdir()) == ["demo.gradeapp"]
    conn = sqlite3.connect(source / "demo.gradeapp")
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    conn.close()
