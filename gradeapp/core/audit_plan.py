"""Audit planning: how many more generations to grade per cell for a target PPI++ interval width."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from gradeapp.core.calibration import calibration_inputs
from gradeapp.core.estimators import z_value


def plan_audit(
    data, target_half_width: float = 0.05, *, confidence: float = 0.95, metric: str = "full_marks"
) -> pd.DataFrame:
    """Say how many more generations to grade per student x k for a target PPI half-width.

    With the power-tuned lambda, the PPI++ variance over a fully judged pool of M is about
    Var(Y) (1 - rho^2) (1 - n/M) / n for n audited (rho = corr(Y, soft judge score) on the audit, 1 - n/M
    the finite-population correction). n_needed solves it for the target half-width (capped at M).
    Without two audited items, or without variation, it plans conservatively with sd = 0.5 and rho = 0.

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
    cols = [
        "student",
        "k",
        "metric",
        "n_audited",
        "n_judged",
        "rho",
        "sd_human",
        "half_width_now",
        "target_half_width",
        "n_needed",
        "extra",
    ]
    if frame.empty:
        return pd.DataFrame(columns=cols)
    z = z_value(confidence)
    out = []
    for (student, k), cell in frame.groupby(["student", "k"], sort=True):
        a = cell[cell["audited"]]
        y = a[f"{metric}_human"].to_numpy(dtype=float)
        yh = a[f"{metric}_soft"].to_numpy(dtype=float)
        n = len(y)
        sd = float(np.std(y, ddof=1)) if n >= 2 else math.nan
        rho = float(np.corrcoef(y, yh)[0, 1]) if n >= 2 and np.std(y) > 0 and np.std(yh) > 0 else math.nan
        sd_plan = sd if n >= 2 and sd > 0 else 0.5
        rho_plan = 0.0 if math.isnan(rho) else rho
        big_m = len(cell)
        # Finite population: Var(theta) = V (1 - n/M) / n with V = Var(Y)(1 - rho^2) -> n = V / (h^2 + V/M).
        v = sd_plan**2 * (1 - rho_plan**2)
        h2 = (target_half_width / z) ** 2
        need = math.ceil(v / (h2 + v / big_m)) if v > 0 else 2
        need = max(2, min(need, big_m))
        now = z * math.sqrt(v * max(0.0, 1 - n / big_m) / n) if n else math.nan
        out.append(
            {
                "student": str(student),
                "k": int(k),
                "metric": metric,
                "n_audited": n,
                "n_judged": len(cell),
                "rho": rho,
                "sd_human": sd,
                "half_width_now": now,
                "target_half_width": target_half_width,
                "n_needed": need,
                "extra": max(0, need - n),
            }
        )
    return pd.DataFrame(out, columns=cols)
