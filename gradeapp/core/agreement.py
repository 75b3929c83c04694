"""Agreement between the judge and people, between people, and of the judge with itself (vectorised).

Every table is computed from 2x2 counts per group (a = both pass, b = human pass & judge fail,
c = human fail & judge pass, d = both fail), grouped with pandas and turned into statistics with
numpy; bootstrap intervals resample generations with seeded multinomial weights and one sparse
matrix product per count, so no Python loop runs over rows. Krippendorff's alpha comes from the
`krippendorff` package (nominal), one call per group; the judge's self-consistency, over millions of
items that differ only by their count of passes, sums the same coincidences over a histogram instead
(nominal_alpha_from_counts, tested against the package).
"""

from __future__ import annotations

import itertools
import math
import warnings

import krippendorff
import numpy as np
import pandas as pd
from scipy import sparse
from scipy.special import bdtr, ndtri  # not scipy.stats: its import alone takes 1-3 s of every command

from gradeapp.core.metrics import aggregate
from gradeapp.core.rubric import SENTENCE_LIMIT, SKILL_PREFIX

SMALL_N = 30
COMPOSITES = ("full_marks", "all_skills")
NO_VARIATION = "undefined: no variation"


# -- statistics of 2x2 counts (arrays in, arrays out) ---------------------------------------------
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


def wilson_arrays(x, n, confidence: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Return the Wilson interval (low, high) for arrays of successes and trials (NaN where n = 0).

    Parameters
    ----------
    x, n : successes and trials.
    confidence : the interval's level.
    """
    x = np.asarray(x, dtype=float)
    n = np.asarray(n, dtype=float)
    z = ndtri(1 - (1 - confidence) / 2)
    p = _div(x, n)
    nn = np.where(n > 0, n, np.nan)
    denom = 1 + z * z / nn
    centre = (p + z * z / (2 * nn)) / denom
    half = z * np.sqrt(p * (1 - p) / nn + z * z / (4 * nn * nn)) / denom
    return np.clip(centre - half, 0, 1), np.clip(centre + half, 0, 1)


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


# -- pairs of judge and human points --------------------------------------------------------------
def judge_human_pairs(data, threshold: float = 0.5) -> pd.DataFrame:
    """Return one row per generation x item people rated, with the judge's point (NaN = missing).

    Parameters
    ----------
    data : AuditData.
    threshold : the skill-fraction cut of the ``skill_fraction>=t`` composite.

    Returns
    -------
    pandas.DataFrame : generation_id, scope (criterion | composite), item, h, j (NaN where the judge has
    no parsed point or its composite is undecided), student, k, topic, category.
    """
    gens = data.gens
    parts = []
    # Per criterion: what the judge and people themselves said (before the program's sentence count and the
    # naming penalty, which would make both sides agree by construction); composites: after the rules.
    jp, hp = data.judge_own_points, data.human_own_consensus
    if not jp.empty and not hp.empty:
        crit = jp[["generation_id", "criterion", "value"]].merge(
            hp[["generation_id", "criterion", "value"]],
            on=["generation_id", "criterion"],
            suffixes=("_j", "_h"),
        )
        crit = crit.dropna(subset=["value_h"])  # an unparsed judge point stays NaN: missing, never a fail
        crit = crit.assign(scope="criterion", item=crit["criterion"], j=crit["value_j"], h=crit["value_h"])
        parts.append(crit[["generation_id", "scope", "item", "h", "j"]])
    jg, hg = data.judge_gen, data.human_gen
    if not jg.empty and not hg.empty:
        common = jg.index.intersection(hg.index)
        for m in COMPOSITES:
            parts.append(
                pd.DataFrame(
                    {
                        "generation_id": common,
                        "scope": "composite",
                        "item": m,
                        "h": hg.loc[common, m].to_numpy(),
                        "j": jg.loc[common, m].to_numpy(),
                    }
                )
            )
        name = f"skill_fraction>={threshold:g}"
        parts.append(
            pd.DataFrame(
                {
                    "generation_id": common,
                    "scope": "composite",
                    "item": name,
                    "h": _at_least(hg.loc[common, "skill_fraction"], threshold),
                    "j": _at_least(jg.loc[common, "skill_fraction"], threshold),
                }
            )
        )
    if not parts:
        return pd.DataFrame(
            columns=["generation_id", "scope", "item", "h", "j", "student", "k", "topic", "category"]
        )
    pairs = pd.concat(parts, ignore_index=True)
    pairs = pairs[pairs["h"].notna()].reset_index(drop=True)  # an undecided human composite is not a pair
    pairs["student"] = pairs["generation_id"].map(gens["student"])
    pairs["k"] = pairs["generation_id"].map(gens["k"])
    pairs["topic"] = pairs["generation_id"].map(gens["topic"])
    pairs["category"] = pairs["item"].map(data.categories)
    return pairs


def _at_least(values: pd.Series, threshold: float) -> np.ndarray:
    """Return 1/0 for values at least threshold, NaN where the value is missing."""
    v = values.to_numpy(dtype=float)
    return np.where(np.isnan(v), np.nan, v >= threshold)


BREAKDOWNS = {
    # name: (rows selected, group keys besides the item)
    "overall": (),
    "student": ("student",),
    "k": ("k",),
    "student_k": ("student", "k"),
    "topic": ("topic",),
    "skill_category": ("category",),
}


def _grouped(pairs: pd.DataFrame) -> list[tuple[str, pd.DataFrame, list[str]]]:
    """Return (breakdown, rows, keys) for every table: per criterion, skills pooled, per composite."""
    out = []
    crit = pairs[pairs["scope"] == "criterion"]
    comp = pairs[pairs["scope"] == "composite"]
    skills = crit[crit["item"].str.startswith(SKILL_PREFIX)]
    skills = skills.assign(orig=skills["item"], item="skill:* (all skills)")
    for name in ("overall", "student", "k", "student_k"):
        out.append((name, crit, ["scope", "item", *BREAKDOWNS[name]]))
    for name in ("overall", "student", "k", "student_k", "topic", "skill_category"):
        out.append((name, skills, ["scope", "item", *BREAKDOWNS[name]]))
    for name in ("overall", "student", "k", "student_k", "topic"):
        out.append((name, comp, ["scope", "item", *BREAKDOWNS[name]]))
    return out


def _bootstrap_counts(
    rows: pd.DataFrame, codes: np.ndarray, n_groups: int, weights: np.ndarray, gen_index: pd.Index
):
    """Return the bootstrap a, b, c, d (B x groups) from generation weights (G x B); missing points skipped."""
    gi = gen_index.get_indexer(rows["generation_id"])
    valid = rows["j"].notna().to_numpy() & rows["h"].notna().to_numpy()
    h = rows["h"].to_numpy() > 0.5
    j = rows["j"].to_numpy() > 0.5
    out = []
    for mask in (h & j, h & ~j, ~h & j, ~h & ~j):
        mask = mask & valid
        m = sparse.csr_matrix(
            (np.ones(int(mask.sum())), (gi[mask], codes[mask])), shape=(len(gen_index), n_groups)
        )
        out.append(np.asarray((m.T @ weights).T))
    return out


def agreement_table(
    data,
    *,
    bootstrap: int = 1000,
    seed: int = 0,
    confidence: float = 0.95,
    threshold: float = 0.5,
    alpha_for: tuple[str, ...] = ("overall", "student", "k"),
) -> pd.DataFrame:
    """Return judge-vs-people agreement per criterion and composite, overall and broken down.

    A judge point that is missing (unparsed, or an undecided composite) is dropped from its pair: it counts
    in ``n_judge_missing`` beside ``n``, never as a fail.

    Parameters
    ----------
    data : AuditData.
    bootstrap : resamples of generations for the kappa/AC1/PABAK/bias/agreement intervals (0 = none).
    seed : the bootstrap's seed.
    confidence : level of every interval.
    threshold : the skill-fraction cut of the ``skill_fraction>=t`` composite.
    alpha_for : the breakdowns Krippendorff's alpha is computed for.

    Returns
    -------
    pandas.DataFrame : AGREEMENT_COLUMNS (scope, breakdown, student, k, group, criterion, n,
    n_judge_missing, a, b, c, d, rates, bias, agreement, kappa, ac1, pabak, alpha, conditional rates,
    each with its interval, mcnemar_p, small_n).
    """
    pairs = judge_human_pairs(data, threshold)
    if pairs.empty:
        return pd.DataFrame(columns=AGREEMENT_COLUMNS)
    gen_index = pd.Index(np.sort(pairs["generation_id"].unique()))
    weights = _bootstrap_weights(len(gen_index), bootstrap, seed)
    ratings = _rater_ratings(data, threshold) if alpha_for else None
    tables = []
    for breakdown, rows, keys in _grouped(pairs):
        if rows.empty:
            continue
        t, codes = _counts(rows, keys)
        cols = _statistics(t, confidence)
        if weights is not None:
            cols.update(_bootstrap_intervals(rows, codes, len(t), weights, gen_index, confidence))
        if ratings is not None and breakdown in alpha_for:
            cols["alpha"], cols["alpha_note"] = _alphas(t, rows, keys, ratings)
        t = pd.concat([t, pd.DataFrame(cols, index=t.index)], axis=1)
        t["breakdown"] = breakdown
        tables.append(t)
    return _tidy(pd.concat(tables, ignore_index=True))


def _bootstrap_weights(n_gens: int, bootstrap: int, seed: int) -> np.ndarray | None:
    """Return seeded multinomial resampling weights of the generations (G x B), or None without bootstrap."""
    if not bootstrap:
        return None
    rng = np.random.default_rng(seed)
    weights = rng.multinomial(n_gens, np.full(n_gens, 1.0 / n_gens), size=bootstrap)
    # generations x resamples, contiguous: the sparse products read it as is instead of copying a transpose
    return np.ascontiguousarray(weights.T, dtype=np.float64)


def _counts(rows: pd.DataFrame, keys: list[str]) -> tuple[pd.DataFrame, np.ndarray]:
    """Return the 2x2 counts and n_judge_missing per group, and each row's group code."""
    missing = rows["j"].isna()
    h, j = rows["h"] > 0.5, rows["j"] > 0.5
    rows = rows.assign(
        ia=h & j & ~missing, ib=h & ~j & ~missing, ic=~h & j & ~missing, id=~h & ~j & ~missing, im=missing
    )
    grouped = rows.groupby(keys, sort=True, dropna=False)
    t = grouped[["ia", "ib", "ic", "id", "im"]].sum()
    t = t.rename(columns={"ia": "a", "ib": "b", "ic": "c", "id": "d", "im": "n_judge_missing"})
    return t.reset_index(), grouped.ngroup().to_numpy()


def _statistics(t: pd.DataFrame, confidence: float) -> dict[str, np.ndarray]:
    """Return the statistics of each group's 2x2 counts with their closed-form intervals."""
    z = ndtri(1 - (1 - confidence) / 2)
    a_, b_, c_, d_ = (t[x].to_numpy(dtype=float) for x in ("a", "b", "c", "d"))
    cols = two_by_two(a_, b_, c_, d_)
    n = cols["n"]
    # Paired difference of proportions (judge - human): Wald interval on (c - b)/n.
    se_bias = _div(np.sqrt(np.maximum(b_ + c_ - (c_ - b_) ** 2 / np.where(n > 0, n, 1), 0)), n)
    cols["bias_ci_low"] = cols["bias"] - z * se_bias
    cols["bias_ci_high"] = cols["bias"] + z * se_bias
    cols["agreement_ci_low"], cols["agreement_ci_high"] = wilson_arrays(a_ + d_, n, confidence)
    for name, x, m in (
        ("sensitivity", a_, a_ + b_),
        ("specificity", d_, c_ + d_),
        ("precision", a_, a_ + c_),
        ("npv", d_, b_ + d_),
    ):
        cols[f"{name}_ci_low"], cols[f"{name}_ci_high"] = wilson_arrays(x, m, confidence)
    for name in ("kappa", "ac1", "pabak"):
        cols[f"{name}_ci_low"] = np.full(len(t), np.nan)
        cols[f"{name}_ci_high"] = np.full(len(t), np.nan)
    cols["mcnemar_p"] = mcnemar_exact(b_, c_)
    cols["small_n"] = n < SMALL_N
    cols["alpha"] = np.full(len(t), np.nan)
    cols["alpha_note"] = np.full(len(t), "", dtype=object)
    return cols


def _bootstrap_intervals(
    rows: pd.DataFrame,
    codes: np.ndarray,
    n_groups: int,
    weights: np.ndarray,
    gen_index: pd.Index,
    confidence: float,
) -> dict[str, np.ndarray]:
    """Return percentile intervals of kappa, AC1, PABAK, bias and agreement over the resamples."""
    lo_q, hi_q = (1 - confidence) / 2, (1 + confidence) / 2
    bs = two_by_two(*_bootstrap_counts(rows, codes, n_groups, weights, gen_index))
    out = {}
    for name in ("kappa", "ac1", "pabak", "bias", "agreement"):
        out[f"{name}_ci_low"], out[f"{name}_ci_high"] = nan_quantiles(bs[name], (lo_q, hi_q))
    return out


def _tidy(out: pd.DataFrame) -> pd.DataFrame:
    """Name the columns as agreement.csv does: criterion, one group column, integer counts."""
    out = out.rename(columns={"item": "criterion", "category": "group_category", "topic": "group_topic"})
    out["group"] = ""
    for col in ("group_category", "group_topic"):
        if col in out:
            out["group"] = out["group"].where(out[col].isna(), out[col].astype(object).fillna("").astype(str))
    for col in ("student", "k"):
        if col not in out:
            out[col] = np.nan
    out["n"] = out["n"].astype(int)
    for col in ("n_judge_missing", "a", "b", "c", "d"):
        out[col] = out[col].astype(int)
    return out.reindex(columns=AGREEMENT_COLUMNS)


AGREEMENT_COLUMNS = [
    "scope", "breakdown", "student", "k", "group", "criterion", "n", "n_judge_missing", "a", "b", "c", "d",
    "p_human", "p_judge", "bias", "bias_ci_low", "bias_ci_high",
    "agreement", "agreement_ci_low", "agreement_ci_high",
    "kappa", "kappa_ci_low", "kappa_ci_high", "ac1", "ac1_ci_low", "ac1_ci_high",
    "pabak", "pabak_ci_low", "pabak_ci_high", "alpha", "alpha_note",
    "sensitivity", "sensitivity_ci_low", "sensitivity_ci_high",
    "specificity", "specificity_ci_low", "specificity_ci_high",
    "precision", "precision_ci_low", "precision_ci_high", "npv", "npv_ci_low", "npv_ci_high",
    "mcnemar_p", "small_n",
]  # fmt: skip
# What the overall agreement table shows where people read it (stats, the desk, report.html): n with the
# judge's missing points beside it, the confusion counts, and the main statistics without their bounds.
AGREEMENT_SUMMARY_COLUMNS = [
    "scope", "criterion", "n", "n_judge_missing", "a", "b", "c", "d", "p_human", "p_judge", "bias",
    "agreement", "kappa", "kappa_ci_low", "kappa_ci_high", "ac1", "pabak", "alpha", "alpha_note",
    "sensitivity", "specificity", "precision", "npv", "mcnemar_p", "small_n",
]  # fmt: skip


def _rater_ratings(data, threshold: float) -> pd.DataFrame:
    """Return every rating of every rater (the judge's majority and each person): generation_id, item, rater, value."""
    parts = []
    if not data.judge_own_points.empty:
        jp = data.judge_own_points[["generation_id", "criterion", "value"]].dropna()
        parts.append(jp.rename(columns={"criterion": "item"}).assign(rater="judge"))
    hp = data.human_points
    if not hp.empty:
        parts.append(
            hp.rename(columns={"criterion": "item", "grader": "rater"})[
                ["generation_id", "item", "rater", "value"]
            ]
        )
    bg = data.human_gen_by_grader
    graded = data.human_points["generation_id"].unique() if not hp.empty else []
    jg = data.judge_gen
    jg = jg[jg.index.isin(graded)] if not jg.empty else jg  # only units people rated can pair (kept below)
    for source, frame in (
        ("judge", jg.reset_index() if not jg.empty else pd.DataFrame()),
        ("people", bg),
    ):
        if frame.empty:
            continue
        rater = "judge" if source == "judge" else frame["grader"]
        for m in COMPOSITES:
            parts.append(
                pd.DataFrame(
                    {"generation_id": frame["generation_id"], "item": m, "rater": rater, "value": frame[m]}
                )
            )
        parts.append(
            pd.DataFrame(
                {
                    "generation_id": frame["generation_id"],
                    "item": f"skill_fraction>={threshold:g}",
                    "rater": rater,
                    "value": _at_least(frame["skill_fraction"], threshold),  # undecided stays missing
                }
            )
        )
    if not parts:
        return pd.DataFrame(columns=["generation_id", "item", "rater", "value"])
    ratings = pd.concat(parts, ignore_index=True)
    # A unit only the judge rated is not pairable and does not change alpha: keep people's generations.
    graded = data.human_points["generation_id"].unique() if not hp.empty else []
    return ratings[ratings["generation_id"].isin(graded)].reset_index(drop=True)


def _matrix(rater, unit, value) -> np.ndarray:
    """Return a raters x units matrix (NaN = not rated) from long ratings, without pivoting."""
    _, rc = np.unique(np.asarray(rater), return_inverse=True)
    _, uc = np.unique(np.asarray(unit), return_inverse=True)
    mat = np.full((rc.max() + 1, uc.max() + 1), np.nan)
    mat[rc, uc] = np.asarray(value, dtype=float)
    return mat


def _alphas(t: pd.DataFrame, rows: pd.DataFrame, keys: list[str], ratings: pd.DataFrame):
    """Return Krippendorff's alpha across all raters and its note for each group of t (one call per group)."""
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


# -- people with people, the judge with itself ----------------------------------------------------
def human_human(data, confidence: float = 0.95) -> pd.DataFrame:
    """Return agreement between people on items two or more of them graded: per criterion and pooled.

    Parameters
    ----------
    data : AuditData.
    confidence : the level of the agreement's Wilson interval.

    Returns
    -------
    pandas.DataFrame : criterion, n_pairs, n_items, agreement (+ CI), kappa, alpha, alpha_note, small_n.
    """
    hp = data.human_points
    cols = [
        "criterion",
        "n_pairs",
        "n_items",
        "agreement",
        "agreement_ci_low",
        "agreement_ci_high",
        "kappa",
        "alpha",
        "alpha_note",
        "small_n",
    ]
    if hp.empty:
        return pd.DataFrame(columns=cols)
    pairs = hp.merge(hp, on=["generation_id", "criterion"], suffixes=("_1", "_2"))
    pairs = pairs[pairs["grader_1"] < pairs["grader_2"]]
    if pairs.empty:
        return pd.DataFrame(columns=cols)
    pairs = pd.concat(
        [
            pairs,
            pairs[pairs["criterion"].str.startswith(SKILL_PREFIX)].assign(criterion="skill:* (all skills)"),
        ]
    )
    h, j = pairs["value_1"] > 0.5, pairs["value_2"] > 0.5
    pairs = pairs.assign(ia=h & j, ib=h & ~j, ic=~h & j, id=~h & ~j)
    g = pairs.groupby("criterion")
    t = g[["ia", "ib", "ic", "id"]].sum()
    st = two_by_two(t["ia"], t["ib"], t["ic"], t["id"])
    out = pd.DataFrame(
        {
            "criterion": t.index,
            "n_pairs": st["n"].astype(int),
            "n_items": g["generation_id"].nunique().to_numpy(),
            "agreement": st["agreement"],
            "kappa": st["kappa"],
        }
    )
    out["agreement_ci_low"], out["agreement_ci_high"] = wilson_arrays(t["ia"] + t["id"], st["n"], confidence)
    alphas = []
    for crit in out["criterion"]:
        rows = (
            hp[hp["criterion"].str.startswith(SKILL_PREFIX)]
            if crit.startswith("skill:*")
            else hp[hp["criterion"] == crit]
        )
        unit = rows["generation_id"].astype(str) + "|" + rows["criterion"]
        alphas.append(alpha_nominal(_matrix(rows["grader"], unit, rows["value"])))
    out["alpha"] = [a for a, _ in alphas]
    out["alpha_note"] = [n for _, n in alphas]
    out["small_n"] = out["n_items"] < SMALL_N
    return out.reindex(columns=cols).reset_index(drop=True)


def judge_self_consistency(data) -> pd.DataFrame:
    """Return how often the judge's runs agree with each other, per criterion kind.

    Computed on each run's own parsed value, before the program's rules (an unparsed run is missing);
    the criteria the rules change (the sentence limit, named skills) are reported apart, after the rules,
    as ``<criterion> (after the rules)`` with basis "after the rules".

    Parameters
    ----------
    data : AuditData (judge_raw_tally: per item the parsed runs and passes before any rule;
        judge_run_tally: the same after the rules; without them, judge_runs, the runs after the rules).

    Returns
    -------
    pandas.DataFrame : criterion, n_items, runs, unanimous (share of items whose parsed runs all agree),
    pairwise (share of agreeing run pairs), alpha (Krippendorff, runs as raters), alpha_note, basis.
    """
    cols = ["criterion", "n_items", "runs", "unanimous", "pairwise", "alpha", "alpha_note", "basis"]
    raw = _run_tally(data, before_rules=True)
    ruled = _run_tally(data, before_rules=False)
    base = raw if raw is not None else ruled
    if base is None or base[0].empty:
        return pd.DataFrame(columns=cols)
    out = _consistency(*base).assign(basis="judge's runs" if raw is not None else "after the rules")
    if raw is not None and ruled is not None and not ruled[0].empty:
        after = _consistency(*ruled)
        after = after[after["criterion"].isin(_RULED)]
        after = after.assign(criterion=after["criterion"] + " (after the rules)", basis="after the rules")
        out = pd.concat([out, after], ignore_index=True)
    return out.reindex(columns=cols)


_RULED = (SENTENCE_LIMIT, "skill:* (all skills)")  # what the program's rules can change


def _consistency(tally: pd.DataFrame, seen: pd.DataFrame) -> pd.DataFrame:
    """Return one self-consistency row per criterion kind (skills pooled) from a per-item tally of runs."""
    codes, names = pd.factorize(tally["criterion"])
    kind_names, kind_of_name = np.unique(_kind_names(names), return_inverse=True)
    kind = kind_of_name[codes] if len(codes) else np.zeros(0, np.int64)
    seen_kind = _kind(seen["criterion"])
    n = tally["n"].to_numpy(np.int64)
    s = tally["passes"].to_numpy(np.int64)
    # Items differ only by (parsed runs, passes): a histogram per kind holds all that the statistics need,
    # so no per-item array is built per kind (a million generations have six million items).
    width = int(n.max()) + 1 if len(n) else 1
    hist = np.bincount((kind * width + n) * width + s, minlength=len(kind_names) * width * width)
    hist = hist.reshape(len(kind_names), width, width)
    out = []
    for i, name in enumerate(kind_names):
        runs = int(seen.loc[seen_kind == name, "run"].nunique())
        out.append(_consistency_row(str(name), hist[i], runs))
    return pd.DataFrame(
        out, columns=["criterion", "n_items", "runs", "unanimous", "pairwise", "alpha", "alpha_note"]
    )


def _kind_names(names) -> np.ndarray:
    """Return each criterion name's kind: the skills pooled, any other criterion by its name."""
    return np.array(
        ["skill:* (all skills)" if str(n).startswith(SKILL_PREFIX) else str(n) for n in names], dtype=object
    )


def _kind(criterion: pd.Series) -> np.ndarray:
    """Return each criterion's kind: the skills pooled, any other criterion by its name."""
    codes, names = pd.factorize(criterion)
    return _kind_names(names)[codes] if len(codes) else np.array([], dtype=object)


def _run_tally(data, *, before_rules: bool) -> tuple[pd.DataFrame, pd.DataFrame] | None:
    """Return (per item: generation_id, criterion, n parsed runs, passes) and the (criterion, run) seen.

    before_rules: the judge's own runs (None when the data does not carry them); otherwise the runs
    after the rules, from the tally or from the long runs.
    """
    if before_rules:
        tally = getattr(data, "judge_raw_tally", None)
        return None if tally is None else (tally, data.judge_raw_numbers)
    tally = getattr(data, "judge_run_tally", None)
    if tally is not None:
        return tally, data.judge_run_numbers
    jr = data.judge_runs
    if jr is None or jr.empty:
        return None
    jr = jr.dropna(subset=["value"])
    g = jr.groupby(["generation_id", "criterion"], sort=True)["value"]
    tally = g.agg(n="count", passes="sum").reset_index()
    return tally, jr[["criterion", "run"]].drop_duplicates()


def _consistency_row(name: str, hist: np.ndarray, runs: int) -> dict:
    """Return unanimous, pairwise and alpha from hist[c, s]: how many units have s passes of c parsed runs."""
    c, s = np.nonzero(hist)
    w = hist[c, s]
    keep = c >= 2
    c, s, w = c[keep].astype(float), s[keep].astype(float), w[keep].astype(float)
    n_items = int(w.sum())
    unanimous = float(w[(s == 0) | (s == c)].sum() / n_items) if n_items else math.nan
    agree_pairs = s * (s - 1) / 2 + (c - s) * (c - s - 1) / 2
    pairwise = float((w * agree_pairs).sum() / (w * c * (c - 1) / 2).sum()) if n_items else math.nan
    counts = np.column_stack([c - s, s])
    if not n_items:
        a, note = math.nan, "undefined: no unit rated twice"
    elif (w * counts[:, 0]).sum() == 0 or (w * counts[:, 1]).sum() == 0:
        a, note = math.nan, NO_VARIATION
    else:
        a, note = nominal_alpha_from_counts(counts, w), ""
    return {
        "criterion": name,
        "n_items": n_items,
        "runs": runs,
        "unanimous": unanimous,
        "pairwise": pairwise,
        "alpha": a,
        "alpha_note": note,
    }


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
    # o[v, k] = sum over units of n_uv (n_uk - [v == k]) / (m_u - 1), weighted
    o = (counts * scale[:, None]).T @ counts - np.diag(scale @ counts)
    n_v = o.sum(axis=1)
    n = n_v.sum()
    observed = n - np.trace(o)
    expected = (n * n - (n_v**2).sum()) / (n - 1)
    return float(1 - observed / expected) if expected > 0 else math.nan


# -- the Skill-Mix table from the judge and from people -------------------------------------------
def skillmix_table(data) -> pd.DataFrame:
    """Return full marks, all skills and skill fraction per student x k from the judge and from people.

    Parameters
    ----------
    data : AuditData.

    Returns
    -------
    pandas.DataFrame : student, k, metric, source (judge | people), rounds (best_of: per combination;
    single: per generation), mean, se, n.
    """

    out = []
    for source, frame in (("judge", data.judge_gen), ("people", data.human_gen)):
        if frame is None or frame.empty:
            continue
        scores = frame.join(data.gens[["student", "combination_id", "round"]], how="inner")
        for best in (True, False):
            agg = aggregate(scores, best_of_rounds=best)
            out.append(agg.assign(source=source, rounds="best_of" if best else "single"))
    if not out:
        return pd.DataFrame(columns=["student", "k", "metric", "source", "rounds", "mean", "se", "n"])
    table = pd.concat(out, ignore_index=True)
    return table[["student", "k", "metric", "source", "rounds", "mean", "se", "n"]]


# -- Cohen's kappa of two aligned label sequences (adjudication, annotator quality) ------------------
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


# -- the labels -------------------------------------------------------------------------------------
