"""Coverage study of the calibrated pass rates under every audit design (known truth, real project files).

Six simulated pools (a good, a fair and a poor judge; a judge whose runs split on a fifth of the
generations; a judge that grows more lenient with k; a judge of one run; two students of different strength; skills of several
difficulties; k = 2..5; 300 generations per student x k cell, each graded by a person so the truth is
known), and for each audit design of the registry (tests/coverage.py: DESIGNS) and each audit size `--n`
(generations per cell; several sizes run in one study) `--reps` audits, calibrated through the code path of
`gradeapp export`. Prints per estimator x design x n x metric: bias, Monte Carlo s.e., coverage of the 95%
interval, mean half-width and the half-width relative to people-only; `meets` = coverage >= 93% and |bias| <
MC s.e. + 0.005. Estimators the product withholds under a design are listed apart with the reason it shows
(`--all` evaluates them anyway). Then PPI++ under the active design beside uniform-per-cell PPI++ on each
pool (coverage, half-width, ratio); target on the split pool at 50 a cell: at least 15% narrower.

Each pool x n is one task, run in `--jobs` processes (each builds its own copy of the pool).

Run: python bench/bench_coverage.py [--reps 40] [--n 50 [20 30 ...]] [--seed 1] [--jobs 2] [--all]
     [--markdown] [--designs ...] [--save CSV]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gradeapp.core import calibration  # noqa: E402

OPT_IN = ("rogan_gladen",)  # estimators the default tables leave out (calibrate(..., rogan_gladen=True))
from tests.coverage import (  # noqa: E402
    DESIGNS,
    SCENARIOS,
    active_against_uniform,
    build,
    run_scenario,
    summarise,
    withheld_rows,
)


def _task(job: tuple[int, int, list[str], int, int, bool]):
    """Build pool `i` in a temporary folder and run its audits of n a cell (one process's share)."""
    i, n, designs, reps, seed, every = job
    if every:
        calibration.WITHHELD.clear()
    scenario = SCENARIOS[i]
    with tempfile.TemporaryDirectory() as tmp:
        path = build(scenario, Path(tmp) / f"{scenario.name.replace(' ', '-')}.gradeapp", seed=seed + i)
        return run_scenario(path, designs, reps, n, seed=seed + i)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--reps", type=int, default=40, help="audits per design, pool and n (40)")
    parser.add_argument("--n", type=int, nargs="+", default=[50], help="audited generations per cell (50)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="processes (every core)")
    parser.add_argument("--designs", nargs="*", default=list(DESIGNS), choices=list(DESIGNS))
    parser.add_argument(
        "--all", action="store_true", help="also evaluate the estimators the product withholds"
    )
    parser.add_argument("--markdown", action="store_true", help="print the table as Markdown")
    parser.add_argument("--save", metavar="CSV", help="also write every estimate to this CSV")
    args = parser.parse_args()
    withheld = dict(calibration.WITHHELD)
    t = time.perf_counter()
    jobs = [
        (i, n, args.designs, args.reps, args.seed, args.all) for n in args.n for i in range(len(SCENARIOS))
    ]
    with ProcessPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        parts = list(pool.map(_task, jobs))
    import pandas as pd  # deferred: start-up time

    results = pd.concat(parts, ignore_index=True)
    if args.save:
        results.to_csv(args.save, index=False)
    table = summarise(results)
    calibration.WITHHELD.update(withheld)
    held = table.apply(lambda r: (r["design"], r["estimator"]) in withheld and not args.all, axis=1)
    opt_in = table["estimator"].isin(OPT_IN)  # not in the default tables: shown apart, with its bias
    shown = table[~held & ~opt_in]
    extra = table[~held & opt_in]
    fmt = {
        "blank": "{:.1%}".format,
        "bias": "{:+.4f}".format,
        "mc_se": "{:.4f}".format,
        "coverage": "{:.1%}".format,
        "half_width": "{:.4f}".format,
        "rel_half_width": "{:.2f}".format,
    }
    out = shown.copy()
    for col, f in fmt.items():
        out[col] = out[col].map(f)
    out["meets"] = out["meets"].map({True: "yes", False: "NO"})
    print(
        f"{len(SCENARIOS)} pools x {len(args.designs)} designs x {args.reps} audits of "
        f"{' / '.join(map(str, args.n))} per cell "
        f"({results.groupby(['scenario', 'design', 'n', 'rep']).ngroups} audits, "
        f"{len(results)} estimates), {time.perf_counter() - t:.0f} s"
    )
    print(out.to_markdown(index=False) if args.markdown else out.to_string(index=False))
    if not extra.empty:
        print("\nopt-in estimators (not in the default tables; `--rogan-gladen` adds them):")
        opt = extra.copy()
        for col, f in fmt.items():
            opt[col] = opt[col].map(f)
        opt["meets"] = opt["meets"].map({True: "yes", False: "NO"})
        print(opt.to_markdown(index=False) if args.markdown else opt.to_string(index=False))
    held = withheld_rows(results)
    if not held.empty and not args.all:
        print("\nwithheld by the product under a design (the note column says why):")
        print(held.to_markdown(index=False) if args.markdown else held.to_string(index=False))
    failing = shown[~shown["meets"]]
    print(f"\nevery estimator shown by default meets the target: {'yes' if failing.empty else 'NO'}")
    if {"active", "uniform-per-cell"} <= set(args.designs):
        side = active_against_uniform(results)
        print("\nPPI++ under the active design beside uniform per cell, same pools, same expected labels:")
        out = side.copy()
        for col in ("coverage_active", "coverage_uniform"):
            out[col] = out[col].map("{:.1%}".format)
        for col in ("labels", "half_width_active", "half_width_uniform", "width_ratio"):
            out[col] = out[col].map("{:.4f}".format if col.startswith("half") else "{:.2f}".format)
        print(out.to_markdown(index=False) if args.markdown else out.to_string(index=False))
        split = side[side["scenario"].str.contains("split")]
        for n, rows in split.groupby("n"):
            narrower = (rows["width_ratio"] <= 0.85).all()
            print(f"active design on the split pool at {n} a cell, at least 15% narrower on every metric: "
                  f"{'yes' if narrower else 'no'}")  # fmt: skip
    return 0 if failing.empty else 1


if __name__ == "__main__":
    raise SystemExit(main())
