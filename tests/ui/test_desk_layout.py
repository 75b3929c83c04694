"""The desk uses the screen on first start and shows long skill names in full in the rubric."""

from __future__ import annotations

from PySide6.QtCore import QRect, Qt
from PySide6.QtGui import QFontMetrics

from gradeapp.ui.main_window import SCREEN_SHARE, first_size


def test_the_first_window_takes_most_of_the_available_screen(qtbot, open_desk, demo_path):
    window = open_desk(demo_path)
    available = window.screen().availableGeometry()
    # the offscreen screen is 800 x 600: the floor of 1024 x 640 is capped by the screen itself
    assert (window.width(), window.height()) == first_size(available)
    assert window.width() >= round(available.width() * SCREEN_SHARE)
    assert first_size(QRect(0, 0, 2560, 1440)) == (round(2560 * SCREEN_SHARE), round(1440 * SCREEN_SHARE))
    assert first_size(QRect(0, 0, 1100, 700)) == (1024, 640)


def _go_to_long_skill(qtbot, window) -> int:
    """Show the first item with a skill whose name has a parenthesis; return its rubric row."""
    for row in range(window.model.rowCount()):
        window.show_row(row)
        for r, crit in enumerate(window.item.criteria):
            if "(" in crit:
                return r
    raise AssertionError("the demo has no long skill name")


def test_rubric_shows_a_long_skill_name_in_full_wrapped_in_a_narrow_column(qtbot, open_desk, demo_path):
    window = open_desk(demo_path)
    rubric = window.rubric_view
    row = _go_to_long_skill(qtbot, window)
    label = rubric.cell_text(row, "Criterion")
    assert label.startswith("Correctly illustrates ") and "(" in label and "..." not in label
    assert rubric.wordWrap() and rubric.textElideMode() == Qt.TextElideMode.ElideNone
    # narrow the criterion column: the row grows to hold the wrapped name instead of cutting it
    rubric.horizontalHeader().setSectionResizeMode(1, rubric.horizontalHeader().ResizeMode.Interactive)
    rubric.setColumnWidth(1, 120)
    metrics = QFontMetrics(rubric.item(row, 1).font())
    needed = metrics.boundingRect(QRect(0, 0, 120 - 8, 10_000), Qt.TextFlag.TextWordWrap, label).height()
    assert needed > metrics.height()  # the name does need more than one line at this width
    qtbot.waitUntil(lambda: rubric.rowHeight(row) >= needed)
