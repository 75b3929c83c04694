"""Calibrated pass rates per cell: every estimator of a project's audit, with its provenance."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from gradeapp.core.calibration import ESTIMATORS, calibrate
from gradeapp.db import open_project
from gradeapp.services.audit_data import load_audit_data
from tests.simulate import simulate_project


@pytest.fixture(scope="module")
def sim_path(tmp_path_factory):
    path = tmp_path_factory.mktemp("cal") / "sim.gradeapp"
    simulate_project(path, n_generations=1800, n_audit=300, sensitivity=0.9, specificity=0.85, seed=5)
    return path


def test_calibrate_reports_every_estimator_per_cell_with_its_provenance(sim_path):
    with open_project(sim_path) as store:
        data = load_audit_data(store)
    rates = calibrate(data, rogan_gladen=True)
    cells = rates.groupby(["student", "k", "metric"])["estimator"].apply(set)
    for (_, _, metric), found in cells.items():
        expected = set(ESTIMATORS) - ({"rogan_gladen"} if metric == "skill_fraction" else set())
        assert found == expected
    # Rogan-Gladen is opt-in: by default it is in no table
    assert "rogan_gladen" not in set(calibrate(data)["estimator"])
    rates = rates[rates["estimator"] != "rogan_gladen"]
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


# -- design-weighted estimators (issue 11) --------------------------------------------------------


def test_a_by_verdict_audit_is_weighted_in_every_estimator_and_human_rate(tmp_path):
    from gradeapp.services.audit import draw_audit

    path = tmp_path / "verdict.gradeapp"
    sim = simulate_project(
        path, n_generations=1200, n_audit=0, grade_all=True, sensitivity=0.9, specificity=0.85,
        ks=(3,), students={"m": None}, seed=4,
    )  # fmt: skip
    with open_project(path) as store:
        draw_audit(store, 80, design="stratified", per_cell=True, by_verdict=True, seed=3, name="rare")
        data = load_audit_data(store)
        items = data.audit_items.set_index("generation_id")
    rates = calibrate(data).set_index(["metric", "estimator"])
    truth = sim.truth.set_index("generation_id")
    for metric in ("full_marks", "skill_fraction"):
        y = truth.loc[items.index, metric].to_numpy()
        w = 1 / items["inclusion_prob"].to_numpy()
        weighted = float(np.sum(w * y) / np.sum(w))
        row = rates.loc[(metric, "human_only")]
        assert row["human_rate"] == pytest.approx(weighted)
        assert row["estimate"] == pytest.approx(weighted)
        # the unweighted audit rate is far off: the design oversamples the judge's rarer verdict
        assert abs(float(y.mean()) - weighted) > 0.02
        assert row["note"].startswith("finite-population correction")
        pool_rate = float(truth[metric].mean())
        for est in ("ppi++", "stratified"):
            r = rates.loc[(metric, est)]
            assert r["ci_low"] - 0.02 <= pool_rate <= r["ci_high"] + 0.02
    assert rates.loc[("full_marks", "stratified"), "estimate"] == pytest.approx(
        rates.loc[("full_marks", "human_only"), "estimate"]
    )  # post-strata = the design's strata: the stratified estimator is the design's own mean


def test_a_census_of_a_cell_gives_every_estimator_the_peoples_rate_without_a_warning(tmp_path):
    # Before: Rogan-Gladen divided by 1 - f = 0 and reported the interval [0, 0] with a warning.
    sim = simulate_project(
        tmp_path / "census.gradeapp", n_generations=40, students={"s": 1.0}, ks=(2,), n_audit=40,
        audit_per_cell=True, seed=4,
    )  # fmt: skip
    with open_project(sim.path) as store:
        data = load_audit_data(store)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        rates = calibrate(data, rogan_gladen=True)
    people = rates[rates["estimator"] == "human_only"].set_index("metric")["estimate"]
    for row in rates[rates["estimator"] != "judge_only"].itertuples():
        assert row.estimate == pytest.approx(people[row.metric]) or row.estimator == "ppi++"
        assert row.ci_low <= row.estimate <= row.ci_high
    rg = rates[rates["estimator"] == "rogan_gladen"]
    assert (rg["ci_low"] == rg["estimate"]).all() and (rg["estimate"] > 0).all()
