"""The judge's self-consistency: how often its repeated runs on one item agree."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from gradeapp.core.alpha import NO_VARIATION, nominal_alpha_from_counts
from gradeapp.core.rubric import SENTENCE_LIMIT, SKILL_PREFIX


def judge_self_consistency(data) -> pd.DataFrame:
    """Return how often the judge's runs agree with each other, per criterion kind.

    Computed on each run's own parsed value, before the program's rules (an unparsed run is missing);
    the criteria the rules change (the sentence limit, named skills) are reported apart, after the rules,
    as ``<criterion> (after the rules)`` with basis "after the rules".

    Parameters
    ----------
    data : AuditData (judge_raw_tally: per item the parsed runs and passes before any rule;
        judge_run_tally: the same after the rules).

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
    after the rules.
    """
    if before_rules:
        tally = getattr(data, "judge_raw_tally", None)
        return None if tally is None else (tally, data.judge_raw_numbers)
    tally = data.judge_run_tally
    return None if tally is None else (tally, data.judge_run_numbers)


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
