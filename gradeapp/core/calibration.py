"""Calibrated pass rates: what people would say over the whole judged pool, with a valid interval.

Estimators (skillmix.md, section 6), each computed per student model x k x metric on generations
(single-round units: the audit samples generations, so these are per-generation rates):

- ``judge_only``: the judge's majority-vote rate over the pool (uncorrected; its interval ignores judge error);
- ``human_only``: the audit alone; Wilson interval for 0/1 metrics, a normal interval for the skill fraction;
- ``ppi++``: prediction-powered inference with power tuning (Angelopoulos et al., arXiv:2311.01453), soft judge
  scores = mean over the judge's runs; the same numbers as ``ppi_py.ppi_mean_ci`` (tested against it);
- ``stratified``: post-stratified on the judge's verdict, W1*ybar1 + W0*ybar0 with pool shares W;
- ``rogan_gladen``: (p + q0 - 1)/(q0 + q1 - 1) with the interval of Lee et al. (arXiv:2511.21140, their
  Appendix C): Laplace-smoothed p, q0, q1 (p with z^2/2 pseudo-counts, q with +1/+2), a bias shift
  2z^2(-(1-th)q0(1-q0)/m0 + th q1(1-q1)/m1) and a delta-method SE that carries the uncertainty of the
  test set (p, n) and of the gold set (q0 from m0 human fails, q1 from m1 human passes); clipped to [0, 1].
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.special import ndtri  # not scipy.stats: its import alone takes 1-3 s of every command

METRICS = ("full_marks", "all_skills", "skill_fraction")
BINARY = {"full_marks": True, "all_skills": True, "skill_fraction": False}
ESTIMATORS = ("judge_only", "human_only", "ppi++", "stratified", "rogan_gladen")
RESULT_COLUMNS = [
    "student",
    "k",
    "metric",
    "estimator",
    "estimate",
    "ci_low",
    "ci_high",
    "n_audited",
    "n_judged",
    "judge_rate",
    "human_rate",
    "lam",
    "design",
    "confidence",
    "note",
]


def z_value(confidence: float) -> float:
    """Return the two-sided normal quantile for a confidence level (0.95 -> 1.96)."""
    return float(ndtri(1 - (1 - confidence) / 2))


# -- the estimators on plain arrays ---------------------------------------------------------------
def wilson(successes: float, n: int, confidence: float = 0.95) -> tuple[float, float, float]:
    """Return (rate, low, high) of the Wilson score interval; NaNs when n = 0."""
    if n <= 0:
        return (math.nan, math.nan, math.nan)
    z = z_value(confidence)
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return (p, max(0.0, centre - half), min(1.0, centre + half))


def mean_ci(
    y: np.ndarray, confidence: float = 0.95, w: np.ndarray | None = None
) -> tuple[float, float, float]:
    """Return (mean, low, high) of a normal interval for a (weighted, Hajek) mean of values in [0, 1]."""
    y = np.asarray(y, dtype=float)
    n = len(y)
    if n == 0:
        return (math.nan, math.nan, math.nan)
    w = np.ones(n) if w is None else np.asarray(w, dtype=float) / np.mean(w)
    m = float(np.mean(w * y))
    se = float(np.std(w * (y - m), ddof=1) / math.sqrt(n)) if n > 1 else math.nan
    z = z_value(confidence)
    return (m, max(0.0, m - z * se), min(1.0, m + z * se))


@dataclass
class PPIResult:
    estimate: float
    ci_low: float
    ci_high: float
    lam: float
    se: float


def ppi_mean(
    y: np.ndarray,
    yhat: np.ndarray,
    yhat_unlabeled: np.ndarray,
    confidence: float = 0.95,
    lam: float | None = None,
    w: np.ndarray | None = None,
    w_unlabeled: np.ndarray | None = None,
) -> PPIResult:
    """Return the PPI++ mean with its interval (power-tuned lambda clipped to [0, 1] unless given).

    Follows ppi_py's ppi_mean_ci: lambda = Cov(Y, Yhat)_lab / ((1 + n/N) Var(Yhat_all)) with the
    gradients centred at the lambda = 1 estimate (which matters only with weights), and
    SE^2 = Var(lambda Yhat_unlab)/N + Var(Y - lambda Yhat)_lab/n (population variances).
    """
    y = np.asarray(y, dtype=float)
    yhat = np.asarray(yhat, dtype=float)
    yu = np.asarray(yhat_unlabeled, dtype=float)
    n, big_n = len(y), len(yu)
    if n < 2 or big_n < 1:
        return PPIResult(math.nan, math.nan, math.nan, math.nan, math.nan)
    w = np.ones(n) if w is None else np.asarray(w, dtype=float) / np.sum(w) * n
    wu = (
        np.ones(big_n)
        if w_unlabeled is None
        else np.asarray(w_unlabeled, dtype=float) / np.sum(w_unlabeled) * big_n
    )
    if lam is None:
        theta1 = float(np.mean(wu * yu) + np.mean(w * (y - yhat)))
        g = w * (y - theta1)
        gh = w * (yhat - theta1)
        ghu = wu * (yu - theta1)
        cov = np.mean((g - g.mean()) * (gh - gh.mean()))
        var_all = np.var(np.concatenate([gh, ghu]), ddof=1)
        lam = 0.0 if var_all == 0 else float(np.clip(cov / ((1 + n / big_n) * var_all), 0.0, 1.0))
    est = float(np.mean(wu * lam * yu) + np.mean(w * (y - lam * yhat)))
    se = math.sqrt(np.var(wu * lam * yu) / big_n + np.var(w * (y - lam * yhat)) / n)
    z = z_value(confidence)
    return PPIResult(est, est - z * se, est + z * se, float(lam), se)


def stratified_mean(
    y: np.ndarray,
    strata_lab: np.ndarray,
    strata_pool: np.ndarray,
    confidence: float = 0.95,
    binary: bool = True,
) -> tuple[float, float, float]:
    """Return (estimate, low, high) of sum_h W_h ybar_h: W_h = pool share of stratum h, ybar_h its audit mean.

    Variance sum_h W_h^2 s_h^2 / n_h; for 0/1 outcomes s_h^2 uses the (x+1)/(n+2) rate so that a stratum
    whose audit is all pass or all fail still carries uncertainty. NaN when a stratum of the pool has
    fewer than two audited items.
    """
    y = np.asarray(y, dtype=float)
    strata_lab = np.asarray(strata_lab)
    strata_pool = np.asarray(strata_pool)
    levels, counts = np.unique(strata_pool, return_counts=True)
    weights = counts / counts.sum()
    est = var = 0.0
    for h, wh in zip(levels, weights, strict=True):
        yh = y[strata_lab == h]
        if len(yh) < 2:
            return (math.nan, math.nan, math.nan)
        m = float(yh.mean())
        if binary:
            p = (yh.sum() + 1) / (len(yh) + 2)
            s2 = p * (1 - p) * len(yh) / (len(yh) - 1)
        else:
            s2 = float(np.var(yh, ddof=1))
        est += wh * m
        var += wh * wh * s2 / len(yh)
    z = z_value(confidence)
    half = z * math.sqrt(var)
    return (est, max(0.0, est - half), min(1.0, est + half))


def rogan_gladen(
    p: float, n: int, q0: float, m0: int, q1: float, m1: int, confidence: float = 0.95
) -> tuple[float, float, float]:
    """Return (estimate, low, high): Rogan-Gladen correction with the interval of Lee et al. (arXiv:2511.21140).

    p: the judge's pass rate on n test items; q0: specificity from m0 items people failed; q1: sensitivity
    from m1 items people passed. NaN when the judge is no better than chance (q0 + q1 <= 1) or m0/m1 = 0.
    """
    if n <= 0 or m0 <= 0 or m1 <= 0 or q0 + q1 <= 1:
        return (math.nan, math.nan, math.nan)
    est = min(1.0, max(0.0, (p + q0 - 1) / (q0 + q1 - 1)))
    z = z_value(confidence)
    z2 = z * z
    ps = (n * p + z2 / 2) / (n + z2)
    q0s = (m0 * q0 + 1) / (m0 + 2)
    q1s = (m1 * q1 + 1) / (m1 + 2)
    ns, m0s, m1s = n + z2, m0 + 2, m1 + 2
    th = (ps + q0s - 1) / (q0s + q1s - 1)
    shift = 2 * z2 * (-(1 - th) * q0s * (1 - q0s) / m0s + th * q1s * (1 - q1s) / m1s)
    se = math.sqrt(
        ps * (1 - ps) / ns + (1 - th) ** 2 * q0s * (1 - q0s) / m0s + th**2 * q1s * (1 - q1s) / m1s
    ) / (q0s + q1s - 1)
    lo = min(1.0, max(0.0, th + shift - z * se))
    hi = min(1.0, max(0.0, th + shift + z * se))
    return (est, lo, hi)


# -- per cell over a project ----------------------------------------------------------------------
def _cell_rows(
    student: str,
    k: int,
    metric: str,
    pool: pd.DataFrame,
    audited: pd.DataFrame,
    *,
    design: str,
    confidence: float,
    threshold: float,
) -> list[dict]:
    """Compute every estimator for one cell. pool: yhat, yhat_soft; audited: y, yhat, yhat_soft, prob."""
    binary = BINARY[metric]
    n, big_n = len(audited), len(pool)
    jh = pool["yhat"].to_numpy(dtype=float)
    judge_rate = float(jh.mean()) if big_n else math.nan
    y = audited["y"].to_numpy(dtype=float)
    human_rate = float(y.mean()) if n else math.nan
    base = {
        "student": student,
        "k": int(k),
        "metric": metric,
        "n_audited": n,
        "n_judged": big_n,
        "judge_rate": judge_rate,
        "human_rate": human_rate,
        "design": design,
        "confidence": confidence,
        "lam": math.nan,
        "note": "",
    }
    rows = []
    j = wilson(jh.sum(), big_n, confidence) if binary else mean_ci(jh, confidence)
    rows.append(
        {
            **base,
            "estimator": "judge_only",
            "estimate": j[0],
            "ci_low": j[1],
            "ci_high": j[2],
            "note": "uncorrected: the interval ignores the judge's errors",
        }
    )
    probs = audited["prob"].to_numpy(dtype=float)
    equal = n == 0 or np.allclose(probs, probs[0])
    w = None if equal else 1.0 / probs
    h = wilson(y.sum(), n, confidence) if binary and equal else mean_ci(y, confidence, w)
    rows.append(
        {
            **base,
            "estimator": "human_only",
            "estimate": h[0],
            "ci_low": h[1],
            "ci_high": h[2],
            "note": "" if n else "no audited generations",
        }
    )
    # PPI++: the judge-only items are the unlabeled set; with unequal inclusion probabilities the whole
    # pool is, and the audit is weighted by 1/probability (Hajek weights).
    audited_ids = set(audited.index)
    if equal:
        unl = pool.loc[~pool.index.isin(audited_ids), "yhat_soft"].to_numpy(dtype=float)
    else:
        unl = pool["yhat_soft"].to_numpy(dtype=float)
    r = ppi_mean(y, audited["yhat_soft"].to_numpy(dtype=float), unl, confidence, w=w)
    note = "" if n >= 2 and len(unl) else "needs at least 2 audited and 1 judge-only generation"
    rows.append(
        {
            **base,
            "estimator": "ppi++",
            "estimate": r.estimate,
            "ci_low": max(0.0, r.ci_low) if n >= 2 else r.ci_low,
            "ci_high": min(1.0, r.ci_high) if n >= 2 else r.ci_high,
            "lam": r.lam,
            "note": note,
        }
    )
    cut = 1.0 if binary else threshold
    s = (
        stratified_mean(y, audited["yhat"].to_numpy() >= cut, jh >= cut, confidence, binary=binary)
        if n
        else (math.nan,) * 3
    )
    rows.append(
        {
            **base,
            "estimator": "stratified",
            "estimate": s[0],
            "ci_low": s[1],
            "ci_high": s[2],
            "note": "" if not math.isnan(s[0]) else "a judge-verdict stratum has fewer than 2 audited items",
        }
    )
    if binary:
        yh_a = audited["yhat"].to_numpy(dtype=float)
        m1, m0 = int((y == 1).sum()), int((y == 0).sum())
        q1 = float(((y == 1) & (yh_a == 1)).sum() / m1) if m1 else math.nan
        q0 = float(((y == 0) & (yh_a == 0)).sum() / m0) if m0 else math.nan
        g = rogan_gladen(judge_rate, big_n, q0, m0, q1, m1, confidence) if m0 and m1 else (math.nan,) * 3
        note = "" if not math.isnan(g[0]) else "needs human passes and fails and a judge better than chance"
        rows.append(
            {
                **base,
                "estimator": "rogan_gladen",
                "estimate": g[0],
                "ci_low": g[1],
                "ci_high": g[2],
                "note": note,
            }
        )
    return rows


def calibration_inputs(data) -> pd.DataFrame:
    """Return one row per judged generation: student, k, judge hard and soft metrics, audit flag, human metrics."""
    jg = data.judge_gen
    if jg is None or jg.empty:
        return pd.DataFrame()
    frame = data.gens.loc[jg.index, ["student", "k"]].copy()
    for m in METRICS:
        frame[f"{m}_judge"] = jg[m]
        frame[f"{m}_soft"] = jg[f"{m}_soft"] if f"{m}_soft" in jg else jg[m]
    items = data.audit_items.set_index("generation_id")
    frame["prob"] = items["inclusion_prob"].reindex(frame.index)
    hg = data.human_gen
    for m in METRICS:
        frame[f"{m}_human"] = hg[m].reindex(frame.index) if not hg.empty else np.nan
    frame["audited"] = frame["prob"].notna() & frame["full_marks_human"].notna()
    return frame


def calibrate(data, *, confidence: float = 0.95, threshold: float = 0.5, metrics=METRICS) -> pd.DataFrame:
    """Return every estimator per student x k x metric (RESULT_COLUMNS) from an AuditData snapshot."""
    frame = calibration_inputs(data)
    if frame.empty:
        return pd.DataFrame(columns=RESULT_COLUMNS)
    design = data.draw["design"] if data.draw else "none"
    if data.draw and data.draw["params"].get("by_verdict"):
        design += "+verdict"
    rows: list[dict] = []
    for (student, k), cell in frame.groupby(["student", "k"], sort=True):
        for m in metrics:
            pool = pd.DataFrame({"yhat": cell[f"{m}_judge"], "yhat_soft": cell[f"{m}_soft"]})
            a = cell[cell["audited"]]
            audited = pd.DataFrame(
                {
                    "y": a[f"{m}_human"],
                    "yhat": a[f"{m}_judge"],
                    "yhat_soft": a[f"{m}_soft"],
                    "prob": a["prob"],
                }
            )
            rows.extend(
                _cell_rows(
                    str(student),
                    int(k),
                    m,
                    pool,
                    audited,
                    design=design,
                    confidence=confidence,
                    threshold=threshold,
                )
            )
    return pd.DataFrame(rows, columns=RESULT_COLUMNS)


def plan_audit(
    data, target_half_width: float = 0.05, *, confidence: float = 0.95, metric: str = "full_marks"
) -> pd.DataFrame:
    """Say how many more generations to grade per student x k for a target PPI half-width.

    With the power-tuned lambda, the PPI++ variance is about Var(Y) (1 - rho^2 (1 - n/M)) / n for n audited
    out of a pool of M (rho = corr(Y, soft judge score) on the audit; the n/M term is the judge-only
    share shrinking as the audit grows). n_needed solves it for the target half-width (capped at M).
    Without two audited items, or without variation, it plans conservatively with sd = 0.5 and rho = 0.
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
        var = sd_plan**2
        denom = (target_half_width / z) ** 2 - var * rho_plan**2 / big_m
        need = big_m if denom <= 0 else math.ceil(var * (1 - rho_plan**2) / denom)
        need = max(2, min(need, big_m))
        now = z * math.sqrt(var * (1 - rho_plan**2 * (1 - n / big_m)) / n) if n else math.nan
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
