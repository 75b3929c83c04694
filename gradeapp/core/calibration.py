"""Calibrated pass rates: what people would say over the whole judged pool, with a valid interval.

Estimators (skillmix.md, section 6), each computed per student model x k x metric on generations
(single-round units: the audit samples generations, so these are per-generation rates), valid under any
audit design whose audited items carry their inclusion probability pi and design stratum:

- ``judge_only``: the judge's majority-vote rate over the pool (uncorrected; its interval ignores judge error);
- ``human_only``: the audit alone, the Hajek mean sum(w y)/sum(w) with w = 1/pi (Wilson under equal pi);
- ``ppi++``: prediction-powered inference in inverse-probability-weighted form (Zrnic & Candes 2024) with
  power tuning, soft judge scores over the whole pool;
- ``stratified``: post-stratified on the judge's verdict with 1/pi-weighted post-stratum means (the design's
  strata under a by-verdict design);
- ``rogan_gladen``: (p + q0 - 1)/(q0 + q1 - 1) with 1/pi-weighted sensitivity q1 and specificity q0; under
  equal probabilities the interval of Lee et al. (arXiv:2511.21140), otherwise the delta method.

Variances are design variances of linearised values over the design's strata, with the finite-population
correction where a stratum's sampling fraction is above 5%. bench/bench_coverage.py checks every estimator
under every design (docs/audit.md); WITHHELD blanks the ones that failed there, with the reason.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.special import ndtri, stdtrit  # not scipy.stats: its import alone takes 1-3 s of every command

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
    """Return the two-sided normal quantile for a confidence level (0.95 -> 1.96).

    Parameters
    ----------
    confidence : the interval's level, in (0, 1).

    Returns
    -------
    float : z such that P(|Z| <= z) = confidence.
    """
    return float(ndtri(1 - (1 - confidence) / 2))


def design_quantile(confidence: float, design: Design, extra: int = 0) -> float:
    """Return the two-sided Student t quantile with n - H - extra degrees of freedom (H = design strata).

    The design-based intervals use t rather than the normal quantile, as survey practice does, so that
    a small audit's estimated variance (and a tuned lambda: extra = 1) widens the interval a little.
    """
    df = len(design.prob) - len(np.unique(design.stratum)) - extra
    if df < 1:
        return z_value(confidence)
    return float(stdtrit(df, 1 - (1 - confidence) / 2))


# -- the estimators on plain arrays ---------------------------------------------------------------
def wilson(successes: float, n: int, confidence: float = 0.95) -> tuple[float, float, float]:
    """Return (rate, low, high) of the Wilson score interval; NaNs when n = 0.

    Parameters
    ----------
    successes : number of passes (may be fractional for an effective sample size).
    n : number of trials.
    confidence : the interval's level.
    """
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
    """Return (mean, low, high) of a normal interval for a (weighted, Hajek) mean of values in [0, 1].

    Parameters
    ----------
    y : the values.
    confidence : the interval's level.
    w : optional weights (an unstratified with-replacement variance; see hajek_mean for a design's).
    """
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
    """A PPI++ estimate: estimate, interval (ci_low, ci_high), lambda and standard error."""

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


def rogan_gladen(
    p: float, n: int, q0: float, m0: int, q1: float, m1: int, confidence: float = 0.95
) -> tuple[float, float, float]:
    """Return (estimate, low, high): Rogan-Gladen correction with the interval of Lee et al. (arXiv:2511.21140).

    NaN when the judge is no better than chance (q0 + q1 <= 1) or m0/m1 = 0.

    Parameters
    ----------
    p, n : the judge's pass rate on n test items.
    q0, m0 : specificity, from m0 items people failed.
    q1, m1 : sensitivity, from m1 items people passed.
    confidence : the interval's level.
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


# -- design-based estimators: any design whose audited items carry an inclusion probability --------
FPC_SHARE = 0.05  # the finite-population correction is applied where the audit is above 5% of a stratum


@dataclass
class Design:
    """The audited items of one cell as the design drew them.

    Parameters
    ----------
    prob : inclusion probability pi_i recorded with each audited item (weights w_i = 1/pi_i).
    stratum : the design stratum recorded with each item (the variance is computed within strata).
    """

    prob: np.ndarray
    stratum: np.ndarray

    @property
    def w(self) -> np.ndarray:
        """Return the inverse-probability weights 1/pi."""
        return 1.0 / self.prob

    @property
    def equal(self) -> bool:
        """Return whether every item has the same inclusion probability."""
        return len(self.prob) == 0 or bool(np.allclose(self.prob, self.prob[0]))

    @property
    def fpc(self) -> bool:
        """Return whether the finite-population correction applies (some stratum sampled above 5%)."""
        return self.fraction > FPC_SHARE

    @property
    def fraction(self) -> float:
        """Return the largest sampling fraction of a stratum (its items' mean inclusion probability)."""
        if len(self.prob) == 0:
            return 0.0
        _, codes, n_h = np.unique(self.stratum, return_inverse=True, return_counts=True)
        return float(np.max(np.bincount(codes, self.prob) / n_h))

    def subset(self, keep: np.ndarray) -> Design:
        """Return the design of the items selected by a boolean mask."""
        return Design(self.prob[keep], self.stratum[keep])


def design_covariance(u: np.ndarray, v: np.ndarray, design: Design) -> float:
    """Return the design covariance of two linearised totals sum(u) and sum(v) over the audited items.

    Stratified with-replacement estimator n_h/(n_h - 1) sum_i (1 - pi_i)(u_i - ubar_h)(v_i - vbar_h) per
    stratum, where the factor 1 - pi_i (the finite-population correction, 1 - f_h when a stratum's items
    share one probability) applies only in strata whose mean pi is above 5%. Strata with a single
    audited item are pooled (collapsed strata). NaN with fewer than two items.

    Parameters
    ----------
    u, v : per-item linearised contributions (same order as the design's items).
    design : the items' inclusion probabilities and strata.

    Returns
    -------
    float : the estimated covariance (a variance when u is v).
    """
    n = len(u)
    if n < 2:
        return math.nan
    _, codes, sizes = np.unique(design.stratum, return_inverse=True, return_counts=True)
    single = sizes[codes] == 1
    if single.any():  # collapse strata with one item into one stratum
        codes = np.where(single, -1, codes)
        _, codes, sizes = np.unique(codes, return_inverse=True, return_counts=True)
        if (sizes == 1).any():
            return math.nan
    n_h = sizes.astype(float)
    du = u - (np.bincount(codes, u) / n_h)[codes]
    dv = v - (np.bincount(codes, v) / n_h)[codes]
    share = np.bincount(codes, design.prob) / n_h
    # each item's own factor 1 - pi_i: the stratum's 1 - f_h when its items share one probability, and the
    # Poisson-sampling factor when they do not (the active design)
    fpc = np.where(share[codes] > FPC_SHARE, 1.0 - np.minimum(design.prob, 1.0), 1.0)
    per = np.bincount(codes, fpc * du * dv) * n_h / (n_h - 1)
    return float(per.sum())


def small_sample_floor(y: np.ndarray, design: Design) -> float:
    """Return the variance the audited values of each design stratum carry at the very least.

    A stratum whose audited values are all equal estimates a zero variance, and a stratum with few passes
    (or fails) underestimates its variance together with the estimate, which makes Wald intervals too
    short on the side of the truth (oversampling the judge's rarer verdict makes such strata common). As
    the Agresti-Coull interval does for a rate, each stratum's variance is taken with two pseudo-values
    added, a 0 and a 1: per stratum h this returns s_h^2 (1 - f_h) max(0, var_h' - var_h)/n_h, var_h' the
    sample variance of its values with the two pseudo-values, var_h without (0 for one item), s_h its
    share of sum(w) and (1 - f_h) as in design_covariance. It vanishes as n_h grows.

    Parameters
    ----------
    y : the audited values in [0, 1].
    design : their inclusion probabilities and strata.
    """
    if len(y) == 0:
        return 0.0
    _, codes, n_h = np.unique(design.stratum, return_inverse=True, return_counts=True)
    x = np.bincount(codes, y)
    mean = x / n_h
    ss = np.bincount(codes, (y - mean[codes]) ** 2)
    m2 = (x + 1) / (n_h + 2)  # the mean with the pseudo-values 0 and 1
    ss2 = ss + n_h * (mean - m2) ** 2 + m2**2 + (1 - m2) ** 2
    var_h = np.where(n_h > 1, ss / np.maximum(n_h - 1, 1), 0.0)
    extra = np.maximum(ss2 / (n_h + 1) - var_h, 0.0)
    share = np.bincount(codes, design.w) / np.sum(design.w)
    prob = np.bincount(codes, design.prob) / n_h
    fpc = np.where(prob > FPC_SHARE, 1.0 - np.minimum(prob, 1.0), 1.0)
    return float(np.sum(share**2 * fpc * extra / n_h))


def hajek_mean(y: np.ndarray, design: Design) -> tuple[float, float]:
    """Return (estimate, variance) of the Hajek mean sum(w y)/sum(w) under the design (NaN if empty).

    Parameters
    ----------
    y : the audited values (no NaN).
    design : their inclusion probabilities and strata.
    """
    if len(y) == 0:
        return (math.nan, math.nan)
    w = design.w
    est = float(np.sum(w * y) / np.sum(w))
    u = w * (y - est) / np.sum(w)
    return (est, design_covariance(u, u, design) + small_sample_floor(y, design))


def ppi_ipw(
    y: np.ndarray,
    yhat: np.ndarray,
    yhat_pool: np.ndarray,
    design: Design,
    confidence: float = 0.95,
    lam: float | None = None,
) -> PPIResult:
    """Return PPI++ in inverse-probability-weighted form over a fully judged pool.

    theta = mean_pool(lam * yhat) + sum_a w (y - lam * yhat) / sum_a w (Zrnic & Candes 2024, "Active
    statistical inference", with Hajek weights w = 1/pi): the judge's scores are known for every item of
    the pool, so only the audit's residual y - lam * yhat varies with the draw, and its variance is the
    design variance of the Hajek mean (stratified, finite-population corrected above 5%). lam minimises
    that variance (power tuning) and is clipped to [0, 1]; lam = 0 is the audit alone.

    Parameters
    ----------
    y, yhat : the people's and the judge's (soft) values on the audited items.
    yhat_pool : the judge's (soft) values on every item of the pool, audited ones included.
    design : the audited items' inclusion probabilities and strata.
    confidence : level of the two-sided normal interval.
    lam : a fixed lambda instead of the power-tuned one.

    Returns
    -------
    PPIResult : estimate, interval (not clipped), lambda and standard error.
    """
    n = len(y)
    if n < 2 or len(yhat_pool) == 0:
        return PPIResult(math.nan, math.nan, math.nan, math.nan, math.nan)
    w = design.w
    sw = np.sum(w)
    uy = w * (y - np.sum(w * y) / sw) / sw
    uh = w * (yhat - np.sum(w * yhat) / sw) / sw
    vyy = design_covariance(uy, uy, design)
    vhh = design_covariance(uh, uh, design)
    vyh = design_covariance(uy, uh, design)
    tuned = lam is None
    if lam is None:
        lam = 0.0 if not vhh > 0 else float(np.clip(vyh / vhh, 0.0, 1.0))
    est = float(lam * np.mean(yhat_pool) + np.sum(w * (y - lam * yhat)) / sw)
    se = math.sqrt(max(vyy - 2 * lam * vyh + lam * lam * vhh, 0.0) + small_sample_floor(y, design))
    z = design_quantile(confidence, design, extra=1 if tuned else 0)
    return PPIResult(est, est - z * se, est + z * se, float(lam), se)


def poststratified_mean(
    y: np.ndarray,
    strata_lab: np.ndarray,
    strata_pool: np.ndarray,
    design: Design,
    confidence: float = 0.95,
    binary: bool = True,
) -> tuple[float, float, float]:
    """Return (estimate, low, high) of sum_h W_h ybar_h with design-weighted post-stratum means.

    W_h = the pool share of post-stratum h (the judge's verdict, known for the whole pool); ybar_h = the
    Hajek mean sum(w y)/sum(w) of its audited items, w = 1/pi. The variance is the design variance of the
    linearised values W_h w_i (y_i - ybar_h)/sum_h(w), taken over the design's strata; for 0/1 outcomes a
    post-stratum whose audit is all pass or all fail adds W_h^2 p(1-p)/n_h with p = (x+1)/(n+2), so that it
    still carries uncertainty. NaN when a post-stratum of the pool has fewer than two audited items.

    Parameters
    ----------
    y : the people's values on the audited items.
    strata_lab, strata_pool : post-stratum labels of the audited items and of every item of the pool.
    design : the audited items' inclusion probabilities and design strata.
    """
    levels, counts = np.unique(strata_pool, return_counts=True)
    shares = counts / counts.sum()
    pos = np.searchsorted(levels, strata_lab)
    pos = np.clip(pos, 0, len(levels) - 1)
    if len(y) == 0 or not np.all(levels[pos] == strata_lab):
        return (math.nan, math.nan, math.nan)
    n_h = np.bincount(pos, minlength=len(levels))
    if (n_h < 2).any():
        return (math.nan, math.nan, math.nan)
    w = design.w
    sw_h = np.bincount(pos, w, minlength=len(levels))
    ybar = np.bincount(pos, w * y, minlength=len(levels)) / sw_h
    est = float(np.sum(shares * ybar))
    u = shares[pos] * w * (y - ybar[pos]) / sw_h[pos]
    var = design_covariance(u, u, design) + small_sample_floor(y, design)
    if binary:
        x = np.bincount(pos, y, minlength=len(levels))
        flat = (x == 0) | (x == n_h)
        p = (x + 1) / (n_h + 2)
        fpc = 1 - np.mean(design.prob) if design.fpc else 1.0
        var += float(np.sum(np.where(flat, shares**2 * p * (1 - p) / n_h, 0.0))) * fpc
    half = design_quantile(confidence, design, extra=len(levels) - 1) * math.sqrt(var)
    return (est, max(0.0, est - half), min(1.0, est + half))


def rogan_gladen_weighted(
    y: np.ndarray, yhat: np.ndarray, p: float, design: Design, confidence: float = 0.95
) -> tuple[float, float, float]:
    """Return (estimate, low, high) of Rogan-Gladen with design-weighted sensitivity and specificity.

    q1 = sum w y yhat / sum w y and q0 = sum w (1-y)(1-yhat) / sum w (1-y) (w = 1/pi) carry over to the
    pool under any design; theta = (p + q0 - 1)/(q0 + q1 - 1) with p the judge's pool rate (a census).
    The interval is the delta method: linearised values (-theta u_q1 + (1 - theta) u_q0)/(q0 + q1 - 1)
    and their design variance; clipped to [0, 1]. NaN when the judge is no better than chance.

    Parameters
    ----------
    y, yhat : the people's and the judge's 0/1 verdicts on the audited items.
    p : the judge's pass rate over the pool.
    design : the audited items' inclusion probabilities and strata.
    """
    w = design.w
    t1, t0 = np.sum(w * y), np.sum(w * (1 - y))
    if t1 <= 0 or t0 <= 0:
        return (math.nan, math.nan, math.nan)
    q1 = float(np.sum(w * y * yhat) / t1)
    q0 = float(np.sum(w * (1 - y) * (1 - yhat)) / t0)
    d = q0 + q1 - 1
    if d <= 0:
        return (math.nan, math.nan, math.nan)
    theta = (p + q0 - 1) / d
    u1 = w * y * (yhat - q1) / t1
    u0 = w * (1 - y) * ((1 - yhat) - q0) / t0
    u = (-theta * u1 + (1 - theta) * u0) / d
    se = math.sqrt(max(design_covariance(u, u, design), 0.0) + small_sample_floor(y, design))
    est = min(1.0, max(0.0, theta))
    z = design_quantile(confidence, design, extra=1)
    return (est, min(1.0, max(0.0, theta - z * se)), min(1.0, max(0.0, theta + z * se)))


# -- per cell over a project ----------------------------------------------------------------------
# Estimators the coverage study (bench/bench_coverage.py) showed to miss the target under a design:
# (design key, estimator) or (design key, estimator, metric) -> the reason shown in the note column.
WITHHELD: dict[tuple[str, ...], str] = {
    ("by-verdict", "rogan_gladen"): (
        "withheld under a by-verdict audit: in the coverage study its bias (-0.007 to -0.008) exceeded the "
        "target (for full marks it equals the stratified estimate: use that)"
    ),
    ("active", "rogan_gladen"): (
        "withheld under an active audit: in the coverage study its interval covered 68% (its sensitivity and "
        "specificity come from items chosen for the judge's doubt; use PPI++ or stratified)"
    ),
}


def design_key(draw: dict | None) -> str:
    """Return the name of a draw's design as the coverage study and WITHHELD spell it.

    Parameters
    ----------
    draw : the active draw (design, params) or None.

    Returns
    -------
    str : uniform, uniform-per-cell, stratified, stratified-per-cell, by-verdict, by-verdict-per-cell,
    another design's own name, or "none".
    """
    if not draw:
        return "none"
    params = draw.get("params") or {}
    name = draw["design"]
    if name == "stratified" and params.get("by_verdict"):
        name = "by-verdict"
    if params.get("per_cell") and name in ("uniform", "stratified", "by-verdict"):
        name += "-per-cell"
    return name


@dataclass
class Cell:
    """One student x k x metric: the judge's values over the pool and the audited items."""

    binary: bool
    pool_hard: np.ndarray  # the judge's metric per pool item (NaN = undecided)
    pool_soft: np.ndarray  # the judge's soft score per pool item (NaN = no parsed run)
    y: np.ndarray  # the people's metric on the audited items with a decided value
    yhat: np.ndarray  # the judge's metric on those items
    yhat_soft: np.ndarray
    design: Design
    n_undecided: int  # audited items whose people's metric is undecided (missing)
    post_pool: np.ndarray  # post-stratum of every pool item: 1 judge pass, 0 fail, 2 no verdict
    post_audited: np.ndarray  # post-stratum of the audited items


def _cell(metric: str, pool: pd.DataFrame, audited: pd.DataFrame) -> Cell:
    """Gather one cell's arrays; audited items with an undecided human metric are left out (counted)."""
    decided = audited["y"].notna().to_numpy()
    a = audited[decided]
    stratum = a["stratum"] if "stratum" in a else pd.Series("all", index=a.index)
    return Cell(
        binary=BINARY[metric],
        pool_hard=pool["yhat"].to_numpy(dtype=float),
        pool_soft=pool["yhat_soft"].to_numpy(dtype=float),
        y=a["y"].to_numpy(dtype=float),
        yhat=a["yhat"].to_numpy(dtype=float),
        yhat_soft=a["yhat_soft"].to_numpy(dtype=float),
        design=Design(a["prob"].to_numpy(dtype=float), stratum.astype(str).to_numpy()),
        n_undecided=int((~decided).sum()),
        post_pool=pool["post"].to_numpy(dtype=int),
        post_audited=a["post"].to_numpy(dtype=int),
    )


def _judge_only(c: Cell, confidence: float) -> dict:
    """The judge's rate over the pool's decided items (its interval ignores the judge's errors)."""
    jh = c.pool_hard[~np.isnan(c.pool_hard)]
    j = wilson(jh.sum(), len(jh), confidence) if c.binary else mean_ci(jh, confidence)
    note = "uncorrected: the interval ignores the judge's errors"
    if len(jh) < len(c.pool_hard):
        note += f"; {len(c.pool_hard) - len(jh)} generations without a judge verdict left out"
    return {"estimator": "judge_only", "estimate": j[0], "ci_low": j[1], "ci_high": j[2], "note": note}


def _human_only(c: Cell, confidence: float) -> dict:
    """The audit alone: Wilson (0/1, equal probabilities), else the Hajek mean with its design variance."""
    n = len(c.y)
    if n == 0:
        return {"estimator": "human_only", "estimate": math.nan, "ci_low": math.nan, "ci_high": math.nan,
                "note": "no audited generations"}  # fmt: skip
    if c.design.equal and c.design.prob[0] >= 1:  # a census of the cell: no sampling error is left
        m = float(c.y.mean())
        return {"estimator": "human_only", "estimate": m, "ci_low": m, "ci_high": m,
                "note": "every generation of the cell audited (a census)"}  # fmt: skip
    if c.binary and c.design.equal:
        n_eff = n / (1 - c.design.prob[0]) if c.design.fpc else n
        h = wilson(c.y.mean() * n_eff, n_eff, confidence)
        h = (float(c.y.mean()), h[1], h[2])
    else:
        est, var = hajek_mean(c.y, c.design)
        half = design_quantile(confidence, c.design) * math.sqrt(var) if var == var else math.nan
        h = (est, max(0.0, est - half), min(1.0, est + half))
    return {"estimator": "human_only", "estimate": h[0], "ci_low": h[1], "ci_high": h[2], "note": ""}


def _ppi(c: Cell, confidence: float) -> dict:
    """PPI++ (inverse-probability weighted); a soft score missing everywhere is imputed by the pool mean."""
    known = ~np.isnan(c.pool_soft)
    fill = float(c.pool_soft[known].mean()) if known.any() else 0.0
    r = ppi_ipw(
        c.y, np.where(np.isnan(c.yhat_soft), fill, c.yhat_soft), np.where(known, c.pool_soft, fill),
        c.design, confidence,
    )  # fmt: skip
    ok = not math.isnan(r.estimate)
    return {
        "estimator": "ppi++",
        "estimate": r.estimate,
        "ci_low": max(0.0, r.ci_low) if ok else math.nan,
        "ci_high": min(1.0, r.ci_high) if ok else math.nan,
        "lam": r.lam,
        "note": "" if ok else "needs at least 2 audited generations",
    }


def _stratified(c: Cell, confidence: float) -> dict:
    """Post-stratified on the judge's verdict (undecided verdicts form a stratum of their own)."""
    s = poststratified_mean(c.y, c.post_audited, c.post_pool, c.design, confidence, c.binary)
    note = "" if not math.isnan(s[0]) else "a judge-verdict stratum has fewer than 2 audited items"
    return {"estimator": "stratified", "estimate": s[0], "ci_low": s[1], "ci_high": s[2], "note": note}


def _verdict_level(values: np.ndarray, cut: float) -> np.ndarray:
    """Return 1 (judge pass), 0 (fail) or 2 (no verdict) per item."""
    return np.where(np.isnan(values), 2, values >= cut).astype(int)


def _rogan_gladen(c: Cell, confidence: float) -> dict:
    """Rogan-Gladen: Lee et al.'s interval under equal probabilities, the design-weighted form otherwise."""
    out = {"estimator": "rogan_gladen"}
    if np.isnan(c.pool_hard).any():
        n_miss = int(np.isnan(c.pool_hard).sum())
        return {**out, "estimate": math.nan, "ci_low": math.nan, "ci_high": math.nan,
                "note": f"needs a judge verdict on every generation ({n_miss} have none)"}  # fmt: skip
    p = float(c.pool_hard.mean()) if len(c.pool_hard) else math.nan
    yh = np.nan_to_num(c.yhat)
    youden = _youden(c.y, yh, c.design.w)
    if youden < RG_MIN_YOUDEN:
        return {**out, "estimate": math.nan, "ci_low": math.nan, "ci_high": math.nan,
                "note": f"the judge's sensitivity + specificity - 1 on the audit is {youden:.2f} (below "
                f"{RG_MIN_YOUDEN}): the correction divides by it and is biased"}  # fmt: skip
    if c.design.equal:
        m1, m0 = int((c.y == 1).sum()), int((c.y == 0).sum())
        q1 = float(((c.y == 1) & (yh == 1)).sum() / m1) if m1 else math.nan
        q0 = float(((c.y == 0) & (yh == 0)).sum() / m0) if m0 else math.nan
        scale = 1 / (1 - c.design.prob[0]) if c.design.fpc else 1.0  # m / (1 - f): the gold set's FPC
        g = (
            rogan_gladen(p, len(c.pool_hard), q0, m0 * scale, q1, m1 * scale, confidence)
            if m0 and m1
            else (math.nan,) * 3
        )
    else:
        g = rogan_gladen_weighted(c.y, yh, p, c.design, confidence)
    note = "" if not math.isnan(g[0]) else "needs human passes and fails and a judge better than chance"
    return {**out, "estimate": g[0], "ci_low": g[1], "ci_high": g[2], "note": note}


RG_MIN_YOUDEN = 0.5  # below it the coverage study found Rogan-Gladen biased beyond the target


def _youden(y: np.ndarray, yhat: np.ndarray, w: np.ndarray) -> float:
    """Return the design-weighted sensitivity + specificity - 1 of the judge on the audit (NaN if undefined)."""
    t1, t0 = np.sum(w * y), np.sum(w * (1 - y))
    if t1 <= 0 or t0 <= 0:
        return math.nan
    return float(np.sum(w * y * yhat) / t1 + np.sum(w * (1 - y) * (1 - yhat)) / t0 - 1)


def _withhold(row: dict, key: str) -> dict:
    """Blank an estimator the coverage study found invalid under this design, with the reason."""
    reason = WITHHELD.get((key, row["estimator"], row["metric"])) or WITHHELD.get((key, row["estimator"]))
    if reason is None:
        return row
    return {**row, "estimate": math.nan, "ci_low": math.nan, "ci_high": math.nan, "note": reason}


def _fpc_note(row: dict, c: Cell) -> dict:
    """Say where the interval used the finite-population correction."""
    if not c.design.fpc or row["estimator"] == "judge_only" or math.isnan(row["estimate"]):
        return row
    share = f"finite-population correction: the audit is {100 * c.design.fraction:.0f}% of a stratum"
    return {**row, "note": f"{row['note']}; {share}" if row["note"] else share}


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
    key: str = "none",
) -> list[dict]:
    """Compute every estimator for one cell (threshold: kept for callers; the post-strata come in ``post``).

    pool: yhat, yhat_soft, post; audited: y, yhat, yhat_soft, prob, stratum, post.
    """
    c = _cell(metric, pool, audited)
    base = {
        "student": student,
        "k": int(k),
        "metric": metric,
        "n_audited": len(c.y),
        "n_judged": len(c.pool_hard),
        "judge_rate": float(np.nanmean(c.pool_hard)) if (~np.isnan(c.pool_hard)).any() else math.nan,
        "human_rate": hajek_mean(c.y, c.design)[0],
        "design": design,
        "confidence": confidence,
        "lam": math.nan,
    }
    estimates = [_judge_only(c, confidence), _human_only(c, confidence), _ppi(c, confidence),
                 _stratified(c, confidence)]  # fmt: skip
    if c.binary:
        estimates.append(_rogan_gladen(c, confidence))
    rows = [_fpc_note(_withhold({**base, **e}, key), c) for e in estimates]
    if c.n_undecided:
        extra = f"{c.n_undecided} audited generations undecided on this metric left out (missing at random)"
        rows = [{**r, "note": f"{r['note']}; {extra}" if r["note"] else extra} for r in rows]
    return rows


def calibration_inputs(data) -> pd.DataFrame:
    """Return one row per judged generation of an AuditData snapshot.

    Parameters
    ----------
    data : AuditData.

    Returns
    -------
    pandas.DataFrame : index generation_id; student, k, <metric>_judge, <metric>_soft, prob and stratum
    (the active draw's inclusion probability and design stratum, NaN when not drawn), <metric>_human
    (NaN when undecided or not graded) and audited (drawn and graded).
    """
    jg = data.judge_gen
    if jg is None or jg.empty:
        return pd.DataFrame()
    frame = data.gens.loc[jg.index, ["student", "k"]].copy()
    for m in METRICS:
        frame[f"{m}_judge"] = jg[m]
        frame[f"{m}_soft"] = jg[f"{m}_soft"] if f"{m}_soft" in jg else jg[m]
    items = data.audit_items.set_index("generation_id")
    frame["prob"] = items["inclusion_prob"].reindex(frame.index)
    if "stratum" in items:
        frame["stratum"] = items["stratum"].reindex(frame.index)
    else:
        frame["stratum"] = "all"
    hg = data.human_gen
    for m in METRICS:
        frame[f"{m}_human"] = hg[m].reindex(frame.index) if not hg.empty else np.nan
    graded = frame[[f"{m}_human" for m in METRICS]].notna().any(axis=1)
    frame["audited"] = frame["prob"].notna() & graded
    return frame


def _post_strata(frame: pd.DataFrame, metric: str, key: str, threshold: float) -> pd.Series:
    """Return the stratified estimator's post-stratum per generation: the judge's verdict.

    Under a design stratified by the judge's verdict the post-strata are the design's own strata (the
    judge's full-marks verdict, for every metric), so that the estimator is the design's stratified mean;
    otherwise (equal probabilities within a cell, or any other recorded design) the judge's verdict on the
    metric itself, its cut being full marks for 0/1 metrics and ``threshold`` for the skill fraction.
    """
    if key.startswith("by-verdict"):
        # The draw put an undecided full-marks verdict in the fail stratum (services.audit.draw_pool).
        values, cut = frame["full_marks_judge"].fillna(0.0), 1.0
    else:
        values, cut = frame[f"{metric}_judge"], (1.0 if BINARY[metric] else threshold)
    return pd.Series(_verdict_level(values.to_numpy(dtype=float), cut), index=frame.index)


def calibrate(data, *, confidence: float = 0.95, threshold: float = 0.5, metrics=METRICS) -> pd.DataFrame:
    """Return every estimator per student x k x metric from an AuditData snapshot.

    Parameters
    ----------
    data : AuditData (the active draw's items carry their inclusion probability and stratum).
    confidence : level of every interval.
    threshold : the skill-fraction cut of the stratified estimator's judge strata.
    metrics : the metrics to estimate.

    Returns
    -------
    pandas.DataFrame : RESULT_COLUMNS, one row per student x k x metric x estimator; a blank estimate
    has its reason in ``note``.
    """
    frame = calibration_inputs(data)
    if frame.empty:
        return pd.DataFrame(columns=RESULT_COLUMNS)
    design = data.draw["design"] if data.draw else "none"
    if data.draw and data.draw["params"].get("by_verdict"):
        design += "+verdict"
    key = design_key(data.draw)
    post = {m: _post_strata(frame, m, key, threshold) for m in metrics}
    rows: list[dict] = []
    for (student, k), cell in frame.groupby(["student", "k"], sort=True):
        a = cell[cell["audited"]]
        for m in metrics:
            pool = pd.DataFrame(
                {"yhat": cell[f"{m}_judge"], "yhat_soft": cell[f"{m}_soft"], "post": post[m][cell.index]}
            )
            audited = pd.DataFrame(
                {
                    "y": a[f"{m}_human"],
                    "yhat": a[f"{m}_judge"],
                    "yhat_soft": a[f"{m}_soft"],
                    "prob": a["prob"],
                    "stratum": a["stratum"],
                    "post": post[m][a.index],
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
                    key=key,
                )
            )
    return pd.DataFrame(rows, columns=RESULT_COLUMNS)


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
