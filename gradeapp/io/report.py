"""report.html: one self-contained page that answers first (matplotlib plots as base64 PNG, no network).

The page is a list of sections (SECTIONS), each a function of the statistics returning HTML: the answer
(headline table per metric, one sentence per student, whether the judge can be trusted), then the
k-curves, emergence and the novelty bound, then every full table folded in <details>. A new section is
one more function appended to SECTIONS.
"""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from gradeapp.core.agreement import AGREEMENT_SUMMARY_COLUMNS
from gradeapp.core.judge_compare import JudgeComparison
from gradeapp.core.results import AuditStats
from gradeapp.core.sampling import novelty_bound
from gradeapp.core.summary import (
    agreement_forest,
    audit_status,
    headline_table,
    pct,
    student_sentences,
)

PLOT_METRICS = ("full_marks", "all_skills", "skill_fraction")
ESTIMATOR_ORDER = ("ppi++", "stratified", "human_only", "rogan_gladen", "judge_only")


def _figure(width: float = 7.5, height: float = 3.6, dpi: int = 90):
    """Return a new matplotlib figure on the Agg canvas (no display, no global pyplot state)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=dpi, layout="tight")
    FigureCanvasAgg(fig)
    return fig


def _integer_locator():
    """Return a tick locator that puts ticks on integers only."""
    from matplotlib.ticker import MaxNLocator  # deferred: `stats` and the desk start without matplotlib

    return MaxNLocator(integer=True)


def _png(fig) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return base64.b64encode(buf.getvalue()).decode("ascii")


def best_estimates(rates: pd.DataFrame) -> pd.DataFrame:
    """Return one estimate per student x k x metric: PPI++ where it exists, else the next best estimator."""
    if rates.empty:
        return rates
    r = rates.dropna(subset=["estimate"]).copy()
    r["rank"] = r["estimator"].map({e: i for i, e in enumerate(ESTIMATOR_ORDER)})
    return r.sort_values("rank").groupby(["student", "k", "metric"], as_index=False).first()


# -- plots (each returns a Figure) ----------------------------------------------------------------
def plot_k_curves(stats: AuditStats, fig=None):
    """Draw the k-curve of each student model per metric with its interval (best available estimator)."""
    fig = fig or _figure(10, 3.4)
    best = best_estimates(stats.pass_rates)
    axes = fig.subplots(1, len(PLOT_METRICS), sharey=True)
    for ax, metric in zip(axes, PLOT_METRICS, strict=True):
        sub = best[best["metric"] == metric] if not best.empty else best
        for student, g in sub.groupby("student") if not sub.empty else []:
            g = g.sort_values("k")
            err = np.vstack([g["estimate"] - g["ci_low"], g["ci_high"] - g["estimate"]]).clip(min=0)
            ax.errorbar(g["k"], g["estimate"], yerr=err, marker="o", capsize=3, label=student)
        ax.set_title(metric.replace("_", " "))
        ax.set_xlabel("k (skills per text)")
        ax.xaxis.set_major_locator(_integer_locator())
        ax.set_ylim(-0.02, 1.02)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("pass rate (PPI++ where audited)")
    if not best.empty:
        axes[-1].legend(fontsize=7, loc="upper right")
    return fig


def largest_k(stats: AuditStats, level: float = 0.25, metric: str = "full_marks") -> pd.DataFrame:
    """Return per student: params_b and the largest k whose pass rate (best estimator) reaches level."""
    best = best_estimates(stats.pass_rates)
    students = stats.data.students.dropna(subset=["params_b"])
    if best.empty or students.empty:
        return pd.DataFrame(columns=["student", "params_b", "largest_k"])
    sub = best[(best["metric"] == metric) & (best["estimate"] >= level)]
    top = sub.groupby("student")["k"].max()
    out = students.rename(columns={"name": "student"}).assign(largest_k=lambda f: f["student"].map(top))
    return out.dropna(subset=["largest_k"]).reset_index(drop=True)


def plot_scale(stats: AuditStats, level: float = 0.25, fig=None):
    """Draw the largest k reaching `level` against model size (log axes) beside '10x scale doubles k'."""
    fig = fig or _figure(5.5, 3.6)
    ax = fig.subplots()
    pts = largest_k(stats, level)
    if pts.empty:
        ax.text(
            0.5,
            0.5,
            "no student model with a parameter count\nreaches this pass rate",
            ha="center",
            va="center",
            transform=ax.transAxes,
        )
        ax.set_axis_off()
        return fig
    ax.scatter(pts["params_b"], pts["largest_k"], zorder=3, label="observed")
    for _, row in pts.iterrows():
        ax.annotate(
            row["student"],
            (row["params_b"], row["largest_k"]),
            fontsize=7,
            xytext=(4, 4),
            textcoords="offset points",
        )
    anchor = pts.sort_values("params_b").iloc[0]
    xs = np.logspace(np.log10(pts["params_b"].min()) - 0.3, np.log10(pts["params_b"].max()) + 0.5, 50)
    ax.plot(
        xs,
        anchor["largest_k"] * 2 ** np.log10(xs / anchor["params_b"]),
        "--",
        color="gray",
        label="theory: 10x scale doubles k",
    )
    ax.set_xscale("log")
    ax.set_yscale("log", base=2)
    ticks = [t for t in (1, 2, 3, 4, 5, 6, 8, 10, 12, 16) if t <= 2 * pts["largest_k"].max()]
    ax.set_yticks(ticks, [str(t) for t in ticks])
    ax.minorticks_off()
    ax.set_xlabel("parameters (billions, log)")
    ax.set_ylabel(f"largest k with full marks >= {level:g} (log)")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=7)
    return fig


def plot_novelty(stats: AuditStats, fig=None):
    """Draw the novelty bound p_s^k p_t L per k and 1.5x it, beside each student's full-marks rate."""
    fig = fig or _figure(5.5, 3.6)
    ax = fig.subplots()
    ks = sorted(set(stats.data.gens["k"].unique().tolist()) | {2, 3, 4, 5, 6})
    bound = np.array([novelty_bound(k) for k in ks])
    ax.plot(ks, bound, "k-", label="novelty bound p_s^k p_t L")
    ax.plot(ks, 1.5 * bound, "k:", label="1.5 x bound")
    best = best_estimates(stats.pass_rates)
    if not best.empty:
        for student, g in best[best["metric"] == "full_marks"].groupby("student"):
            g = g.sort_values("k")
            ax.plot(g["k"], g["estimate"].clip(lower=1e-4), "o", label=f"{student} full marks")
    ax.set_yscale("log")
    ax.set_ylim(1e-4, 2)  # a bound above 1 constrains nothing
    ax.xaxis.set_major_locator(_integer_locator())
    ax.set_xlabel("k")
    ax.set_ylabel("share of combinations / pass rate")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=6)
    return fig


def _headline(a: pd.DataFrame) -> pd.DataFrame:
    """Return the overall rows of the composites, the non-skill criteria and all skills pooled (not each skill)."""
    if a.empty:
        return a
    a = a[a["breakdown"] == "overall"]
    return a[~a["criterion"].str.startswith("skill:") | a["criterion"].str.startswith("skill:*")]


def plot_bias(stats: AuditStats, fig=None):
    """Draw judge - human bias per criterion and composite (overall) with its interval."""
    a = _headline(stats.agreement)
    fig = fig or _figure(7.5, max(2.5, 0.22 * len(a) + 1))
    ax = fig.subplots()
    if a.empty:
        ax.text(
            0.5,
            0.5,
            "no generation graded by both the judge and a person",
            ha="center",
            transform=ax.transAxes,
        )
        ax.set_axis_off()
        return fig
    a = a.iloc[::-1]
    y = np.arange(len(a))
    err = np.vstack([a["bias"] - a["bias_ci_low"], a["bias_ci_high"] - a["bias"]]).clip(min=0)
    ax.errorbar(a["bias"], y, xerr=err, fmt="o", capsize=2, markersize=3)
    ax.axvline(0, color="gray", lw=1)
    ax.set_yticks(y, [f"{c} (n={n})" for c, n in zip(a["criterion"], a["n"], strict=True)], fontsize=6)
    ax.set_xlabel("bias: judge pass rate - human pass rate")
    ax.grid(alpha=0.3)
    return fig


def plot_confusion(stats: AuditStats, fig=None):
    """Draw the 2x2 confusion matrices (human rows, judge columns) of the composites, overall."""
    a = stats.agreement
    comp = a[(a["breakdown"] == "overall") & (a["scope"] == "composite")] if not a.empty else a
    fig = fig or _figure(9, 3)
    if comp.empty:
        ax = fig.subplots()
        ax.text(
            0.5,
            0.5,
            "no composite graded by both the judge and a person",
            ha="center",
            transform=ax.transAxes,
        )
        ax.set_axis_off()
        return fig
    axes = np.atleast_1d(fig.subplots(1, len(comp)))
    for ax, (_, row) in zip(axes, comp.iterrows(), strict=True):
        m = np.array([[row["a"], row["b"]], [row["c"], row["d"]]])
        ax.imshow(m, cmap="Blues")
        for (i, j), v in np.ndenumerate(m):
            ax.text(
                j, i, str(int(v)), ha="center", va="center", color="white" if v > m.max() / 2 else "black"
            )
        ax.set_xticks([0, 1], ["judge pass", "judge fail"])
        ax.set_yticks([0, 1], ["human pass", "human fail"])
        ax.set_title(f"{row['criterion']} (n={row['n']})", fontsize=8)
    return fig


def plot_agreement(stats: AuditStats, fig=None):
    """Draw kappa, AC1 and PABAK per criterion and composite (overall) with bootstrap intervals."""
    a = _headline(stats.agreement)
    fig = fig or _figure(7.5, max(2.5, 0.22 * len(a) + 1))
    ax = fig.subplots()
    if a.empty:
        ax.set_axis_off()
        return fig
    a = a.iloc[::-1]
    y = np.arange(len(a))
    for off, (name, color) in zip(
        (-0.25, 0, 0.25), (("kappa", "C0"), ("ac1", "C1"), ("pabak", "C2")), strict=True
    ):
        lo = (a[name] - a[f"{name}_ci_low"]).fillna(0).clip(lower=0)
        hi = (a[f"{name}_ci_high"] - a[name]).fillna(0).clip(lower=0)
        ax.errorbar(
            a[name],
            y + off,
            xerr=np.vstack([lo, hi]),
            fmt="o",
            markersize=3,
            capsize=2,
            color=color,
            label=name,
        )
    ax.set_yticks(y, [f"{c} (n={n})" for c, n in zip(a["criterion"], a["n"], strict=True)], fontsize=6)
    ax.set_xlim(-1.05, 1.05)
    ax.axvline(0, color="gray", lw=1)
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)
    return fig


def plot_forest(stats: AuditStats, fig=None, *, limit: int | None = None, fontsize: float = 7):
    """Draw Cohen's kappa per criterion and composite with its interval, worst first (a forest plot)."""
    a = agreement_forest(stats.agreement)
    if limit:
        a = a.head(limit)
    fig = fig or _figure(5.2, max(2.4, 0.2 * len(a) + 0.9))
    ax = fig.subplots()
    if a.empty:
        ax.text(
            0.5, 0.5, "no text graded by both the judge and a person yet", ha="center", transform=ax.transAxes
        )
        ax.set_axis_off()
        return fig
    a = a.iloc[::-1].reset_index(drop=True)
    y = np.arange(len(a))
    k = a["kappa"].to_numpy(dtype=float)
    lo = np.nan_to_num(k - a["kappa_ci_low"].to_numpy(dtype=float), nan=0).clip(min=0)
    hi = np.nan_to_num(a["kappa_ci_high"].to_numpy(dtype=float) - k, nan=0).clip(min=0)
    composite = (a["scope"] == "composite").to_numpy()
    colors = np.where(k < 0.4, "#c0392b", np.where(k < 0.6, "#d68910", "#1e8449"))
    for i in range(len(a)):
        ax.errorbar(
            k[i], y[i], xerr=[[lo[i]], [hi[i]]], fmt="D" if composite[i] else "o", color=colors[i],
            markersize=4, capsize=2, lw=1,
        )  # fmt: skip
    labels = [f"{c.removeprefix('skill:')} (n={n})" for c, n in zip(a["criterion"], a["n"], strict=True)]
    ax.set_yticks(y, labels, fontsize=fontsize)
    for tick, comp in zip(ax.get_yticklabels(), composite, strict=True):
        tick.set_fontweight("bold" if comp else "normal")
    ax.axvline(0, color="gray", lw=0.8)
    for x in (0.4, 0.6):
        ax.axvline(x, color="gray", lw=0.5, ls=":")
    ax.set_xlim(-1.05, 1.05)
    ax.set_xticks([-1, -0.5, 0, 0.5, 1])
    ax.set_xlabel("Cohen's kappa, judge vs people", fontsize=fontsize + 1)
    ax.tick_params(axis="x", labelsize=fontsize)
    ax.grid(alpha=0.25, axis="x")
    return fig


def plot_k_compare(
    stats: AuditStats, metric: str = "full_marks", fig=None, *, width: float = 9, height: float = 3.2
):
    """Draw the k-curves side by side: the judge's own rate and the calibrated (PPI++) rate, per student."""
    fig = fig or _figure(width, height)
    rates = stats.pass_rates
    axes = fig.subplots(1, 2, sharey=True)
    panels = (("judge_only", "judge alone"), ("ppi++", "calibrated (PPI++)"))
    for ax, (est, title) in zip(axes, panels, strict=True):
        sub = rates[(rates["metric"] == metric) & (rates["estimator"] == est)].dropna(subset=["estimate"])
        for i, (student, g) in enumerate(sub.groupby("student", sort=True)):
            g = g.sort_values("k")
            err = np.vstack([g["estimate"] - g["ci_low"], g["ci_high"] - g["estimate"]]).clip(min=0)
            ax.errorbar(
                g["k"] + (i - 1) * 0.06,
                g["estimate"],
                yerr=err,
                marker="o",
                markersize=3,
                capsize=2,
                lw=1,
                label=student,
            )
        ax.set_title(f"{title}: {metric.replace('_', ' ')}", fontsize=9)
        ax.set_xlabel("k (skills per text)", fontsize=8)
        ax.xaxis.set_major_locator(_integer_locator())
        ax.tick_params(labelsize=7)
        ax.set_ylim(-0.02, 1.02)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("pass rate", fontsize=8)
    if axes[1].get_legend_handles_labels()[0]:
        axes[1].legend(fontsize=6, loc="upper right")
    elif axes[0].get_legend_handles_labels()[0]:
        axes[0].legend(fontsize=6, loc="upper right")
    return fig


def figures(stats: AuditStats) -> dict[str, object]:
    """Return every plot of the report by name (Agg figures)."""
    return {
        "forest": plot_forest(stats),
        "k_compare": plot_k_compare(stats),
        "k_curves": plot_k_curves(stats),
        "scale": plot_scale(stats),
        "novelty": plot_novelty(stats),
        "bias": plot_bias(stats),
        "confusion": plot_confusion(stats),
        "agreement": plot_agreement(stats),
    }


# -- the page -------------------------------------------------------------------------------------
METRIC_TITLES = {"full_marks": "full marks", "all_skills": "all skills", "skill_fraction": "skill fraction"}


def _table(df: pd.DataFrame, digits: int = 3, limit: int | None = None) -> str:
    if df is None or df.empty:
        return "<p class='empty'>nothing to show</p>"
    if limit and len(df) > limit:
        df = df.head(limit)
    return df.to_html(
        index=False, na_rep="", float_format=lambda x: f"{x:.{digits}f}", border=0, classes="t", escape=True
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
@page{size:A4;margin:12mm}
@media print{
  body{max-width:none;margin:0;padding:0;font-size:10.5pt}.first{grid-template-columns:1fr}
  h2{break-after:avoid}table,img,figure,.trust{break-inside:avoid}tr{break-inside:avoid}
  table.t{font-size:6.5pt;width:100%;table-layout:auto}table.t th{word-break:break-all}table.t td{word-break:normal}
  details{display:block}details>summary{list-style:none}
  details::details-content{content-visibility:visible;display:contents}
  details:not([open])>*:not(summary){display:block}
}
"""


def _img(fig, alt: str) -> str:
    return f"<img alt='{html.escape(alt)}' src='data:image/png;base64,{_png(fig)}'>"


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
    cls = "over" if b >= 1 else "under" if b <= -1 else ""
    tip = "over-credits" if b >= 1 else "under-credits" if b <= -1 else "is within a point"
    bias = (
        f"<div class='sub'><span class='{cls}' title='the judge {tip}'>judge {b:+.0f} pt</span></div>"
        if cls
        else "<div class='sub'>judge ±0 pt</div>"
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
        level = "poor" if c["kappa"] < 0.4 else "moderate" if c["kappa"] < 0.6 else "good"
        parts.append(
            f"On full marks the judge agrees with people {c['agreement']:.0%} of the time, "
            f"kappa {c['kappa']:.2f}{ci} ({level}, n = {int(c['n'])}); it passes {c['p_judge']:.0%} where people "
            f"pass {c['p_human']:.0%}."
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
        "judged, and the judge's bias: its rate minus the calibrated one, in points (+ over-credits).</p>"
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
        "<h2>Agreement per criterion, worst first</h2>"
        "<p class='note'>Diamonds are the composites; red below kappa 0.4, amber below 0.6.</p>"
        + _img(plot_forest(stats), "Cohen's kappa per criterion, worst first")
    )


def section_curves(stats: AuditStats) -> str:
    """The k-curves, the judge's beside the calibrated; emergence against size; the novelty bound."""
    return (
        "<h2>k-curves: the judge alone and calibrated</h2>"
        + _img(plot_k_compare(stats), "k-curves, judge alone beside calibrated")
        + "<h2>Emergence: largest k against model size</h2>"
        + _img(plot_scale(stats), "largest k reaching full marks 0.25 against parameters")
        + "<h2>Novelty bound per k</h2>"
        + _img(plot_novelty(stats), "novelty bound per k")
    )


def _details(title: str, body: str) -> str:
    return f"<details><summary>{html.escape(title)}</summary>{body}</details>"


def section_tables(stats: AuditStats) -> str:
    """Every full table and the remaining plots, folded."""
    d, o = stats.data, stats.options
    overall = (
        stats.agreement[stats.agreement["breakdown"] == "overall"]
        if not stats.agreement.empty
        else stats.agreement
    )
    cols = AGREEMENT_SUMMARY_COLUMNS
    excl = pd.DataFrame(d.exclusions) if d.exclusions else pd.DataFrame(columns=["what", "n", "why"])
    settings = (
        f"<p class='note'>Confidence {o.confidence:.0%}; bootstrap {o.bootstrap} resamples (seed {o.seed}); "
        f"common skills {'excluded' if d.settings.get('exclude_common') else 'included'}; naming penalty "
        f"{'on' if d.settings.get('naming_penalty') else 'off'}; skill fraction threshold {o.threshold:g}.</p>"
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
                "Agreement (overall)", _table(overall.reindex(columns=cols) if not overall.empty else overall)
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
                f"{o.target_half_width:g}.</p>" + _table(stats.plan),
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
