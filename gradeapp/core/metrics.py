"""Skill-Mix metrics: per generation, then the paper's aggregation (vectorised with pandas).

A = skill points earned (0..k), B = the other three points (topic, makes_sense, sentence_limit):
full marks = [A + B = k + 3]; all skills = [A = k and B >= 2]; skill fraction = A / k if B = 3 else 0.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from gradeapp.core.rubric import SENTENCE_LIMIT, SKILL_PREFIX

METRICS = ("full_marks", "all_skills", "skill_fraction")


def generation_scores(
    k: int, skill_points: list[int], topic: int, makes_sense: int, within_limit: int
) -> dict:
    """Return the three metrics of one generation from its points (reference definition).

    Parameters
    ----------
    k : number of skills the generation had to show.
    skill_points : one 0/1 point per skill.
    topic, makes_sense, within_limit : the other three 0/1 points.

    Returns
    -------
    dict
        full_marks, all_skills and skill_fraction, each a float in [0, 1].
    """
    a = int(sum(skill_points))
    b = int(topic) + int(makes_sense) + int(within_limit)
    return {
        "full_marks": float(a + b == k + 3),
        "all_skills": float(a == k and b >= 2),
        "skill_fraction": a / k if b == 3 else 0.0,
    }


def majority_vote(
    verdicts: pd.DataFrame, keys: tuple[str, ...] = ("generation_id", "criterion")
) -> pd.DataFrame:
    """Collapse runs to one 0/1 point per key by strict majority of the parsed runs.

    Unparsed runs (value NaN) do not vote; a tie fails; keys with no parsed run get NaN.

    Parameters
    ----------
    verdicts : one row per run, with the key columns and value (0, 1 or NaN).
    keys : the columns that name one point.

    Returns
    -------
    pandas.DataFrame
        One row per key: the keys, value (0.0, 1.0 or NaN), n_runs (all runs), n_parsed (runs that voted).
    """
    g = verdicts.groupby(list(keys), sort=False)["value"]
    out = g.agg(mean="mean", n_parsed="count", n_runs="size").reset_index()
    out["value"] = np.where(out["n_parsed"] > 0, (out["mean"] > 0.5).astype(float), np.nan)
    return out.drop(columns="mean")


def apply_deterministic(
    points: pd.DataFrame,
    checks: pd.DataFrame | None,
    *,
    naming_penalty: bool = True,
    program_sentence_limit: bool = True,
) -> pd.DataFrame:
    """Apply the reference's deterministic rules to majority points.

    Parameters
    ----------
    points : generation_id, criterion, value, k (one point per generation x criterion).
    checks : generation_id, n_sentences, named_skills (JSON list or list); None or empty applies no rule.
    naming_penalty : set a skill's point to 0 when the text names the skill.
    program_sentence_limit : replace the sentence-limit point by the program's count
        (n <= max(1, k-1)), adding it where the judge gave none.

    Returns
    -------
    pandas.DataFrame
        A copy of points with the rules applied (rows added for missing sentence-limit points).
    """
    pts = points.copy()
    if checks is None or checks.empty or not (naming_penalty or program_sentence_limit):
        return pts
    ch = checks.set_index("generation_id")
    if program_sentence_limit:
        # The reference always replaces this point, also where the judge gave none.
        have = set(pts.loc[pts["criterion"] == SENTENCE_LIMIT, "generation_id"])
        ks = pts.drop_duplicates("generation_id").set_index("generation_id")["k"]
        missing = [g for g in ks.index if g not in have]
        if missing:
            add = pd.DataFrame(
                {
                    "generation_id": missing,
                    "criterion": SENTENCE_LIMIT,
                    "value": np.nan,
                    "k": ks.loc[missing].to_numpy(),
                }
            )
            pts = pd.concat([pts, add], ignore_index=True)
        n = pts["generation_id"].map(ch["n_sentences"])
        update = (pts["criterion"] == SENTENCE_LIMIT) & n.notna()
        limit = np.maximum(1, pts["k"] - 1)
        pts.loc[update, "value"] = (n[update] <= limit[update]).astype(float)
    if naming_penalty:
        named = ch["named_skills"].map(lambda s: json.loads(s) if isinstance(s, str) else list(s))
        pairs = {(gid, SKILL_PREFIX + s) for gid, names in named.items() for s in names}
        if pairs:
            hit = pd.Series(
                list(zip(pts["generation_id"], pts["criterion"], strict=True)), index=pts.index
            ).isin(pairs)
            pts.loc[hit, "value"] = 0.0
    return pts


def score_generations(points: pd.DataFrame) -> pd.DataFrame:
    """Compute the three metrics per generation from one point per generation x criterion.

    Parameters
    ----------
    points : generation_id, criterion, value (NaN counts as not earned), k.

    Returns
    -------
    pandas.DataFrame
        One row per generation: generation_id, A (skill points), B (other points), k, n_missing
        and the METRICS columns.
    """
    p = points.assign(
        v=points["value"].fillna(0.0), is_skill=points["criterion"].str.startswith(SKILL_PREFIX)
    )
    p["a"] = p["v"].where(p["is_skill"], 0.0)
    p["b"] = p["v"].where(~p["is_skill"], 0.0)
    p["missing"] = points["value"].isna().astype(int)
    g = p.groupby("generation_id").agg(
        A=("a", "sum"), B=("b", "sum"), k=("k", "first"), n_missing=("missing", "sum")
    )
    g = g.reset_index()
    g["full_marks"] = ((g["A"] + g["B"]) == g["k"] + 3).astype(float)
    g["all_skills"] = ((g["A"] == g["k"]) & (g["B"] >= 2)).astype(float)
    g["skill_fraction"] = np.where(g["B"] == 3, g["A"] / g["k"], 0.0)
    return g


def aggregate(
    scores: pd.DataFrame,
    by: tuple[str, ...] = ("student", "k"),
    best_of_rounds: bool = True,
) -> pd.DataFrame:
    """Aggregate per-generation metrics: best of rounds per combination (or each generation), mean ± SE.

    Parameters
    ----------
    scores : the by columns, combination_id and the METRICS columns, one row per generation.
    by : the columns of one table row.
    best_of_rounds : take each combination's best round (the paper's rule) instead of every generation.

    Returns
    -------
    pandas.DataFrame
        by + metric, mean, se (standard error of the mean), n (units averaged).
    """
    unit = [*by, "combination_id"]
    per = scores.groupby(unit)[list(METRICS)].max().reset_index() if best_of_rounds else scores
    long = per.melt(id_vars=list(by), value_vars=list(METRICS), var_name="metric", value_name="score")
    agg = long.groupby([*by, "metric"]).agg(mean=("score", "mean"), sd=("score", "std"), n=("score", "size"))
    agg["se"] = agg["sd"] / np.sqrt(agg["n"])
    return agg.drop(columns="sd").reset_index()
