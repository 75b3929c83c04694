"""The desk's main window on a real project file, driven by key presses."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence

from gradeapp.core.rubric import MAKES_SENSE, SENTENCE_LIMIT, TOPIC
from gradeapp.db import open_project
from gradeapp.services import backup
from gradeapp.ui import shortcuts
from gradeapp.ui.queue_model import COLUMNS, STATUS

ANNOTATOR = "human:tess (test)"


def keys(qtbot, window, *sequences: str) -> int:
    """Press each key sequence on the window (as a person would); return how many presses."""
    for seq in sequences:
        combo = QKeySequence(seq)[0]
        target = window.focusWidget() or window
        qtbot.keyClick(target, combo.key(), combo.keyboardModifiers())
    return len(sequences)


def current(path: Path, uid: str, who: str = ANNOTATOR) -> dict[str, int | None]:
    """Read the person's current decisions on one item straight from the file (a second connection)."""
    with sqlite3.connect(path) as conn:
        rows = conn.execute(
            "SELECT v.criterion, v.value, v.status FROM verdicts v JOIN graders gr ON gr.id = v.grader_id "
            "JOIN generations g ON g.id = v.generation_id WHERE gr.key = ? AND g.uid = ? AND v.id IN "
            "(SELECT MAX(id) FROM verdicts GROUP BY grader_id, generation_id, criterion, run)",
            [who, uid],
        ).fetchall()
    return {c: (None if s == "retracted" else v) for c, v, s in rows}


def submitted(path: Path, uid: str, who: str = ANNOTATOR) -> bool:
    with sqlite3.connect(path) as conn:
        row = conn.execute(
            "SELECT r.action FROM reviews r JOIN graders gr ON gr.id = r.grader_id JOIN generations g "
            "ON g.id = r.generation_id WHERE gr.key = ? AND g.uid = ? AND r.action IN ('submit', 'unsubmit') "
            "ORDER BY r.id DESC LIMIT 1",
            [who, uid],
        ).fetchone()
    return bool(row and row[0] == "submit")


def verdict_rows(path: Path) -> int:
    with sqlite3.connect(path) as conn:
        return conn.execute("SELECT COUNT(*) FROM verdicts").fetchone()[0]


def go_to(qtbot, window, uid: str) -> None:
    for row in range(window.model.rowCount()):
        if window.model.index(row, 0).data() == uid:
            window.show_row(row)
            window.queue_view.setFocus()
            return
    raise AssertionError(uid)


def test_grade_three_items_by_keyboard_undo_redo_and_reopen(qtbot, open_desk, demo_path, settings):
    window = open_desk(demo_path)
    assert window.item.uid == "demo-001"
    # demo-001 (k=2): sentence check suggests fail (2 sentences > 1); accept takes the suggestion
    keys(qtbot, window, "A", "Return")
    assert window.item.uid == "demo-002"
    keys(qtbot, window, "1", "A", "Return")  # skill 1 fails
    keys(qtbot, window, "T", "T", "M", "A", "Return")  # topic: fail then pass; makes_sense fails
    assert window.item.uid == "demo-004"

    first = current(demo_path, "demo-001")
    assert first[SENTENCE_LIMIT] == 0 and first[TOPIC] == 1 and first["skill:metaphor"] == 1
    second = current(demo_path, "demo-002")
    assert second["skill:hyperbole"] == 0 and second["skill:buoyancy"] == 1 and second[MAKES_SENSE] == 1
    third = current(demo_path, "demo-003")
    assert third[TOPIC] == 1 and third[MAKES_SENSE] == 0 and None not in third.values()
    assert all(submitted(demo_path, u) for u in ("demo-001", "demo-002", "demo-003"))
    qtbot.waitUntil(lambda: "done 3 / 163" in window.progress_label.text(), timeout=30_000)

    # undo the submit, then the accept: the item is a draft and the accepted criteria are cleared again
    before = verdict_rows(demo_path)
    keys(qtbot, window, "Ctrl+Z")
    assert window.item.uid == "demo-003" and not submitted(demo_path, "demo-003")
    keys(qtbot, window, "Ctrl+Z")
    third = current(demo_path, "demo-003")
    assert third[TOPIC] == 1 and third[MAKES_SENSE] == 0 and third["skill:alliteration"] is None
    assert verdict_rows(demo_path) > before  # undo appended rows, it deleted nothing
    keys(qtbot, window, "Ctrl+Shift+Z", "Ctrl+Shift+Z")
    assert None not in current(demo_path, "demo-003").values()
    assert submitted(demo_path, "demo-003")

    window.close()
    again = open_desk(demo_path)
    go_to(qtbot, again, "demo-002")
    assert again.item.submitted
    assert again.item.decisions["skill:hyperbole"] == 0
    statuses = [again.model.index(r, STATUS).data() for r in range(3)]
    assert statuses == ["done", "done", "done"]


def test_saved_shows_only_after_commit_and_busy_file_is_reported(qtbot, open_desk, demo_path):
    window = open_desk(demo_path)
    n = verdict_rows(demo_path)
    keys(qtbot, window, "1")
    assert window.saved_label.text().startswith("saved")
    assert verdict_rows(demo_path) == n + 1

    messages = []
    window.warn = lambda title, text: messages.append(text)
    window.store.conn.execute("PRAGMA busy_timeout = 100")
    other = sqlite3.connect(demo_path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another process holds the write lock
    try:
        keys(qtbot, window, "2")
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert window.saved_label.text() == "NOT saved"
    assert messages and "busy in another program" in messages[0]
    assert verdict_rows(demo_path) == n + 1
    assert current(demo_path, "demo-001").get("skill:modus ponens") is None


def test_a_write_after_another_process_restored_the_project_says_not_saved(qtbot, open_desk, demo_path):
    window = open_desk(demo_path)
    keys(qtbot, window, "1")
    assert window.saved_label.text().startswith("saved")
    with open_project(demo_path) as store:
        backup.snapshot(store, "before-restore")
    backup.restore(demo_path, "latest")  # as `gradeapp backup restore` in another process would
    n = verdict_rows(demo_path)
    messages = []
    window.warn = lambda title, text: messages.append(text)
    keys(qtbot, window, "2")
    assert window.saved_label.text() == "NOT saved"
    assert messages and "restored from a backup" in messages[0]
    assert verdict_rows(demo_path) == n
    window.close()  # closing the replaced store raises nothing into Qt


def test_blind_mode_hides_the_judge_until_submit(qtbot, open_desk, demo_path, settings):
    window = open_desk(demo_path)
    rubric = window.rubric_view
    assert all(rubric.cell_text(r, "Judge") == "hidden until you submit" for r in range(rubric.rowCount()))
    keys(qtbot, window, "A", "Return", "[")
    assert window.item.uid == "demo-001" and window.item.revealed
    judged = [rubric.cell_text(r, "Judge") for r in range(rubric.rowCount())]
    assert all(t.startswith(("pass", "fail", "tie", "n/a")) for t in judged)
    # a change after the reveal is stored as a post-reveal revision, and a disagreement is marked
    crit = next(
        c
        for c in window.item.criteria
        if window.item.judge.get(c) and window.item.judge[c].majority is not None
    )
    row = window.item.criteria.index(crit)
    target = 1 - window.item.judge[crit].majority
    while window.item.decisions[crit] != target:
        key = rubric.cell_text(row, "Key")
        keys(qtbot, window, key)
    assert "≠ you" in rubric.cell_text(row, "Judge")
    with sqlite3.connect(demo_path) as conn:
        post = conn.execute("SELECT post_reveal FROM verdicts ORDER BY id DESC LIMIT 1").fetchone()[0]
    assert post == 1
    assert submitted(demo_path, "demo-001")  # a revision keeps the item submitted

    # a researcher can switch blind mode off: the judge shows before submit
    keys(qtbot, window, "Ctrl+B")
    assert settings.value("blind", type=bool) is False
    go_to(qtbot, window, "demo-010")
    assert not window.item.submitted
    assert rubric.cell_text(0, "Judge") != "hidden until you submit"


def test_markup_in_a_generation_is_shown_literally(qtbot, open_desk, demo_path):
    window = open_desk(demo_path)
    go_to(qtbot, window, "demo-061")
    text = window.text_view.toPlainText()
    assert "<b>lighthouse</b>" in text
    assert "<img src=x onerror=alert(1)>" in text
    assert '<a href="http://example.com">click</a>' in text
    doc = window.text_view.document()
    block = doc.begin()
    while block.isValid():
        it = block.begin()
        while not it.atEnd():
            fmt = it.fragment().charFormat()
            assert not fmt.isImageFormat() and not fmt.isAnchor() and not fmt.anchorHref()
            it += 1
        block = block.next()
    assert all(not f.isImageFormat() for f in doc.allFormats())
    assert window.header.textFormat() == Qt.TextFormat.PlainText  # a topic's markup shows as typed


def test_named_skills_are_highlighted(qtbot, open_desk, demo_path):
    window = open_desk(demo_path)
    with sqlite3.connect(demo_path) as conn:
        uid = conn.execute(
            "SELECT g.uid FROM checks c JOIN generations g ON g.id = c.generation_id WHERE c.named_skills != '[]' LIMIT 1"
        ).fetchone()
    assert uid is not None  # our own demo has texts that name a skill (scripts/make_demo_texts.py)
    go_to(qtbot, window, uid[0])
    assert window.item.named
    layouts = []
    block = window.text_view.document().begin()
    while block.isValid():
        layouts += [r for r in block.layout().formats() if r.format.fontWeight() > 400]
        block = block.next()
    assert layouts, "the named skill is not highlighted"
    row = window.item.criteria.index(f"skill:{window.item.named[0]}")
    assert "naming penalty" in window.rubric_view.cell_text(row, "Check")


@pytest.mark.parametrize("pattern", ["all_default", "all_opposite", "mixed"])
def test_a_k_skill_item_takes_at_most_k_plus_4_keys(qtbot, open_desk, demo_path, pattern, record_property):
    window = open_desk(demo_path)
    go_to(qtbot, window, "demo-015")  # k = 4
    item = window.item
    k = item.k
    assert k == 4
    flip = {
        "all_default": set(),
        "all_opposite": set(item.criteria),
        "mixed": {item.criteria[0], item.criteria[2], TOPIC},
    }[pattern]
    target = {c: (1 - item.default(c)) if c in flip else item.default(c) for c in item.criteria}
    presses = 0
    for n, crit in enumerate(item.criteria):
        if crit in flip:
            row_key = window.rubric_view.cell_text(n, "Key")
            presses += keys(qtbot, window, row_key)
    if window.item.undecided():
        presses += keys(qtbot, window, "A")
    presses += keys(qtbot, window, "Return")
    record_property("key_presses", presses)
    print(f"k={k} pattern={pattern}: {presses} key presses (bound k+4 = {k + 4})")
    assert presses <= k + 4
    assert current(demo_path, "demo-015") == target
    assert submitted(demo_path, "demo-015")


def test_shortcuts_work_while_typing_a_note(qtbot, open_desk, demo_path):
    window = open_desk(demo_path)
    keys(qtbot, window, "N")
    assert window.focusWidget() is window.note_box
    qtbot.keyClicks(window.note_box, "see 1 and T")
    assert window.note_box.toPlainText() == "see 1 and T"
    assert current(demo_path, "demo-001") == {}  # typing did not grade
    keys(qtbot, window, "Alt+1", "Alt+A", "Ctrl+Return")
    assert submitted(demo_path, "demo-001")
    assert current(demo_path, "demo-001")["skill:metaphor"] == 0
    with sqlite3.connect(demo_path) as conn:
        note = conn.execute(
            "SELECT note FROM reviews WHERE action = 'note' ORDER BY id DESC LIMIT 1"
        ).fetchone()
    assert note == ("see 1 and T",)
    keys(qtbot, window, "Escape")
    assert window.focusWidget() is not window.note_box


def test_reopen_key_takes_back_the_last_submitted_item(qtbot, open_desk, demo_path):
    window = open_desk(demo_path)
    keys(qtbot, window, "A", "Return")
    assert submitted(demo_path, "demo-001") and window.item.uid == "demo-002"
    keys(qtbot, window, "U")
    assert window.item.uid == "demo-001" and not submitted(demo_path, "demo-001")
    keys(qtbot, window, "Ctrl+Z")
    assert submitted(demo_path, "demo-001")


def test_flag_and_skip_are_recorded(qtbot, open_desk, demo_path):
    window = open_desk(demo_path)
    keys(qtbot, window, "F", "S")
    assert window.item.uid == "demo-002"
    with sqlite3.connect(demo_path) as conn:
        actions = [
            r[0]
            for r in conn.execute("SELECT action FROM reviews WHERE note IS NULL OR note != '' ORDER BY id")
        ]
    assert actions[-2:] == ["flag", "skip"]
    assert window.model.index(0, STATUS).data() == "skipped, flagged"  # every status shows, both at once
    keys(qtbot, window, "Ctrl+Z")  # undo the flag: an 'unflag' review, and the item is shown again
    assert window.item.uid == "demo-001" and not window.item.flagged
    assert window.model.index(0, STATUS).data() == "skipped"
    keys(qtbot, window, "Ctrl+Shift+Z")
    assert window.item.flagged
    window.filters["status"].setCurrentIndex(window.filters["status"].findData("flagged"))
    assert window.model.rowCount() == 1 and window.item.uid == "demo-001"


def test_queue_filters_page_from_the_database(qtbot, open_desk, demo_path):
    window = open_desk(demo_path)
    combo = window.filters["k"]
    combo.setCurrentIndex(combo.findData(3))
    ks = {window.model.index(r, COLUMNS.index("k")).data() for r in range(window.model.rowCount())}
    assert ks == {3}
    assert window.item.k == 3
    assert window.progress_label.text().startswith("done 0 / ")
    assert f"/ {window.model.rowCount()}" in window.progress_label.text()


def test_cheat_sheet_lists_every_shortcut(qtbot, open_desk, demo_path):
    window = open_desk(demo_path)
    keys(qtbot, window, "?")
    dialog = window.cheat_sheet_dialog
    assert dialog.isVisible()
    text = dialog.findChild(type(window.note_box)).toPlainText()
    for sc in shortcuts.ALL:
        if sc.action.startswith("skill") and int(sc.action[5:]) > window.item.k:
            continue
        assert sc.label in text
        for key in sc.keys:
            assert key in text
    assert "k + 4" in text
    # the menus show the same shortcuts
    grade_menu = next(a.menu() for a in window.menuBar().actions() if a.text() == "&Grade")
    assert any(a.shortcut().toString() == "A" for a in grade_menu.actions())


def test_two_projects_in_two_windows(qtbot, demo_path, demo_master, tmp_path, settings):
    from PySide6.QtWidgets import QApplication

    from gradeapp.ui.app import open_window

    other_path = tmp_path / "other.gradeapp"
    other_path.write_bytes(demo_master.read_bytes())
    first = open_window(demo_path, settings)
    second = open_window(other_path, settings)
    try:
        assert first is not second and open_window(demo_path, settings) is first
        for window in (first, second):
            window.activateWindow()
            qtbot.waitUntil(lambda w=window: QApplication.activeWindow() is w, timeout=30_000)
        keys(qtbot, second, "A", "Return")
        assert submitted(other_path, "demo-001") and not submitted(demo_path, "demo-001")
        assert second.item.uid == "demo-002" and first.item.uid == "demo-001"
    finally:
        first.close()
        second.close()


def test_time_and_annotator_are_stored_with_verdicts(qtbot, open_desk, demo_path):
    window = open_desk(demo_path)
    clock = [1000.0]
    window.timer.clock = lambda: clock[0]
    window.timer.restart()
    clock[0] += 30
    keys(qtbot, window, "1")
    clock[0] += 600  # walked away: counts at most two minutes
    keys(qtbot, window, "A", "Return")
    with sqlite3.connect(demo_path) as conn:
        seconds, who = conn.execute(
            "SELECT r.seconds, gr.name FROM reviews r JOIN graders gr ON gr.id = r.grader_id "
            "WHERE r.action = 'submit' ORDER BY r.id DESC LIMIT 1"
        ).fetchone()
    assert seconds == pytest.approx(150.0)
    assert who == "tess (test)"
    qtbot.waitUntil(lambda: "median 150 s/item" in window.progress_label.text(), timeout=30_000)


def test_import_from_the_file_menu_takes_the_strict_backup_and_adds_to_the_queue(
    qtbot, open_desk, demo_path, tmp_path
):
    src = tmp_path / "more.jsonl"
    src.write_text(
        json.dumps(
            {
                "id": "extra-001",
                "student": "demo-extra-1b",
                "k": 2,
                "skills": ["metaphor", "hyperbole"],
                "topic": "Ice fishing",
                "text": "The hole in the ice was a black eye that stared for a thousand years.",
            }
        )
        + "\n"
    )
    window = open_desk(demo_path)
    messages = []
    window.inform = lambda title, text: messages.append(text)
    window.file_actions.choose_import_files = lambda: [src]
    keys(qtbot, window, "T")  # a change since the backup taken at open: the import needs a new one
    before = {b.name for b in backup.backups(demo_path)}
    window.actions_by_id["import"].trigger()
    assert messages and "more.jsonl" in messages[0]
    assert "/ 164" in window.progress_label.text()  # the demo's 163 and the imported one
    # the import went through the import service, which takes the strict backup first (README)
    taken = [b for b in backup.backups(demo_path) if b.name not in before]
    assert [b.reason for b in taken] == ["import"] and "backup was taken first" in messages[0]
    with sqlite3.connect(taken[0].path) as conn:  # the backup is the project as it was before the import
        assert conn.execute("SELECT COUNT(*) FROM generations").fetchone()[0] == 163
    while window.model.canFetchMore():
        window.model.fetchMore()
    assert window.model.index(window.model.rowCount() - 1, 0).data() == "extra-001"


def test_geometry_and_preferences_are_remembered(qtbot, open_desk, demo_path, settings):
    window = open_desk(demo_path)
    window.resize(700, 480)  # inside the offscreen screen (800 x 600)
    keys(qtbot, window, "Ctrl+B")
    window.close()
    assert settings.value("geometry") is not None and settings.value("blind", type=bool) is False
    again = open_desk(demo_path)
    assert again.size().width() == 700 and not again.blind
    assert str(demo_path) in settings.value("recent", type=list)


def test_gradeapp_without_a_command_opens_the_desk_on_the_default_project(qtbot, monkeypatch, tmp_path):
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from gradeapp.cli import main
    from gradeapp.paths import default_project
    from gradeapp.ui.app import _WINDOWS, desk_settings

    s = desk_settings()
    s.setValue("annotator", "first run")
    s.sync()
    seen = []

    def look_and_close():
        seen.extend((w.store_path, w.item.uid, w.annotator) for w in _WINDOWS)
        QApplication.closeAllWindows()

    QTimer.singleShot(300, look_and_close)
    assert main([]) == 0
    assert default_project().exists()
    assert seen == [(default_project().resolve(), "demo-001", "first run")]


def test_an_empty_project_opens_and_keys_explain_themselves(qtbot, open_desk, tmp_path):
    from gradeapp.db import open_project

    path = tmp_path / "empty.gradeapp"
    open_project(path, create=True).close()
    window = open_desk(path)
    assert window.item is None and window.model.rowCount() == 0
    keys(qtbot, window, "A", "Return", "1", "]")
    assert window.statusBar().currentMessage() in ("The queue is empty.", "End of the queue.")
    assert "done 0 / 0" in window.progress_label.text()
