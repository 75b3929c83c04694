"""The active design against uniform PPI++ on the same pools, at equal numbers of human labels.

A pool is a real project file (tests/simulate.py) whose every generation a person graded (so each student x k
cell's true rate is known) and whose judge's runs split on about a fifth of the generations (`hard_share`):
where its runs agree the judge is nearly always right, where they split it errs often. Each replication
draws one audit per design from the same pool (`plan_draw`, the call of `gradeapp audit draw`) and
calibrates it with the `calibrate` of `compute_stats`; uniform draws `n` per cell, active `n` per cell in
expectation (Poisson sampling), so both spend the same number of labels on average.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd

from gradeapp.core.audit_draw import ACTIVE_FLOOR, generation_uncertainty, plan_draw
from gradeapp.core.calibration import METRICS, calibrate
from gradeapp.db import open_project
from gradeapp.services.audit_data import load_audit_data
from tests.coverage import scored
from tests.simulate import simulate_project

DESIGNS = {
    "uniform": {"design": "stratified", "per_cell": True},  # a simple random sample of n in every cell
    "active": {"design": "active", "per_cell": True},
}


def build_pool(path: Path, *, per_cell: int = 400, hard_share: float = 0.2, seed: int = 0) -> Path:
    """Build the pool (4 cells, every generation graded by a person); return its path."""
    simulate_project(
        path,
        n_generations=4 * per_cell,
        n_audit=4 * per_cell,
        sensitivity=0.995,
        specificity=0.99,
        hard_share=hard_share,
        hard_error=0.3,
        ks=(2, 3),
        students={"small": 1.0, "big": 10.0},
        seed=seed,
    )
    return path


def run_study(path: Path, reps: int, n: int, seed: int = 0, floor: float = ACTIVE_FLOOR) -> pd.DataFrame:
    """Draw `reps` audits per design and calibrate each: one row per design x rep x cell x metric x estimator."""
    with open_project(path) as store:
        data = load_audit_data(store)
    hg = data.human_gen.join(data.gens[["student"]])
    truth = hg.groupby(["student", "k"])[list(METRICS)].mean().stack().rename("truth").reset_index()
    truth = truth.rename(columns={truth.columns[2]: "metric"})
    pool = data.gens.loc[data.judge_gen.index, ["student", "k"]].reset_index()
    pool["verdict"] = (data.judge_gen["full_marks"].to_numpy() >= 1).astype(int)
    pool["uncertainty"] = generation_uncertainty(data).to_numpy()
    out = []
    for rep in range(reps):
        for design, params in DESIGNS.items():
            items = plan_draw(pool, n, seed=seed * 100_003 + rep, floor=floor, **params)
            snap = dataclasses.replace(
                data,
                audit_items=items,
                draw={"id": 0, "name": f"{design}-{rep}", "design": params["design"], "params": params},
            )
            rates = calibrate(snap)
            rates = rates[rates["estimator"].isin(["ppi++", "human_only"])]
            out.append(rates.merge(truth, on=["student", "k", "metric"]).assign(design=design, rep=rep))
    res = pd.concat(out, ignore_index=True)
    res["split_share"] = float((pool["uncertainty"] > 0).mean())
    return res


def summarise(res: pd.DataFrame) -> pd.DataFrame:
    """Return per estimator x metric x design: labels, bias, MC s.e., coverage, half-width, width vs uniform."""
    r = scored(res).dropna(subset=["estimate"])
    g = r.groupby(["estimator", "metric", "design"])
    table = pd.DataFrame(
        {
            "labels": g["n_audited"].mean(),
            "bias": g["err"].mean(),
            "mc_se": g["err"].std(ddof=1) / np.sqrt(g.size()),
            "coverage": g["cover"].mean(),
            "half_width": g["half"].mean(),
        }
    ).reset_index()
    uni = table[table["design"] == "uniform"].set_index(["estimator", "metric"])["half_width"]
    table["vs_uniform"] = [row.half_width / uni[(row.estimator, row.metric)] for row in table.itertuples()]
    return table
