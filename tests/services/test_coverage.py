"""A fast, seeded subset of the coverage study (bench/bench_coverage.py): every design, every metric."""

from __future__ import annotations

from gradeapp.core import calibration
from tests.coverage import DESIGNS, Scenario, build, run_scenario, summarise


def test_every_shown_estimator_covers_the_truth_under_every_design(tmp_path):
    # One pool (a fair judge, two students, k = 2..5, 150 generations a cell), 5 audits of 40 per cell
    # per design: 6 x 5 x 8 = 240 cell audits. With this few the Monte Carlo error is about 2 points of
    # coverage, so the test asks for 90% and |bias| < 2 MC s.e. + 0.005; the bench runs the full target.
    path = build(Scenario("fair judge", 0.85, 0.8, per_cell=150), tmp_path / "pool.gradeapp", seed=3)
    results = run_scenario(path, list(DESIGNS), reps=5, n=40, seed=3)
    table = summarise(results)
    held = {key[:2] for key in calibration.WITHHELD}
    shown = table[[(d, e) not in held for d, e in zip(table["design"], table["estimator"], strict=True)]]
    assert set(shown["design"]) == set(DESIGNS)
    assert set(shown["metric"]) == set(calibration.METRICS)
    bad = shown[(shown["coverage"] < 0.90) | (shown["bias"].abs() >= 2 * shown["mc_se"] + 0.005)]
    assert bad.empty, bad.to_string()
    # the judge helps: PPI++ is narrower than the audit alone on average
    ppi = shown[shown["estimator"] == "ppi++"]
    assert (ppi["rel_half_width"] < 1).mean() > 0.8
