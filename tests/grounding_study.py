"""The grounding-aware active design against the plain active one and uniform PPI++, at equal labels.

A pool is a real project file (tests/simulate.py) whose every generation a person graded, with a judge
that errs in two ways: on a fifth of the generations its runs split (the plain active design sees that),
and elsewhere it is sometimes wrong with all its runs agreeing (which only grounding can reveal). The
judge's quotes are simulated with known grounding: a generation whose judge full-marks verdict is wrong has
a credited point without a grounded quote with probability `p_wrong`, a right one with `p_right`. Each
replication draws one audit per design from the same pool (`plan_draw`, as `gradeapp audit draw`) and
calibrates it with `calibrate` (the path of `gradeapp export`).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd

from gradeapp.core.calibration import METRICS, calibrate
from gradeapp.core.evidence_stats import grounded_uncertainty
from gradeapp.db import open_project
from gradeapp.services.audit import ACTIVE_FLOOR, generation_uncertainty, load_audit_data, plan_draw
from tests.simulate import simulate_project

DESIGNS = {
    "uniform": {"design": "stratified", "per_cell": True},
    "active": {"design": "active", "per_cell": True},
    "active+grounding": {"design": "active", "per_cell": True},
}


def build_pool(path: Path, *, per_cell: int = 400, seed: int = 0) -> Path:
    """Build the pool: 4 cells, every generation graded by a person, a judge confidently wrong at times."""
    simulate_project(
        path, n_generations=4 * per_cell, n_audit=4 * per_cell, sensitivity=0.95, specificity=0.9,
        hard_share=0.2, hard_error=0.3, ks=(2, 3), students={"small": 1.0, "big": 10.0}, seed=seed,
    )  # fmt: skip
    return path


def run_study(
    path: Path, reps: int, n: int, seed: int = 0, p_wrong: float = 0.7, p_right: float = 0.1
) -> pd.DataFrame:
    """Draw `reps` audits per design and calibrate each: one row per design x rep x cell x metric x estimator."""
    with open_project(path) as store:
        data = load_audit_data(store)
    hg = data.human_gen.join(data.gens[["student"]])
    truth = hg.groupby(["student", "k"])[list(METRICS)].mean().stack().rename("truth").reset_index()
    truth = truth.rename(columns={truth.columns[2]: "metric"})
    pool = data.gens.loc[data.judge_gen.index, ["student", "k"]].reset_index()
    pool["verdict"] = (data.judge_gen["full_marks"].to_numpy() >= 1).astype(int)
    pool["uncertainty"] = generation_uncertainty(data).to_numpy()
    human = data.human_gen["full_marks"].reindex(pool["generation_id"]).to_numpy()
    wrong = pool["verdict"].to_numpy() != (human >= 1)
    rng = np.random.default_rng(seed + 17)
    ungrounded = (rng.random(len(pool)) < np.where(wrong, p_wrong, p_right)).astype(float)
    pools = {
        "uniform": pool,
        "active": pool,
        "active+grounding": pool.assign(uncertainty=grounded_uncertainty(pool["uncertainty"], ungrounded)),
    }
    out = []
    for rep in range(reps):
        for design, params in DESIGNS.items():
            items = plan_draw(pools[design], n, seed=seed * 100_003 + rep, floor=ACTIVE_FLOOR, **params)
            snap = dataclasses.replace(
                data,
                audit_items=items,
                draw={"id": 0, "name": f"{design}-{rep}", "design": params["design"], "params": params},
            )
            rates = calibrate(snap)
            rates = rates[rates["estimator"].isin(["ppi++", "human_only"])]
            out.append(rates.merge(truth, on=["student", "k", "metric"]).assign(design=design, rep=rep))
    res = pd.concat(out, ignore_index=True)
    res["wrong_share"] = float(wrong.mean())
    return res
