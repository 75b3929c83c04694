"""Coverage and width of the grounding-aware active design against the plain active one and uniform PPI++.

Pools with known truth and simulated quote grounding (tests/grounding_study.py): the judge's runs split on a
fifth of the generations, and elsewhere it is sometimes wrong with agreeing runs; a wrong generation lacks a
grounded quote with probability --p-wrong, a right one with --p-right. Each replication draws a uniform, an
active and a grounding-aware active audit of `--n` per cell (in expectation for the active ones) and
calibrates each. Prints per estimator x metric x design: labels, bias, MC s.e., coverage of the 95%
interval, mean half-width and the half-width relative to uniform. Target: coverage >= 93%.

Run: python bench/bench_grounding.py [--reps 200] [--n 50] [--per-cell 300] [--pools 2] [--seed 1]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import pandas as pd  # noqa: E402

from tests.active_study import summarise  # noqa: E402
from tests.grounding_study import build_pool, run_study  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--reps", type=int, default=200, help="audits per design and pool (200)")
    parser.add_argument("--n", type=int, default=50, help="human labels per cell (expected for active) (50)")
    parser.add_argument("--per-cell", type=int, default=300, help="generations per student x k cell (300)")
    parser.add_argument("--pools", type=int, default=2, help="simulated pools (2)")
    parser.add_argument("--p-wrong", type=float, default=0.7, help="P(ungrounded | judge wrong) (0.7)")
    parser.add_argument("--p-right", type=float, default=0.1, help="P(ungrounded | judge right) (0.1)")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    t = time.perf_counter()
    parts = []
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(args.pools):
            path = build_pool(Path(tmp) / f"pool{i}.gradeapp", per_cell=args.per_cell, seed=args.seed + i)
            parts.append(
                run_study(
                    path, args.reps, args.n, seed=args.seed + i, p_wrong=args.p_wrong, p_right=args.p_right
                )
            )
    res = pd.concat(parts, ignore_index=True)
    table = summarise(res)
    print(
        f"{args.pools} pools x {args.reps} audits per design, {args.n} labels per cell; judge wrong on full "
        f"marks for {res['wrong_share'].mean():.1%} of generations; {time.perf_counter() - t:.0f} s"
    )
    out = table.copy()
    for col, fmt in {
        "labels": "{:.1f}".format,
        "bias": "{:+.4f}".format,
        "mc_se": "{:.4f}".format,
        "coverage": "{:.1%}".format,
        "half_width": "{:.4f}".format,
        "vs_uniform": "{:.3f}".format,
    }.items():
        out[col] = out[col].map(fmt)
    print(out.to_string(index=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
