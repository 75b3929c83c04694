"""report.html: one self-contained page (tables + matplotlib plots embedded as base64 PNG, no network)."""

from __future__ import annotations

import base64
import html
import io
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.ticker import MaxNLocator

from gradeapp.core.judge_compare import JudgeComparison
from gradeapp.core.results import AuditStats
from gradeapp.core.sampling import novelty_bound

PLOT_METRICS = ("full_marks", "all_skills", "skill_fraction")
ESTIMATOR_ORDER = ("ppi++", "stratified", "human_only", "rogan_gladen", "judge_only")


def _figure(width: float = 7.5, height: float = 3.6):
    """Return a new matplotlib figure on the Agg canvas (no display, no global pyplot state)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=90, layout="tight")
    FigureCanvasAgg(fig)
    return fig


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
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
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
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
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


def figures(stats: AuditStats) -> dict[str, object]:
    """Return every plot of the report by name (Agg figures)."""
    return {
        "k_curves": plot_k_curves(stats),
        "scale": plot_scale(stats),
        "novelty": plot_novelty(stats),
        "bias": plot_bias(stats),
        "confusion": plot_confusion(stats),
        "agreement": plot_agreement(stats),
    }


# -- the page -------------------------------------------------------------------------------------
def _table(df: pd.DataFrame, digits: int = 3, limit: int | None = None) -> str:
    if df is None or df.empty:
        return "<p class='empty'>nothing to show</p>"
    if limit and len(df) > limit:
        df = df.head(limit)
    return df.to_html(
        index=False, na_rep="", float_format=lambda x: f"{x:.{digits}f}", border=0, classes="t", escape=True
    )


CSS = """
body{font-family:system-ui,sans-serif;margin:2em auto;max-width:1100px;color:#222;line-height:1.4}
h1{font-size:1.5em}h2{font-size:1.2em;margin-top:2em;border-bottom:1px solid #ccc}
table.t{border-collapse:collapse;font-size:12px;margin:.5em 0}
table.t td,table.t th{border:1px solid #ddd;padding:2px 6px;text-align:right}
table.t th{background:#f4f4f4}img{max-width:100%}.empty{color:#888}.note{color:#555;font-size:.9em}
"""


def judges_section(judges: JudgeComparison | None) -> str:
    """Return the report's section comparing the project's judges ('' with fewer than two judges)."""
    if judges is None or len(judges.judges) < 2:
        return ""
    cols = ["judge", "criterion", "n", "agreement", "kappa", "kappa_low", "kappa_high", "sensitivity",
            "specificity", "bias", "pairwise", "ppi_half_width"]  # fmt: skip
    c = judges.settings.get("confidence", 0.95)
    return "\n".join(
        [
            "<h2>Judges compared (same audited generations)</h2>",
            f"<p><b>{html.escape(judges.sentence)}</b></p>",
            f"<p class='note'>{judges.n_generations} generations graded by people and every judge. Intervals: "
            f"{c:.0%} percentile bootstrap over generations, paired across judges; McNemar: exact test on the "
            "points where exactly one judge agreed with the people; ppi_half_width: mean PPI++ half-width over "
            "student x k cells that judge gives for the same audit.</p>",
            _table(judges.table()[cols]),
            _table(judges.pairs),
            _table(judges.costs),
        ]
    )


def render_report(stats: AuditStats, judges: JudgeComparison | None = None) -> str:
    """Return the report as one HTML page with every plot embedded (and the judges compared, when given)."""
    d = stats.data
    o = stats.options
    figs = {name: _png(fig) for name, fig in figures(stats).items()}

    def img(name: str, alt: str) -> str:
        return f"<img alt='{html.escape(alt)}' src='data:image/png;base64,{figs[name]}'>"

    draw = d.draw
    draw_text = (
        f"audit draw <b>{html.escape(draw['name'])}</b> (design {html.escape(draw['design'])}, "
        f"{len(d.audit_items)} generations)"
        if draw
        else "no audit draw yet: calibrated estimates need one (<code>gradeapp audit draw</code>)"
    )
    overall = (
        stats.agreement[stats.agreement["breakdown"] == "overall"]
        if not stats.agreement.empty
        else stats.agreement
    )
    excl = pd.DataFrame(d.exclusions) if d.exclusions else pd.DataFrame(columns=["what", "n", "why"])
    conf = f"{o.confidence:.0%}"
    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        "<title>gradeapp judge audit</title>",
        f"<style>{CSS}</style></head><body>",
        f"<h1>Judge audit: {html.escape(str(d.judge_name))}</h1>",
        f"<p>{draw_text}; confidence {conf}; bootstrap {o.bootstrap} resamples (seed {o.seed}); "
        f"common skills {'excluded' if d.settings.get('exclude_common') else 'included'}; naming penalty "
        f"{'on' if d.settings.get('naming_penalty') else 'off'}; skill fraction threshold {o.threshold:g}.</p>",
        "<h2>Pass rates per student model and k</h2>",
        "<p class='note'>Per generation (single round). PPI++ uses the judge's mean over runs; n_audited counts "
        "only generations of the audit draw graded by people.</p>",
        _table(stats.pass_rates.drop(columns=["note"])),
        "<h2>k-curves (emergence)</h2>",
        img("k_curves", "k-curves per student model"),
        "<h2>Largest k against model size</h2>",
        img("scale", "largest k reaching full marks 0.25 against parameters"),
        "<h2>Novelty bound per k</h2>",
        img("novelty", "novelty bound per k"),
        "<h2>Skill-Mix table (judge and people; best of rounds and single round)</h2>",
        _table(stats.skillmix),
        "<h2>Judge against people: bias per criterion</h2>",
        img("bias", "bias per criterion"),
        "<h2>Confusion matrices</h2>",
        img("confusion", "confusion matrices"),
        "<h2>Agreement with intervals</h2>",
        img("agreement", "kappa, AC1 and PABAK per criterion"),
        _table(
            overall[
                [
                    "scope",
                    "criterion",
                    "n",
                    "a",
                    "b",
                    "c",
                    "d",
                    "p_human",
                    "p_judge",
                    "bias",
                    "agreement",
                    "kappa",
                    "kappa_ci_low",
                    "kappa_ci_high",
                    "ac1",
                    "pabak",
                    "alpha",
                    "alpha_note",
                    "sensitivity",
                    "specificity",
                    "precision",
                    "npv",
                    "mcnemar_p",
                    "small_n",
                ]
            ]
            if not overall.empty
            else overall
        ),
        "<h2>People with people (the ceiling)</h2>",
        _table(stats.human_human),
        "<h2>The judge with itself (across runs)</h2>",
        _table(stats.self_consistency),
        "<h2>Audit planner</h2>",
        f"<p class='note'>More generations to grade per cell for a PPI++ half-width of {o.target_half_width:g}.</p>",
        _table(stats.plan),
        "<h2>What was excluded and why</h2>",
        _table(excl),
        judges_section(judges),
        "</body></html>",
    ]
    return "\n".join(parts)


def write_report(stats: AuditStats, path: Path, judges: JudgeComparison | None = None) -> Path:
    """Write report.html at path; return the path."""
    Path(path).write_text(render_report(stats, judges), encoding="utf-8")
    return Path(path)
