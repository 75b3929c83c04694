"""Qt test setup: offscreen platform, isolated settings, a desk window (on tests/conftest.py's demo_path)."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from pathlib import Path  # noqa: E402

import pytest  # noqa: E402
from PySide6.QtCore import QSettings  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402


@pytest.fixture(autouse=True)
def _isolated_user_dirs(tmp_path_factory, monkeypatch):
    """Keep every test away from the user's real data folder and default project."""
    base = tmp_path_factory.mktemp("userdata")
    monkeypatch.setenv("GRADEAPP_DATA_DIR", str(base))  # the per-user default project lives there too
    monkeypatch.delenv("GRADEAPP_PROJECT", raising=False)


@pytest.fixture
def settings(tmp_path: Path) -> QSettings:
    """Return desk settings in a temporary INI file, with an annotator already named."""
    s = QSettings(str(tmp_path / "desk.ini"), QSettings.Format.IniFormat)
    s.setValue("annotator", "tess (test)")
    s.setValue("blind", True)
    return s


@pytest.fixture
def open_desk(qtbot, settings):
    """Return a function that opens a shown, active desk window on a project."""
    from gradeapp.ui.main_window import MainWindow

    windows = []

    def _open(path: Path, s: QSettings | None = None) -> MainWindow:
        window = MainWindow(path, s or settings)
        qtbot.addWidget(window)
        window.warn = window.inform = lambda title, text: pytest.fail(
            f"unexpected message box: {title}: {text}"
        )
        window.show()
        qtbot.waitExposed(window)
        window.activateWindow()
        # shortcuts of the window context fire only in the active window
        qtbot.waitUntil(lambda: QApplication.activeWindow() is window, timeout=30_000)
        windows.append(window)
        return window

    yield _open
    for w in windows:
        if not w._closed:
            w.close()
