"""Audit planning: how many more generations to grade per cell for a target PPI++ interval width."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from gradeapp.core.calibration import calibration_inputs
from gradeapp.core.estimators import Design, judge_error_floor, z_value


def plan_audit(
    data, target_half_width: float = 0.05, *, confidence: float = 0.95, metric: str = "full_marks"
) -> pd.DataFrame:
    """Say how many more generations to grade per student x k for a target PPI half-width.

    With the power-tuned lambda, the PPI++ variance over a fully judged pool of M is about
    Var(Y) (1 - rho^2) (1 - n/M) / n for n audited (rho = corr(Y, soft judge score) on the audit, 1 - n/M
    the finite-population correction), and at least the floor PPI++ keeps for a judge that is rarely wrong
    (estimators.judge_error_floor: an audit that shows no error cannot prove the judge's error rate small).
    n_needed solves it for the target half-width (capped at M). Without two audited items, or without
    variation, it plans conservatively with sd = 0.5 and rho = 0.

    Parameters
    ----------
    data : AuditData.
    target_half_width : the half-width wanted per cell.
    confidence : the interval's level.
    metric : the metric planned for.

    Returns
    -------
    pandas.DataFrame : student, k, metric, n_audited, n_judged, rho, sd_human, half_width_now,
    target_half_width, n_needed, extra.
    """
    frame = calibration_inputs(data)
    if frame.empty:
        return pd.DataFrame(columns=PLAN_COLUMNS)
    z = z_value(confidence)
    out = []
    for (student, k), cell in frame.groupby(["student", "k"], sort=True):
        audited = cell[cell["audited"] & cell[f"{metric}_human"].notna()]
        row = _plan_cell(
            audited[f"{metric}_human"].to_numpy(dtype=float),
            audited[f"{metric}_soft"].to_numpy(dtype=float),
            len(cell),
            target_half_width,
            z,
        )
        out.append({"student": str(student), "k": int(k), "metric": metric, **row,
                    "target_half_width": target_half_width})  # fmt: skip
    return pd.DataFrame(out, columns=PLAN_COLUMNS)


PLAN_COLUMNS = [
    "student", "k", "metric", "n_audited", "n_judged", "rho", "sd_human", "half_width_now",
    "target_half_width", "n_needed", "extra",
]  # fmt: skip


def _plan_cell(y: np.ndarray, soft: np.ndarray, pool: int, target: float, z: float) -> dict:
    """Return one cell's plan from its audited values, the judge's soft scores, the pool's size, the target
    half-width and the interval's quantile z."""
    n = len(y)
    sd = float(np.std(y, ddof=1)) if n >= 2 else math.nan
    rho = float(np.corrcoef(y, soft)[0, 1]) if n >= 2 and np.std(y) > 0 and np.std(soft) > 0 else math.nan
    sd_plan = sd if n >= 2 and sd > 0 else 0.5
    rho_plan = 0.0 if math.isnan(rho) else max(rho, 0.0)  # lambda is clipped to [0, 1]: no gain below 0
    # Finite population: Var(theta) = V (1 - n/M) / n with V = Var(Y)(1 - rho^2) -> n = V / (h^2 + V/M).
    variance = sd_plan**2 * (1 - rho_plan**2)
    need = math.ceil(variance / ((target / z) ** 2 + variance / pool)) if variance > 0 else 2
    need = max(2, min(need, pool))
    low, high = need, pool  # the floor falls as n grows: the least n whose floor fits the target
    while low < high:
        mid = (low + high) // 2
        low, high = (low, mid) if z * math.sqrt(_floor(mid, pool)) <= target else (mid + 1, high)
    need = low
    now = z * math.sqrt(max(variance * max(0.0, 1 - n / pool) / n, _floor(n, pool))) if n else math.nan
    return {"n_audited": n, "n_judged": pool, "rho": rho, "sd_human": sd, "half_width_now": now,
            "n_needed": need, "extra": max(0, need - n)}  # fmt: skip


def _floor(n: int, pool: int) -> float:
    """Return PPI++'s least variance for n audited of a cell of `pool` (a simple random sample)."""
    return judge_error_floor(Design(np.full(n, n / pool), np.zeros(n, dtype=int)))
