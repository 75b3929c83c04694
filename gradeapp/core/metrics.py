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
    grouped = verdicts.groupby(list(keys), sort=False)["value"]
    out = grouped.agg(mean="mean", n_parsed="count", n_runs="size").reset_index()
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
        (n_sentences <= max(1, k-1)), adding it where the judge gave none.

    Returns
    -------
    pandas.DataFrame
        A copy of points with the rules applied (rows added for missing sentence-limit points).
    """
    points_out = points.copy()
    if checks is None or checks.empty or not (naming_penalty or program_sentence_limit):
        return points_out
    checks_by_generation = checks.set_index("generation_id")
    if program_sentence_limit:
        # The reference always replaces this point, also where the judge gave none.
        have = set(points_out.loc[points_out["criterion"] == SENTENCE_LIMIT, "generation_id"])
        k_of = points_out.drop_duplicates("generation_id").set_index("generation_id")["k"]
        missing = [g for g in k_of.index if g not in have]
        if missing:
            add = pd.DataFrame(
                {
                    "generation_id": missing,
                    "criterion": SENTENCE_LIMIT,
                    "value": np.nan,
                    "k": k_of.loc[missing].to_numpy(),
                }
            )
            points_out = pd.concat([points_out, add], ignore_index=True)
        n_sentences = points_out["generation_id"].map(checks_by_generation["n_sentences"])
        update = (points_out["criterion"] == SENTENCE_LIMIT) & n_sentences.notna()
        limit = np.maximum(1, points_out["k"] - 1)
        points_out.loc[update, "value"] = (n_sentences[update] <= limit[update]).astype(float)
    if naming_penalty:
        named = checks_by_generation["named_skills"].map(
            lambda s: json.loads(s) if isinstance(s, str) else list(s)
        )
        pairs = {(gid, SKILL_PREFIX + s) for gid, names in named.items() for s in names}
        if pairs:
            hit = pd.Series(
                list(zip(points_out["generation_id"], points_out["criterion"], strict=True)),
                index=points_out.index,
            ).isin(pairs)
            points_out.loc[hit, "value"] = 0.0
    return points_out


def composite_values(
    a: np.ndarray, fa: np.ndarray, b: np.ndarray, fb: np.ndarray, k: np.ndarray, *, missing: str = "fail"
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Return the three metrics and the count of undecided points from each generation's known points.

    a, fa: skill points known passed / failed; b, fb: the other three points known passed / failed; k: the
    skills asked. Of the k + 3 points, those neither passed nor failed are missing.

    missing="fail" scores a missing point as not earned (the reference's rule). missing="undecided" gives
    a metric only where it is the same whatever the missing points would be, else NaN: every metric only
    rises when a point passes, so it is decided exactly when scoring the missing points all failed and all
    passed gives one value (a known failed point makes full marks 0; a known failed topic, makes_sense or
    sentence-limit point makes the skill fraction 0).
    """
    a, fa, b, fb = (np.asarray(x, dtype=float) for x in (a, fa, b, fb))
    k = np.asarray(k, dtype=float)
    ma = np.maximum(k - a - fa, 0.0)
    mb = np.maximum(3.0 - b - fb, 0.0)

    def at(aa: np.ndarray, bb: np.ndarray) -> dict[str, np.ndarray]:
        with np.errstate(invalid="ignore", divide="ignore"):
            return {
                "full_marks": ((aa + bb) == k + 3).astype(float),
                "all_skills": ((aa == k) & (bb >= 2)).astype(float),
                "skill_fraction": np.where(bb == 3, aa / k, 0.0),
            }

    low = at(a, b)
    n_missing = (ma + mb).astype(np.int64)
    if missing == "fail":
        return low, n_missing
    high = at(a + ma, b + mb)
    return {m: np.where(low[m] == high[m], low[m], np.nan) for m in METRICS}, n_missing


def score_generations(points: pd.DataFrame, *, missing: str = "fail") -> pd.DataFrame:
    """Compute the three metrics per generation from one point per generation x criterion.

    Parameters
    ----------
    points : generation_id, criterion, value (0, 1 or NaN), k.
    missing : "fail" counts a point that is NaN or absent (of the k + 3 a generation has) as not earned,
        the reference's rule; "undecided" gives a metric only where the missing points cannot change it,
        else NaN (see composite_values).

    Returns
    -------
    pandas.DataFrame
        One row per generation: generation_id, A (skill points), B (other points), k, n_missing
        (points of the k + 3 neither passed nor failed) and the METRICS columns.
    """
    is_skill = points["criterion"].str.startswith(SKILL_PREFIX)
    values_in = points["value"]
    parts = pd.DataFrame(
        {
            "generation_id": points["generation_id"],
            "a": values_in.where(is_skill & values_in.notna(), 0.0),
            "fa": (is_skill & values_in.eq(0)).astype(float),
            "b": values_in.where(~is_skill & values_in.notna(), 0.0),
            "fb": (~is_skill & values_in.eq(0)).astype(float),
            "k": points["k"],
        }
    )
    per_generation = parts.groupby("generation_id").agg(
        A=("a", "sum"), fa=("fa", "sum"), B=("b", "sum"), fb=("fb", "sum"), k=("k", "first")
    )
    columns = [per_generation[name].to_numpy() for name in ("A", "fa", "B", "fb", "k")]
    values, n_missing = composite_values(*columns, missing=missing)
    per_generation = per_generation.drop(columns=["fa", "fb"]).reset_index()
    per_generation["n_missing"] = n_missing
    for m in METRICS:
        per_generation[m] = values[m]
    return per_generation


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
        by + metric, mean, se (standard error of the mean), n (units averaged, undecided ones left out).
    """
    unit = [*by, "combination_id"]
    per = scores.groupby(unit)[list(METRICS)].max().reset_index() if best_of_rounds else scores
    long = per.melt(id_vars=list(by), value_vars=list(METRICS), var_name="metric", value_name="score")
    # An undecided (NaN) score is missing: left out of the mean and of n.
    agg = long.groupby([*by, "metric"]).agg(mean=("score", "mean"), sd=("score", "std"), n=("score", "count"))
    agg["se"] = agg["sd"] / np.sqrt(agg["n"])
    return agg.drop(columns="sd").reset_index()
