"""Coverage of PPI++ for small audits (20-40 texts a cell), with enough replications to resolve one point.

bench/bench_coverage.py runs every estimator through project files, which costs about 0.3 s an audit; this
study calls the product's estimator (gradeapp.core.estimators.ppi_ipw, with the design the product records)
on simulated cells in memory, so that thousands of audits per configuration fit in minutes. Each cell: 300
generations with a true 0/1 outcome of rate theta, a judge of three runs of given sensitivity and
specificity (its soft score is the share of runs that pass), and one audit per replication:

- uniform: n drawn without replacement (the `--per-cell` designs), inclusion probability n/300;
- active: Poisson sampling with the product's active_probabilities (expected size n, uniform floor 0.65,
  uncertainty 2 sqrt(s(1 - s)) of the soft score), the design `audit draw --design active --per-cell` uses.

Prints per design x n: the configurations (theta in 0.08, 0.3, 0.6; judges 95/92, 85/80, 72/68), the
intervals scored, coverage with its Monte Carlo s.e., the worst configuration and the mean half-width.
Target: coverage >= 93% for every design and n.

Run: python bench/bench_small_audits.py [--reps 1500] [--seed 1] [--pseudo-values 2]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from gradeapp.core import estimators  # noqa: E402
from gradeapp.core.audit_draw import active_probabilities, judge_uncertainty  # noqa: E402
from gradeapp.core.estimators import Design, ppi_ipw  # noqa: E402

CELL = 300
RATES = (0.08, 0.3, 0.6)
JUDGES = ((0.95, 0.92), (0.85, 0.8), (0.72, 0.68))


def _audit(rng, design: str, n: int, soft: np.ndarray):
    """Return the audited indices and their Design (inclusion probabilities, one stratum: the cell)."""
    if design == "uniform":
        picked = rng.choice(CELL, n, replace=False)
        return picked, Design(np.full(n, n / CELL), np.array(["cell"] * n))
    prob = np.maximum(active_probabilities(judge_uncertainty(soft), n), 1e-12)
    picked = np.flatnonzero(rng.random(CELL) < prob)
    return picked, Design(prob[picked], np.array(["cell"] * len(picked)))


def run(reps: int, seed: int) -> pd.DataFrame:
    """Return one row per configuration: design, n, theta, judge, intervals, coverage, mean half-width."""
    rng = np.random.default_rng(seed)
    rows = []
    for design in ("uniform", "active"):
        for n in (20, 30, 40):
            for theta in RATES:
                for sens, spec in JUDGES:
                    covered, halves = 0, []
                    for _ in range(reps):
                        truth = (rng.random(CELL) < theta).astype(float)
                        runs = np.where(truth[:, None] == 1, rng.random((CELL, 3)) < sens,
                                        rng.random((CELL, 3)) >= spec)  # fmt: skip
                        soft = runs.mean(axis=1)
                        picked, audit = _audit(rng, design, n, soft)
                        result = ppi_ipw(truth[picked], soft[picked], soft, audit)
                        low, high = max(0.0, result.ci_low), min(1.0, result.ci_high)
                        covered += low <= truth.mean() <= high
                        halves.append((high - low) / 2)
                    rows.append({"design": design, "n": n, "theta": theta, "judge": f"{sens:.2f}/{spec:.2f}",
                                 "intervals": reps, "coverage": covered / reps,
                                 "half_width": float(np.nanmean(halves))})  # fmt: skip
    return pd.DataFrame(rows)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--reps", type=int, default=1500, help="audits per configuration (1500)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--pseudo-values",
        type=int,
        default=estimators.PSEUDO_VALUES,
        help="pseudo-values of each kind in the small-sample floor (1: the floor before issue 20)",
    )
    args = parser.parse_args()
    estimators.PSEUDO_VALUES = args.pseudo_values
    started = time.perf_counter()
    table = run(args.reps, args.seed)
    summary = table.groupby(["design", "n"]).agg(
        configurations=("coverage", "size"),
        intervals=("intervals", "sum"),
        coverage=("coverage", "mean"),
        worst=("coverage", "min"),
        half_width=("half_width", "mean"),
    )
    summary["mc_se"] = np.sqrt(summary["coverage"] * (1 - summary["coverage"]) / summary["intervals"])
    summary["worst_mc_se"] = np.sqrt(summary["worst"] * (1 - summary["worst"]) / args.reps)
    summary["meets"] = np.where(summary["coverage"] >= 0.93, "yes", "NO")
    print(f"PPI++ on audits of 20-40 a cell, {args.reps} audits per configuration, floor with "
          f"{args.pseudo_values} pseudo-value(s) of each kind, "
          f"{time.perf_counter() - started:.0f} s")  # fmt: skip
    print(summary.reset_index().to_markdown(index=False, floatfmt=".4f"))
    return 0 if (summary["coverage"] >= 0.93).all() else 1


if __name__ == "__main__":
    raise SystemExit(main())
