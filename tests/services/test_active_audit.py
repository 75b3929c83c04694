"""The active audit design: probabilities that follow the judge's doubt, drawn exactly, estimated validly."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import ppi_py
import pytest

from gradeapp.cli import main
from gradeapp.core.audit_draw import DrawSettingError, plan_draw
from gradeapp.core.calibration import calibrate, calibration_inputs
from gradeapp.db import audit_store, open_project
from gradeapp.errors import GradeappError
from gradeapp.services.audit import draw_audit
from gradeapp.services.audit_data import load_audit_data
from tests.active_study import build_pool, run_study, summarise
from tests.coverage import scored
from tests.simulate import simulate_project


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """A project whose every generation a person graded; the judge's runs split on about a fifth of them."""
    path = tmp_path_factory.mktemp("active") / "active.gradeapp"
    simulate_project(
        path,
        n_generations=720,
        n_audit=720,
        sensitivity=0.99,
        specificity=0.98,
        hard_share=0.2,
        hard_error=0.3,
        ks=(2,),
        students={"a": 1.0, "b": 10.0},
        seed=8,
    )
    return path


def test_the_active_draw_is_recorded_and_its_ppi_estimate_is_ppi_pys_weighted_one(graded, capsys):
    args = ["audit", "draw", "--project", str(graded), "--design", "active", "--per-cell", "--size", "60"]
    assert main([*args, "--per-cell", "--seed", "3", "--name", "act", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["design"] == "active" and report["params"]["sampling"] == "poisson"
    with open_project(graded) as store:
        items = audit_store.audit_items_df(store, report["id"])
        data = load_audit_data(store)
    assert data.draw["name"] == "act"
    assert items["inclusion_prob"].nunique() > 1 and (items["inclusion_prob"] > 0).all()
    frame = calibration_inputs(data)
    rates = calibrate(data)
    for (student, k), cell in frame.groupby(["student", "k"]):
        a = cell[cell["audited"]]
        row = rates[
            (rates["student"] == student)
            & (rates["k"] == k)
            & (rates["metric"] == "full_marks")
            & (rates["estimator"] == "ppi++")
        ].iloc[0]
        assert row["design"].startswith("active")
        # the estimate is ppi_py's weighted point estimate (w = 1/pi, the whole pool unlabeled) at its lambda
        ref = ppi_py.ppi_mean_pointestimate(
            a["full_marks_human"].to_numpy(dtype=float),
            a["full_marks_soft"].to_numpy(dtype=float),
            cell["full_marks_soft"].to_numpy(dtype=float),
            lam=float(row["lam"]),
            w=1.0 / a["prob"].to_numpy(dtype=float),
        )
        assert row["estimate"] == pytest.approx(float(np.squeeze(ref)), abs=1e-9)
        assert row["ci_low"] <= row["estimate"] <= row["ci_high"]


def test_active_needs_the_judges_runs_and_a_sane_floor():
    pool = pd.DataFrame({"generation_id": [1, 2], "student": "s", "k": 2, "verdict": 0})
    with pytest.raises(GradeappError, match="judge's runs"):
        plan_draw(pool, 1, design="active", per_cell=True)
    with pytest.raises(DrawSettingError, match="uniform floor") as caught:
        plan_draw(pool.assign(uncertainty=0.0), 1, design="active", per_cell=True, floor=0.0)
    assert caught.value.setting == "floor"
    with pytest.raises(DrawSettingError, match="per student x k cell only") as caught:
        plan_draw(pool.assign(uncertainty=0.0), 1, design="active")
    assert caught.value.setting == "per_cell"


def test_cli_active_draw_prints_its_strata(graded, capsys):
    with open_project(graded) as store:
        before = len(audit_store.audit_draws_df(store))
    assert main(["audit", "draw", "--project", str(graded), "--design", "active", "--per-cell", "--size", "40",
                 "--seed", "1", "--floor", "0.5"]) == 0  # fmt: skip
    out = capsys.readouterr().out
    assert "design active" in out and "inclusion probability (mean)" in out
    with open_project(graded) as store:
        draws = audit_store.audit_draws_df(store)
    assert len(draws) == before + 1
    assert json.loads(draws.iloc[-1]["params"])["floor"] == 0.5
    with open_project(graded) as store:
        assert draw_audit(store, 10, design="active", per_cell=True, seed=2, name="z")["design"] == "active"


def test_seeded_study_active_is_valid_and_narrower_than_uniform_at_equal_labels(tmp_path):
    # the fast subset of bench/bench_active.py: one pool, 20 audits per design
    path = build_pool(tmp_path / "pool.gradeapp", per_cell=300, seed=2)
    res = run_study(path, reps=20, n=50, seed=2)
    table = summarise(res).set_index(["estimator", "metric", "design"])
    ppi = res[(res["estimator"] == "ppi++") & res["estimate"].notna()]
    active = ppi[ppi["design"] == "active"]
    assert scored(active)["cover"].mean() >= 0.93  # 20 audits x 4 cells x 3 metrics, pooled
    ratios = [
        table.loc[("ppi++", m, "active"), "vs_uniform"]
        for m in ("full_marks", "all_skills", "skill_fraction")
    ]
    labels = [table.loc[("ppi++", "full_marks", d), "labels"] for d in ("active", "uniform")]
    assert abs(labels[0] - labels[1]) < 3  # the same number of human labels on average
    # narrower than uniform PPI++ on every metric, by at least a tenth on average (the bench: 13-30%)
    assert max(ratios) < 1.0 and np.mean(ratios) < 0.9, ratios
