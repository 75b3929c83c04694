"""The desk as a person uses it: the judge after each submit, resuming, statuses, one key's SQL, any size."""

from __future__ import annotations

from PySide6.QtCore import QRect, Qt
from PySide6.QtGui import QFontMetrics

from gradeapp.ui.queue_model import COLUMNS, STATUS, STATUS_TEXTS
from tests.ui.test_main_window import keys


def test_the_judge_on_the_item_just_submitted_stays_in_view_until_the_next_decision(
    qtbot, open_desk, demo_path
):
    window = open_desk(demo_path)
    assert window.item.uid == "demo-001" and window.feedback.isHidden()
    keys(qtbot, window, "T", "A", "Return")  # topic against the default: fail
    assert window.item.uid == "demo-002"  # the next item is on screen...
    strip = window.feedback
    assert strip.isVisible()  # ...and beside it the judge's verdicts on demo-001
    text = strip.text()
    assert text.startswith("demo-001 submitted. The judge (")
    assert " of 3 runs passed" in text and "(1/3)" not in text  # runs in words, never a bare fraction
    previous = strip.feedback
    disagreeing = [r for r in previous.rows if r.disagrees]
    assert disagreeing and f"disagrees with you on {len(disagreeing)}" in text
    # the disagreements come first, marked, and highlighted
    assert strip.lines[0].text().startswith("≠ ") and "background-color" in strip.lines[0].styleSheet()
    assert all(line.text().startswith("= ") for line in strip.lines[len(disagreeing) :])
    keys(qtbot, window, "Escape")  # a key dismisses it
    assert strip.isHidden()
    keys(qtbot, window, "A", "Return")
    assert strip.isVisible() and strip.text().startswith("demo-002 submitted")
    keys(qtbot, window, "M")  # the next decision dismisses it too
    assert strip.isHidden()


def test_turning_blind_mode_off_says_decisions_are_post_reveal_and_left_out(qtbot, open_desk, demo_path):
    window = open_desk(demo_path)
    assert window.blind_banner.isHidden()
    keys(qtbot, window, "Ctrl+B")
    assert window.blind_banner.isVisible()
    banner = window.blind_banner.text()
    assert "post-reveal" in banner and "left out of the agreement" in banner
    assert window.rubric_view.cell_text(0, "Judge").endswith("runs passed")  # the judge is shown
    keys(qtbot, window, "Ctrl+B")
    assert window.blind_banner.isHidden()


def test_the_desk_reopens_where_the_annotator_left_off(qtbot, open_desk, demo_path):
    window = open_desk(demo_path)
    keys(qtbot, window, "A", "Return", "A", "Return", "S")  # demo-001, demo-002 submitted; demo-003 skipped
    assert window.item.uid == "demo-004"
    window.close()
    again = open_desk(demo_path)
    assert again.item.uid == "demo-004"  # not item 1, and not the skipped one
    assert [again.model.index(r, STATUS).data() for r in range(3)] == ["done", "done", "skipped"]
    # in another filter the desk opens on that queue's first unsubmitted item
    again.filters["status"].setCurrentIndex(again.filters["status"].findData("skipped"))
    assert again.model.rowCount() == 1 and again.item.uid == "demo-003"


def test_one_key_press_runs_only_the_statements_its_change_needs(qtbot, open_desk, demo_path):
    window = open_desk(demo_path)
    statements: list[str] = []
    window.store.conn.set_trace_callback(statements.append)
    keys(qtbot, window, "T")
    window.store.conn.set_trace_callback(None)
    # the transaction's own guard (Store.atomic checks the file is still the project it opened) aside
    reads = [
        s
        for s in statements
        if s.startswith("SELECT") and "FROM project WHERE key = 'file_identity'" not in s
    ]
    # the person's decisions, review state and guideline (read inside the transaction), the new row's id
    assert [s.split(" FROM ")[1].split()[0] for s in reads if " FROM " in s] == [
        "verdicts",
        "reviews",
        "guidelines",
    ]
    assert [s for s in statements if s.startswith("INSERT")] and statements.count("COMMIT") == 1
    begin = statements.index("BEGIN IMMEDIATE")
    assert all(not s.startswith("SELECT") for s in statements[:begin])  # no read outside the transaction
    assert len(statements) <= 11, statements  # 18 before the desk applied the Change it is given
    assert window.rubric_view.cell_text(window.item.criteria.index("topic"), "You") == "fail"
    assert window.model.index(0, STATUS).data() == "draft"


def test_nothing_is_cut_at_1024_by_640(qtbot, open_desk, demo_path):
    window = open_desk(demo_path)
    window.setMinimumSize(1024, 640)  # the offscreen screen is smaller: insist on the size under test
    window.resize(1024, 640)
    qtbot.waitUntil(lambda: window.width() == 1024)
    keys(qtbot, window, "F", "S")  # a status longer than 'done' in the queue: 'skipped, flagged'
    queue = window.queue_view
    metrics = queue.fontMetrics()
    for column, name in enumerate(COLUMNS):
        if name == "Topic":
            continue  # it takes what is left; its whole text is its tooltip
        texts = [name, *(str(window.model.index(r, column).data()) for r in range(window.model.rowCount()))]
        texts += list(STATUS_TEXTS) if name == "Status" else []
        assert queue.columnWidth(column) >= max(metrics.horizontalAdvance(t) for t in texts), name
    topic = window.model.index(0, COLUMNS.index("Topic"))
    assert topic.data(Qt.ItemDataRole.ToolTipRole) == topic.data()
    # every criterion of every item of the first page fits its cell, wrapped
    rubric = window.rubric_view
    for row in range(12):
        window.show_row(row)
        for r in range(rubric.rowCount()):
            cell = rubric.item(r, 1)
            width = rubric.columnWidth(1) - 8
            needed = QFontMetrics(cell.font()).boundingRect(
                QRect(0, 0, width, 10_000), Qt.TextFlag.TextWordWrap, cell.text()
            )
            assert rubric.rowHeight(r) >= needed.height(), cell.text()
        assert rubric.columnWidth(1) > rubric.columnWidth(2)  # the criterion has the largest share
        widths = [rubric.columnWidth(c) for c in range(rubric.columnCount())]
        assert sum(widths) <= rubric.viewport().width()  # every column inside the table, none cut at the edge
        for r in range(rubric.rowCount()):
            for c in range(rubric.columnCount()):  # text wraps at spaces: each word must fit its column
                words = rubric.item(r, c).text().split() or [""]
                assert max(rubric.fontMetrics().horizontalAdvance(w) for w in words) < widths[c], (r, c)


def test_the_skipped_filter_lists_the_skipped_items(qtbot, open_desk, demo_path):
    window = open_desk(demo_path)
    keys(qtbot, window, "S", "S")
    window.filters["status"].setCurrentIndex(window.filters["status"].findData("skipped"))
    assert [window.model.index(r, 0).data() for r in range(window.model.rowCount())] == [
        "demo-001",
        "demo-002",
    ]
    keys(
        qtbot, window, "A", "Return"
    )  # submitted: no longer skipped, but its row stays until the queue reloads
    assert window.model.index(0, STATUS).data() == "done"
