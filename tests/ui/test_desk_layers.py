"""Opening the desk window loads no heavy library (that the desk imports no gradeapp.db module is
the import-linter contract 'The desk reaches a project only through services')."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

UI = Path(__file__).resolve().parents[2] / "gradeapp" / "ui"


def test_the_desk_window_loads_neither_matplotlib_nor_sqlite_utils():
    # pandas is left out of this check since services.evidence (imported by the desk's evidence view and
    # services.team) loads it at import; the statistics, audit panel, export and demo builder are deferred
    code = (
        "import sys\n"
        "import gradeapp.ui.main_window\n"
        "print(sorted(m for m in ('matplotlib', 'sqlite_utils') if m in sys.modules))\n"
    )
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=UI.parents[1]
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
