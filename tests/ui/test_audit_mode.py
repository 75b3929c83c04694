"""The desk's audit mode: the draw served widest interval first, intervals and items left per cell."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from gradeapp.db import open_project
from gradeapp.services.audit import draw_audit
from tests.simulate import simulate_project
from tests.ui.test_main_window import keys


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


def test_an_empty_audit_queue_says_why_and_its_button_draws_what_the_planner_asks(qtbot, open_desk, tmp_path):
    path = tmp_path / "graded.gradeapp"
    simulate_project(path, n_generations=360, n_audit=60, seed=6)  # the draw is wholly graded, cells short
    window = open_desk(path)
    window.actions_by_id["audit_mode"].setChecked(True)
    panel = window.audit_panel
    qtbot.waitUntil(lambda: panel.progress is not None and panel.fix_button.isVisible(), timeout=30_000)
    assert panel.progress.order == [] and window.model.rowCount() == 0
    assert window.item is None  # no item outside the queue shown stays on screen
    need = sum(panel.progress.more_needed().values())
    reason = panel.empty_reason.text()
    assert "need about" in reason and str(need) in reason and "more items than the draw holds" in reason
    assert window.header.text() == reason
    assert panel.fix_button.text() == f"Draw {need} more"
    qtbot.mouseClick(panel.fix_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.model.rowCount() > 0 and window.item is not None, timeout=30_000)
    assert panel.progress.draw.endswith("-more-1") and not panel.fix_button.isVisible()
    with open_project(path, create=False) as store:
        old, new = (
            {g for (g,) in store.execute("SELECT generation_id FROM audit_items WHERE draw_id = ?", [d])}
            for d in (1, 2)
        )
    assert old < new and len(new - old) == need  # the draw kept, plus what the planner asked for
    assert window.item.generation_id == window.model.generation_id(0)
    window.actions_by_id["audit_mode"].setChecked(False)  # leaving the mode keeps the place in the queue
    assert window.item.generation_id == window.model.generation_id(window.current_row)


def test_leaving_audit_mode_keeps_the_item_on_screen(qtbot, open_desk, audit_project):
    window = open_desk(audit_project)
    window.actions_by_id["audit_mode"].setChecked(True)
    panel = window.audit_panel
    qtbot.waitUntil(lambda: panel.progress is not None and window.model.order is not None, timeout=30_000)
    keys(qtbot, window, "]")
    place = window.item.generation_id
    window.actions_by_id["audit_mode"].setChecked(False)
    assert window.model.order is None and window.item.generation_id == place
    assert window.model.generation_id(window.current_row) == place
