"""Krippendorff's nominal alpha: from the package for a raters x units matrix, and from value counts.

alpha_nominal calls the `krippendorff` package on one matrix. The agreement table's alphas (every group
at once) and the judge's self-consistency (millions of items that differ only by their count of passes)
sum the same coincidences over value counts instead (nominal_alpha_from_counts, tested against the
package).
"""

from __future__ import annotations

import itertools
import math
import warnings

import krippendorff
import numpy as np
import pandas as pd

NO_VARIATION = "undefined: no variation"


def alpha_nominal(matrix: np.ndarray) -> tuple[float, str]:
    """Return Krippendorff's nominal alpha of a raters x units matrix (NaN = missing) and a note.

    Parameters
    ----------
    matrix : raters x units, NaN where a rater did not rate a unit.

    Returns
    -------
    (float, str) : alpha (NaN when undefined) and why it is undefined ("" otherwise).
    """
    m = np.asarray(matrix, dtype=float)
    pairable = np.sum(~np.isnan(m), axis=0) >= 2
    m = m[:, pairable]
    if m.size == 0:
        return math.nan, "undefined: no unit rated twice"
    values = np.unique(m[~np.isnan(m)])
    if len(values) < 2:
        return math.nan, NO_VARIATION
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return float(krippendorff.alpha(reliability_data=m, level_of_measurement="nominal")), ""
    except (ValueError, ZeroDivisionError) as exc:
        return math.nan, f"undefined: {exc}"


def nominal_alpha_from_counts(counts: np.ndarray, weights: np.ndarray | None = None) -> float:
    """Return Krippendorff's nominal alpha from a units x values count matrix, each unit weighted.

    The `krippendorff` package's alpha(value_counts=...) builds a values x values matrix per unit; here the
    coincidences are summed once over units weighted by how many units share those counts (a judge's six
    million items have a handful of distinct count rows). Tested against the package.

    Parameters
    ----------
    counts : units x values, how many raters gave each value to each unit.
    weights : how many units each row stands for (default: one each).

    Returns
    -------
    float : alpha (NaN when the expected disagreement is zero).
    """
    counts = np.asarray(counts, dtype=float)
    w = np.ones(len(counts)) if weights is None else np.asarray(weights, dtype=float)
    m = counts.sum(axis=1)
    keep = m >= 2  # a unit rated once is not pairable
    counts, scale = counts[keep], w[keep] / (m[keep] - 1)
    # coincidences[v, k] = sum over units of n_uv (n_uk - [v == k]) / (m_u - 1), weighted
    coincidences = (counts * scale[:, None]).T @ counts - np.diag(scale @ counts)
    n_v = coincidences.sum(axis=1)
    n = n_v.sum()
    observed = n - np.trace(coincidences)
    expected = (n * n - (n_v**2).sum()) / (n - 1)
    return float(1 - observed / expected) if expected > 0 else math.nan


def _matrix(rater, unit, value) -> np.ndarray:
    """Return a raters x units matrix (NaN = not rated) from long ratings, without pivoting."""
    _, rc = np.unique(np.asarray(rater), return_inverse=True)
    _, uc = np.unique(np.asarray(unit), return_inverse=True)
    mat = np.full((rc.max() + 1, uc.max() + 1), np.nan)
    mat[rc, uc] = np.asarray(value, dtype=float)
    return mat


def _alphas(t: pd.DataFrame, rows: pd.DataFrame, keys: list[str], ratings: pd.DataFrame):
    """Return Krippendorff's alpha across all raters and its note for each group of t, every group at once
    from its value counts (_grouped_alphas; the package is the tests' oracle)."""
    extra = [k for k in keys if k not in ("scope", "item")]
    src = rows if "orig" in rows else rows.assign(orig=rows["item"])
    units = src[["generation_id", "orig", "item", *extra]].drop_duplicates()
    merged = ratings.rename(columns={"item": "orig"}).merge(units, on=["generation_id", "orig"])
    alphas = np.full(len(t), np.nan)
    notes = np.full(len(t), "undefined: no unit rated twice", dtype=object)
    if merged.empty:
        return alphas, notes
    merged["unit"] = pd.factorize(pd.MultiIndex.from_frame(merged[["generation_id", "orig"]]))[0]
    merged["rc"] = pd.factorize(merged["rater"])[0]
    group_keys = ["item", *extra]
    position = {key: i for i, key in enumerate(t[group_keys].itertuples(index=False, name=None))}
    group = np.full(len(merged), -1, np.int64)  # each rating's row of t (-1: a group t does not have)
    for key, idx in merged.groupby(group_keys, sort=False, dropna=False).indices.items():
        group[idx] = position.get(key if isinstance(key, tuple) else (key,), -1)
    keep = group >= 0
    rc, unit, value = (merged[c].to_numpy()[keep] for c in ("rc", "unit", "value"))
    for i, (a, note) in _grouped_alphas(group[keep], unit, rc, value.astype(float), len(t)).items():
        alphas[i], notes[i] = a, note
    return alphas, notes


def _grouped_alphas(group, unit, rater, value, n_groups: int) -> dict[int, tuple[float, str]]:
    """Return alpha_nominal of every group's raters x units matrix, all groups at once (arrays of ratings).

    As the matrix would hold them: a rater's last rating of a unit counts, NaN is not rated. Nominal alpha
    depends only on how many ratings of each value every unit has (nominal_alpha_from_counts).
    """
    if not len(group):
        return {}
    group, unit, rater = (np.asarray(x, dtype=np.int64) for x in (group, unit, rater))
    units, raters = int(unit.max()) + 1, int(rater.max()) + 1
    # the last rating of each (group, unit, rater), found on one integer key per rating
    pair_key = group * units + unit
    _, last = np.unique((pair_key * raters + rater)[::-1], return_index=True)
    last = len(group) - 1 - last
    last = last[~np.isnan(value[last])]
    values, vcode = np.unique(value[last], return_inverse=True)
    pairs, pair_index = np.unique(pair_key[last], return_inverse=True)
    counts = np.zeros((len(pairs), max(len(values), 1)))
    np.add.at(counts, (pair_index.ravel(), vcode.ravel()), 1)
    pairable = counts.sum(axis=1) >= 2
    pair_group = pairs // units
    out = {}
    # the pairs come sorted by group: one slice each
    bounds = np.flatnonzero(np.r_[True, pair_group[1:] != pair_group[:-1], True]) if len(pairs) else [0]
    for a, b in itertools.pairwise(bounds):
        c = counts[a:b][pairable[a:b]]
        if not len(c):
            continue  # the default note: no unit rated twice
        g = pair_group[a]
        if (c.sum(axis=0) > 0).sum() < 2:
            out[int(g)] = (math.nan, NO_VARIATION)
        else:
            out[int(g)] = (nominal_alpha_from_counts(c), "")
    return out
