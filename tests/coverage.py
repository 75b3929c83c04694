"""The coverage study of the calibrated pass rates: simulated pools with known truth, every audit design.

Each scenario is a real project file (tests/simulate.py) with a judge of a given quality, two students of
different strength, skills of several difficulties and k = 2..5; a person grades every generation, so the
people's rate of every student x k cell over the pool is known. Each replication draws one audit with
`plan_draw` and records it with `add_audit_draw` (the two calls of `gradeapp audit draw`), reads its items
back from the project, and calibrates through the same `calibrate` that `compute_stats` (and so `gradeapp
export`) calls; the first draw of every design is also run through `compute_stats` on the project file and
must give the same pass-rate table. Only the drawn generations' human verdicts enter an estimate.

DESIGNS is a registry: one more design joins with one line (name -> keyword arguments of plan_draw).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from gradeapp.core import calibration
from gradeapp.core.audit_draw import generation_uncertainty, plan_draw
from gradeapp.core.calibration import calibrate
from gradeapp.core.results import StatsOptions
from gradeapp.db import audit_store, open_project
from gradeapp.services.audit_data import load_audit_data
from gradeapp.services.stats import compute_stats
from tests.simulate import simulate_project

# name -> plan_draw keyword arguments; "per_cell" designs draw `n` per cell, the others n x cells in all.
DESIGNS: dict[str, dict] = {
    "uniform": {"design": "uniform"},
    "uniform-per-cell": {"design": "uniform", "per_cell": True},
    "stratified": {"design": "stratified"},
    "stratified-per-cell": {"design": "stratified", "per_cell": True},
    "by-verdict": {"design": "stratified", "by_verdict": True},
    "by-verdict-per-cell": {"design": "stratified", "by_verdict": True, "per_cell": True},
    "active": {"design": "active", "per_cell": True},
}
SHOWN = ("human_only", "ppi++", "stratified", "rogan_gladen")  # judge_only estimates the judge, not people


@dataclass(frozen=True)
class Scenario:
    """One simulated pool: a judge quality and the cells' difficulty."""

    name: str
    sensitivity: float
    specificity: float
    students: tuple[tuple[str, float], ...] = (("strong", 0.93), ("weak", 0.8))
    ks: tuple[int, ...] = (2, 3, 4, 5)
    per_cell: int = 300  # generations per student x k cell
    skill_spread: float = 1.0
    hard_share: float = 0.0  # share of generations where the runs disagree (tests/simulate.py)
    hard_error: float = 0.3  # there, each run errs on each point with this probability
    leniency: float = 0.0  # the judge's specificity falls by this much per k above 2 (tests/simulate.py)
    runs: int = 3  # the judge's runs per generation (1: a deterministic judge, soft score 0 or 1)


SCENARIOS = (
    Scenario("good judge", 0.95, 0.92),
    Scenario("fair judge", 0.85, 0.8),
    Scenario("poor judge", 0.72, 0.68),
    # the case for the active design: the runs split on about a fifth of the generations, where the
    # judge errs often, and agree elsewhere, where it is nearly always right
    Scenario("split judge", 0.995, 0.99, hard_share=0.2),
    # issue 20's independent study: a judge that grows more lenient with k (specificity 0.92 at k = 2 down
    # to 0.68 at k = 5), so its bias changes from cell to cell
    Scenario("lenient judge", 0.9, 0.92, leniency=0.08),
    # one run (or runs at temperature 0, which agree): the judge's score is 0 or 1 and its rare errors are
    # all the residual PPI++ has (judge_error_floor)
    Scenario("one-run judge", 0.95, 0.92, runs=1),
)


def build(scenario: Scenario, path: Path, seed: int) -> Path:
    """Build the scenario's project at path (graded wholly by one person); return the path."""
    rates = {(s, k): r ** (1 + 0.1 * (k - 2)) for s, r in scenario.students for k in scenario.ks}
    n_cells = len(scenario.students) * len(scenario.ks)
    simulate_project(
        path,
        n_generations=scenario.per_cell * n_cells,
        students={s: None for s, _ in scenario.students},
        ks=scenario.ks,
        point_rate=rates,
        sensitivity=scenario.sensitivity,
        specificity=scenario.specificity,
        n_audit=0,
        grade_all=True,
        skill_spread=scenario.skill_spread,
        hard_share=scenario.hard_share,
        hard_error=scenario.hard_error,
        leniency=scenario.leniency,
        runs=scenario.runs,
        seed=seed,
    )
    return path


def _truth(data) -> pd.DataFrame:
    """Return the people's rate per student x k x metric over the whole pool (every generation is graded)."""
    hg = data.human_gen.drop(columns=["k"], errors="ignore").join(data.gens[["student", "k"]], how="inner")
    hg = hg.loc[hg.index.intersection(data.judge_gen.index)]
    long = hg.melt(id_vars=["student", "k"], value_vars=list(calibration.METRICS), var_name="metric")
    truth = long.groupby(["student", "k", "metric"])["value"].mean().rename("truth").reset_index()
    truth["student"] = truth["student"].astype(str)
    return truth


def run_scenario(
    path: Path, designs: Iterable[str], reps: int, n: int, seed: int, check_path: bool = True
) -> pd.DataFrame:
    """Draw `reps` audits per design from one project and calibrate each; return one row per estimate.

    Columns: design, rep, student, k, metric, estimator, estimate, ci_low, ci_high, truth, note.
    """
    out = []
    with open_project(path) as store:
        data = load_audit_data(store)
        truth = _truth(data)
        pool = data.gens.loc[data.judge_gen.index, ["student", "k"]].reset_index()
        pool["verdict"] = (data.judge_gen["full_marks"].to_numpy() >= 1).astype(int)
        pool["soft"] = data.judge_gen["full_marks_soft"].to_numpy()
        pool["uncertainty"] = generation_uncertainty(data).to_numpy()  # what the active design follows
        n_cells = pool.groupby(["student", "k"]).ngroups
        for design in designs:
            d_index = list(DESIGNS).index(design)  # the same audits whichever designs are run
            params = dict(DESIGNS[design])
            size = n if params.get("per_cell") else n * n_cells
            for rep in range(reps):
                draw_seed = seed * 100_003 + 1_000 * d_index + rep
                items = plan_draw(pool, size, seed=draw_seed, **params)
                name = f"{design}-{seed}-{rep}"
                draw_id = audit_store.add_audit_draw(
                    store,
                    name,
                    params["design"],
                    draw_seed,
                    {**params, "size": size, "pool": len(pool)},
                    items[["generation_id", "stratum", "inclusion_prob"]].itertuples(index=False),
                )
                stored = audit_store.audit_items_df(store, draw_id)
                active = {
                    "id": draw_id,
                    "name": name,
                    "design": params["design"],
                    "params": {**params, "size": size},
                }
                snap = dataclasses.replace(
                    data, draw=active, audit_items=stored[["generation_id", "stratum", "inclusion_prob"]]
                )
                rates = calibrate(snap, rogan_gladen=True)  # the opt-in estimator is studied too
                if check_path and rep == 0:
                    _assert_same_as_compute_stats(store, rates)
                rates = rates[rates["estimator"].isin(SHOWN)].merge(truth, on=["student", "k", "metric"])
                out.append(rates.assign(design=design, rep=rep, scenario=str(path.stem), n=n))
    cols = [
        "scenario",
        "design",
        "n",
        "rep",
        "student",
        "k",
        "metric",
        "estimator",
        "estimate",
        "ci_low",
        "ci_high",
        "n_audited",
    ]
    return pd.concat(out, ignore_index=True)[[*cols, "truth", "note"]]


def _assert_same_as_compute_stats(store, rates: pd.DataFrame) -> None:
    """The shortcut (one load, many draws) must equal `compute_stats` on the project file for this draw."""
    full = compute_stats(store, StatsOptions(bootstrap=0, rogan_gladen=True)).pass_rates
    pd.testing.assert_frame_equal(
        full.reset_index(drop=True), rates.reset_index(drop=True), check_dtype=False, check_exact=False
    )


def scored(results: pd.DataFrame) -> pd.DataFrame:
    """Return estimates (estimate, ci_low, ci_high, truth) with err, cover (the interval holds the truth)
    and half (the half-width) added; blank estimates give NaN err and half and cover False."""
    return results.assign(
        err=results["estimate"] - results["truth"],
        cover=(results["ci_low"] <= results["truth"] + 1e-12)
        & (results["truth"] <= results["ci_high"] + 1e-12),
        half=(results["ci_high"] - results["ci_low"]) / 2,
    )


def summarise(results: pd.DataFrame) -> pd.DataFrame:
    """Return per estimator x design x n x metric: audits, blank share, bias, MC s.e., coverage, half-widths.

    n is the audit's size per cell. rel_half_width is the mean half-width over that of human_only on the
    same audits. meets: coverage >= 93% and |bias| < MC s.e. + 0.005 (over the audits where the estimator
    gave an estimate).
    """
    r = scored(results).assign(blank=results["estimate"].isna())
    keys = ["estimator", "design", "n", "metric"]
    shown = r[~r["blank"]]
    g = shown.groupby(keys)
    table = pd.DataFrame(
        {
            "audits": r.groupby(keys).size(),
            "blank": r.groupby(keys)["blank"].mean(),
            "bias": g["err"].mean(),
            "mc_se": g["err"].std(ddof=1) / np.sqrt(g.size()),
            "coverage": g["cover"].mean(),
            "half_width": g["half"].mean(),
        }
    )
    people = table.xs("human_only", level="estimator")["half_width"]
    table["rel_half_width"] = [
        row.half_width / people.get(key[1:], math.nan) for key, row in table.iterrows()
    ]
    table["meets"] = (table["coverage"] >= 0.93) & (table["bias"].abs() < table["mc_se"] + 0.005)
    order = {e: i for i, e in enumerate(SHOWN)}
    table = table.reset_index()
    table["o"] = table["estimator"].map(order)
    designs = {d: i for i, d in enumerate(DESIGNS)}
    table["d"] = table["design"].map(designs)
    table = table.sort_values(["d", "n", "metric", "o"]).drop(columns=["o", "d"])
    return table.reset_index(drop=True)


def active_against_uniform(results: pd.DataFrame, baseline: str = "uniform-per-cell") -> pd.DataFrame:
    """Return PPI++ under the active design beside PPI++ under `baseline` on the same pools, per metric.

    One row per pool x n x metric: the mean number of human labels per cell under each design, coverage and
    mean half-width under each, and `width_ratio` = active half-width / baseline half-width (the active
    design draws the same number of labels as the baseline in expectation).
    """
    r = results[(results["estimator"] == "ppi++") & results["design"].isin(["active", baseline])]
    r = scored(r[r["estimate"].notna()])
    g = r.groupby(["scenario", "n", "metric", "design"])
    wide = pd.DataFrame(
        {"labels": g["n_audited"].mean(), "coverage": g["cover"].mean(), "half_width": g["half"].mean()}
    ).unstack("design")
    out = pd.DataFrame(
        {
            "labels": wide[("labels", "active")],
            "coverage_active": wide[("coverage", "active")],
            "coverage_uniform": wide[("coverage", baseline)],
            "half_width_active": wide[("half_width", "active")],
            "half_width_uniform": wide[("half_width", baseline)],
        }
    )
    out["width_ratio"] = out["half_width_active"] / out["half_width_uniform"]
    return out.reset_index()


def withheld_rows(results: pd.DataFrame) -> pd.DataFrame:
    """Return the estimator x design pairs the product withholds, with the reason it shows."""
    rows = [
        {"design": d, "estimator": e, "reason": why}
        for (d, e), why in calibration.WITHHELD.items()
        if d in set(results["design"])
    ]
    return pd.DataFrame(rows, columns=["design", "estimator", "reason"])
