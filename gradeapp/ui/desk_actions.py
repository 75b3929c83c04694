"""The desk window's actions and menus, built from the shortcuts' data (gradeapp.ui.shortcuts).

Every action is a QAction of the window's context with the keys of its Shortcut; the menus and the
cheat sheet list the same data, so a key is documented where it is defined.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QApplication

from gradeapp.ui import shortcuts
from gradeapp.ui.optional_views import show_about, show_cheat_sheet


def _handlers(window) -> dict[str, Callable[[], None]]:
    handlers: dict[str, Callable[[], None]] = {
        "topic": lambda: window.press("topic"),
        "makes_sense": lambda: window.press("makes_sense"),
        "sentence_limit": lambda: window.press("sentence_limit"),
        "accept": window.accept_rest,
        "submit": window.submit,
        "reopen": window.reopen_last,
        "flag": window.toggle_flag,
        "skip": window.skip,
        "note": window.note_box.setFocus,
        "dismiss": window.escape,
        "next": lambda: window.move(+1),
        "previous": lambda: window.move(-1),
        "undo": window.undo_stack.undo,
        "redo": window.undo_stack.redo,
        "blind": window.toggle_blind,
        "filters": lambda: window.filters["status"].setFocus(),
        "queue": window.queue_view.setFocus,
        "new": window.file_actions.new_project,
        "open": window.file_actions.open_project,
        "import": window.file_actions.import_files,
        "export": window.file_actions.export,
        "close": window.close,
        "quit": QApplication.closeAllWindows,
        "cheatsheet": lambda: show_cheat_sheet(window),
        "about": lambda: show_about(window),
    }
    for key in ("stats", "adjudication", "run", "annotators", "guidelines"):
        handlers[key] = lambda key=key: window.views.open(key)
    for n in range(1, shortcuts.MAX_SKILL_KEYS + 1):
        handlers[shortcuts.skill_action(n)] = lambda n=n: window.press_skill(n)
    return handlers


def build_actions(window) -> None:
    """Add one QAction per shortcut to the window (window.actions_by_id), wired to its handler."""
    window.actions_by_id = {}
    handlers = _handlers(window)
    for sc in shortcuts.ALL:
        action = QAction(sc.label, window)
        action.setShortcuts([QKeySequence(k) for k in sc.keys])
        action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        # triggered(bool) would pass 'checked' into the handler: call it without arguments
        action.triggered.connect(lambda _checked=False, h=handlers[sc.action]: h())
        window.addAction(action)
        window.actions_by_id[sc.action] = action
    window.actions_by_id["audit_mode"] = window.audit_mode.action
    blind = window.actions_by_id["blind"]
    blind.setCheckable(True)
    blind.setChecked(window.blind)
    window.undo_stack.canUndoChanged.connect(window.actions_by_id["undo"].setEnabled)
    window.undo_stack.canRedoChanged.connect(window.actions_by_id["redo"].setEnabled)
    window.actions_by_id["undo"].setEnabled(False)
    window.actions_by_id["redo"].setEnabled(False)


def build_menus(window) -> None:
    """Fill the menu bar (File, Edit, View, Grade, Help) with the actions, in the shortcuts' order."""
    bar = window.menuBar()
    menus = {name: bar.addMenu(f"&{name}") for name in ("File", "Edit", "View", "Grade", "Help")}
    for sc in shortcuts.ALL:
        menus[sc.menu].addAction(window.actions_by_id[sc.action])
        if sc.action == "open":
            recent = menus["File"].addMenu("Open &recent")
            recent.aboutToShow.connect(lambda menu=recent: window.file_actions.fill_recent(menu))
    menus["View"].addSeparator()
    menus["View"].addAction(window.audit_mode.action)
