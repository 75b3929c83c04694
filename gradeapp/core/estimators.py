"""Estimators of a rate on plain arrays: Wilson, the design-based means, PPI++ and Rogan-Gladen.

Each takes the audited values (and the judge's) with the audit's design (inclusion probabilities and
strata) and returns an estimate with its interval; gradeapp.core.calibration applies them per cell.
Variances are design variances of linearised values over the design's strata, with the finite-population
correction where a stratum's sampling fraction is above 5%.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.special import ndtri, stdtrit  # not scipy.stats: its import alone takes 1-3 s of every command


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


def wilson(successes, n, confidence: float = 0.95):
    """Return (rate, low, high) of the Wilson score interval; NaN where n = 0.

    The one Wilson interval of the package: scalars in, floats out; arrays in, arrays out.

    Parameters
    ----------
    successes : number of passes (may be fractional for an effective sample size).
    n : number of trials.
    confidence : the interval's level.
    """
    x = np.asarray(successes, dtype=float)
    trials = np.asarray(n, dtype=float)
    z = z_value(confidence)
    with np.errstate(divide="ignore", invalid="ignore"):
        m = np.where(trials > 0, trials, np.nan)
        rate = x / m
        denom = 1 + z * z / m
        centre = (rate + z * z / (2 * m)) / denom
        half = z * np.sqrt(np.maximum(rate * (1 - rate), 0.0) / m + z * z / (4 * m * m)) / denom
    out = (rate, np.clip(centre - half, 0.0, 1.0), np.clip(centre + half, 0.0, 1.0))
    if x.ndim == 0 and trials.ndim == 0:
        return tuple(float(v) for v in out)
    return out


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


PSEUDO_VALUES = 2  # pseudo-values of each kind (a 0 and a 1) the floor adds: Agresti-Coull's z^2/2 at 95%


def small_sample_floor(y: np.ndarray, design: Design) -> float:
    """Return the variance the audited values of each design stratum carry at the very least.

    A stratum whose audited values are all equal estimates a zero variance, and a stratum with few passes
    (or fails) underestimates its variance together with the estimate, which makes Wald intervals too
    short on the side of the truth (oversampling the judge's rarer verdict makes such strata common). As
    the Agresti-Coull interval does for a rate (z^2/2 of each outcome, about 2 at 95%), each stratum's
    variance is taken with PSEUDO_VALUES pseudo-values 0 and as many 1 added: per stratum h this returns
    s_h^2 (1 - f_h) max(0, var_h' - var_h)/n_h, var_h' the sample variance of its values with the
    pseudo-values, var_h without (0 for one item), s_h its share of sum(w) and (1 - f_h) as in
    design_covariance. It vanishes as n_h grows. With one pseudo-value of each kind PPI++ covered 92.2-93%
    for audits of 20-40 a cell in the coverage study; with two it meets 93% (docs/audit.md).

    Parameters
    ----------
    y : the audited values in [0, 1].
    design : their inclusion probabilities and strata.
    """
    if len(y) == 0:
        return 0.0
    _, codes, n_h = np.unique(design.stratum, return_inverse=True, return_counts=True)
    pseudo = PSEUDO_VALUES
    x = np.bincount(codes, y)
    mean = x / n_h
    ss = np.bincount(codes, (y - mean[codes]) ** 2)
    mean_with = (x + pseudo) / (n_h + 2 * pseudo)  # the mean with the pseudo-values
    ss_with = ss + n_h * (mean - mean_with) ** 2 + pseudo * (mean_with**2 + (1 - mean_with) ** 2)
    var_h = np.where(n_h > 1, ss / np.maximum(n_h - 1, 1), 0.0)
    extra = np.maximum(ss_with / (n_h + 2 * pseudo - 1) - var_h, 0.0)
    share = np.bincount(codes, design.w) / np.sum(design.w)
    prob = np.bincount(codes, design.prob) / n_h
    fpc = np.where(prob > FPC_SHARE, 1.0 - np.minimum(prob, 1.0), 1.0)
    return float(np.sum(share**2 * fpc * extra / n_h))


PSEUDO_ERRORS = 1  # pseudo-errors of each sign the PPI++ residual floor adds (Laplace's rule of succession)


def judge_error_floor(design: Design) -> float:
    """Return the least variance PPI++ gives the Hajek mean of its residual y - lam * yhat.

    Where the judge is rarely wrong, the residual is 0 on almost every audited item and a small audit often
    holds none of its errors: its estimated variance is then near 0 although the judge's error rate, which
    the residual's mean estimates, is known only to within what a handful of labels can tell (with no error
    in 20 labels it may still be 14%). A deterministic judge (one run, or runs at temperature 0) made PPI++
    cover 88-90% at 20 labels a cell and 91-93% at 40. As the plus-two rule does for a rate, the residual
    is taken as a rate of errors with PSEUDO_ERRORS pseudo-errors of each sign added at the audit's mean
    weight: its variance is at least p (1 - p)/n with p = PSEUDO_ERRORS/(n + 2 PSEUDO_ERRORS) for n audited
    items, times 1 - n/sum(w) where the finite-population correction applies. This is a floor, not an
    addition: an audit that shows the judge's errors has a residual variance above it, and it falls as 1/n^2
    (docs/audit.md). Placed at the heaviest items instead (Kish's effective size), it took half of the
    active design's gain over uniform on the split-runs pool while that design already covered 98-100%.

    Parameters
    ----------
    design : the audited items' inclusion probabilities and strata.
    """
    if len(design.prob) == 0:
        return 0.0
    w = design.w
    fpc = max(0.0, 1.0 - len(w) / float(np.sum(w))) if design.fpc else 1.0
    return error_rate_floor(len(w), fpc)


def error_rate_floor(n: int, fpc: float = 1.0) -> float:
    """Return judge_error_floor's variance for an audit of n (> 0) items and correction factor fpc."""
    p = PSEUDO_ERRORS / (n + 2 * PSEUDO_ERRORS)
    return p * (1 - p) / n * fpc


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
    design variance of the Hajek mean (stratified, finite-population corrected above 5%), with the
    small-sample floor of y and at least judge_error_floor. lam minimises that variance (power tuning)
    and is clipped to [0, 1]; lam = 0 is the audit alone.

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
    var = max(vyy - 2 * lam * vyh + lam * lam * vhh, 0.0) + small_sample_floor(y, design)
    se = math.sqrt(max(var, judge_error_floor(design)))
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
