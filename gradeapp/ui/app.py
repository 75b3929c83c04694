"""Start the desk (placeholder window until the grading desk lands)."""

from __future__ import annotations

import sys
from pathlib import Path


def run_desk(path: Path) -> int:
    """Open the desk on the project at path and run the Qt event loop."""
    from PySide6.QtWidgets import QApplication, QLabel

    from gradeapp.db import open_project

    app = QApplication.instance() or QApplication(sys.argv)
    store = open_project(path)
    info = store.info()
    label = QLabel(f"{store.project.get('name')}: {info['generations']} generations")
    label.setWindowTitle("gradeapp")
    label.resize(480, 120)
    label.show()
    return app.exec()
