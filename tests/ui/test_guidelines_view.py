"""The guideline editor, driven by key presses on a real project."""

from __future__ import annotations

import os
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest  # noqa: E402
from PySide6.QtCore import Qt  # noqa: E402

from gradeapp.db import open_project  # noqa: E402
from gradeapp.services.guidelines import current  # noqa: E402
from gradeapp.ui.guidelines_view import GuidelinesPanel, open_guidelines_editor  # noqa: E402


@pytest.fixture
def project(demo_path) -> Path:
    return demo_path


def test_guidelines_editor_saves_a_new_version_with_ctrl_s(qtbot, project):
    editor = open_guidelines_editor(None, project)
    qtbot.addWidget(editor)
    assert editor.versions.count() == 1
    qtbot.keyClick(editor.editor, Qt.Key.Key_End, Qt.KeyboardModifier.ControlModifier)
    qtbot.keyClick(editor.editor, Qt.Key.Key_Return)
    qtbot.keyClicks(editor.editor, "Quotes count as part of their sentence.")
    with qtbot.waitSignal(editor.guidelines_saved) as sig:
        qtbot.keyClick(editor.editor, Qt.Key.Key_S, Qt.KeyboardModifier.ControlModifier)
    assert sig.args == [2] and editor.versions.count() == 2
    with open_project(project, create=False) as store:
        assert current(store)["text"].endswith("Quotes count as part of their sentence.")
    qtbot.keyClick(
        editor.editor, Qt.Key.Key_S, Qt.KeyboardModifier.ControlModifier
    )  # unchanged: no version 3
    assert editor.versions.count() == 2 and "unchanged" in editor.status.text()
    # Showing version 1 and saving restores its text as version 3.
    editor.versions.setCurrentRow(0)
    assert "version 1; saving makes it version 3" in editor.status.text()
    qtbot.keyClick(editor.editor, Qt.Key.Key_S, Qt.KeyboardModifier.ControlModifier)
    with open_project(project, create=False) as store:
        assert current(store)["version"] == 3 and "Quotes count" not in current(store)["text"]
    editor.close()


def test_panel_beside_the_rubric_shows_the_latest_version(qtbot, project):
    panel = GuidelinesPanel()
    qtbot.addWidget(panel)
    with open_project(project, create=False) as store:
        assert panel.show_guidelines(store) == 1
        assert (
            panel.toPlainText().startswith("Guidelines, version 1") and "Pertains to" in panel.toPlainText()
        )
