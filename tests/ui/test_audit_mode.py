"""The desk's audit mode: the draw served widest interval first, intervals and items left per cell."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from gradeapp.db import open_project
from gradeapp.services.audit import draw_audit
from tests.simulate import simulate_project


@pytest.fixture
def audit_project(tmp_path):
    """A project whose first audit is graded, with a second draw of 36 (6 cells) nobody has graded yet."""
    path = tmp_path / "audit.gradeapp"
    simulate_project(path, n_generations=360, n_audit=60, seed=4)
    with open_project(path) as store:
        draw_audit(store, 6, design="stratified", per_cell=True, seed=5, name="second")
    return path


def test_audit_mode_serves_the_widest_interval_first_and_shows_intervals(qtbot, open_desk, audit_project):
    window = open_desk(audit_project)
    window.actions_by_id["audit_mode"].setChecked(True)
    panel = window.audit_panel
    qtbot.waitUntil(lambda: panel.progress is not None and window.model.order is not None, timeout=30_000)
    progress = panel.progress
    assert progress.draw == "second" and len(progress.cells) == 6
    cells = panel.model.frame()
    assert {"ci_low", "ci_high", "cs_half_width", "left", "extra"} <= set(cells.columns)
    assert ((cells["graded"] + cells["left"]) == 6).all() and cells["left"].sum() == len(progress.order)
    assert window.audit_dock.isVisible()
    # the queue is the draw's ungraded items in the planner's order, and the desk shows the first
    assert [window.model.generation_id(r) for r in range(window.model.rowCount())] == progress.order
    first = progress.order[0]
    assert window.item.generation_id == first
    # grading it (accept, submit) counts for its cell once the panel has recomputed
    before = int(cells["graded"].sum())
    qtbot.keyClick(window, Qt.Key.Key_A)
    qtbot.keyClick(window, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: int(panel.model.frame()["graded"].sum()) == before + 1, timeout=30_000)
    assert window.item.generation_id == progress.order[1]
    window.actions_by_id["audit_mode"].setChecked(False)
    assert window.model.order is None and not window.audit_dock.isVisible()


def test_the_desk_says_when_every_cell_reaches_the_target(qtbot, open_desk, tmp_path):
    path = tmp_path / "graded.gradeapp"
    simulate_project(path, n_generations=360, n_audit=240, seed=6)  # the draw is wholly graded
    window = open_desk(path)
    window.actions_by_id["audit_mode"].setChecked(True)
    panel = window.audit_panel
    qtbot.waitUntil(lambda: panel.progress is not None, timeout=30_000)
    assert not panel.progress.all_reached  # 40 per cell cannot give an anytime-valid ±0.05
    assert "more items expected" in panel.message.text()
    panel.target.setValue(0.4)
    qtbot.waitUntil(lambda: panel.progress.target == 0.4, timeout=30_000)
    assert panel.progress.all_reached and panel.progress.cells["reached"].all()
    assert "precise enough" in panel.message.text()
    assert "precise enough" in window.statusBar().currentMessage()
