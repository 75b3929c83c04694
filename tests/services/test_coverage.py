"""A fast, seeded subset of the coverage study (bench/bench_coverage.py): every design, every metric."""

from __future__ import annotations

import numpy as np

from gradeapp.core import calibration
from tests.coverage import DESIGNS, Scenario, build, run_scenario, scored


def test_every_shown_estimator_covers_the_truth_under_every_design(tmp_path):
    # One pool (a fair judge, two students, k = 2..5, 150 generations a cell), 5 audits of 40 per cell per
    # design, each through calibrate (and the first of each design through compute_stats on the file):
    # 6 designs x 5 x 8 cells = 240 cell audits, x 3 metrics. That few cannot resolve 93% per row, so the
    # test pools the metrics: every estimator x design must cover >= 87% (120 intervals each), every
    # estimator >= 92% over all designs, with |bias| < 2 MC s.e. + 0.005; the bench runs the full target.
    path = build(Scenario("fair judge", 0.85, 0.8, per_cell=150), tmp_path / "pool.gradeapp", seed=3)
    results = run_scenario(path, list(DESIGNS), reps=5, n=40, seed=3)
    held = {key[:2] for key in calibration.WITHHELD}
    shown = results[
        [(d, e) not in held for d, e in zip(results["design"], results["estimator"], strict=True)]
    ]
    shown = shown[shown["estimate"].notna()]  # a blank estimate (its reason in note) is not an interval
    shown = scored(shown)
    assert set(shown["design"]) == set(DESIGNS)
    assert set(shown["metric"]) == set(calibration.METRICS)
    assert shown.groupby(["estimator", "design"])["cover"].mean().min() >= 0.87
    per = shown.groupby("estimator").agg(
        cover=("cover", "mean"), bias=("err", "mean"), sd=("err", "std"), n=("err", "count")
    )
    assert (per["cover"] >= 0.92).all(), per
    assert (per["bias"].abs() < 2 * per["sd"] / np.sqrt(per["n"]) + 0.005).all(), per
    # withheld estimators are blank with their reason under their design
    for (design, estimator, *_), reason in calibration.WITHHELD.items():
        rows = results[(results["design"] == design) & (results["estimator"] == estimator)]
        assert rows["estimate"].isna().all() and (rows["note"].str.contains(reason, regex=False)).all()
