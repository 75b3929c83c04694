"""Audit draws: draw a known random design over the judged pool and store it (gradeapp.core.audit_draw)."""

from __future__ import annotations

import pandas as pd

from gradeapp.core.audit_draw import (
    ACTIVE_FLOOR,
    DrawSettingError,
    check_draw_settings,
    generation_uncertainty,
    plan_draw,
)
from gradeapp.core.evidence_stats import GROUNDING_WEIGHT
from gradeapp.core.results import StatsOptions
from gradeapp.db import Store, audit_store
from gradeapp.services import evidence
from gradeapp.services.audit_data import load_audit_data


def draw_pool(
    store: Store, *, exclude_common: bool = True, metric: str = "full_marks", with_verdict: bool = True
) -> pd.DataFrame:
    """Return the judged pool: generation_id, student, k and (with_verdict) the judge's majority verdict on metric."""
    if not with_verdict:
        pool = audit_store.judged_generations(store)
        if exclude_common:
            common = audit_store.common_combinations(store)
            if common:
                cids = store.generations_df().set_index("id")["combination_id"]
                pool = pool[~pool["generation_id"].map(cids).isin(common)]
        return pool.assign(verdict=0).reset_index(drop=True)
    data = load_audit_data(store, StatsOptions(exclude_common=exclude_common))
    if data.judge_gen.empty:
        return pd.DataFrame(columns=["generation_id", "student", "k", "verdict"])
    pool = data.gens.loc[data.judge_gen.index, ["student", "k"]].reset_index()
    pool["verdict"] = (
        data.judge_gen[metric].to_numpy() >= (0.5 if metric == "skill_fraction" else 1)
    ).astype(int)
    pool["uncertainty"] = generation_uncertainty(data, metric).to_numpy()
    return pool


def draw_audit(
    store: Store,
    size: int,
    *,
    design: str = "uniform",
    per_cell: bool = False,
    by_verdict: bool = False,
    seed: int = 0,
    name: str | None = None,
    exclude_common: bool = True,
    floor: float = ACTIVE_FLOOR,
    grounding: bool = False,
) -> dict:
    """Draw an audit sample from the judged pool and store it; return a report (name, design, n, strata).

    grounding (active only): the judge's uncertainty is raised where its credited points lack a grounded
    quote (services/evidence.py, grounding_aware_uncertainty).
    """
    check_draw_settings(design, size, by_verdict, floor, per_cell)
    if grounding and design != "active":
        raise DrawSettingError(
            "grounding", "weighing the judge's doubt by its grounding needs the active design"
        )
    pool = draw_pool(store, exclude_common=exclude_common, with_verdict=by_verdict or design == "active")
    if grounding and not pool.empty:
        pool["uncertainty"] = evidence.grounding_aware_uncertainty(store, pool)
    items = plan_draw(
        pool, size, design=design, per_cell=per_cell, by_verdict=by_verdict, seed=seed, floor=floor
    )
    name = name or f"audit-{len(audit_store.audit_draws_df(store)) + 1}"
    params = {"size": size, "per_cell": per_cell, "by_verdict": by_verdict, "exclude_common": exclude_common,
              "pool": len(pool), **(_active_params(floor, grounding) if design == "active" else {})}  # fmt: skip
    draw_id = audit_store.add_audit_draw(
        store,
        name,
        design,
        seed,
        params,
        items[["generation_id", "stratum", "inclusion_prob"]].itertuples(index=False),
    )
    strata = items.groupby("stratum").agg(
        n=("generation_id", "size"), inclusion_prob=("inclusion_prob", "mean")
    )
    return {
        "id": draw_id,
        "name": name,
        "design": design,
        "seed": seed,
        "params": params,
        "n": len(items),
        "strata": strata.reset_index().to_dict("records"),
    }


def _active_params(floor: float, grounding: bool) -> dict:
    """Return what an active draw records beside its size: the floor, the sampling and the uncertainty."""
    uncertainty = "2*sqrt(s(1-s)), s = full_marks soft score"
    if grounding:
        uncertainty += f" + {GROUNDING_WEIGHT} x share of credited points without a grounded quote"
    return {"floor": floor, "sampling": "poisson", "uncertainty": uncertainty}
