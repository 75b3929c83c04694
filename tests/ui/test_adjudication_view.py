"""The adjudication view, driven by key presses on a real project."""

from __future__ import annotations

import os
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest  # noqa: E402
from PySide6.QtCore import Qt  # noqa: E402

from gradeapp.db import open_project  # noqa: E402
from gradeapp.services import adjudication  # noqa: E402
from gradeapp.ui.adjudication_view import open_adjudication_view  # noqa: E402


@pytest.fixture
def project(demo_path) -> Path:
    return demo_path


def decisions(path: Path) -> list[tuple]:
    with open_project(path, create=False) as store:
        return store.execute(
            "SELECT ge.uid, v.criterion, v.value, v.reason, g.name FROM verdicts v JOIN graders g ON g.id = v.grader_id "
            "JOIN generations ge ON ge.id = v.generation_id WHERE g.kind = 'adjudicator' ORDER BY v.id"
        ).fetchall()


def test_keys_choose_a_reason_and_decide_then_move_on(qtbot, project):
    view = open_adjudication_view(None, project)
    qtbot.addWidget(view)
    with open_project(project, create=False) as store:
        expected = adjudication.disagreements(store)
    assert view.list.count() == len(expected) > 2
    assert view.list.currentRow() == 0 and expected[0]["uid"] in view.detail.toPlainText()

    qtbot.keyClick(view.list, Qt.Key.Key_Down)
    second = expected[1]
    assert view.current_cell()["uid"] == second["uid"]
    qtbot.keyClick(view.list, Qt.Key.Key_1)  # no reason chosen yet: nothing is recorded
    assert decisions(project) == [] and "choose a reason" in view.status.text()

    qtbot.keyClick(view.list, Qt.Key.Key_J)
    assert view.reason.currentData() == "judge_error"
    with qtbot.waitSignal(view.decision_recorded) as sig:
        qtbot.keyClick(view.list, Qt.Key.Key_1)
    assert sig.args == [second["uid"], second["criterion"], 1]
    assert decisions(project) == [(second["uid"], second["criterion"], 1, "judge_error", "adjudicator")]
    # The decided cell moved to the end; the selection is on the next undecided cell.
    assert view.current_cell()["uid"] == expected[2]["uid"] and view.current_cell()["decision"] is None
    last = view.cells[-1]
    assert (last["uid"], last["criterion"], last["decision"]["value"]) == (
        second["uid"],
        second["criterion"],
        1,
    )

    qtbot.keyClick(view.list, Qt.Key.Key_T)
    qtbot.keyClick(view.list, Qt.Key.Key_0)
    assert decisions(project)[-1][2:4] == (0, "ambiguous_text")
    assert f"{len(expected)} disputed cells, {len(expected) - 2} undecided" in view.status.text()
    view.close()


def test_detail_shows_both_sides_and_the_judge_reason(qtbot, project):
    view = open_adjudication_view(None, project)
    qtbot.addWidget(view)
    text = view.detail.toPlainText()
    cell = view.current_cell()
    for p in cell["people"]:
        assert p["name"] in text
    if cell["judge"]:
        assert "judge demo-judge" in text and "(demo) simulated judge reason" in text
    view.close()
