"""Benchmark the grading desk on a project of 1,000,000 generations; print a table.

    python bench/bench_desk.py [--rows 1000000] [--project PATH] [--presses 300]

The project is built once (bulk insert through the Store, k = 3 synthetic texts) and cached under
/tmp. Each measurement runs in a fresh child process, offscreen, so that opening is cold-ish and the
peak memory (ru_maxrss) is the desk's own.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

DEFAULT_ROWS = 1_000_000
TARGETS = {"open_s": 1.5, "next_median_ms": 16.0, "peak_mb": 400.0}


def build_project(path: Path, rows: int) -> float:
    """Create a project of `rows` generations (k = 3) at path; return the seconds it took."""
    from gradeapp.db import open_project
    from gradeapp.db.connection import now_iso

    t0 = time.perf_counter()
    tmp = path.with_suffix(".building")
    for p in (tmp, Path(f"{tmp}-wal"), Path(f"{tmp}-shm")):
        p.unlink(missing_ok=True)
    store = open_project(tmp, name="bench 1M")
    skills = [
        {
            "name": f"skill {i:02d}",
            "definition": f"Definition of skill {i}.",
            "example": f"An example of skill {i}.",
        }
        for i in range(40)
    ]
    topics = [f"topic {i}" for i in range(20)]
    with store.atomic():
        store.upsert_skills(skills)
        store.add_topics(topics)
        sid, tid = store.skill_ids(), store.topic_ids()
        combos = []
        for c in range(2000):
            picked = [f"skill {(c * 7 + j * 13) % 40:02d}" for j in range(3)]
            combos.append(store.combination_id([sid[s] for s in picked], tid[topics[c % 20]]))
    stamp = now_iso()
    students = ["bench-a-7b", "bench-b-13b", "bench-c-70b"]

    def generations():
        for i in range(rows):
            yield (
                f"b{i:07d}",
                combos[i % len(combos)],
                students[i % 3],
                1 + i % 3,
                None,
                None,
                f"Text {i} is about the topic and shows a skill. It has a second sentence, as allowed.",
                "bench",
                None,
                stamp,
            )

    with store.atomic():
        store.insert_generations(generations())
    judge = store.grader_id("judge", "bench-judge", model="bench-judge")
    with store.atomic():  # a judge on the first 2,000 items, so revealing has something to show
        store.add_verdicts(
            {"grader_id": judge, "generation_id": g, "criterion": c, "run": r, "value": (g + r) % 2}
            for g in range(1, 2001)
            for r in (1, 2, 3)
            for c in ("topic", "makes_sense", "sentence_limit")
        )
    store.set_project_value("bench_rows", str(rows))
    store.close()
    tmp.rename(path)
    return time.perf_counter() - t0


def child(path: Path, presses: int) -> None:
    """Measure one desk session (run in its own process); print a JSON line."""
    t_start = time.perf_counter()
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    import tempfile

    from PySide6.QtCore import QSettings, Qt
    from PySide6.QtTest import QTest
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication([])
    settings_dir = tempfile.mkdtemp(prefix="gradeapp-bench-")
    settings = QSettings(str(Path(settings_dir) / "desk.ini"), QSettings.Format.IniFormat)
    settings.setValue("annotator", f"bench {os.getpid()}")
    from gradeapp.ui.main_window import MainWindow

    t_imported = time.perf_counter()

    painted = []
    window = MainWindow(path, settings)
    window.text_view.painted.connect(lambda: painted.append(time.perf_counter()))
    window.resize(1280, 760)
    window.show()
    window.activateWindow()
    while not painted:
        app.processEvents()
    t_first = painted[-1]
    while QApplication.activeWindow() is not window:
        app.processEvents()

    def think(seconds: float = 0.03) -> None:
        # a person reads for seconds between keys; let the desk's idle work (reading ahead) run
        end = time.perf_counter() + seconds
        while time.perf_counter() < end:
            app.processEvents()

    def press(key, modifier=Qt.KeyboardModifier.NoModifier) -> float:
        think()
        painted.clear()
        t0 = time.perf_counter()
        QTest.keyClick(window.focusWidget() or window, key, modifier)
        deadline = t0 + 5
        while not painted and time.perf_counter() < deadline:
            app.processEvents()
        return (painted[-1] if painted else time.perf_counter()) - t0

    next_ms = [press(Qt.Key.Key_BracketRight) * 1000 for _ in range(presses)]
    submit_ms = []
    for _ in range(presses // 3):
        QTest.keyClick(window.focusWidget(), Qt.Key.Key_A)
        submit_ms.append(press(Qt.Key.Key_Return) * 1000)

    # queue scrolling: a page down at a time through the first 100,000 rows, paging them in from SQLite
    bar = window.queue_view.verticalScrollBar()
    scroll_ms = []
    t_scroll = time.perf_counter()
    while window.model.rowCount() < 100_000 and window.model.canFetchMore():
        t0 = time.perf_counter()
        bar.setValue(bar.maximum())
        app.processEvents()
        scroll_ms.append((time.perf_counter() - t0) * 1000)
    scroll_total = time.perf_counter() - t_scroll
    rows_loaded = window.model.rowCount()
    window.close()
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

    def pct(values, p):
        values = sorted(values)
        return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]

    print(
        json.dumps(
            {
                "imports_s": t_imported - t_start,
                "open_s": t_first - t_imported,
                "open_cold_s": t_first - t_start,
                "next_median_ms": statistics.median(next_ms),
                "next_p99_ms": pct(next_ms, 99),
                "submit_median_ms": statistics.median(submit_ms),
                "submit_p99_ms": pct(submit_ms, 99),
                "scroll_step_median_ms": statistics.median(scroll_ms),
                "scroll_step_p99_ms": pct(scroll_ms, 99),
                "scroll_rows": rows_loaded,
                "scroll_total_s": scroll_total,
                "peak_mb": peak_kb / 1024,
                "presses": presses,
            }
        )
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=DEFAULT_ROWS)
    parser.add_argument("--project", type=Path, help="project file (default: cached under /tmp)")
    parser.add_argument("--presses", type=int, default=300, help="key presses per timing (default 300)")
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.presses)
        return 0

    path = args.project or Path(tempfile.gettempdir()) / f"gradeapp-bench-desk-{args.rows}.gradeapp"
    build_s = None
    if not path.exists():
        print(f"building {path} ({args.rows:,} generations)…", flush=True)
        build_s = build_project(path, args.rows)
    # each session grades as a new annotator, so the cached project stays comparable between runs
    out = subprocess.run(
        [sys.executable, __file__, "--child", str(path), "--presses", str(args.presses)],
        capture_output=True,
        text=True,
    )
    if out.returncode != 0:
        print(out.stderr[-3000:], file=sys.stderr)
        return 1
    r = json.loads(out.stdout.strip().splitlines()[-1])
    rows = [
        ("build project (bulk insert)", f"{build_s:.1f} s" if build_s else "cached", ""),
        ("import Qt + gradeapp", f"{r['imports_s']:.2f} s", ""),
        ("open project, first item painted", f"{r['open_s']:.2f} s", "< 1.5 s"),
        ("  same, from process start", f"{r['open_cold_s']:.2f} s", ""),
        ("key ']' -> next item painted, median", f"{r['next_median_ms']:.1f} ms", "< 16 ms"),
        ("key ']' -> next item painted, p99", f"{r['next_p99_ms']:.1f} ms", ""),
        ("Enter (submit, commit) -> next painted, median", f"{r['submit_median_ms']:.1f} ms", "< 16 ms"),
        ("Enter (submit, commit) -> next painted, p99", f"{r['submit_p99_ms']:.1f} ms", ""),
        ("queue scroll step (page in 256 rows), median", f"{r['scroll_step_median_ms']:.1f} ms", ""),
        ("queue scroll step, p99", f"{r['scroll_step_p99_ms']:.1f} ms", ""),
        (f"queue scrolled to row {r['scroll_rows']:,}", f"{r['scroll_total_s']:.2f} s", ""),
        ("peak memory (ru_maxrss)", f"{r['peak_mb']:.0f} MB", "< 400 MB"),
    ]
    print(
        f"\ngradeapp desk benchmark: {args.rows:,} generations, {r['presses']} presses, {os.cpu_count()} CPUs"
    )
    print(f"{'measure':<50} {'result':>10}  target")
    print("-" * 70)
    for name, value, target in rows:
        print(f"{name:<50} {value:>10}  {target}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
