"""Coverage and width of the active audit design against uniform PPI++ on the same pools (known truth).

Pools: 4 student x k cells of `--per-cell` generations, every one graded by a person, the judge's runs
split on about a fifth of the generations (tests/active_study.py). Each of `--reps` replications draws a
uniform audit of `--n` per cell and an active one of `--n` per cell in expectation, and calibrates both
through `calibrate` (the code path of `gradeapp export`). Prints per estimator x metric x design: mean
labels, bias, Monte Carlo s.e., coverage of the 95% interval, mean half-width and the half-width relative
to uniform. Target: active PPI++ coverage >= 93% and at least 15% narrower than uniform PPI++.

Run: python bench/bench_active.py [--reps 200] [--n 60] [--per-cell 400] [--pools 2] [--seed 1]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import pandas as pd  # noqa: E402

from gradeapp.core.audit_draw import ACTIVE_FLOOR  # noqa: E402
from tests.active_study import build_pool, run_study, summarise  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--reps", type=int, default=200, help="audits per design and pool (200)")
    parser.add_argument("--n", type=int, default=60, help="human labels per cell (expected for active) (60)")
    parser.add_argument("--per-cell", type=int, default=400, help="generations per student x k cell (400)")
    parser.add_argument("--pools", type=int, default=2, help="simulated pools (2)")
    parser.add_argument("--floor", type=float, default=ACTIVE_FLOOR, help="active design's uniform floor")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--markdown", action="store_true")
    args = parser.parse_args()
    t = time.perf_counter()
    parts = []
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(args.pools):
            path = build_pool(Path(tmp) / f"pool{i}.gradeapp", per_cell=args.per_cell, seed=args.seed + i)
            parts.append(run_study(path, args.reps, args.n, seed=args.seed + i, floor=args.floor))
    res = pd.concat(parts, ignore_index=True)
    table = summarise(res)
    split = res.groupby("rep")["split_share"].first().mean()
    print(
        f"{args.pools} pools x {args.reps} audits per design, {args.n} labels per cell, judge's runs split on "
        f"{split:.1%} of generations; {time.perf_counter() - t:.0f} s"
    )
    out = table.copy()
    for col, f in {
        "labels": "{:.1f}".format,
        "bias": "{:+.4f}".format,
        "mc_se": "{:.4f}".format,
        "coverage": "{:.1%}".format,
        "half_width": "{:.4f}".format,
        "vs_uniform": "{:.2f}".format,
    }.items():
        out[col] = out[col].map(f)
    print(out.to_markdown(index=False) if args.markdown else out.to_string(index=False))
    act = table[(table["estimator"] == "ppi++") & (table["design"] == "active")]
    ok = bool((act["coverage"] >= 0.93).all() and (act["vs_uniform"] <= 0.85).all())
    print(f"\nactive PPI++ covers >= 93% and is >= 15% narrower on every metric: {'yes' if ok else 'NO'}")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
