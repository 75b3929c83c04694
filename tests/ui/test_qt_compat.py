"""The desk survives long sessions: the PySide6 release that leaked references to None is excluded.

pyproject.toml excludes PySide6 6.12.0, which dropped a reference to None on every void Qt call on
Python 3.11 (CPython aborts once None's count reaches zero); this checks the installed release.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_many_void_qt_calls_do_not_abort_the_process():
    code = (
        "import gradeapp.ui\n"
        "from PySide6.QtCore import QObject\n"
        "o = QObject()\n"
        "for _ in range(30000):\n"
        "    o.setObjectName('x')\n"
        "print('alive')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr[-500:]
    assert out.stdout.strip() == "alive"

