"""Textbook estimators the tests compare the design-based ones with (i.i.d. PPI++, simple stratified mean)."""

from __future__ import annotations

import math

import numpy as np

from gradeapp.core.estimators import PPIResult, z_value


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

    Follows ppi_py's ppi_mean_ci (an i.i.d. labeled sample and an i.i.d. unlabeled one): lambda =
    Cov(Y, Yhat)_lab / ((1 + n/N) Var(Yhat_all)) with the gradients centred at the lambda = 1 estimate
    (which matters only with weights), and SE^2 = Var(lambda Yhat_unlab)/N + Var(Y - lambda Yhat)_lab/n
    (population variances). The product's calibration uses ppi_ipw, the design-based form.

    Parameters
    ----------
    y, yhat : the people's and the judge's values on the labeled items.
    yhat_unlabeled : the judge's values on the unlabeled items.
    confidence : the interval's level.
    lam : a fixed lambda instead of the power-tuned one.
    w, w_unlabeled : optional weights of the labeled and unlabeled items (normalised to mean 1).

    Returns
    -------
    PPIResult : estimate, interval, lambda and standard error (NaN with fewer than 2 labeled items).
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
    fewer than two audited items. For a simple random audit only; poststratified_mean serves any design.

    Parameters
    ----------
    y : the people's values on the audited items.
    strata_lab, strata_pool : stratum labels of the audited items and of every pool item.
    confidence : the interval's level.
    binary : whether y is 0/1.
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
