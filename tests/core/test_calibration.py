"""Calibrated pass rates against independent oracles (statsmodels, ppi_py) and a coverage simulation."""

from __future__ import annotations

import math

import numpy as np
import pytest
from statsmodels.stats.proportion import proportion_confint

from gradeapp.core.calibration import (
    ESTIMATORS,
    calibrate,
    plan_audit,
    ppi_mean,
    rogan_gladen,
    stratified_mean,
    wilson,
)
from gradeapp.db import open_project
from gradeapp.services.audit import load_audit_data
from tests.simulate import simulate_project

ppi_py = pytest.importorskip("ppi_py")


@pytest.mark.parametrize(("x", "n"), [(0, 10), (3, 10), (10, 10), (37, 120), (1, 2000)])
@pytest.mark.parametrize("confidence", [0.9, 0.95])
def test_wilson_matches_statsmodels(x, n, confidence):
    _, lo, hi = wilson(x, n, confidence)
    ref_lo, ref_hi = proportion_confint(x, n, alpha=1 - confidence, method="wilson")
    assert lo == pytest.approx(ref_lo, abs=1e-12)
    assert hi == pytest.approx(ref_hi, abs=1e-12)


def _ppi_data(seed: int, n: int = 150, big_n: int = 3000, noise: float = 0.6):
    rng = np.random.default_rng(seed)
    y_all = (rng.random(n + big_n) < 0.35).astype(float)
    # a soft judge score: mean of three noisy runs, so the correlation is far from 1 and lambda is interior
    runs = np.where(rng.random((3, n + big_n)) < noise, rng.random((3, n + big_n)) < 0.5, y_all)
    yhat = runs.mean(axis=0)
    return y_all[:n], yhat[:n], yhat[n:]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_ppi_matches_ppi_py_default_alpha(seed):
    y, yhat, yu = _ppi_data(seed)
    ours = ppi_mean(y, yhat, yu, confidence=0.9)  # ppi_py's default alpha is 0.1
    lo, hi = ppi_py.ppi_mean_ci(y, yhat, yu)
    assert 0 < ours.lam < 1, "the test data must exercise an interior power-tuning lambda"
    assert ours.ci_low == pytest.approx(float(lo[0]), abs=1e-10)
    assert ours.ci_high == pytest.approx(float(hi[0]), abs=1e-10)
    assert ours.estimate == pytest.approx(
        float(np.squeeze(ppi_py.ppi_mean_pointestimate(y, yhat, yu))), abs=1e-10
    )


def test_ppi_matches_ppi_py_at_95_with_fixed_lambda_and_weights():
    y, yhat, yu = _ppi_data(7)
    for lam in (0.0, 0.4, 1.0):
        ours = ppi_mean(y, yhat, yu, confidence=0.95, lam=lam)
        lo, hi = ppi_py.ppi_mean_ci(y, yhat, yu, alpha=0.05, lam=lam)
        assert (ours.ci_low, ours.ci_high) == pytest.approx((float(lo[0]), float(hi[0])), abs=1e-10)
    w = np.random.default_rng(3).uniform(0.5, 2.0, len(y))
    ours = ppi_mean(y, yhat, yu, confidence=0.95, w=w)
    lo, hi = ppi_py.ppi_mean_ci(y, yhat, yu, alpha=0.05, w=w)
    assert (ours.ci_low, ours.ci_high) == pytest.approx((float(lo[0]), float(hi[0])), abs=1e-10)


def test_rogan_gladen_inverts_the_judge_bias_and_widens_with_small_gold_sets():
    theta, q0, q1 = 0.3, 0.85, 0.9
    p = q1 * theta + (1 - q0) * (1 - theta)  # what a judge with these rates reports
    est, lo, hi = rogan_gladen(p, 100_000, q0, 10**9, q1, 10**9)
    assert est == pytest.approx(theta, abs=1e-12)
    delta_half = 1.959964 * math.sqrt(p * (1 - p) / 100_000) / (q0 + q1 - 1)
    assert (hi - lo) / 2 == pytest.approx(delta_half, rel=0.01)  # the gold-set terms vanish as m grows
    _, lo_s, hi_s = rogan_gladen(p, 100_000, q0, 40, q1, 40)
    assert hi_s - lo_s > 5 * (hi - lo)
    assert all(math.isnan(v) for v in rogan_gladen(0.5, 100, 0.5, 50, 0.4, 50))  # no better than chance


def _coverage_replication(rng, theta=0.3, n=300, big_n=6000, sens=0.85, spec=0.8):
    truth = (rng.random(n + big_n) < theta).astype(float)
    runs = np.where(truth == 1, rng.random((3, n + big_n)) < sens, rng.random((3, n + big_n)) >= spec)
    soft = runs.mean(axis=0)
    hard = (soft > 0.5).astype(float)
    audit = rng.choice(n + big_n, size=n, replace=False)
    mask = np.zeros(n + big_n, dtype=bool)
    mask[audit] = True
    y = truth[mask]
    ppi = ppi_mean(y, soft[mask], soft[~mask], 0.95)
    strat = stratified_mean(y, hard[mask], hard, 0.95)
    human = wilson(y.sum(), n, 0.95)
    pool_rate = truth.mean()
    return ppi, strat, human, pool_rate


def test_ppi_and_stratified_cover_the_truth_and_beat_human_only():
    rng = np.random.default_rng(20231027)
    reps = 500
    cover = {"ppi": 0, "strat": 0, "human": 0}
    width = {"ppi": 0.0, "strat": 0.0, "human": 0.0}
    for _ in range(reps):
        ppi, strat, human, pool_rate = _coverage_replication(rng)
        # the truth is the people's pass rate over the whole judged pool
        cover["ppi"] += ppi.ci_low <= pool_rate <= ppi.ci_high
        cover["strat"] += strat[1] <= pool_rate <= strat[2]
        cover["human"] += human[1] <= pool_rate <= human[2]
        width["ppi"] += ppi.ci_high - ppi.ci_low
        width["strat"] += strat[2] - strat[1]
        width["human"] += human[2] - human[1]
    assert cover["ppi"] / reps >= 0.93
    assert cover["strat"] / reps >= 0.93
    assert width["ppi"] < width["human"]
    assert width["strat"] < width["human"]


@pytest.fixture(scope="module")
def sim_path(tmp_path_factory):
    path = tmp_path_factory.mktemp("cal") / "sim.gradeapp"
    simulate_project(path, n_generations=1800, n_audit=300, sensitivity=0.9, specificity=0.85, seed=5)
    return path


def test_calibrate_reports_every_estimator_per_cell_with_its_provenance(sim_path):
    with open_project(sim_path) as store:
        data = load_audit_data(store)
    rates = calibrate(data)
    cells = rates.groupby(["student", "k", "metric"])["estimator"].apply(set)
    for (_, _, metric), found in cells.items():
        expected = set(ESTIMATORS) - ({"rogan_gladen"} if metric == "skill_fraction" else set())
        assert found == expected
    ppi = rates[rates["estimator"] == "ppi++"]
    assert (ppi["lam"].between(0, 1)).all()
    assert (ppi["design"] == "uniform").all()
    assert (ppi["confidence"] == 0.95).all()
    assert ppi["n_audited"].sum() == 3 * 300  # each of 300 drawn generations once per metric
    assert (rates["n_judged"] == 300).all()  # 1800 generations in 6 cells


def test_human_verdicts_outside_the_draw_never_enter_the_calibration(sim_path, tmp_path):
    import shutil

    path = tmp_path / "copy.gradeapp"
    shutil.copy(sim_path, path)
    with open_project(path) as store:
        before = calibrate(load_audit_data(store))
        drawn = set(store.execute("SELECT generation_id FROM audit_items").fetchall())
        gid = next(g for (g,) in store.execute("SELECT id FROM generations ORDER BY id") if (g,) not in drawn)
        person = store.grader_id("human", "flagging person")
        crits = [
            c
            for (c,) in store.execute(
                "SELECT DISTINCT criterion FROM verdicts WHERE generation_id = ?", [gid]
            )
        ]
        store.add_verdicts(
            {"grader_id": person, "generation_id": gid, "criterion": c, "value": 1} for c in crits
        )
        store.add_review(person, gid, "submit")
        after = calibrate(load_audit_data(store))
    assert after["n_audited"].tolist() == before["n_audited"].tolist()
    assert after["estimate"].equals(before["estimate"])


def test_planner_predicts_the_ppi_half_width_and_asks_for_fewer_items_when_the_judge_is_better(tmp_path):
    good = simulate_project(
        tmp_path / "good.gradeapp",
        n_generations=1200,
        n_audit=240,
        sensitivity=0.97,
        specificity=0.97,
        ks=(3,),
        students={"m": None},
        seed=2,
    ).path
    poor = simulate_project(
        tmp_path / "poor.gradeapp",
        n_generations=1200,
        n_audit=240,
        sensitivity=0.7,
        specificity=0.65,
        ks=(3,),
        students={"m": None},
        seed=2,
    ).path
    plans = {}
    for name, path in (("good", good), ("poor", poor)):
        with open_project(path) as store:
            data = load_audit_data(store)
        plan = plan_audit(data, 0.03)
        rates = calibrate(data)
        ppi = rates[(rates["estimator"] == "ppi++") & (rates["metric"] == "full_marks")].iloc[0]
        actual_half = (ppi["ci_high"] - ppi["ci_low"]) / 2
        assert plan.iloc[0]["half_width_now"] == pytest.approx(actual_half, rel=0.25)
        plans[name] = plan.iloc[0]
    assert plans["good"]["rho"] > plans["poor"]["rho"]
    assert plans["good"]["extra"] < plans["poor"]["extra"]
