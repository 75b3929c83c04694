"""Benchmark the judge audit at scale: `stats --json` and `export` end to end on 10k, 100k and 1M generations.

    python bench/bench_audit_scale.py [--sizes 10000 100000 1000000] [--repeat 1] [--build-only]

Each project is simulated once (k = 3, so 6 criteria a generation; 3 judge runs; 4 students; 2,000
generations drawn uniformly and graded by a person, 30% of them by a second person) and cached in the
system's temp folder. Each command runs as a user runs it, in a child process (`python -m gradeapp ...`);
its wall time and peak RSS (the child's and its children's, summed) are measured. Rows per second count verdict rows.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

CACHE = Path(tempfile.gettempdir()) / "gradeapp-bench-audit-scale"
SIZES = (10_000, 100_000, 1_000_000)
LABELS = {
    "stats (first run)": "`stats --json`, first run (builds the judge's cell cache)",
    "stats": "`stats --json`",
    "export": "`export`",
}
# (command, size) -> (seconds, peak MB); sizes absent here have no target.
TARGETS = {
    ("stats", 100_000): (3.0, None),
    ("export", 100_000): (10.0, None),
    ("stats", 1_000_000): (15.0, 1500.0),
    ("export", 1_000_000): (60.0, 1500.0),
}


def project_path(n: int) -> Path:
    """Return the cached project of n generations (built on first use)."""
    return CACHE / f"audit-{n}.gradeapp"


def build(n: int) -> float:
    """Build the simulated project of n generations unless cached; return the seconds spent."""
    from gradeapp.db import open_project
    from tests.simulate import simulate_project

    path = project_path(n)
    if path.exists():
        open_project(path).close()  # brings a project cached by an older version up to date
        return 0.0
    CACHE.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".building")
    for p in (tmp, Path(f"{tmp}-wal"), Path(f"{tmp}-shm")):
        p.unlink(missing_ok=True)
    t = time.perf_counter()
    simulate_project(
        tmp,
        n_generations=n,
        ks=(3,),
        students={"small-1b": 1.0, "mid-10b": 10.0, "big-100b": 100.0, "huge-1000b": 1000.0},
        n_audit=2_000,
        second_person=0.3,
        human_error=0.05,
        seed=1,
    )
    for suffix in ("-wal", "-shm"):
        Path(f"{tmp}{suffix}").unlink(missing_ok=True)
    tmp.rename(path)
    return time.perf_counter() - t


def tree_rss_kb(pid: int) -> int:
    """Return the summed resident memory (kB) of a process and all its descendants, from /proc."""
    total, stack = 0, [pid]
    while stack:
        p = stack.pop()
        try:
            with open(f"/proc/{p}/status") as fh:
                total += next((int(line.split()[1]) for line in fh if line.startswith("VmRSS:")), 0)
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children") as fh:
                    stack += [int(c) for c in fh.read().split()]
        except (FileNotFoundError, ProcessLookupError):
            pass
    return total


def run(args: list[str]) -> tuple[float, float]:
    """Run `python -m gradeapp args` in a child; return (wall seconds, peak RSS in MB).

    The peak RSS is the largest sum of the resident memory of the child and its own children (the export's
    verdict reader and figure process), sampled every 50 ms, and at least the child's own ru_maxrss. The
    children's ru_maxrss is not used: Linux carries the parent's high-water mark over fork + exec into it.
    """
    code = (
        "import resource, runpy, sys; sys.argv = ['gradeapp', *sys.argv[1:]]\n"
        "try:\n    runpy.run_module('gradeapp', run_name='__main__')\n"
        "finally:\n    print('MAXRSS', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)\n"
    )
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        t = time.perf_counter()
        proc = subprocess.Popen(
            [sys.executable, "-c", code, *args], cwd=ROOT, env=env, stdout=out, stderr=err
        )
        peak = 0
        while proc.poll() is None:
            peak = max(peak, tree_rss_kb(proc.pid))
            time.sleep(0.05)  # a sampling period (a benchmark, not a test)
        wall = time.perf_counter() - t
        err.seek(0)
        stderr = err.read().decode(errors="replace")
    if proc.returncode != 0:
        raise SystemExit(f"gradeapp {' '.join(args)} failed:\n{stderr[-3000:]}")
    rss = [line for line in stderr.splitlines() if line.startswith("MAXRSS ")]
    return wall, max(peak, int(rss[-1].split()[1])) / 1024


def clear_cell_cache(n: int) -> None:
    """Forget the judge's cached cells, so that the next stats reads every verdict (the first run's cost)."""
    import contextlib
    import sqlite3

    # closed here, not left to the garbage collector: an open connection of the benchmark would keep the
    # deletion's WAL (121 MB at 1M) alive under every command measured after it (1M stats: 19 s, not 12 s)
    with contextlib.closing(sqlite3.connect(project_path(n))) as conn, conn:
        conn.execute("DELETE FROM judge_cells")
        conn.execute("DELETE FROM judge_cells_state")


def verdict_rows(n: int) -> int:
    """Return the number of verdict rows of the project of n generations."""
    import contextlib
    import sqlite3

    with contextlib.closing(sqlite3.connect(f"file:{project_path(n)}?mode=ro", uri=True)) as conn:
        return conn.execute("SELECT COUNT(*) FROM verdicts").fetchone()[0]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=list(SIZES))
    parser.add_argument("--repeat", type=int, default=1, help="runs per measurement (the best is kept)")
    parser.add_argument("--build-only", action="store_true")
    args = parser.parse_args()
    for n in args.sizes:
        spent = build(n)
        if spent:
            print(f"built {project_path(n)} in {spent:.0f} s", flush=True)
    if args.build_only:
        return 0
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}", flush=True)
    results: dict[tuple[str, int], tuple[float, float, int]] = {}
    for n in args.sizes:
        rows = verdict_rows(n)
        project = str(project_path(n))
        clear_cell_cache(n)
        results[("stats (first run)", n)] = (*run(["stats", "--json", "--project", project]), rows)
        print(
            f"  stats (first run, builds the cell cache) {n:>9,d}: {results[('stats (first run)', n)][0]:6.1f} s",
            flush=True,
        )
        for command in ("stats", "export"):
            best = None
            for _ in range(args.repeat):
                if command == "stats":
                    measured = run(["stats", "--json", "--project", project])
                else:
                    out = Path(tempfile.mkdtemp(prefix="gradeapp-bench-export-"))
                    try:
                        measured = run(["export", "--project", project, "--out", str(out / "x")])
                    finally:
                        shutil.rmtree(out, ignore_errors=True)
                if best is None or measured[0] < best[0]:
                    best = measured
            results[(command, n)] = (*best, rows)
            print(f"  {command:6s} {n:>9,d}: {best[0]:6.1f} s {best[1]:7.0f} MB", flush=True)
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print()
    print(
        "| command | generations (verdict rows) | wall | peak RSS | verdict rows/s | growth (time) | target |"
    )
    print("|---|---|---|---|---|---|---|")
    ok = True
    for command in ("stats (first run)", "stats", "export"):
        prev = None
        for n in args.sizes:
            wall, mb, rows = results[(command, n)]
            growth = ""
            if prev is not None:
                growth = f"×{wall / prev[0]:.1f} for ×{n / prev[1]:.0f} data"
            target = TARGETS.get((command, n))
            verdict = ""
            if target:
                met = wall < target[0] and (target[1] is None or mb < target[1])
                ok &= met
                verdict = f"< {target[0]:g} s" + (f", < {target[1]:g} MB" if target[1] else "")
                verdict += " ✓" if met else " ✗"
            print(
                f"| {LABELS[command]} | {n:,} ({rows / 1e6:.1f} M) | {wall:.1f} s | {mb:.0f} MB "
                f"| {rows / wall:,.0f} | {growth} | {verdict} |"
            )
            prev = (wall, n)
    print()
    print("all targets met" if ok else "some targets missed")
    print(json.dumps({f"{c}@{n}": [round(w, 2), round(m)] for (c, n), (w, m, _r) in results.items()}))
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
