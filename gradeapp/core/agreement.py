"""Agreement between the judge and people, and between people, with bootstrap intervals (vectorised).

Every table is computed from 2x2 counts per group (gradeapp.core.two_by_two), grouped with pandas;
bootstrap intervals resample generations with seeded multinomial weights and one sparse matrix product
per count, so no Python loop runs over rows. Krippendorff's alpha across all raters comes from
gradeapp.core.alpha: every group of a table at once from value counts (tested against the package), and
the people's alpha per criterion from the `krippendorff` package.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import sparse
from scipy.special import ndtri  # not scipy.stats: its import alone takes 1-3 s of every command

from gradeapp.core.alpha import _alphas, _matrix, alpha_nominal
from gradeapp.core.estimators import wilson
from gradeapp.core.results import BOOTSTRAP_RESAMPLES, BOOTSTRAP_SEED
from gradeapp.core.rubric import SKILL_PREFIX
from gradeapp.core.two_by_two import (
    _div,
    bootstrap_weights,
    mcnemar_exact,
    nan_quantiles,
    percentile_levels,
    two_by_two,
)

SMALL_N = 30


COMPOSITES = ("full_marks", "all_skills")


def judge_human_pairs(data, threshold: float = 0.5) -> pd.DataFrame:
    """Return one row per generation x item people rated, with the judge's point (NaN = missing).

    Parameters
    ----------
    data : AuditData.
    threshold : the skill-fraction cut of the ``skill_fraction>=t`` composite.

    Returns
    -------
    pandas.DataFrame : generation_id, scope (criterion | composite), item, h (NaN where the people tied
    and no adjudicator decided, or their composite is undecided), j (NaN where the judge has no parsed
    point or its composite is undecided), student, k, topic, category.
    """
    gens = data.gens
    parts = []
    # Per criterion: what the judge and people themselves said (before the program's sentence count and the
    # naming penalty, which would make both sides agree by construction); composites: after the rules.
    judge_points, people_points = data.judge_own_points, data.human_own_consensus
    if not judge_points.empty and not people_points.empty:
        crit = judge_points[["generation_id", "criterion", "value"]].merge(
            people_points[["generation_id", "criterion", "value"]],
            on=["generation_id", "criterion"],
            suffixes=("_j", "_h"),
        )
        # an unparsed judge point stays NaN, and so does a people's tie no adjudicator decided: missing,
        # never a fail (counted in n_judge_missing and n_people_undecided)
        crit = crit.assign(scope="criterion", item=crit["criterion"], j=crit["value_j"], h=crit["value_h"])
        parts.append(crit[["generation_id", "scope", "item", "h", "j"]])
    parts.extend(_composite_pairs(data.judge_gen, data.human_gen, threshold))
    if not parts:
        return pd.DataFrame(
            columns=["generation_id", "scope", "item", "h", "j", "student", "k", "topic", "category"]
        )
    pairs = pd.concat(parts, ignore_index=True)
    pairs = pairs.reset_index(drop=True)
    pairs["student"] = pairs["generation_id"].map(gens["student"])
    pairs["k"] = pairs["generation_id"].map(gens["k"])
    pairs["topic"] = pairs["generation_id"].map(gens["topic"])
    pairs["category"] = pairs["item"].map(data.categories)
    return pairs


def _composite_pairs(
    judge_gen: pd.DataFrame, human_gen: pd.DataFrame, threshold: float
) -> list[pd.DataFrame]:
    """Return the composites' pairs (full marks, all skills, skill fraction at least threshold) per generation."""
    if judge_gen.empty or human_gen.empty:
        return []
    common = judge_gen.index.intersection(human_gen.index)
    items = {
        m: (human_gen.loc[common, m].to_numpy(), judge_gen.loc[common, m].to_numpy()) for m in COMPOSITES
    }
    items[f"skill_fraction>={threshold:g}"] = (
        _at_least(human_gen.loc[common, "skill_fraction"], threshold),
        _at_least(judge_gen.loc[common, "skill_fraction"], threshold),
    )
    return [
        pd.DataFrame({"generation_id": common, "scope": "composite", "item": item, "h": h, "j": j})
        for item, (h, j) in items.items()
    ]


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
    bootstrap: int = BOOTSTRAP_RESAMPLES,
    seed: int = BOOTSTRAP_SEED,
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
    weights = bootstrap_weights(len(gen_index), bootstrap, seed) if bootstrap else None
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


def _counts(rows: pd.DataFrame, keys: list[str]) -> tuple[pd.DataFrame, np.ndarray]:
    """Return the 2x2 counts, n_judge_missing and n_people_undecided per group, and each row's group code.

    A pair is counted only where both sides are decided; a missing judge point, and a people's point or
    composite left undecided (a tie no adjudicator decided), is counted beside n, never as a fail.
    """
    people_open = rows["h"].isna()
    missing = rows["j"].isna() & ~people_open
    ok = ~missing & ~people_open
    h, j = rows["h"] > 0.5, rows["j"] > 0.5
    rows = rows.assign(
        ia=h & j & ok, ib=h & ~j & ok, ic=~h & j & ok, id=~h & ~j & ok, im=missing, iu=people_open
    )
    grouped = rows.groupby(keys, sort=True, dropna=False)
    t = grouped[["ia", "ib", "ic", "id", "im", "iu"]].sum()
    t = t.rename(
        columns={
            "ia": "a",
            "ib": "b",
            "ic": "c",
            "id": "d",
            "im": "n_judge_missing",
            "iu": "n_people_undecided",
        }
    )
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
    cols["agreement_ci_low"], cols["agreement_ci_high"] = wilson(a_ + d_, n, confidence)[1:]
    for name, x, m in (
        ("sensitivity", a_, a_ + b_),
        ("specificity", d_, c_ + d_),
        ("precision", a_, a_ + c_),
        ("npv", d_, b_ + d_),
    ):
        cols[f"{name}_ci_low"], cols[f"{name}_ci_high"] = wilson(x, m, confidence)[1:]
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
    bs = two_by_two(*_bootstrap_counts(rows, codes, n_groups, weights, gen_index))
    out = {}
    for name in ("kappa", "ac1", "pabak", "bias", "agreement"):
        out[f"{name}_ci_low"], out[f"{name}_ci_high"] = nan_quantiles(bs[name], percentile_levels(confidence))
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
    for col in ("n_judge_missing", "n_people_undecided", "a", "b", "c", "d"):
        out[col] = out[col].astype(int)
    return out.reindex(columns=AGREEMENT_COLUMNS)


AGREEMENT_COLUMNS = [
    "scope", "breakdown", "student", "k", "group", "criterion", "n", "n_judge_missing", "n_people_undecided",
    "a", "b", "c", "d",
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
    "scope", "criterion", "n", "n_judge_missing", "n_people_undecided", "a", "b", "c", "d", "p_human", "p_judge", "bias",
    "agreement", "kappa", "kappa_ci_low", "kappa_ci_high", "ac1", "pabak", "alpha", "alpha_note",
    "sensitivity", "specificity", "precision", "npv", "mcnemar_p", "small_n",
]  # fmt: skip


def _rater_ratings(data, threshold: float) -> pd.DataFrame:
    """Return every rating of every rater (the judge's majority and each person): generation_id, item, rater, value."""
    parts = []
    if not data.judge_own_points.empty:
        judge_points = data.judge_own_points[["generation_id", "criterion", "value"]].dropna()
        parts.append(judge_points.rename(columns={"criterion": "item"}).assign(rater="judge"))
    people_points = data.human_points
    if not people_points.empty:
        parts.append(
            people_points.rename(columns={"criterion": "item", "grader": "rater"})[
                ["generation_id", "item", "rater", "value"]
            ]
        )
    by_grader = data.human_gen_by_grader
    graded = data.human_points["generation_id"].unique() if not people_points.empty else []
    judge_gen = data.judge_gen
    judge_gen = (
        judge_gen[judge_gen.index.isin(graded)] if not judge_gen.empty else judge_gen
    )  # only units people rated can pair (kept below)
    for source, frame in (
        ("judge", judge_gen.reset_index() if not judge_gen.empty else pd.DataFrame()),
        ("people", by_grader),
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
    graded = data.human_points["generation_id"].unique() if not people_points.empty else []
    return ratings[ratings["generation_id"].isin(graded)].reset_index(drop=True)


HUMAN_HUMAN_COLUMNS = [
    "criterion", "n_pairs", "n_items", "agreement", "agreement_ci_low", "agreement_ci_high", "kappa", "alpha",
    "alpha_note", "small_n",
]  # fmt: skip


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
    points = data.human_points
    cols = HUMAN_HUMAN_COLUMNS
    if points.empty:
        return pd.DataFrame(columns=cols)
    pairs = points.merge(points, on=["generation_id", "criterion"], suffixes=("_1", "_2"))
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
    stats = two_by_two(t["ia"], t["ib"], t["ic"], t["id"])
    out = pd.DataFrame(
        {
            "criterion": t.index,
            "n_pairs": stats["n"].astype(int),
            "n_items": g["generation_id"].nunique().to_numpy(),
            "agreement": stats["agreement"],
            "kappa": stats["kappa"],
        }
    )
    out["agreement_ci_low"], out["agreement_ci_high"] = wilson(t["ia"] + t["id"], stats["n"], confidence)[1:]
    alphas = [_people_alpha(points, crit) for crit in out["criterion"]]
    out["alpha"] = [a for a, _ in alphas]
    out["alpha_note"] = [n for _, n in alphas]
    out["small_n"] = out["n_items"] < SMALL_N
    return out.reindex(columns=cols).reset_index(drop=True)


def _people_alpha(points: pd.DataFrame, criterion: str) -> tuple[float, str]:
    """Return the people's Krippendorff alpha on one criterion (the skills pooled for skill:*)."""
    rows = (
        points[points["criterion"].str.startswith(SKILL_PREFIX)]
        if criterion.startswith("skill:*")
        else points[points["criterion"] == criterion]
    )
    unit = rows["generation_id"].astype(str) + "|" + rows["criterion"]
    return alpha_nominal(_matrix(rows["grader"], unit, rows["value"]))
