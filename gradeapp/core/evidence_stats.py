"""Evidence counted: how often a judge's credited points are backed by its own words, and span agreement.

Three tables, each from plain data frames (no storage):

- `grounding_table`: per judge, criterion and k, the credited points (judge verdict 1) and the share
  whose best quote is grounded (near, not found, no quote), with a Wilson interval.
- `grounded_agreement`: per judge, among the credited points that people graded too, how often people
  also credit the point, split by whether the judge's quote is grounded; the difference with Newcombe's
  hybrid score interval. It answers: does an ungrounded quote predict a wrong verdict?
- `span_agreement`: between two graders' evidence for the same generation x criterion, token-level F1
  (tokens = words of the text, a token counts as marked when a span overlaps it; F1 pooled over units =
  2 sum|A & B| / sum(|A| + |B|)), and Krippendorff's alpha (nominal, the `krippendorff` package) over the
  tokens of those units as the chance-corrected agreement; both with a percentile bootstrap over
  generations. Pairs are person-person and person-judge.

Why not the gamma of `pygamma-agreement`: it pins cvxopt==1.3.2 and pulls cvxpy, numba, pyannote.core
and pyannote.database, and its chance estimate samples random annotations (seconds per unit set): too
heavy for the desk's Statistics view and CI. Token-level alpha is chance-corrected, handles units both
graders left empty, and runs in milliseconds.
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Mapping

import krippendorff
import numpy as np
import pandas as pd
from scipy.special import ndtri  # not scipy.stats: its import alone takes 1-3 s of every command

from gradeapp.core.evidence import GROUNDED, NEAR, NOT_FOUND

NO_QUOTE = "no_quote"
_WORD = re.compile(r"\w+")
# Best class first: a point with a grounded quote counts as grounded whatever its other quotes.
_RANK = {GROUNDED: 0, NEAR: 1, NOT_FOUND: 2, NO_QUOTE: 3}


# -- intervals ------------------------------------------------------------------------------------
def wilson(successes: float, n: int, confidence: float = 0.95) -> tuple[float, float, float]:
    """Return (rate, low, high) of a Wilson score interval; NaNs when n is 0."""
    if n <= 0:
        return math.nan, math.nan, math.nan
    z = float(ndtri(0.5 + confidence / 2))
    rate = successes / n
    centre = (rate + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(rate * (1 - rate) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return rate, max(0.0, centre - half), min(1.0, centre + half)


def newcombe_difference(
    x1: int, n1: int, x2: int, n2: int, confidence: float = 0.95
) -> tuple[float, float, float]:
    """Return (p1 - p2, low, high) by Newcombe's hybrid score method (his method 10) from Wilson limits."""
    p1, l1, u1 = wilson(x1, n1, confidence)
    p2, l2, u2 = wilson(x2, n2, confidence)
    if math.isnan(p1) or math.isnan(p2):
        return math.nan, math.nan, math.nan
    diff = p1 - p2
    return (
        diff,
        diff - math.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2),
        diff + math.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2),
    )


_AGREEMENT_COLUMNS = [
    "judge",
    "n_grounded",
    "agree_grounded",
    "agree_grounded_low",
    "agree_grounded_high",
    "n_ungrounded",
    "agree_ungrounded",
    "agree_ungrounded_low",
    "agree_ungrounded_high",
    "difference",
    "difference_low",
    "difference_high",
]


# -- grounding of credited points ----------------------------------------------------------------
def best_grounding(quotes: pd.DataFrame) -> pd.DataFrame:
    """Return per judge point (grader, generation_id, criterion, run) the best class of its quotes."""
    keys = ["grader", "generation_id", "criterion", "run"]
    if quotes.empty:
        return pd.DataFrame(columns=[*keys, "grounding"])
    ranked = quotes.assign(rank=quotes["grounding"].map(_RANK))
    best = ranked.groupby(keys, as_index=False)["rank"].min()
    inverse = {v: k for k, v in _RANK.items()}
    return best.assign(grounding=best["rank"].map(inverse)).drop(columns="rank")


def credited_points(verdicts: pd.DataFrame, quotes: pd.DataFrame) -> pd.DataFrame:
    """Return the judge's credited points (value 1) with the best grounding of their quotes (or no_quote).

    verdicts: grader, generation_id, criterion, run, k, value; quotes: grader, generation_id,
    criterion, run, grounding.
    """
    keys = ["grader", "generation_id", "criterion", "run"]
    credited = verdicts[verdicts["value"] == 1]
    out = credited.merge(best_grounding(quotes), on=keys, how="left")
    return out.assign(grounding=out["grounding"].fillna(NO_QUOTE))


def grounding_table(
    verdicts: pd.DataFrame, quotes: pd.DataFrame, confidence: float = 0.95, *, by_criterion: bool = True
) -> pd.DataFrame:
    """Return per judge, criterion (or all criteria: '*') and k the credited points and each class's share."""
    points = credited_points(verdicts, quotes)
    if not by_criterion:
        points = points.assign(criterion="*")
    rows = []
    for (grader, criterion, k), group in points.groupby(["grader", "criterion", "k"], sort=True):
        n = len(group)
        counts = group["grounding"].value_counts()
        rate, low, high = wilson(int(counts.get(GROUNDED, 0)), n, confidence)
        rows.append(
            {
                "judge": grader,
                "criterion": criterion,
                "k": int(k),
                "credited": n,
                "grounded": rate,
                "grounded_low": low,
                "grounded_high": high,
                **{name: counts.get(name, 0) / n for name in (NEAR, NOT_FOUND, NO_QUOTE)},
            }
        )
    columns = ["judge", "criterion", "k", "credited", "grounded", "grounded_low", "grounded_high"]
    return pd.DataFrame(rows, columns=[*columns, NEAR, NOT_FOUND, NO_QUOTE])


def grounded_agreement(
    verdicts: pd.DataFrame, quotes: pd.DataFrame, human: pd.DataFrame, confidence: float = 0.95
) -> pd.DataFrame:
    """Return per judge how often people credit the judge's credited points, grounded versus not.

    human: generation_id, criterion, value (one row per person's current verdict; each counts).
    """
    points = credited_points(verdicts, quotes)
    pairs = points.merge(human.rename(columns={"value": "human"}), on=["generation_id", "criterion"])
    rows = []
    for grader, group in pairs.groupby("grader", sort=True):
        grounded = group[group["grounding"] == GROUNDED]["human"]
        other = group[group["grounding"] != GROUNDED]["human"]
        g_rate, g_low, g_high = wilson(int(grounded.sum()), len(grounded), confidence)
        o_rate, o_low, o_high = wilson(int(other.sum()), len(other), confidence)
        diff, d_low, d_high = newcombe_difference(
            int(grounded.sum()), len(grounded), int(other.sum()), len(other), confidence
        )
        rows.append(
            {
                "judge": grader,
                "n_grounded": len(grounded),
                "agree_grounded": g_rate,
                "agree_grounded_low": g_low,
                "agree_grounded_high": g_high,
                "n_ungrounded": len(other),
                "agree_ungrounded": o_rate,
                "agree_ungrounded_low": o_low,
                "agree_ungrounded_high": o_high,
                "difference": diff,
                "difference_low": d_low,
                "difference_high": d_high,
            }
        )
    return pd.DataFrame(rows, columns=_AGREEMENT_COLUMNS)


# -- grounding as a signal of the judge's doubt (the active audit design) --------------------------
GROUNDING_WEIGHT = 0.5


def ungrounded_share(verdicts: pd.DataFrame, quotes: pd.DataFrame) -> pd.Series:
    """Return per generation the share of the judge's credited points (every run) without a grounded quote.

    Only judges that quote at all count (a judge whose prompt never asks for quotes says nothing here);
    a generation without credited points of such a judge is absent.
    """
    quoting = set(quotes["grader"]) if not quotes.empty else set()
    points = credited_points(verdicts[verdicts["grader"].isin(quoting)], quotes)
    if points.empty:
        return pd.Series(dtype=float)
    return (
        points.assign(ungrounded=points["grounding"].ne(GROUNDED).astype(float))
        .groupby("generation_id")["ungrounded"]
        .mean()
    )


def grounded_uncertainty(
    uncertainty: np.ndarray, ungrounded: np.ndarray, weight: float = GROUNDING_WEIGHT
) -> np.ndarray:
    """Return the judge's uncertainty raised where its credited points lack grounded quotes: min(1, u + w g).

    u is the split of the judge's runs (0 when they agree), g the share of credited points without a
    grounded quote: a judge whose runs agree but whose quotes are not in the text is doubted all the same.
    """
    u = np.nan_to_num(np.asarray(uncertainty, dtype=float), nan=1.0)
    g = np.nan_to_num(np.asarray(ungrounded, dtype=float), nan=0.0)
    return np.clip(u + weight * g, 0.0, 1.0)


# -- span agreement -------------------------------------------------------------------------------
def word_tokens(text: str) -> list[tuple[int, int]]:
    """Return the [start, end) of every word of a text."""
    return [m.span() for m in _WORD.finditer(text or "")]


def marked_tokens(tokens: list[tuple[int, int]], spans) -> np.ndarray:
    """Return a boolean per token: True where some span [start, end) overlaps it."""
    marked = np.zeros(len(tokens), dtype=bool)
    for start, end in spans:
        for i, (t_start, t_end) in enumerate(tokens):
            if t_start < end and start < t_end:
                marked[i] = True
    return marked


def _unit_vectors(spans: pd.DataFrame, texts: Mapping[int, str]) -> dict[tuple, dict[str, np.ndarray]]:
    """Return per (generation, criterion) each grader's marked-token vector."""
    out: dict[tuple, dict[str, np.ndarray]] = {}
    tokens_of: dict[int, list[tuple[int, int]]] = {}
    for (gid, criterion, grader), group in spans.groupby(["generation_id", "criterion", "grader"], sort=True):
        tokens = tokens_of.setdefault(gid, word_tokens(texts.get(gid, "")))
        out.setdefault((gid, criterion), {})[grader] = marked_tokens(
            tokens, zip(group["start"], group["end"], strict=True)
        )
    return out


def _pair_units(
    vectors: dict[tuple, dict[str, np.ndarray]],
    graders_of: Mapping[tuple, set[str]],
    kinds: Mapping[str, str],
) -> dict[str, list[tuple[int, np.ndarray, np.ndarray]]]:
    """Return per pair kind ('person-person', 'person-judge') the units (generation, vector a, vector b)."""
    out: dict[str, list] = {"person-person": [], "person-judge": []}
    for unit, graders in graders_of.items():
        marks = vectors.get(unit, {})
        length = next((len(v) for v in marks.values()), None)
        if length is None:
            continue  # nobody marked anything: no evidence to agree on
        for first, second in itertools.combinations(sorted(graders), 2):
            pair = {kinds.get(first, "human"), kinds.get(second, "human")}
            if pair == {"judge"}:
                continue
            name = "person-judge" if "judge" in pair else "person-person"
            empty = np.zeros(length, dtype=bool)
            out[name].append((unit[0], marks.get(first, empty), marks.get(second, empty)))
    return out


def _f1(units) -> float:
    both = sum(int((a & b).sum()) for _, a, b in units)
    total = sum(int(a.sum() + b.sum()) for _, a, b in units)
    return 2 * both / total if total else math.nan


def _alpha(units) -> float:
    if not units:
        return math.nan
    data = np.vstack([np.concatenate([a for _, a, _ in units]), np.concatenate([b for _, _, b in units])])
    if len(np.unique(data)) < 2:
        return math.nan
    return float(krippendorff.alpha(reliability_data=data.astype(float), level_of_measurement="nominal"))


def span_agreement(
    spans: pd.DataFrame,
    graded: pd.DataFrame,
    texts: Mapping[int, str],
    kinds: Mapping[str, str],
    *,
    bootstrap: int = 200,
    seed: int = 0,
    confidence: float = 0.95,
) -> pd.DataFrame:
    """Return token-level F1 and Krippendorff's alpha of evidence spans, person-person and person-judge.

    spans: grader, generation_id, criterion, start, end (current evidence); graded: grader,
    generation_id, criterion (who gave a verdict there: a grader who graded but marked nothing marked
    no token); kinds: grader -> 'human' | 'judge'. A unit counts when one of the pair marked a word.
    """
    graders_of: dict[tuple, set[str]] = {}
    for gid, criterion, grader in graded[["generation_id", "criterion", "grader"]].itertuples(index=False):
        graders_of.setdefault((gid, criterion), set()).add(grader)
    units_by_pair = _pair_units(_unit_vectors(spans, texts), graders_of, kinds)
    rng = np.random.default_rng(seed)
    rows = []
    for pair, units in units_by_pair.items():
        units = [u for u in units if u[1].any() or u[2].any()]
        row = {"pair": pair, "units": len(units), "f1": _f1(units), "alpha": _alpha(units)}
        row.update(_bootstrap(units, bootstrap, rng, confidence))
        rows.append(row)
    return pd.DataFrame(rows)


def _bootstrap(units, bootstrap: int, rng: np.random.Generator, confidence: float) -> dict[str, float]:
    """Return percentile intervals of F1 and alpha, resampling generations (a unit's cluster)."""
    by_gen: dict[int, list] = {}
    for unit in units:
        by_gen.setdefault(unit[0], []).append(unit)
    gens = list(by_gen)
    if len(gens) < 2 or bootstrap <= 0:
        return {"f1_low": math.nan, "f1_high": math.nan, "alpha_low": math.nan, "alpha_high": math.nan}
    f1s, alphas = [], []
    for _ in range(bootstrap):
        sample = [u for i in rng.integers(0, len(gens), len(gens)) for u in by_gen[gens[i]]]
        f1s.append(_f1(sample))
        alphas.append(_alpha(sample))
    tail = (1 - confidence) / 2 * 100
    f1_low, f1_high = np.nanpercentile(f1s, [tail, 100 - tail])
    alpha_low, alpha_high = (
        np.nanpercentile(alphas, [tail, 100 - tail]) if not np.all(np.isnan(alphas)) else (math.nan, math.nan)
    )
    return {"f1_low": f1_low, "f1_high": f1_high, "alpha_low": alpha_low, "alpha_high": alpha_high}
