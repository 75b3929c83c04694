"""The audit planner: its predicted PPI++ half-width and the items it asks for."""

from __future__ import annotations

import numpy as np
import pytest

from gradeapp.core.audit_plan import _plan_cell, plan_audit
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


def test_a_judge_that_agreed_on_every_audited_item_is_not_taken_as_proof_of_no_errors():
    # rho = 1 on 20 audited items made the residual variance 0 and the plan "2 items"; PPI++ keeps a floor
    # for the errors a small audit may not have met (estimators.judge_error_floor), and so does the plan.
    y = np.array([1.0, 0.0] * 10)
    plan = _plan_cell(y, y, 300, 0.05, 1.96)
    assert plan["rho"] == pytest.approx(1.0)
    assert plan["n_needed"] > 20 and plan["extra"] == plan["n_needed"] - 20
    assert 0.05 < plan["half_width_now"] < 0.1
    assert _plan_cell(y, y, 300, 0.1, 1.96)["extra"] == 0  # +-0.1 is within reach of 20
    # a judge that contradicts the people is no help: lambda is clipped at 0, so plan as for people alone
    people_alone = _plan_cell(y, np.zeros(20) + 0.5, 300, 0.05, 1.96)["n_needed"]
    assert _plan_cell(y, 1 - y, 300, 0.05, 1.96)["n_needed"] == people_alone
