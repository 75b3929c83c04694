"""Regenerate docs/report.png and docs/summary.png: the first screen of the demo's report and Summary tab.

    python scripts/answer_screenshots.py

Builds a fresh demo project in a temporary folder, writes its report.html and takes a 1280 x 900
screenshot of it with headless Chromium (`chromium` on the PATH), then grabs the desk's Statistics view
(offscreen Qt) on its Summary tab at 1280 x 800.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip


def main() -> int:
    """Write both screenshots into docs/."""
    from PySide6.QtWidgets import QApplication

    from gradeapp.core.results import StatsOptions
    from gradeapp.db import open_project
    from gradeapp.io.report import write_report
    from gradeapp.services.demo import build_demo
    from gradeapp.services.stats import compute_stats
    from gradeapp.ui.stats_view import StatsView

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    with tempfile.TemporaryDirectory() as tmp:
        project = build_demo(Path(tmp) / "demo.gradeapp")
        with open_project(project) as store:
            stats = compute_stats(store, StatsOptions(bootstrap=1000))
        report = write_report(stats, Path(tmp) / "report.html")
        if chromium:
            subprocess.run(
                [chromium, *CHROMIUM_FLAGS, f"--user-data-dir={tmp}/profile", f"--screenshot={ROOT / 'docs/report.png'}",
                 "--window-size=1280,900", report.as_uri()],
                check=True, capture_output=True, timeout=120,
            )  # fmt: skip
            print(f"wrote {ROOT / 'docs/report.png'}")
        else:
            print("chromium not found: docs/report.png not regenerated")
        app = QApplication.instance() or QApplication(sys.argv)
        view = StatsView(project, options=StatsOptions(bootstrap=1000))
        view.resize(1280, 800)
        view.show()
        start = time.monotonic()
        while view.stats is None and time.monotonic() - start < 120:
            app.processEvents()
            time.sleep(0.02)
        app.processEvents()
        view.grab().save(str(ROOT / "docs/summary.png"))
        print(f"wrote {ROOT / 'docs/summary.png'}")
        view.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
