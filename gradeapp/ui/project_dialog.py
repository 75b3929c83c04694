"""The shared frame of the desk's small windows: their own project connection, opened non-modal."""

from __future__ import annotations

from pathlib import Path
from typing import TypeVar

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialog, QWidget

from gradeapp.services.project import open_existing

D = TypeVar("D", bound=QDialog)


class ProjectDialog(QDialog):
    """A window on its own connection to a project file; the connection closes with the window.

    Its own connection keeps the desk's connection free for the next key press while the window
    reads or writes.
    """

    def __init__(
        self, store_path: Path, title: str, size: tuple[int, int], parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle(title)
        self.resize(*size)
        self.store = open_existing(Path(store_path))

    def done(self, result: int) -> None:  # noqa: D401 - Qt override
        self.store.close()
        super().done(result)


def show_non_modal(dialog: D) -> D:
    """Show the dialog beside the desk (deleted when closed) and return it."""
    dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    dialog.show()
    return dialog
