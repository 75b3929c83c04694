"""The audit planner: its predicted PPI++ half-width and the items it asks for."""

from __future__ import annotations

import pytest

from gradeapp.core.audit_plan import plan_audit
from gradeapp.core.calibration import calibrate
from gradeapp.db import open_project
from gradeapp.services.audit_data import load_audit_data
from tests.simulate import simulate_project


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
