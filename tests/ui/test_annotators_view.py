"""The annotator quality table, on a real project with a hasty annotator."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import Qt  # noqa: E402

from gradeapp.db import open_project  # noqa: E402
from gradeapp.ui.annotators_view import HEADERS, open_annotators_view  # noqa: E402
from tests.team_sim import Clock, grade  # noqa: E402


def test_table_marks_fast_deciders_and_follows_the_threshold(qtbot, demo_path):
    path = demo_path
    clock = Clock()
    with open_project(path, create=False) as store:
        for n, secs in zip(range(40, 44), [2.0, 3.0, 8.0, 30.0], strict=True):
            grade(store, "fay", f"demo-{n:03d}", {"topic": 1}, seconds=secs, created=clock())
    view = open_annotators_view(None, path)
    qtbot.addWidget(view)
    names = [view.table.item(i, 0).text() for i in range(view.table.rowCount())]
    assert names == ["ann (demo)", "ben (demo)", "fay"]
    col = {key: j for j, (key, _l, _s) in enumerate(HEADERS)}
    fay = names.index("fay")
    assert view.table.item(fay, col["fast_decisions"]).text() == "2"
    assert view.table.item(fay, col["warnings"]).text() == "2 of 4 first submits took under 5 s"
    assert view.table.item(0, col["warnings"]).text() == ""
    # Raise the threshold from the keyboard: 10 s flags the 8 s submit too.
    view.threshold.selectAll()
    qtbot.keyClicks(view.threshold, "10")
    qtbot.keyClick(view.threshold, Qt.Key.Key_Return)
    assert view.table.item(fay, col["fast_decisions"]).text() == "3"
    view.close()
