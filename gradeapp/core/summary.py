"""The answer first: the headline table, one sentence per student, and why an estimate is missing.

Pure functions on the statistics' tables (see gradeapp.core.results): the report, the desk's Summary tab,
`gradeapp stats` and the paper exports all read the same headline from here.
"""

from __future__ import annotations

import math

import pandas as pd

from gradeapp.core.metrics import aggregate

HEADLINE_COLUMNS = [
    "student", "k", "judge", "calibrated", "ci_low", "ci_high", "people", "n_audited", "n_judged",
    "bias_points", "bias_low", "bias_high", "note",
]  # fmt: skip
SMALL_AUDIT = 30  # below it a sentence names how many audited texts an estimate rests on
# Landis & Koch (1977), "The measurement of observer agreement for categorical data", Biometrics 33:159-174.
KAPPA_SCALE = (
    (0.20, "slight"),
    (0.40, "fair"),
    (0.60, "moderate"),
    (0.80, "substantial"),
    (1.0, "almost perfect"),
)
DRAW_COMMAND = "gradeapp audit draw --size 6 --per-cell"
MIN_STRATUM = 2


def _is_blank(note: object) -> bool:
    return note is None or (isinstance(note, float) and math.isnan(note)) or str(note).strip() == ""


def _drawn_per_cell(data) -> dict[tuple[str, int], int]:
    """Return how many generations of the active draw fall in each student x k cell."""
    items = data.audit_items
    if items is None or items.empty or data.gens.empty:
        return {}
    gens = data.gens.loc[data.gens.index.intersection(items["generation_id"])]
    return {(str(s), int(k)): int(n) for (s, k), n in gens.groupby(["student", "k"]).size().items()}


def _drafts(data) -> int:
    """Return the number of people's verdicts left out because their item is not submitted."""
    return sum(int(e.get("n", 0)) for e in data.exclusions if "not submitted" in str(e.get("why", "")))


def context_reason(row: dict, data, drawn: dict[tuple[str, int], int], drafts: int) -> str | None:
    """Say what the audit lacks for this cell (no draw, nothing drawn here, drawn texts not graded), or None."""
    if not data.draw:
        return f"no audit draw yet: make one ({DRAW_COMMAND}) and grade its texts in the desk"
    cell = (str(row["student"]), int(row["k"]))
    m = drawn.get(cell, 0)
    n = int(row.get("n_audited") or 0)
    if m == 0:
        return f"the audit draw {data.draw['name']!r} has no text of this student at this k: draw again with --per-cell"
    if n < m:
        text = f"{m - n} of {m} drawn texts not graded by people yet: grade them in the desk (queue filter: audit draw)"
        if drafts:
            text += f"; {drafts} people's verdicts are on items still drafts (submit them)"
        return text
    return None


def blank_reason(row: dict, data, drawn: dict[tuple[str, int], int], drafts: int) -> str:
    """Say in words why this estimate is missing and what to do next."""
    context = context_reason(row, data, drawn, drafts)
    if context:
        return context
    n = int(row.get("n_audited") or 0)
    if row.get("estimator") == "stratified":
        return f"a judge-verdict stratum has fewer than {MIN_STRATUM} audited texts: grade more of the draw"
    if row.get("estimator") == "rogan_gladen":
        return "undefined here: needs people's passes and fails and a judge better than chance"
    return f"undefined for {row.get('metric')} with these {n} audited texts"


def fill_notes(rates: pd.DataFrame, data) -> pd.DataFrame:
    """Write a reason into `note` of every missing estimate whose note is still empty (others are kept)."""
    if rates.empty:
        return rates
    rates = rates.copy()
    if "note" not in rates:
        rates["note"] = ""
    drawn = _drawn_per_cell(data)
    drafts = _drafts(data)
    missing = rates["estimate"].isna() & rates["note"].map(_is_blank)
    for i in rates.index[missing]:
        rates.at[i, "note"] = blank_reason(rates.loc[i].to_dict(), data, drawn, drafts)
    return rates


def audit_status(data, rates: pd.DataFrame) -> str:
    """Return one sentence on the state of the audit: what the calibrated numbers rest on, or what is missing."""
    if not data.draw:
        return f"No audit draw yet, so only the judge's rates are shown. Next: {DRAW_COMMAND}, then grade the drawn texts."
    m = len(data.audit_items)
    n = int(len(data.human_gen.index.intersection(data.audit_items["generation_id"]))) if m else 0
    text = f"Audit draw {data.draw['name']!r}: {n} of {m} drawn texts graded by people"
    drafts = _drafts(data)
    if n < m:
        text += f"; {m - n} still to grade"
    if drafts:
        text += f"; {drafts} people's verdicts are on items still drafts"
    return text + "."


def headline_table(rates: pd.DataFrame, metric: str = "full_marks", data=None) -> pd.DataFrame:
    """Return student x k: judge rate, calibrated (PPI++) rate with interval, people-only rate, n, bias.

    With the data snapshot, a missing calibrated rate says first what the audit lacks in its cell (no
    draw, drawn texts not graded yet), else the estimator's own reason.
    """
    if rates.empty:
        return pd.DataFrame(columns=HEADLINE_COLUMNS)
    drawn = _drawn_per_cell(data) if data is not None else {}
    drafts = _drafts(data) if data is not None else 0
    r = rates[rates["metric"] == metric]
    rows = []
    for (student, k), cell in r.groupby(["student", "k"], sort=True):
        by = {e: row for e, row in zip(cell["estimator"], cell.to_dict("records"), strict=True)}
        judge = by.get("judge_only", {})
        ppi = by.get("ppi++", {})
        people = by.get("human_only", {})
        est = ppi.get("estimate", math.nan)
        jr = judge.get("estimate", math.nan)
        rows.append(
            {
                "student": student,
                "k": int(k),
                "judge": jr,
                "calibrated": est,
                "ci_low": ppi.get("ci_low", math.nan),
                "ci_high": ppi.get("ci_high", math.nan),
                "people": people.get("estimate", math.nan),
                "n_audited": int(ppi.get("n_audited", judge.get("n_audited", 0)) or 0),
                "n_judged": int(judge.get("n_judged", 0) or 0),
                # the judge's bias, judge minus people (their rate, as calibrated); the judge's own rate is a
                # census of the pool, so its interval is the calibrated interval turned around
                "bias_points": 100 * (jr - est) if not (math.isnan(jr) or math.isnan(est)) else math.nan,
                "bias_low": 100 * (jr - ppi.get("ci_high", math.nan)) if not math.isnan(est) else math.nan,
                "bias_high": 100 * (jr - ppi.get("ci_low", math.nan)) if not math.isnan(est) else math.nan,
                "note": ""
                if not math.isnan(est)
                else (data is not None and context_reason(ppi or judge, data, drawn, drafts))
                or str(ppi.get("note") or ""),
            }
        )
    return pd.DataFrame(rows, columns=HEADLINE_COLUMNS)


def pct(x: float) -> str:
    """Format a rate as a whole percentage ('–' when missing)."""
    if x is None or math.isnan(x):
        return "–"
    return f"{abs(100 * x) if abs(x) < 0.005 else 100 * x:.0f}%"  # no '-0%' from a rounding error


def _interval(lo: float, hi: float) -> str:
    return f"[{pct(lo)[:-1]}, {pct(hi)[:-1]}]"


def kappa_label(kappa: float) -> str:
    """Return the Landis and Koch word for a kappa (below 0 "poor", 0.21-0.40 "fair"); "undefined" for NaN."""
    if kappa is None or math.isnan(kappa):
        return "undefined"
    if kappa < 0:
        return "poor"
    return next((word for top, word in KAPPA_SCALE if kappa <= top), "almost perfect")


def signed_points(x: float) -> str:
    """Format points with a true minus sign (U+2212) or a plus sign; '–' when missing."""
    if x is None or math.isnan(x):
        return "–"
    text = f"{x:+.0f}"
    return "0" if text in ("+0", "-0") else text.replace("-", "\u2212")


def bias_direction_known(row: dict) -> bool:
    """Return whether the interval of the judge's bias excludes 0 (so that its sign can be told)."""
    lo, hi = row.get("bias_low", math.nan), row.get("bias_high", math.nan)
    return not (math.isnan(lo) or math.isnan(hi)) and (lo > 0 or hi < 0)


def bias_words(row: dict) -> str:
    """Return the judge's bias (judge minus people, points) with its interval, or that its sign is unknown."""
    b = row.get("bias_points", math.nan)
    if b is None or math.isnan(b):
        return "–"
    interval = f"[{signed_points(row['bias_low'])}, {signed_points(row['bias_high'])}]"
    if not bias_direction_known(row):
        return f"sign unknown {interval} pt"
    return f"{signed_points(b)} pt {interval}"


def student_sentences(head: pd.DataFrame) -> dict[str, str]:
    """Return one plain sentence per student, about its largest k with a calibrated rate (else its largest k)."""
    out = {}
    for student, g in head.groupby("student", sort=True):
        g = g.sort_values("k")
        have = g[g["calibrated"].notna()]
        row = (have if not have.empty else g).iloc[-1]
        k = int(row["k"])
        text = f"At k = {k} the judge credits {pct(row['judge'])}"
        if math.isnan(row["calibrated"]):
            text += f"; no calibrated rate yet ({row['note'] or 'no audited texts'})."
        else:
            text += (
                f"; calibrated by {int(row['n_audited'])} audited texts the rate is {pct(row['calibrated'])} "
                f"{_interval(row['ci_low'], row['ci_high'])}"
            )
            text += _bias_sentence(row)
        out[str(student)] = text
    return out


def _bias_sentence(row) -> str:
    """Say what the bias interval supports: a direction only when it excludes 0; n when it is small."""
    b = row["bias_points"]
    n = int(row["n_audited"])
    small = f" (only {n} audited text{'' if n == 1 else 's'})" if n < SMALL_AUDIT else ""
    interval = f"[{signed_points(row['bias_low'])}, {signed_points(row['bias_high'])}] points"
    if not bias_direction_known(row):
        return f": whether the judge over- or under-credits cannot be told{small}, its bias is {interval}."
    points = f"{abs(b):.0f} point{'' if round(abs(b)) == 1 else 's'}"
    verb = "over-credits" if b > 0 else "under-credits"
    return f": the judge {verb} by {points} {interval}{small}."


def agreement_forest(agreement: pd.DataFrame) -> pd.DataFrame:
    """Return the overall per-criterion and composite agreement rows, worst Cohen's kappa first."""
    if agreement.empty:
        return agreement
    a = agreement[agreement["breakdown"] == "overall"].copy()
    a = a[a["n"] > 0]
    a["_order"] = a["kappa"].fillna(-2)
    return a.sort_values(["_order", "criterion"]).drop(columns="_order").reset_index(drop=True)


def headline_lines(rates: pd.DataFrame, metric: str = "full_marks", data=None) -> list[str]:
    """Return the headline as plain text lines: one per student x k, then one sentence per student."""
    head = headline_table(rates, metric, data)
    if head.empty:
        return ["no judged texts yet"]
    lines = [
        f"{'student':<22} {'k':>2}  {'judge':>5}  {'calibrated [CI]':<18} {'people':>6}  {'audited':>9}  "
        "bias (judge minus people)"
    ]
    for r in head.to_dict("records"):
        cal = (
            "–"
            if math.isnan(r["calibrated"])
            else f"{pct(r['calibrated'])} {_interval(r['ci_low'], r['ci_high'])}"
        )
        bias = bias_words(r) if not math.isnan(r["bias_points"]) else ""
        lines.append(
            f"{str(r['student'])[:22]:<22} {r['k']:>2}  {pct(r['judge']):>5}  {cal:<18} {pct(r['people']):>6}  "
            f"{r['n_audited']:>3} of {r['n_judged']:<3}  {bias}{('  (' + r['note'] + ')') if r['note'] else ''}"
        )
    lines.append("")
    lines += [f"{s}: {t}" for s, t in student_sentences(head).items()]
    return lines


def omitted(rates: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    """Split the rates into the rows with an estimate and one line per reason for the rows left out."""
    if rates.empty:
        return rates, []
    blank = rates["estimate"].isna()
    reasons = rates[blank].groupby(["estimator", "note"], sort=True).size()
    lines = [f"{n} {est} estimate(s) left out: {note}" for (est, note), n in reasons.items()]
    return rates[~blank], lines


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
