"""Compare several judges against the same people on the same generations (pure functions).

The input is one *wide* table of paired points: one row per generation x point (a criterion, or a composite
of the generation), the people's value `h` and one column per judge with that judge's value, kept only where
the people and every compared judge have a verdict. Per judge and per item (each criterion kind, all skills
pooled, each composite): n, agreement, Cohen's kappa, sensitivity, specificity and bias (judge rate - people
rate), with percentile bootstrap intervals. Per pair of judges: the paired differences delta agreement and
delta kappa, with a percentile interval from a *paired* bootstrap over generations (every judge's points of a
resampled generation move together, so the judges' shared difficulty cancels), and the exact McNemar test on
the points where exactly one of the two judges agreed with the people.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import combinations

import numpy as np
import pandas as pd

from gradeapp.core.results import BOOTSTRAP_RESAMPLES, BOOTSTRAP_SEED
from gradeapp.core.two_by_two import (
    bootstrap_weights,
    mcnemar_exact,
    nan_quantiles,
    percentile_levels,
    two_by_two,
)

PER_JUDGE_COLUMNS = [
    "judge", "criterion", "scope", "n", "agreement", "agreement_low", "agreement_high",
    "kappa", "kappa_low", "kappa_high", "sensitivity", "specificity", "bias", "bias_low", "bias_high",
    "p_judge", "p_human",
]  # fmt: skip
PAIR_COLUMNS = [
    "judge_a", "judge_b", "criterion", "scope", "n", "d_agreement", "d_agreement_low", "d_agreement_high",
    "d_kappa", "d_kappa_low", "d_kappa_high", "only_a_right", "only_b_right", "mcnemar_p",
]  # fmt: skip


def _counts(h: np.ndarray, j: np.ndarray, unit: np.ndarray, n_units: int, weights: np.ndarray | None):
    """Return the 2x2 counts (a, b, c, d): totals, or one per resample when weights (B x units) are given."""
    cells = ((h == 1) & (j == 1), (h == 1) & (j == 0), (h == 0) & (j == 1), (h == 0) & (j == 0))
    if weights is None:
        return tuple(float(x.sum()) for x in cells)
    # per unit totals, then one matrix product gives every resample's count
    return tuple(weights @ np.bincount(unit, weights=x.astype(float), minlength=n_units) for x in cells)


def _interval(boot: np.ndarray, confidence: float) -> tuple[float, float]:
    lo, hi = nan_quantiles(boot[:, None], percentile_levels(confidence))
    return float(lo[0]), float(hi[0])


def compare_judges(
    wide: pd.DataFrame,
    judges: list[str],
    *,
    bootstrap: int = BOOTSTRAP_RESAMPLES,
    seed: int = BOOTSTRAP_SEED,
    confidence: float = 0.95,
    units: Sequence[int] | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Return (per judge x item statistics, per pair x item paired differences) from a wide points table.

    wide: generation_id, criterion (the item), scope, h and one column per judge (0/1). Intervals are
    percentile intervals over `bootstrap` resamples of generations (the same draws for every judge, item and
    pair: the bootstrap is paired); with bootstrap = 0 they are NaN. units: the generations resampled
    (default: those of wide); the resamples are agreement_table's (bootstrap_weights, same seed), so that a
    judge's interval here is the one `gradeapp stats` shows.
    """
    rows, pair_rows = [], []
    if units is None:
        units = wide["generation_id"].unique() if len(wide) else []
    gens = np.sort(np.asarray(units, dtype=np.int64))
    n_units = len(gens)
    weights = bootstrap_weights(n_units, bootstrap, seed).T if bootstrap and n_units else None
    for (item, scope), part in wide.groupby(["criterion", "scope"], sort=True):
        unit = np.searchsorted(gens, part["generation_id"].to_numpy())
        h = part["h"].to_numpy(dtype=float)
        stats, boots = {}, {}
        for name in judges:
            j = part[name].to_numpy(dtype=float)
            stats[name] = two_by_two(*_counts(h, j, unit, n_units, None))
            boots[name] = two_by_two(*_counts(h, j, unit, n_units, weights)) if weights is not None else None
            rows.append(_judge_row(name, item, scope, stats[name], boots[name], confidence))
        for a, b in combinations(judges, 2):
            pair_rows.append(_pair_row(part, h, (a, b), (item, scope), stats, boots, confidence))
    return (
        pd.DataFrame(rows, columns=PER_JUDGE_COLUMNS),
        pd.DataFrame(pair_rows, columns=PAIR_COLUMNS),
    )


def _judge_row(name: str, item: str, scope: str, stats: dict, boots: dict | None, confidence: float) -> dict:
    """Return one judge's statistics on one item, with percentile intervals when resampled."""
    row = {"judge": name, "criterion": item, "scope": scope}
    for key in ("n", "agreement", "kappa", "sensitivity", "specificity", "bias", "p_judge", "p_human"):
        row[key] = float(stats[key])
    row["n"] = int(row["n"])
    for key in ("agreement", "kappa", "bias"):
        low, high = _interval(boots[key], confidence) if boots is not None else (math.nan, math.nan)
        row[f"{key}_low"], row[f"{key}_high"] = low, high
    return row


def _pair_row(
    part, h, pair: tuple[str, str], where: tuple[str, str], stats, boots, confidence: float
) -> dict:
    """Return the paired differences (b - a) of two judges on one item, with the exact McNemar test."""
    a, b = pair
    right_a, right_b = part[a].to_numpy(dtype=float) == h, part[b].to_numpy(dtype=float) == h
    only_a, only_b = int((right_a & ~right_b).sum()), int((right_b & ~right_a).sum())
    row = {"judge_a": a, "judge_b": b, "criterion": where[0], "scope": where[1], "n": len(part)}
    for key in ("agreement", "kappa"):
        row[f"d_{key}"] = float(stats[b][key] - stats[a][key])
        resampled = boots[a] is not None
        low, high = (
            _interval(boots[b][key] - boots[a][key], confidence) if resampled else (math.nan, math.nan)
        )
        row[f"d_{key}_low"], row[f"d_{key}_high"] = low, high
    row.update(only_a_right=only_a, only_b_right=only_b, mcnemar_p=float(mcnemar_exact(only_a, only_b)))
    return row


def _item_label(item: str) -> str:
    return "skills" if item.startswith("skill:*") else item


def verdict_sentence(
    per_judge: pd.DataFrame, pairs: pd.DataFrame, costs: dict[str, float] | None = None
) -> str:
    """Return one sentence naming the judge that agrees with people better, where, by how much, at what cost.

    The judges are ranked by their mean kappa over the items; the best is compared with the runner-up on the
    item whose delta kappa interval excludes zero with the largest |delta kappa| (else the largest |delta|).
    """
    if per_judge.empty or pairs.empty:
        return "Only one judge has verdicts on the audited generations: nothing to compare."
    rank = per_judge.groupby("judge")["kappa"].mean().sort_values(ascending=False)
    best, second = str(rank.index[0]), str(rank.index[1])
    sel = pairs[
        ((pairs["judge_a"] == best) & (pairs["judge_b"] == second))
        | ((pairs["judge_a"] == second) & (pairs["judge_b"] == best))
    ].copy()
    sign = np.where(sel["judge_b"] == best, 1.0, -1.0)
    sel["d"] = sel["d_kappa"] * sign
    lo = np.where(sign > 0, sel["d_kappa_low"], -sel["d_kappa_high"])
    hi = np.where(sign > 0, sel["d_kappa_high"], -sel["d_kappa_low"])
    sel["lo"], sel["hi"] = lo, hi
    sel = sel.dropna(subset=["d"])
    if sel.empty:
        return f"No item has verdicts of both {best} and {second}."
    clear = sel[(sel["lo"] > 0) | (sel["hi"] < 0)]
    pick = (
        (clear if not clear.empty else sel).assign(absd=lambda f: f["d"].abs()).sort_values("absd").iloc[-1]
    )
    cost = ""
    if costs and costs.get(best) and costs.get(second):
        cost = f", at {costs[best] / costs[second]:.1f}x the cost"
    ci = "" if math.isnan(pick["lo"]) else f" [{pick['lo']:+.2f}, {pick['hi']:+.2f}]"
    where = _item_label(str(pick["criterion"]))
    if clear.empty:
        return (
            f"Neither {best} nor {second} agrees with people clearly better: on {where} "
            f"the difference is Δκ {pick['d']:+.2f}{ci} (the interval includes zero){cost}."
        )
    better, worse = (best, second) if pick["d"] > 0 else (second, best)
    d, lo_, hi_ = abs(pick["d"]), pick["lo"], pick["hi"]
    if pick["d"] < 0:
        lo_, hi_ = -hi_, -lo_
    ci = f" [{lo_:+.2f}, {hi_:+.2f}]"
    if better != best and costs and costs.get(better) and costs.get(worse):
        cost = f", at {costs[better] / costs[worse]:.1f}x the cost"
    return f"Judge {better} agrees with people better than {worse} on {where}, Δκ {d:+.2f}{ci}{cost}."


JUDGES_CSV_COLUMNS = [
    "judge", "criterion", "n", "agreement", "kappa", "scope", "agreement_low", "agreement_high",
    "kappa_low", "kappa_high", "sensitivity", "specificity", "bias", "bias_low", "bias_high",
    "unanimous", "pairwise", "self_alpha", "ppi_half_width", "calls", "prompt_tokens",
    "completion_tokens", "cost_usd", "seconds",
]  # fmt: skip


def _ppi_metric(item: str) -> str | None:
    """Return the pass-rate metric whose PPI++ width goes with an item (None for a criterion)."""
    if item in ("full_marks", "all_skills"):
        return item
    if item.startswith("skill_fraction"):
        return "skill_fraction"
    return None


@dataclass
class JudgeComparison:
    """The comparison of several judges: tables and the one-sentence verdict."""

    judges: list[str]
    n_generations: int
    per_judge: pd.DataFrame  # judge x item: n, agreement, kappa, sensitivity, specificity, bias (+ CIs)
    pairs: pd.DataFrame  # pair x item: paired delta agreement / delta kappa with CIs, McNemar
    self_consistency: pd.DataFrame  # judge, criterion, unanimous, pairwise, self_alpha
    costs: pd.DataFrame  # judge, calls, prompt_tokens, completion_tokens, cost_usd, seconds
    ppi: pd.DataFrame  # judge, metric, ppi_half_width (mean over student x k cells), cells
    sentence: str
    settings: dict = field(default_factory=dict)

    def table(self) -> pd.DataFrame:
        """Return one row per judge x criterion or composite: the columns of judges.csv."""
        if self.per_judge.empty:
            return pd.DataFrame(columns=JUDGES_CSV_COLUMNS)
        t = self.per_judge.merge(self.self_consistency, on=["judge", "criterion"], how="left")
        metric = t["criterion"].map(_ppi_metric)
        t = t.assign(metric=metric).merge(self.ppi, on=["judge", "metric"], how="left")
        t = t.merge(self.costs, on="judge", how="left")
        return t.reindex(columns=JUDGES_CSV_COLUMNS)

    def summary(self) -> dict:
        """Return a JSON-ready dict (NaN as None)."""

        def records(df: pd.DataFrame) -> list[dict]:
            return df.astype(object).where(df.notna(), None).to_dict("records")

        return {
            "judges": self.judges,
            "n_generations": self.n_generations,
            "verdict": self.sentence,
            "settings": self.settings,
            "judges_table": records(self.table()),
            "pairs": records(self.pairs),
            "costs": records(self.costs),
        }
