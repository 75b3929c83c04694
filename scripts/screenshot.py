"""Regenerate docs/screenshot.png: an offscreen grab of the desk on the demo project.

    python scripts/screenshot.py [--out docs/screenshot.png] [--dark]

Builds a fresh demo project in a temporary folder, grades the first item from the keyboard (so the
judge is revealed beside the person's verdicts, with its disagreements) and grabs the window.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def dark_palette():
    """Return a dark palette, standing in for a system dark theme offscreen."""
    from PySide6.QtGui import QColor, QPalette

    p = QPalette()
    roles = {
        QPalette.ColorRole.Window: (45, 45, 48),
        QPalette.ColorRole.WindowText: (230, 230, 230),
        QPalette.ColorRole.Base: (30, 30, 32),
        QPalette.ColorRole.AlternateBase: (50, 50, 55),
        QPalette.ColorRole.Text: (230, 230, 230),
        QPalette.ColorRole.Button: (55, 55, 60),
        QPalette.ColorRole.ButtonText: (230, 230, 230),
        QPalette.ColorRole.Highlight: (42, 130, 218),
        QPalette.ColorRole.HighlightedText: (255, 255, 255),
        QPalette.ColorRole.PlaceholderText: (140, 140, 140),
    }
    for role, rgb in roles.items():
        p.setColor(role, QColor(*rgb))
    return p


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshot.png")
    parser.add_argument("--dark", action="store_true", help="use a dark palette")
    args = parser.parse_args()

    from PySide6.QtCore import QSettings, Qt
    from PySide6.QtTest import QTest
    from PySide6.QtWidgets import QApplication

    from gradeapp.services.demo import build_demo
    from gradeapp.ui.main_window import MainWindow

    app = QApplication.instance() or QApplication([])
    app.setStyle("Fusion")
    if args.dark:
        app.setPalette(dark_palette())
    with tempfile.TemporaryDirectory(prefix="gradeapp-shot-") as tmp:
        project = build_demo(Path(tmp) / "demo.gradeapp")
        settings = QSettings(str(Path(tmp) / "desk.ini"), QSettings.Format.IniFormat)
        settings.setValue("annotator", "sam")
        window = MainWindow(project, settings)
        window.resize(1400, 820)
        window.show()
        window.activateWindow()
        while QApplication.activeWindow() is not window:
            app.processEvents()
        for key in (Qt.Key.Key_2, Qt.Key.Key_A, Qt.Key.Key_Return, Qt.Key.Key_BracketLeft):
            QTest.keyClick(window.focusWidget() or window, key)
        window.note_box.setPlainText("Skill 2 only hinted at; see the second sentence.")
        end = time.monotonic() + 0.3  # let the deferred progress refresh run
        while time.monotonic() < end:
            app.processEvents()
        args.out.parent.mkdir(parents=True, exist_ok=True)
        window.grab().save(str(args.out))
        window.close()
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
