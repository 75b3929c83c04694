"""The desk's File menu: new, open, recent, import (through the import service and its backup), export.

Export has one path in the desk: File → Export and the Statistics window's Export button both run
`services.export.export_project` on a worker thread through ExportRunner.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, QSettings, QThreadPool, Signal
from PySide6.QtWidgets import QFileDialog, QMainWindow, QMenu, QWidget

from gradeapp.errors import GradeappError
from gradeapp.services.project import create_project, open_existing
from gradeapp.ui.jobs import Job, start_job

MAX_RECENT = 8


def _export(store_path: Path, out: Path, stats) -> dict:
    from gradeapp.services.export import export_project  # deferred: it loads pandas and pyarrow

    with open_existing(store_path) as store:
        return export_project(store, out, stats=stats)


class ExportRunner(QObject):
    """Export a project into a folder on a worker thread with its own connection; report by signal."""

    finished = Signal(str)  # the folder written
    failed = Signal(str)

    def __init__(self, store_path: Path, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.store_path = Path(store_path)
        self.pool = QThreadPool(self)
        self.pool.setMaxThreadCount(1)
        self._jobs: list[Job] = []

    def start(self, out: Path, stats=None) -> None:
        """Export into out (reusing statistics already computed, when given)."""
        job = Job(lambda _progress: _export(self.store_path, Path(out), stats))
        job.signals.finished.connect(lambda paths: self.finished.emit(str(Path(paths["report"]).parent)))
        job.signals.failed.connect(lambda message: self.failed.emit(message.splitlines()[0]))
        start_job(self.pool, self._jobs, job)

    def wait(self) -> None:
        """Wait for a running export (the window is closing)."""
        self.pool.waitForDone(60_000)


def remember_recent(settings: QSettings, path: Path) -> None:
    """Put path first in the settings' list of recent projects."""
    recent = [p for p in (settings.value("recent", [], type=list) or []) if p != str(path)]
    settings.setValue("recent", [str(path), *recent][:MAX_RECENT])


class FileActions(QObject):
    """What the File menu does for one desk window."""

    def __init__(self, window: QMainWindow) -> None:
        super().__init__(window)
        self.window = window
        self.exporter = ExportRunner(window.store_path, self)
        self.exporter.finished.connect(lambda folder: window.inform("Export", f"Exported to {folder}"))
        self.exporter.failed.connect(lambda message: window.warn("Export", f"Export failed: {message}"))

    def fill_recent(self, menu: QMenu) -> None:
        menu.clear()
        for path in self.window.settings.value("recent", [], type=list) or []:
            menu.addAction(path, lambda p=path: self.window.open_requested.emit(Path(p)))

    def new_project(self) -> None:
        path, _ = QFileDialog.getSaveFileName(
            self.window, "New project", str(Path.home()), "gradeapp projects (*.gradeapp)"
        )
        if path:
            target = Path(path if path.endswith(".gradeapp") else path + ".gradeapp")
            try:
                create_project(target)
            except GradeappError as exc:
                self.window.warn("New project", str(exc))
                return
            self.window.open_requested.emit(target)

    def open_project(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self.window, "Open project", str(Path.home()), "gradeapp projects (*.gradeapp);;All files (*)"
        )
        if path:
            self.window.open_requested.emit(Path(path))

    def choose_import_files(self) -> list[Path]:
        """Ask for the files to import (tests replace this)."""
        paths, _ = QFileDialog.getOpenFileNames(
            self.window, "Import generations or verdicts", str(Path.home())
        )
        return [Path(p) for p in paths]

    def import_files(self) -> None:
        """Import files through the import service: the strict backup first, then one transaction."""
        paths = self.choose_import_files()
        if not paths:
            return
        # deferred: the importers load pandas, which the desk does not need until a person imports
        from gradeapp.services.imports import import_sources

        report = self.window.run_write(lambda: import_sources(self.window.store, paths))
        if report is None:
            return
        self.window.queue_changed()
        lines = [
            f"{src}: " + ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in c.items())
            for src, c in report.items()
        ]
        backups = "A backup was taken first: 'gradeapp backup list' shows it, 'gradeapp backup restore' puts it back."
        self.window.inform("Import", "\n".join([*lines, backups]))

    def choose_export_dir(self, parent: QWidget | None = None) -> Path | None:
        """Ask for the folder to export into (tests replace this)."""
        out = QFileDialog.getExistingDirectory(parent or self.window, "Export to folder", str(Path.home()))
        return Path(out) if out else None

    def export(self) -> None:
        """Export the project (report, tables, figures) into a chosen folder, off the UI thread."""
        out = self.choose_export_dir()
        if out is not None:
            self.window.statusBar().showMessage(f"exporting to {out}…", 5000)
            self.exporter.start(out)
