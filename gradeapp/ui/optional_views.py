"""The desk's other windows (statistics, adjudication, runs, annotators, guidelines), each opened once.

A second open raises the window already open, as a window of its own should; the cheat sheet and the
About box live here too.
"""

from __future__ import annotations

import importlib

from PySide6.QtCore import QObject, Qt
from PySide6.QtWidgets import QDialog, QMessageBox, QPlainTextEdit, QVBoxLayout, QWidget

from gradeapp import __version__
from gradeapp.ui import shortcuts

VIEWS = {
    "stats": ("gradeapp.ui.stats_view", "open_stats_view"),
    "adjudication": ("gradeapp.ui.adjudication_view", "open_adjudication_view"),
    "run": ("gradeapp.ui.run_dialog", "open_run_dialog"),
    "annotators": ("gradeapp.ui.annotators_view", "open_annotators_view"),
    "guidelines": ("gradeapp.ui.guidelines_view", "open_guidelines_editor"),
}


class OptionalViews(QObject):
    """The other windows of one desk window, imported when first opened (statistics load matplotlib)."""

    def __init__(self, window) -> None:
        super().__init__(window)
        self.window = window
        self.open_views: dict[str, QWidget] = {}

    def open(self, key: str) -> QWidget:
        """Open the view (or raise the one already open); return it."""
        view = self.open_views.get(key)
        if view is not None and view.isVisible():
            view.raise_()
            view.activateWindow()
            return view
        module_name, func = VIEWS[key]
        view = getattr(importlib.import_module(module_name), func)(self.window, self.window.store_path)
        self.open_views[key] = view  # a closed one is replaced on the next open
        return view


def show_cheat_sheet(window) -> QDialog:
    """Open the keyboard cheat sheet (the skill keys up to the item's k)."""
    dialog = QDialog(window)
    dialog.setWindowTitle("Keyboard shortcuts")
    layout = QVBoxLayout(dialog)
    text = QPlainTextEdit(shortcuts.cheat_sheet(window.item.k if window.item else None))
    text.setReadOnly(True)
    font = text.font()
    font.setFamily("monospace")
    text.setFont(font)
    layout.addWidget(text)
    dialog.resize(720, 640)
    dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    dialog.setObjectName("cheat_sheet")
    dialog.show()
    window.cheat_sheet_dialog = dialog
    return dialog


def show_about(window) -> None:
    QMessageBox.about(
        window,
        "About gradeapp",
        f"gradeapp {__version__}\nThe Skill-Mix grading desk.\nProject: {window.store_path}",
    )
