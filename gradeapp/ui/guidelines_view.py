"""The guideline editor: edit the text, save it as a new version (Ctrl+S), browse earlier versions."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QEvent, QObject, Signal
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPlainTextEdit,
    QPushButton,
    QSplitter,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from gradeapp.errors import GradeappError
from gradeapp.services import guidelines
from gradeapp.ui.project_dialog import ProjectDialog, show_non_modal


class GuidelinesPanel(QTextBrowser):
    """A read-only panel for beside the rubric: the latest guideline text and its version."""

    def show_guidelines(self, store) -> int:
        """Show the project's latest guidelines (installing the default first); return the version."""
        row = guidelines.current(store)
        self.setPlainText(f"Guidelines, version {row['version']}\n\n{row['text']}")
        return int(row["version"])


class GuidelinesEditor(ProjectDialog):
    """Versions on the left, the selected version's text on the right; saving adds a version."""

    guidelines_saved = Signal(int)  # the new version

    def __init__(self, store_path: Path, parent: QWidget | None = None) -> None:
        super().__init__(store_path, "Grading guidelines", (900, 600), parent)
        self.versions = QListWidget()
        self.versions.setObjectName("versions")
        self.editor = QPlainTextEdit()
        self.editor.setObjectName("editor")
        self.status = QLabel()
        self.status.setObjectName("status")
        self.save_button = QPushButton("Save as new version (Ctrl+S)")
        self.save_button.clicked.connect(self.save)
        split = QSplitter()
        split.addWidget(self.versions)
        split.addWidget(self.editor)
        split.setSizes([200, 700])
        bar = QHBoxLayout()
        bar.addWidget(self.status, 1)
        bar.addWidget(self.save_button)
        layout = QVBoxLayout(self)
        layout.addWidget(split, 1)
        layout.addLayout(bar)
        # Ctrl+S is read by an event filter: a QShortcut needs an active window, the editor has the focus.
        self.editor.installEventFilter(self)
        self.versions.currentRowChanged.connect(self._on_versions_row_changed)
        self.refresh()
        self.editor.setFocus()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt override
        if event.type() == QEvent.Type.KeyPress and event.matches(QKeySequence.StandardKey.Save):
            self.save()
            return True
        return super().eventFilter(watched, event)

    def refresh(self) -> None:
        """Reload the version list and show the latest version."""
        guidelines.ensure_guidelines(self.store)
        self._rows = guidelines.history(self.store)
        self.versions.blockSignals(True)
        self.versions.clear()
        for r in self._rows:
            self.versions.addItem(QListWidgetItem(f"v{r['version']}  {r['created'][:16].replace('T', ' ')}"))
        self.versions.blockSignals(False)
        self.versions.setCurrentRow(len(self._rows) - 1)
        self._on_versions_row_changed(len(self._rows) - 1)

    def _on_versions_row_changed(self, row: int) -> None:
        if not 0 <= row < len(self._rows):
            return
        version = self._rows[row]["version"]
        self.editor.setPlainText(guidelines.show(self.store, version)["text"])
        latest = self._rows[-1]["version"]
        self.status.setText(
            f"version {version} (latest)"
            if version == latest
            else f"version {version}; saving makes it version {latest + 1}"
        )

    def save(self) -> bool:
        """Store the editor's text as a new version (nothing when unchanged)."""
        try:
            result = guidelines.edit(self.store, self.editor.toPlainText())
        except GradeappError as exc:
            self.status.setText(str(exc))
            return False
        if not result["changed"]:
            self.status.setText(f"unchanged: this is version {result['version']}")
            return False
        self.refresh()
        self.status.setText(f"saved as version {result['version']}")
        self.guidelines_saved.emit(result["version"])
        return True


def open_guidelines_editor(parent: QWidget | None, store_path: Path) -> GuidelinesEditor:
    """Open the guideline editor on the project at store_path (non-modal); return it."""
    return show_non_modal(GuidelinesEditor(Path(store_path), parent))
