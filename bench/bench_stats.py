"""Benchmark the judge audit: statistics + calibration on 100,000 generations x 6 criteria x 3 judge runs.

Builds a simulated project (k = 3, so 6 criteria a generation; 3 judge runs; 2,000 generations drawn
uniformly and graded by a person, 30% of them by a second person), then times loading, calibration,
agreement without bootstrap and with 1,000 bootstrap resamples. Run: python bench/bench_stats.py
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gradeapp.db import open_project  # noqa: E402
from gradeapp.services.audit_data import load_audit_data  # noqa: E402
from gradeapp.services.stats import StatsOptions, compute_from_data  # noqa: E402
from tests.simulate import simulate_project  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--generations", type=int, default=100_000)
    parser.add_argument("--audit", type=int, default=2_000)
    parser.add_argument("--bootstrap", type=int, default=1_000)
    parser.add_argument("--keep", metavar="PATH", help="build the project here (reused if it exists)")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(args.keep) if args.keep else Path(tmp) / "bench.gradeapp"
        t = time.perf_counter()
        if not path.exists():
            simulate_project(
                path,
                n_generations=args.generations,
                ks=(3,),
                students={"small-1b": 1.0, "mid-10b": 10.0, "big-100b": 100.0, "huge-1000b": 1000.0},
                n_audit=args.audit,
                second_person=0.3,
                human_error=0.05,
                seed=1,
            )
            rows.append(("build simulated project (bulk executemany)", time.perf_counter() - t))
        with open_project(path) as store:
            n_verdicts = store.execute("SELECT COUNT(*) FROM verdicts").fetchone()[0]
            t = time.perf_counter()
            data = load_audit_data(store)
            load = time.perf_counter() - t
        rows.append(("load + score per generation (judge and people)", load))
        for boot in (0, args.bootstrap):
            t = time.perf_counter()
            stats = compute_from_data(data, StatsOptions(bootstrap=boot))
            total = time.perf_counter() - t
            tm = stats.timings
            rows.append((f"calibration (all estimators, {len(stats.pass_rates)} rows)", tm["calibration"]))
            rows.append((f"agreement, bootstrap {boot} ({len(stats.agreement)} rows)", tm["agreement"]))
            rows.append((f"statistics + calibration, bootstrap {boot}", total))
            rows.append((f"load + statistics + calibration, bootstrap {boot}", total + load))
    print(
        f"{args.generations:,} generations x 6 criteria x 3 judge runs ({n_verdicts:,} verdicts), "
        f"{args.audit:,} audited"
    )
    print(f"{'step':<58} {'seconds':>8}")
    for name, secs in rows:
        print(f"{name:<58} {secs:>8.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
