"""Start the grading desk: the application, its settings, and one window per open project."""

from __future__ import annotations

import sys
from pathlib import Path

from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QApplication, QMessageBox, QWidget

from gradeapp.errors import GradeappError
from gradeapp.paths import data_dir
from gradeapp.ui.main_window import MainWindow

_WINDOWS: list = []


def desk_settings() -> QSettings:
    """Return the desk's settings: an INI file in the per-user data folder (GRADEAPP_DATA_DIR in tests)."""
    return QSettings(str(data_dir() / "desk.ini"), QSettings.Format.IniFormat)


def open_window(path: Path, settings: QSettings | None = None, parent: QWidget | None = None):
    """Open a desk window on the project at path (or raise the one already open); return it or None."""

    path = Path(path).resolve()
    for window in list(_WINDOWS):
        if window.store_path.resolve() == path and window.isVisible():
            window.raise_()
            window.activateWindow()
            return window
    try:
        window = MainWindow(path, settings or desk_settings())
    except (GradeappError, OSError) as exc:
        QMessageBox.warning(parent, "gradeapp", f"Cannot open {path}:\n{exc}")
        return None
    window.open_requested.connect(lambda p: open_window(p, window.settings, window))
    window.closed.connect(lambda: _WINDOWS.remove(window) if window in _WINDOWS else None)
    _WINDOWS.append(window)
    window.show()
    return window


def run_desk(path: Path) -> int:
    """Open the desk on the project at path and run the Qt event loop."""
    app = QApplication.instance() or QApplication(sys.argv)
    app.setApplicationName("gradeapp")
    app.setApplicationDisplayName("gradeapp")
    if open_window(Path(path)) is None:
        return 2
    return app.exec()
