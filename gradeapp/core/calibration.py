"""Calibrated pass rates: what people would say over the whole judged pool, with a valid interval.

Estimators (skillmix.md, section 6), each computed per student model x k x metric on generations
(single-round units: the audit samples generations, so these are per-generation rates), valid under any
audit design whose audited items carry their inclusion probability pi and design stratum:

- ``judge_only``: the judge's majority-vote rate over the pool (uncorrected; its interval ignores judge error);
- ``human_only``: the audit alone, the Hajek mean sum(w y)/sum(w) with w = 1/pi (Wilson under equal pi);
- ``ppi++``: prediction-powered inference in inverse-probability-weighted form (Zrnic & Candes 2024) with
  power tuning, soft judge scores over the whole pool;
- ``stratified``: post-stratified on the judge's verdict with 1/pi-weighted post-stratum means (the design's
  strata under a by-verdict design);
- ``rogan_gladen`` (opt-in, biased in the coverage study): (p + q0 - 1)/(q0 + q1 - 1) with 1/pi-weighted sensitivity q1 and specificity q0; under
  equal probabilities the interval of Lee et al. (arXiv:2511.21140), otherwise the delta method.

Variances are design variances of linearised values over the design's strata, with the finite-population
correction where a stratum's sampling fraction is above 5%. bench/bench_coverage.py checks every estimator
under every design (docs/audit.md); WITHHELD blanks the ones that failed there, with the reason.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from gradeapp.core.estimators import (
    Design,
    design_quantile,
    hajek_mean,
    mean_ci,
    poststratified_mean,
    ppi_ipw,
    rogan_gladen,
    rogan_gladen_weighted,
    wilson,
)

METRICS = ("full_marks", "all_skills", "skill_fraction")


BINARY = {"full_marks": True, "all_skills": True, "skill_fraction": False}


ESTIMATORS = ("judge_only", "human_only", "ppi++", "stratified", "rogan_gladen")


RESULT_COLUMNS = [
    "student",
    "k",
    "metric",
    "estimator",
    "estimate",
    "ci_low",
    "ci_high",
    "n_audited",
    "n_judged",
    "judge_rate",
    "human_rate",
    "lam",
    "design",
    "confidence",
    "note",
]


# Estimators the coverage study (bench/bench_coverage.py) showed to miss the target under a design:
# (design key, estimator) or (design key, estimator, metric) -> the reason shown in the note column.
WITHHELD: dict[tuple[str, ...], str] = {
    ("by-verdict", "rogan_gladen"): (
        "withheld under a by-verdict audit: in the coverage study its bias (-0.007 to -0.008) exceeded the "
        "target (for full marks it equals the stratified estimate: use that)"
    ),
    ("by-verdict-per-cell", "rogan_gladen"): (
        "withheld under a by-verdict audit: in the coverage study its bias (-0.01 to -0.08) exceeded the "
        "target (for full marks it equals the stratified estimate: use that)"
    ),
    ("active", "rogan_gladen"): (
        "withheld under an active audit: in the coverage study its interval covered 68% (its sensitivity and "
        "specificity come from items chosen for the judge's doubt; use PPI++ or stratified)"
    ),
}


def design_key(draw: dict | None) -> str:
    """Return the name of a draw's design as the coverage study and WITHHELD spell it.

    Parameters
    ----------
    draw : the active draw (design, params) or None.

    Returns
    -------
    str : uniform, uniform-per-cell, stratified, stratified-per-cell, by-verdict, by-verdict-per-cell,
    another design's own name, or "none".
    """
    if not draw:
        return "none"
    params = draw.get("params") or {}
    name = draw["design"]
    if name == "stratified" and params.get("by_verdict"):
        name = "by-verdict"
    if params.get("per_cell") and name in ("uniform", "stratified", "by-verdict"):
        name += "-per-cell"
    return name


@dataclass
class Cell:
    """One student x k x metric: the judge's values over the pool and the audited items."""

    binary: bool
    pool_hard: np.ndarray  # the judge's metric per pool item (NaN = undecided)
    pool_soft: np.ndarray  # the judge's soft score per pool item (NaN = no parsed run)
    y: np.ndarray  # the people's metric on the audited items with a decided value
    yhat: np.ndarray  # the judge's metric on those items
    yhat_soft: np.ndarray
    design: Design
    n_undecided: int  # audited items whose people's metric is undecided (missing)
    post_pool: np.ndarray  # post-stratum of every pool item: 1 judge pass, 0 fail, 2 no verdict
    post_audited: np.ndarray  # post-stratum of the audited items


def _cell(metric: str, pool: pd.DataFrame, audited: pd.DataFrame) -> Cell:
    """Gather one cell's arrays; audited items with an undecided human metric are left out (counted)."""
    decided = audited["y"].notna().to_numpy()
    a = audited[decided]
    stratum = a["stratum"] if "stratum" in a else pd.Series("all", index=a.index)
    return Cell(
        binary=BINARY[metric],
        pool_hard=pool["yhat"].to_numpy(dtype=float),
        pool_soft=pool["yhat_soft"].to_numpy(dtype=float),
        y=a["y"].to_numpy(dtype=float),
        yhat=a["yhat"].to_numpy(dtype=float),
        yhat_soft=a["yhat_soft"].to_numpy(dtype=float),
        design=Design(a["prob"].to_numpy(dtype=float), stratum.astype(str).to_numpy()),
        n_undecided=int((~decided).sum()),
        post_pool=pool["post"].to_numpy(dtype=int),
        post_audited=a["post"].to_numpy(dtype=int),
    )


def _judge_only(c: Cell, confidence: float) -> dict:
    """The judge's rate over the pool's decided items (its interval ignores the judge's errors)."""
    decided = c.pool_hard[~np.isnan(c.pool_hard)]
    j = wilson(decided.sum(), len(decided), confidence) if c.binary else mean_ci(decided, confidence)
    note = "uncorrected: the interval ignores the judge's errors"
    if len(decided) < len(c.pool_hard):
        note += f"; {len(c.pool_hard) - len(decided)} generations without a judge verdict left out"
    return {"estimator": "judge_only", "estimate": j[0], "ci_low": j[1], "ci_high": j[2], "note": note}


def _human_only(c: Cell, confidence: float) -> dict:
    """The audit alone: Wilson (0/1, equal probabilities), else the Hajek mean with its design variance."""
    n = len(c.y)
    if n == 0:
        return {"estimator": "human_only", "estimate": math.nan, "ci_low": math.nan, "ci_high": math.nan,
                "note": "no audited generations"}  # fmt: skip
    if c.design.equal and c.design.prob[0] >= 1:  # a census of the cell: no sampling error is left
        m = float(c.y.mean())
        return {"estimator": "human_only", "estimate": m, "ci_low": m, "ci_high": m,
                "note": "every generation of the cell audited (a census)"}  # fmt: skip
    if c.binary and c.design.equal:
        n_eff = n / (1 - c.design.prob[0]) if c.design.fpc else n
        h = wilson(c.y.mean() * n_eff, n_eff, confidence)
        h = (float(c.y.mean()), h[1], h[2])
    else:
        est, var = hajek_mean(c.y, c.design)
        half = design_quantile(confidence, c.design) * math.sqrt(var) if var == var else math.nan
        h = (est, max(0.0, est - half), min(1.0, est + half))
    return {"estimator": "human_only", "estimate": h[0], "ci_low": h[1], "ci_high": h[2], "note": ""}


def _ppi(c: Cell, confidence: float) -> dict:
    """PPI++ (inverse-probability weighted); a soft score missing everywhere is imputed by the pool mean."""
    known = ~np.isnan(c.pool_soft)
    fill = float(c.pool_soft[known].mean()) if known.any() else 0.0
    r = ppi_ipw(
        c.y, np.where(np.isnan(c.yhat_soft), fill, c.yhat_soft), np.where(known, c.pool_soft, fill),
        c.design, confidence,
    )  # fmt: skip
    ok = not math.isnan(r.estimate)
    return {
        "estimator": "ppi++",
        "estimate": r.estimate,
        "ci_low": max(0.0, r.ci_low) if ok else math.nan,
        "ci_high": min(1.0, r.ci_high) if ok else math.nan,
        "lam": r.lam,
        "note": "" if ok else "needs at least 2 audited generations",
    }


def _stratified(c: Cell, confidence: float) -> dict:
    """Post-stratified on the judge's verdict (undecided verdicts form a stratum of their own)."""
    s = poststratified_mean(c.y, c.post_audited, c.post_pool, c.design, confidence, c.binary)
    note = "" if not math.isnan(s[0]) else "a judge-verdict stratum has fewer than 2 audited items"
    return {"estimator": "stratified", "estimate": s[0], "ci_low": s[1], "ci_high": s[2], "note": note}


def _verdict_level(values: np.ndarray, cut: float) -> np.ndarray:
    """Return 1 (judge pass), 0 (fail) or 2 (no verdict) per item."""
    return np.where(np.isnan(values), 2, values >= cut).astype(int)


def _rogan_gladen(c: Cell, confidence: float) -> dict:
    """Rogan-Gladen: Lee et al.'s interval under equal probabilities, the design-weighted form otherwise."""
    out = {"estimator": "rogan_gladen"}
    if c.design.equal and len(c.y) and c.design.prob[0] >= 1:  # a census: the correction is the people's rate
        rate = float(c.y.mean())
        return {**out, "estimate": rate, "ci_low": rate, "ci_high": rate,
                "note": "every generation of the cell audited (a census)"}  # fmt: skip
    if np.isnan(c.pool_hard).any():
        n_miss = int(np.isnan(c.pool_hard).sum())
        return {**out, "estimate": math.nan, "ci_low": math.nan, "ci_high": math.nan,
                "note": f"needs a judge verdict on every generation ({n_miss} have none)"}  # fmt: skip
    p = float(c.pool_hard.mean()) if len(c.pool_hard) else math.nan
    yh = np.nan_to_num(c.yhat)
    youden = _youden(c.y, yh, c.design.w)
    if youden < RG_MIN_YOUDEN:
        return {**out, "estimate": math.nan, "ci_low": math.nan, "ci_high": math.nan,
                "note": f"the judge's sensitivity + specificity - 1 on the audit is {youden:.2f} (below "
                f"{RG_MIN_YOUDEN}): the correction divides by it and is biased"}  # fmt: skip
    if c.design.equal:
        m1, m0 = int((c.y == 1).sum()), int((c.y == 0).sum())
        q1 = float(((c.y == 1) & (yh == 1)).sum() / m1) if m1 else math.nan
        q0 = float(((c.y == 0) & (yh == 0)).sum() / m0) if m0 else math.nan
        scale = 1 / (1 - c.design.prob[0]) if c.design.fpc else 1.0  # m / (1 - f): the gold set's FPC
        g = (
            rogan_gladen(p, len(c.pool_hard), q0, m0 * scale, q1, m1 * scale, confidence)
            if m0 and m1
            else (math.nan,) * 3
        )
    else:
        g = rogan_gladen_weighted(c.y, yh, p, c.design, confidence)
    note = "" if not math.isnan(g[0]) else "needs human passes and fails and a judge better than chance"
    return {**out, "estimate": g[0], "ci_low": g[1], "ci_high": g[2], "note": note}


RG_MIN_YOUDEN = 0.5  # below it the coverage study found Rogan-Gladen biased beyond the target


def _youden(y: np.ndarray, yhat: np.ndarray, w: np.ndarray) -> float:
    """Return the design-weighted sensitivity + specificity - 1 of the judge on the audit (NaN if undefined)."""
    t1, t0 = np.sum(w * y), np.sum(w * (1 - y))
    if t1 <= 0 or t0 <= 0:
        return math.nan
    return float(np.sum(w * y * yhat) / t1 + np.sum(w * (1 - y) * (1 - yhat)) / t0 - 1)


def _withhold(row: dict, key: str) -> dict:
    """Blank an estimator the coverage study found invalid under this design, with the reason."""
    reason = WITHHELD.get((key, row["estimator"], row["metric"])) or WITHHELD.get((key, row["estimator"]))
    if reason is None:
        return row
    return {**row, "estimate": math.nan, "ci_low": math.nan, "ci_high": math.nan, "note": reason}


def _fpc_note(row: dict, c: Cell) -> dict:
    """Say where the interval used the finite-population correction."""
    if not c.design.fpc or row["estimator"] == "judge_only" or math.isnan(row["estimate"]):
        return row
    share = f"finite-population correction: the audit is {100 * c.design.fraction:.0f}% of a stratum"
    return {**row, "note": f"{row['note']}; {share}" if row["note"] else share}


def _cell_rows(
    student: str,
    k: int,
    metric: str,
    pool: pd.DataFrame,
    audited: pd.DataFrame,
    *,
    design: str,
    confidence: float,
    threshold: float,
    key: str = "none",
    rogan_gladen: bool = False,
) -> list[dict]:
    """Compute every estimator for one cell (threshold: kept for callers; the post-strata come in ``post``).

    pool: yhat, yhat_soft, post; audited: y, yhat, yhat_soft, prob, stratum, post.
    """
    c = _cell(metric, pool, audited)
    base = {
        "student": student,
        "k": int(k),
        "metric": metric,
        "n_audited": len(c.y),
        "n_judged": len(c.pool_hard),
        "judge_rate": float(np.nanmean(c.pool_hard)) if (~np.isnan(c.pool_hard)).any() else math.nan,
        "human_rate": hajek_mean(c.y, c.design)[0],
        "design": design,
        "confidence": confidence,
        "lam": math.nan,
    }
    estimates = [_judge_only(c, confidence), _human_only(c, confidence), _ppi(c, confidence),
                 _stratified(c, confidence)]  # fmt: skip
    if c.binary and rogan_gladen:
        estimates.append(_rogan_gladen(c, confidence))
    rows = [_fpc_note(_withhold({**base, **e}, key), c) for e in estimates]
    if c.n_undecided:
        extra = (
            f"{c.n_undecided} audited generations undecided on this metric left out (the people tied on a "
            "point no adjudicator decided, or a point is missing: never a fail)"
        )
        rows = [{**r, "note": f"{r['note']}; {extra}" if r["note"] else extra} for r in rows]
    return rows


def calibration_inputs(data) -> pd.DataFrame:
    """Return one row per judged generation of an AuditData snapshot.

    Parameters
    ----------
    data : AuditData.

    Returns
    -------
    pandas.DataFrame : index generation_id; student, k, <metric>_judge, <metric>_soft, prob and stratum
    (the active draw's inclusion probability and design stratum, NaN when not drawn), <metric>_human
    (NaN when undecided or not graded) and audited (drawn and graded).
    """
    judge_gen = data.judge_gen
    if judge_gen is None or judge_gen.empty:
        return pd.DataFrame()
    frame = data.gens.loc[judge_gen.index, ["student", "k"]].copy()
    for m in METRICS:
        frame[f"{m}_judge"] = judge_gen[m]
        frame[f"{m}_soft"] = judge_gen[f"{m}_soft"] if f"{m}_soft" in judge_gen else judge_gen[m]
    items = data.audit_items.set_index("generation_id")
    frame["prob"] = items["inclusion_prob"].reindex(frame.index)
    if "stratum" in items:
        frame["stratum"] = items["stratum"].reindex(frame.index)
    else:
        frame["stratum"] = "all"
    human_gen = data.human_gen
    for m in METRICS:
        frame[f"{m}_human"] = human_gen[m].reindex(frame.index) if not human_gen.empty else np.nan
    graded = frame[[f"{m}_human" for m in METRICS]].notna().any(axis=1)
    frame["audited"] = frame["prob"].notna() & graded
    return frame


def _post_strata(frame: pd.DataFrame, metric: str, key: str, threshold: float) -> pd.Series:
    """Return the stratified estimator's post-stratum per generation: the judge's verdict.

    Under a design stratified by the judge's verdict the post-strata are the design's own strata (the
    judge's full-marks verdict, for every metric), so that the estimator is the design's stratified mean;
    otherwise (equal probabilities within a cell, or any other recorded design) the judge's verdict on the
    metric itself, its cut being full marks for 0/1 metrics and ``threshold`` for the skill fraction.
    """
    if key.startswith("by-verdict"):
        # The draw put an undecided full-marks verdict in the fail stratum (services.audit.draw_pool).
        values, cut = frame["full_marks_judge"].fillna(0.0), 1.0
    else:
        values, cut = frame[f"{metric}_judge"], (1.0 if BINARY[metric] else threshold)
    return pd.Series(_verdict_level(values.to_numpy(dtype=float), cut), index=frame.index)


def calibrate(
    data, *, confidence: float = 0.95, threshold: float = 0.5, metrics=METRICS, rogan_gladen: bool = False
) -> pd.DataFrame:
    """Return every estimator per student x k x metric from an AuditData snapshot.

    Parameters
    ----------
    data : AuditData (the active draw's items carry their inclusion probability and stratum).
    confidence : level of every interval.
    threshold : the skill-fraction cut of the stratified estimator's judge strata.
    metrics : the metrics to estimate.
    rogan_gladen : also the Rogan-Gladen correction (opt-in: biased by -0.01 to -0.08 in the coverage
        study, see docs/audit.md; 0/1 metrics only).

    Returns
    -------
    pandas.DataFrame : RESULT_COLUMNS, one row per student x k x metric x estimator; a blank estimate
    has its reason in ``note``.
    """
    frame = calibration_inputs(data)
    if frame.empty:
        return pd.DataFrame(columns=RESULT_COLUMNS)
    design = data.draw["design"] if data.draw else "none"
    if data.draw and data.draw["params"].get("by_verdict"):
        design += "+verdict"
    key = design_key(data.draw)
    post = {m: _post_strata(frame, m, key, threshold) for m in metrics}
    rows: list[dict] = []
    for (student, k), cell in frame.groupby(["student", "k"], sort=True):
        a = cell[cell["audited"]]
        for m in metrics:
            pool = pd.DataFrame(
                {"yhat": cell[f"{m}_judge"], "yhat_soft": cell[f"{m}_soft"], "post": post[m][cell.index]}
            )
            audited = pd.DataFrame(
                {
                    "y": a[f"{m}_human"],
                    "yhat": a[f"{m}_judge"],
                    "yhat_soft": a[f"{m}_soft"],
                    "prob": a["prob"],
                    "stratum": a["stratum"],
                    "post": post[m][a.index],
                }
            )
            rows.extend(
                _cell_rows(
                    str(student),
                    int(k),
                    m,
                    pool,
                    audited,
                    design=design,
                    confidence=confidence,
                    threshold=threshold,
                    key=key,
                    rogan_gladen=rogan_gladen,
                )
            )
    return pd.DataFrame(rows, columns=RESULT_COLUMNS)
