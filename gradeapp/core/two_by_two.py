"""Statistics of 2x2 counts (arrays in, arrays out): kappa, AC1, PABAK, conditional rates, McNemar.

a = both pass, b = human pass & judge fail, c = human fail & judge pass, d = both fail (skillmix.md,
section 5). Also Cohen's kappa of two aligned label sequences (adjudication, annotator quality).
"""

from __future__ import annotations

import math

import numpy as np
from scipy.special import bdtr  # not scipy.stats: its import alone takes 1-3 s of every command

from gradeapp.errors import GradeappError

# The resampling weights are one float64 matrix (units x resamples): past this size a bootstrap is
# refused before it starts, rather than growing until the kernel stops the process.
BOOTSTRAP_BYTES_LIMIT = 2 * 1024**3


def _div(num, den):
    num = np.asarray(num, dtype=float)
    den = np.asarray(den, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1), np.nan)


def two_by_two(a, b, c, d) -> dict[str, np.ndarray]:
    """Return n, rates, agreement, Cohen's kappa, Gwet's AC1, PABAK, bias and the four conditional rates.

    Parameters
    ----------
    a, b, c, d : counts (arrays or scalars): both pass, human pass & judge fail, human fail & judge
        pass, both fail.

    Returns
    -------
    dict : n, p_human, p_judge, bias, agreement, kappa, ac1, pabak, sensitivity, specificity, precision,
    npv (arrays; NaN where undefined).
    """
    a, b, c, d = (np.asarray(x, dtype=float) for x in (a, b, c, d))
    n = a + b + c + d
    po = _div(a + d, n)
    ph = _div(a + b, n)
    pj = _div(a + c, n)
    pe_k = ph * pj + (1 - ph) * (1 - pj)
    pi = (ph + pj) / 2
    pe_g = 2 * pi * (1 - pi)
    return {
        "n": n,
        "p_human": ph,
        "p_judge": pj,
        "bias": pj - ph,
        "agreement": po,
        "kappa": _div(po - pe_k, 1 - pe_k),
        "ac1": _div(po - pe_g, 1 - pe_g),
        "pabak": 2 * po - 1,
        "sensitivity": _div(a, a + b),
        "specificity": _div(d, c + d),
        "precision": _div(a, a + c),
        "npv": _div(d, b + d),
    }


def nan_quantiles(x: np.ndarray, qs: tuple[float, ...]) -> list[np.ndarray]:
    """Return the linear-interpolated quantiles qs (0..1) of each column of x, ignoring NaN (vectorised).

    Parameters
    ----------
    x : a resamples x groups array.
    qs : the quantiles wanted.

    Returns
    -------
    list of arrays : one array (per group) per quantile; NaN for an all-NaN column.
    """
    srt = np.sort(x, axis=0)  # NaN sorts last
    count = np.sum(~np.isnan(x), axis=0)
    out = []
    for q in qs:
        pos = q * np.maximum(count - 1, 0)
        lo = np.floor(pos).astype(int)
        hi = np.minimum(lo + 1, np.maximum(count - 1, 0))
        frac = pos - lo
        vlo = np.take_along_axis(srt, lo[None, :], axis=0)[0]
        vhi = np.take_along_axis(srt, hi[None, :], axis=0)[0]
        out.append(np.where(count > 0, vlo + frac * (vhi - vlo), np.nan))
    return out


def bootstrap_weights(n_units: int, resamples: int, seed: int) -> np.ndarray:
    """Return seeded multinomial resampling weights of the units (units x resamples).

    The one bootstrap of the package: every interval over resampled generations (the agreement tables, the
    judges compared) draws its resamples here, so the same seed gives the same interval everywhere.
    """
    needed = n_units * resamples * 8
    if needed > BOOTSTRAP_BYTES_LIMIT:
        raise GradeappError(
            f"a bootstrap of {resamples:,} resamples over {n_units:,} generations needs "
            f"{needed / 1024**3:.1f} GB (at most {BOOTSTRAP_BYTES_LIMIT / 1024**3:.0f} GB): "
            "ask for fewer resamples (--bootstrap)"
        )
    rng = np.random.default_rng(seed)
    weights = rng.multinomial(n_units, np.full(n_units, 1.0 / n_units), size=resamples)
    # units x resamples, contiguous: the sparse products read it as is instead of copying a transpose
    return np.ascontiguousarray(weights.T, dtype=np.float64)


def percentile_levels(confidence: float) -> tuple[float, float]:
    """Return the lower and upper quantile levels of a two-sided percentile interval."""
    return ((1 - confidence) / 2, (1 + confidence) / 2)


def mcnemar_exact(b, c) -> np.ndarray:
    """Return the two-sided exact McNemar p-value (binomial test of b against b + c at 1/2).

    Parameters
    ----------
    b, c : the discordant counts (arrays or scalars); 1.0 where b + c = 0.
    """
    b = np.asarray(b, dtype=float)
    c = np.asarray(c, dtype=float)
    m = b + c
    p = 2 * bdtr(np.minimum(b, c).astype(np.int64), m.astype(np.int64), 0.5)
    return np.where(m > 0, np.minimum(1.0, p), 1.0)


def cohen_kappa(a: np.typing.ArrayLike, b: np.typing.ArrayLike) -> float | None:
    """Return Cohen's kappa of two 0/1 label sequences; None when undefined (chance agreement is 1).

    Parameters
    ----------
    a, b : two aligned sequences of 0/1 labels.

    Returns
    -------
    float or None : kappa, or None for empty input or chance agreement 1.
    """
    x, y = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if len(x) == 0:
        return None
    kappa = float(
        two_by_two(
            np.sum((x == 1) & (y == 1)),
            np.sum((x == 1) & (y == 0)),
            np.sum((x == 0) & (y == 1)),
            np.sum((x == 0) & (y == 0)),
        )["kappa"]
    )
    return None if math.isnan(kappa) else kappa


def kappa_row(a: np.typing.ArrayLike, b: np.typing.ArrayLike) -> dict[str, float | int | None]:
    """Return n, raw agreement and Cohen's kappa of two aligned 0/1 sequences.

    Parameters
    ----------
    a, b : two aligned sequences of 0/1 labels.

    Returns
    -------
    dict : n, agreement (None when n = 0), kappa (None when undefined).
    """
    x, y = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    n = len(x)
    return {"n": n, "agreement": float(np.mean(x == y)) if n else None, "kappa": cohen_kappa(x, y)}
