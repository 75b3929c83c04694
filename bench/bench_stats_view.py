"""Benchmark the desk while its Statistics view computes on a large project: how long the UI thread stalls.

    python bench/bench_stats_view.py [--generations 1000000]

Uses bench_audit_scale's cached project. A 1 ms timer on the UI thread records how late each tick fires
while the view computes off the UI thread (what a key press would wait before the desk could answer it);
the table gives the median, p99 and worst lateness and the computation's wall time.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_audit_scale import build, project_path  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--generations", type=int, default=1_000_000)
    args = parser.parse_args()
    build(args.generations)
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from gradeapp.services.stats import StatsOptions
    from gradeapp.ui.stats_view import StatsView

    app = QApplication.instance() or QApplication([])
    late: list[float] = []
    last = [time.perf_counter()]

    def tick() -> None:
        now = time.perf_counter()
        late.append((now - last[0]) * 1000 - 1.0)
        last[0] = now

    timer = QTimer()
    timer.setInterval(1)
    timer.timeout.connect(tick)
    t0 = time.perf_counter()
    view = StatsView(project_path(args.generations), poll_ms=10**9, options=StatsOptions())
    last[0] = time.perf_counter()
    timer.start()
    while view.stats is None and time.perf_counter() - t0 < 900:
        app.processEvents()
        time.sleep(0.0005)
    wall = time.perf_counter() - t0
    timer.stop()
    view.close()
    late.sort()
    p99 = late[int(0.99 * (len(late) - 1))] if late else float("nan")
    print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print("| generations | computation (wall) | UI tick lateness median / p99 / worst | target |")
    print("|---|---|---|---|")
    worst = late[-1] if late else float("nan")
    print(
        f"| {args.generations:,} | {wall:.1f} s | {statistics.median(late):.1f} / {p99:.1f} / {worst:.0f} ms "
        f"| p99 < 16 ms {'✓' if p99 < 16 else '✗'} |"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
