"""Evidence in the desk: keyboard and mouse selections attached with Ctrl+Alt + a criterion's key."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QTextCursor

from gradeapp.core.rubric import TOPIC
from gradeapp.db import open_project
from gradeapp.services import adjudication, evidence
from gradeapp.services.grading import Item
from gradeapp.ui.adjudication_view import open_adjudication_view
from gradeapp.ui.evidence_view import DisplayMap
from tests.ui.test_main_window import current, keys


def marks(path: Path) -> list[tuple]:
    """Read the current marks straight from the file (a second connection)."""
    with sqlite3.connect(path) as conn:
        return conn.execute(
            "SELECT e.criterion, e.start_char, e.end_char, e.quote FROM evidence e WHERE e.action = 'add' "
            "AND NOT EXISTS (SELECT 1 FROM evidence r WHERE r.removes_id = e.id) ORDER BY e.id"
        ).fetchall()


def _item(text: str, sentences: list[str]) -> Item:
    return Item(
        generation_id=1, uid="u", student="s", k=1, topic="t", text=text, skills=[], criteria=[TOPIC],
        sentences=sentences, limit=1, named=[], suggestions={}, decisions={}, submitted=False, revealed=False,
        flagged=False, note="",
    )  # fmt: skip


def test_display_map_turns_a_selection_over_numbered_sentences_into_stored_offsets():
    text = "First one.  Second \U0001f41d one!"
    shown = DisplayMap(_item(text, ["First one.", "Second \U0001f41d one!"]))
    assert shown.shown == " 1  First one.\n 2  Second \U0001f41d one!"
    # From "one." in line 1 to "Second" in line 2 (Qt positions; the prefix " 2  " is skipped).
    start, end = shown.to_stored(shown.shown.index("one."), shown.shown.index(" \U0001f41d"))
    assert text[start:end] == "one.  Second"
    # After the emoji Qt counts two units for one character.
    qt_bang = shown.shown.index("!") + 1
    start, end = shown.to_stored(qt_bang, qt_bang + 1)
    assert text[start:end] == "!"
    assert shown.to_shown(0, len(text))[1][0] == shown.shown.index("Second")


def test_keyboard_selection_with_ctrl_alt_key_marks_evidence_then_undo_redo_and_remove(
    qtbot, open_desk, demo_path
):
    window = open_desk(demo_path)
    uid, text = window.item.uid, window.item.text
    presses = keys(qtbot, window, "Ctrl+2")
    assert window.focusWidget() is window.text_view
    cursor = window.text_view.textCursor()
    cursor.movePosition(QTextCursor.MoveOperation.Start)
    window.text_view.setTextCursor(cursor)
    presses += keys(qtbot, window, "Right", "Right", "Right", "Right")  # past " 1  "
    presses += keys(qtbot, window, "Ctrl+Shift+Right", "Ctrl+Shift+Right")  # two words
    presses += keys(qtbot, window, "Ctrl+Alt+T")
    [(criterion, start, end, quote)] = marks(demo_path)
    assert criterion == TOPIC and start == 0 and quote == text[start:end] and len(quote.split()) == 2
    assert "topic (1)" in window.evidence.legend.text()
    assert len(window.text_view.extraSelections()) == 1
    assert current(demo_path, uid) == {}  # evidence is not a verdict
    keys(qtbot, window, "Ctrl+Z")
    assert marks(demo_path) == [] and window.text_view.extraSelections() == []
    keys(qtbot, window, "Ctrl+Shift+Z")
    assert [m[1:] for m in marks(demo_path)] == [(start, end, quote)]
    keys(qtbot, window, "Ctrl+Alt+X")  # the cursor is at the selection's end, inside the mark
    assert marks(demo_path) == []
    keys(qtbot, window, "Ctrl+Z")
    assert len(marks(demo_path)) == 1
    # The plain keys still grade while the text has the focus: T decides the topic.
    keys(qtbot, window, "T")
    assert current(demo_path, uid)[TOPIC] is not None
    assert presses == 8


def test_mouse_selection_marks_evidence_for_a_skill(qtbot, open_desk, demo_path):
    window = open_desk(demo_path)
    view = window.text_view

    def left_of(word: str):
        cursor = view.document().find(word)
        cursor.setPosition(cursor.selectionStart())
        return view.cursorRect(cursor)

    first = left_of(window.item.text.split()[0])
    last = left_of(window.item.sentences[0].split()[2])
    qtbot.mousePress(view.viewport(), Qt.MouseButton.LeftButton, pos=first.topLeft() + QPoint(0, 2))
    qtbot.mouseMove(view.viewport(), pos=last.topLeft() + QPoint(0, 2))
    qtbot.mouseRelease(view.viewport(), Qt.MouseButton.LeftButton, pos=last.topLeft() + QPoint(0, 2))
    assert view.textCursor().hasSelection()
    keys(qtbot, window, "Ctrl+Alt+1")
    [(criterion, start, _end, quote)] = marks(demo_path)
    assert criterion.startswith("skill:") and start == 0
    assert quote.split()[:2] == window.item.text.split()[:2]


def test_adjudication_shows_the_two_peoples_evidence_side_by_side(qtbot, demo_path):
    with open_project(demo_path) as store:
        cell = adjudication.disagreements(store)[0]
        gid, criterion = cell["generation_id"], cell["criterion"]
        text = store.execute("SELECT text FROM generations WHERE id = ?", [gid]).fetchone()[0]
        names = [p["name"] for p in cell["people"]][:2] or ["ann", "ben"]
        first_word, second_word = text.split()[0], text.split()[1]
        for name, word in zip(names, (first_word, second_word), strict=False):
            grader = store.grader_id("human", name)
            start = text.index(word)
            evidence.mark_evidence(store, grader, gid, criterion, start, start + len(word))
    view = open_adjudication_view(None, demo_path)
    qtbot.addWidget(view)
    page = view.detail.toHtml()
    assert "Evidence" in view.detail.toPlainText()
    for name in names:
        assert name in view.detail.toPlainText()
    assert page.count("#ffd54f") == len(names)
