"""report.html: one self-contained page that answers first (matplotlib plots as base64 PNG, no network).

The page is a list of sections (SECTIONS), each a function of the statistics returning HTML: the answer
(headline table per metric, one sentence per student, whether the judge can be trusted), then the
k-curves, emergence and the novelty bound, then every full table folded in <details>. A new section is
one more function appended to SECTIONS.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from gradeapp.core.agreement import AGREEMENT_SUMMARY_COLUMNS
from gradeapp.core.judge_compare import JudgeComparison
from gradeapp.core.results import AuditStats
from gradeapp.core.summary import (
    SMALL_AUDIT,
    agreement_forest,
    audit_status,
    bias_direction_known,
    bias_words,
    headline_table,
    kappa_label,
    pct,
    student_sentences,
)
from gradeapp.io.figures import (
    plot_agreement,
    plot_bias,
    plot_confusion,
    plot_forest,
    plot_k_compare,
    plot_k_curves,
    plot_novelty,
    plot_scale,
    png_base64,
)

METRIC_TITLES = {"full_marks": "full marks", "all_skills": "all skills", "skill_fraction": "skill fraction"}


def _table(df: pd.DataFrame, digits: int = 3, limit: int | None = None) -> str:
    if df is None or df.empty:
        return "<p class='empty'>nothing to show</p>"
    if limit and len(df) > limit:
        df = df.head(limit)
    # a header may wrap after an underscore (a zero-width space there), never inside a word
    df = df.rename(columns=lambda name: str(name).replace("_", "_\u200b"))
    return df.to_html(
        index=False, na_rep="–", float_format=lambda x: f"{x:.{digits}f}", border=0, classes="t", escape=True
    )


CSS = """
body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;margin:1.2em auto;max-width:1240px;padding:0 1em;
  color:#1d2329;line-height:1.35}
h1{font-size:1.35em;margin:.1em 0 .2em}h2{font-size:1.12em;margin:1.4em 0 .4em;border-bottom:1px solid #ccd}
h3{font-size:1em;margin:.6em 0 .3em}.lead{margin:.2em 0 .6em;color:#333}.demo{color:#a04000;font-weight:600}
.first{display:grid;grid-template-columns:minmax(0,1.5fr) minmax(0,1fr);gap:1.2em;align-items:start}
table.h{border-collapse:collapse;font-size:13px;width:100%;margin:.2em 0 .5em}
table.h th{background:#eef1f5;font-weight:600;padding:3px 6px;border:1px solid #d5dae1;text-align:center}
table.h td{border:1px solid #d5dae1;padding:3px 6px;vertical-align:top;text-align:center}
table.h td.s{text-align:left;font-weight:600;white-space:nowrap}
.cal{font-size:1.2em;font-weight:700}.ci{color:#555;font-size:.85em}.sub{color:#555;font-size:.8em}
.over{color:#b03a2e;font-weight:600}.under{color:#1f618d;font-weight:600}.why{color:#7b7d7d;font-size:.8em;text-align:left}
ul.sent{margin:.2em 0 .4em 1.1em;padding:0}ul.sent li{margin:.15em 0}
.trust{background:#f6f8fa;border:1px solid #d5dae1;border-radius:4px;padding:.5em .7em}
.trust p{margin:.2em 0 .4em;font-size:.92em}
table.t{border-collapse:collapse;font-size:11.5px;margin:.5em 0}
table.t td,table.t th{border:1px solid #ddd;padding:2px 5px;text-align:right}
table.t th{background:#f4f4f4}img{max-width:100%}.empty{color:#888}.note{color:#555;font-size:.9em}
details{margin:.4em 0}summary{cursor:pointer;font-weight:600}
@media (max-width:980px){.first{grid-template-columns:1fr}}
@page{margin:12mm}
@media print{
  body{max-width:none;margin:0;padding:0;font-size:10.5pt}.first{grid-template-columns:1fr}
  h1,h2,h3,summary,.note{break-after:avoid;page-break-after:avoid}.keep,table.h,img,figure,.trust{break-inside:avoid}
  tr{break-inside:avoid}
  table.t{font-size:6pt;width:100%;table-layout:auto}table.t th,table.t td{word-break:normal;overflow-wrap:normal}
  details{display:block}details>summary{list-style:none}
  details::details-content{content-visibility:visible;display:contents}
  details:not([open])>*:not(summary){display:block}
}
"""


def _img(fig, alt: str) -> str:
    return f"<img alt='{html.escape(alt)}' src='data:image/png;base64,{png_base64(fig)}'>"


def _cell(row: dict, show_why: bool = True) -> str:
    """One headline cell: the calibrated rate and its interval, then judge, people, n and the judge's bias."""
    cal = row["calibrated"]
    sub = (
        f"<div class='sub'>judge {pct(row['judge'])} · people {pct(row['people'])}</div>"
        f"<div class='sub'>audited {row['n_audited']} of {row['n_judged']}</div>"
    )
    if np.isnan(cal):
        why = html.escape(row["note"] or "no audited texts")
        return f"<div class='cal'>–</div>{sub}" + (f"<div class='why'>{why}</div>" if show_why else "")
    b = row["bias_points"]
    known = bias_direction_known(row)
    cls = ("over" if b > 0 else "under") if known else ""
    tip = (
        ("the judge over-credits" if b > 0 else "the judge under-credits")
        if known
        else ("the interval of the judge's bias includes 0: its direction cannot be told")
    )
    small = f" (n = {row['n_audited']})" if row["n_audited"] < SMALL_AUDIT else ""
    bias = (
        f"<div class='sub'><span class='{cls}' title=\"{html.escape(tip)}\">"
        f"bias {html.escape(bias_words(row))}{small}</span></div>"
    )
    ci = f"<span class='ci'>[{pct(row['ci_low'])[:-1]}, {pct(row['ci_high'])[:-1]}]</span>"
    return f"<div class='cal'>{pct(cal)}</div>{ci}{sub}{bias}"


def headline_html(stats: AuditStats, metric: str = "full_marks") -> str:
    """Return the headline table of one metric: students as rows, k as columns, the calibrated rate first."""
    head = headline_table(stats.pass_rates, metric, stats.data)
    if head.empty:
        return "<p class='empty'>no judged texts yet</p>"
    ks = sorted(head["k"].unique())
    rows = [
        "<table class='h'><thead><tr><th>student model</th>"
        + "".join(f"<th>k = {k}</th>" for k in ks)
        + "</tr></thead><tbody>"
    ]
    for student, g in head.groupby("student", sort=True):
        by_k = {int(r["k"]): r for r in g.to_dict("records")}
        # without a draw the reason is the same everywhere: the line above the table says it once
        show_why = bool(stats.data.draw)
        cells = "".join(f"<td>{_cell(by_k[k], show_why) if k in by_k else ''}</td>" for k in ks)
        rows.append(f"<tr><td class='s'>{html.escape(str(student))}</td>{cells}</tr>")
    rows.append("</tbody></table>")
    return "".join(rows)


def trust_sentence(stats: AuditStats) -> str:
    """Return one plain-words answer to 'can the judge be trusted?' from the composite and worst criteria."""
    a = agreement_forest(stats.agreement)
    if a.empty:
        return "Not known yet: no text is graded by both the judge and a person."
    comp = a[(a["scope"] == "composite") & (a["criterion"] == "full_marks")]
    parts = []
    if not comp.empty:
        c = comp.iloc[0]
        lo, hi = c["kappa_ci_low"], c["kappa_ci_high"]
        ci = f" [{lo:.2f}, {hi:.2f}]" if not (np.isnan(lo) or np.isnan(hi)) else ""
        level = kappa_label(c["kappa"])  # Landis and Koch's scale
        parts.append(
            f"On full marks the judge agrees with people {c['agreement']:.0%} of the time, "
            f"kappa {c['kappa']:.2f}{ci} ({level} on Landis and Koch's scale, n = {int(c['n'])}); it passes "
            f"{c['p_judge']:.0%} where people pass {c['p_human']:.0%}."
        )
    crit = a[(a["scope"] == "criterion") & ~a["criterion"].str.startswith("skill:*") & (a["n"] >= 10)]
    worst = crit.head(3)
    if not worst.empty:
        names = ", ".join(
            f"{html.escape(r['criterion'].removeprefix('skill:'))} ({r['kappa']:.2f})"
            for _, r in worst.iterrows()
        )
        parts.append(f"Least reliable (kappa, n ≥ 10): {names}.")
    return " ".join(parts)


def confusion_html(stats: AuditStats) -> str:
    """Return the confusion counts (people as rows, judge as columns) of the composites, overall."""
    a = stats.agreement
    comp = a[(a["breakdown"] == "overall") & (a["scope"] == "composite")] if not a.empty else a
    if comp.empty:
        return ""
    head = "<tr><th></th><th>both pass</th><th>judge only fails</th><th>judge only passes</th><th>both fail</th></tr>"
    body = "".join(
        f"<tr><td class='s'>{html.escape(str(r['criterion']))}</td><td>{int(r['a'])}</td><td>{int(r['b'])}</td>"
        f"<td>{int(r['c'])}</td><td>{int(r['d'])}</td></tr>"
        for _, r in comp.iterrows()
    )
    return f"<table class='h'>{head}{body}</table>"


def section_answer(stats: AuditStats) -> str:
    """The first screen: pass rates per student x k (full marks), a sentence per student, and the judge's trust."""
    d = stats.data
    sentences = student_sentences(headline_table(stats.pass_rates, "full_marks", d))
    items = "".join(f"<li><b>{html.escape(s)}</b>: {html.escape(t)}</li>" for s, t in sentences.items())
    conf = f"{stats.options.confidence:.0%}"
    left = (
        "<div><h2 style='margin-top:.3em'>What is each model's true pass rate? (full marks)</h2>"
        f"<p class='note'>Big number: the calibrated rate (PPI++: the judge's verdicts corrected by the texts people "
        f"graded) with its {conf} interval. Below: the judge's own rate, the people-only rate, texts audited / "
        "judged, and the judge's bias: judge minus people (their calibrated rate), in points with its interval "
        "(+ over-credits); where that interval includes 0 its sign cannot be told.</p>"
        + headline_html(stats, "full_marks")
        + f"<ul class='sent'>{items}</ul></div>"
    )
    right = (
        "<div class='trust'><h2 style='margin-top:.1em'>Can the judge be trusted?</h2>"
        f"<p>{trust_sentence(stats)}</p>"
        + _img(plot_forest(stats, limit=18), "Cohen's kappa per criterion, worst first")
        + confusion_html(stats)
        + "</div>"
    )
    demo = " <span class='demo'>(demo data)</span>" if "demo" in str(d.judge_name) else ""
    return (
        f"<h1>Judge audit: {html.escape(str(d.judge_name))}{demo}</h1>"
        f"<p class='lead'>{html.escape(audit_status(d, stats.pass_rates))}</p>"
        f"<div class='first'>{left}{right}</div>"
    )


def section_other_metrics(stats: AuditStats) -> str:
    """The headline tables of the other metrics."""
    out = ["<h2>The other metrics</h2>"]
    for metric in ("all_skills", "skill_fraction"):
        out.append(f"<h3>{METRIC_TITLES[metric]}</h3>{headline_html(stats, metric)}")
    return "".join(out)


def section_trust_detail(stats: AuditStats) -> str:
    """Every criterion's agreement with its interval (the full forest plot)."""
    return (
        "<div class='keep'><h2>Agreement per criterion, worst first</h2>"
        "<p class='note'>Diamonds are the composites; red below kappa 0.4, amber below 0.6.</p>"
        + _img(plot_forest(stats), "Cohen's kappa per criterion, worst first")
        + "</div>"
    )


def section_curves(stats: AuditStats) -> str:
    """The k-curves, the judge's beside the calibrated; emergence against size; the novelty bound."""
    # each heading travels with its figure, so that no heading is left alone at the bottom of a page
    return (
        "<div class='keep'><h2>k-curves: the judge alone and calibrated</h2>"
        + _img(plot_k_compare(stats), "k-curves, judge alone beside calibrated")
        + "</div><div class='keep'><h2>Emergence: largest k against model size</h2>"
        + _img(plot_scale(stats), "largest k reaching full marks 0.25 against parameters")
        + "</div><div class='keep'><h2>Novelty bound per k</h2>"
        + _img(plot_novelty(stats), "novelty bound per k")
        + "</div>"
    )


def _details(title: str, body: str) -> str:
    return f"<details><summary>{html.escape(title)}</summary>{body}</details>"


def section_tables(stats: AuditStats) -> str:
    """Every full table and the remaining plots, folded."""
    d, options = stats.data, stats.options
    overall = (
        stats.agreement[stats.agreement["breakdown"] == "overall"]
        if not stats.agreement.empty
        else stats.agreement
    )
    # small_n is said once in the note instead (a column of its own would push the table off the page)
    cols = [c for c in AGREEMENT_SUMMARY_COLUMNS if c != "small_n"]
    excl = pd.DataFrame(d.exclusions) if d.exclusions else pd.DataFrame(columns=["what", "n", "why"])
    settings = (
        f"<p class='note'>Confidence {options.confidence:.0%}; bootstrap {options.bootstrap} resamples (seed {options.seed}); "
        f"common skills {'excluded' if d.settings.get('exclude_common') else 'included'}; naming penalty "
        f"{'on' if d.settings.get('naming_penalty') else 'off'}; skill fraction threshold {options.threshold:g}. "
        "A dash (–) marks a figure not defined for its row; the note or alpha_note column says why.</p>"
    )
    return "".join(
        [
            "<h2>Full tables</h2>",
            settings,
            _details(
                "Pass rates: every estimator per student, k and metric (with why an estimate is missing)",
                "<p class='note'>Per generation (single round). PPI++ uses the judge's mean over runs; n_audited "
                "counts only generations of the audit draw graded by people; the design and the confidence level, "
                "the same on every row, are in pass_rates.csv.</p>"
                + _table(stats.pass_rates.drop(columns=["design", "confidence"], errors="ignore")),
            ),
            _details(
                "Agreement (overall)",
                f"<p class='note'>n below {SMALL_AUDIT} is small: read its interval, not its point. Bias: judge "
                "minus people.</p>" + _table(overall.reindex(columns=cols) if not overall.empty else overall),
            ),
            _details("Bias per criterion", _img(plot_bias(stats), "bias per criterion")),
            _details("Confusion matrices", _img(plot_confusion(stats), "confusion matrices")),
            _details(
                "Kappa, AC1 and PABAK", _img(plot_agreement(stats), "kappa, AC1 and PABAK per criterion")
            ),
            _details(
                "Skill-Mix table (judge and people; best of rounds and single round)", _table(stats.skillmix)
            ),
            _details(
                "k-curves, best available estimator, every metric", _img(plot_k_curves(stats), "k-curves")
            ),
            _details("People with people (the ceiling)", _table(stats.human_human)),
            _details("The judge with itself (across runs)", _table(stats.self_consistency)),
            _details(
                "Audit planner",
                f"<p class='note'>More generations to grade per cell for a PPI++ half-width of "
                f"{options.target_half_width:g}.</p>" + _table(stats.plan),
            ),
            _details("What was excluded and why", _table(excl)),
        ]
    )


SECTIONS = [section_answer, section_other_metrics, section_trust_detail, section_curves, section_tables]


def judges_section(judges: JudgeComparison | None) -> str:
    """Return the section comparing the project's judges ('' with fewer than two judges)."""
    if judges is None or len(judges.judges) < 2:
        return ""
    cols = ["judge", "criterion", "n", "agreement", "kappa", "kappa_low", "kappa_high", "sensitivity",
            "specificity", "bias", "pairwise", "ppi_half_width"]  # fmt: skip
    c = judges.settings.get("confidence", 0.95)
    return "".join(
        [
            "<h2>Judges compared (same audited generations)</h2>",
            f"<p><b>{html.escape(judges.sentence)}</b></p>",
            f"<p class='note'>{judges.n_generations} generations graded by people and every judge. Intervals: "
            f"{c:.0%} percentile bootstrap over generations, paired across judges; McNemar: exact test on the "
            "points where exactly one judge agreed with the people; ppi_half_width: mean PPI++ half-width over "
            "student x k cells that judge gives for the same audit.</p>",
            _table(judges.table()[cols]),
            _details("Paired differences (judge_b - judge_a)", _table(judges.pairs)),
            _details("Cost from the job records", _table(judges.costs)),
        ]
    )


def render_report(stats: AuditStats, sections=None) -> str:
    """Return the report as one HTML page, its sections in order (default SECTIONS), every plot embedded."""
    body = "\n".join(section(stats) for section in (sections or SECTIONS))
    return (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>gradeapp judge audit</title><style>{CSS}</style></head><body>\n{body}\n</body></html>"
    )


def write_report(
    stats: AuditStats, path: Path, judges: JudgeComparison | None = None, extra_sections: Sequence[str] = ()
) -> Path:
    """Write report.html at path (with the judges compared and any extra HTML sections before the full
    tables, when given); return it."""
    sections = [*SECTIONS[:-1], lambda _stats: judges_section(judges), SECTIONS[-1]] if judges else None
    if extra_sections:
        sections = sections or list(SECTIONS)
        sections[-1:-1] = [lambda _stats, part=part: part for part in extra_sections]
    Path(path).write_text(render_report(stats, sections), encoding="utf-8")
    return Path(path)
