"""The audit's figures, shared by report.html, the paper outputs and the desk (each returns a Figure).

matplotlib draws on the Agg canvas with no global pyplot state, and is imported only when a figure is
drawn (`stats` and the desk start without it).
"""

from __future__ import annotations

import base64
import io

import numpy as np
import pandas as pd

from gradeapp.core.results import AuditStats
from gradeapp.core.sampling import novelty_bound
from gradeapp.core.summary import agreement_forest

PLOT_METRICS = ("full_marks", "all_skills", "skill_fraction")


ESTIMATOR_ORDER = ("ppi++", "stratified", "human_only", "rogan_gladen", "judge_only")


def new_figure(width: float = 7.5, height: float = 3.6, dpi: int = 90):
    """Return a new matplotlib figure on the Agg canvas (no display, no global pyplot state)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=dpi, layout="tight")
    FigureCanvasAgg(fig)
    return fig


def integer_locator():
    """Return a tick locator that puts ticks on integers only."""
    from matplotlib.ticker import MaxNLocator  # deferred: `stats` and the desk start without matplotlib

    return MaxNLocator(integer=True)


def png_base64(fig) -> str:
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


def plot_k_curves(stats: AuditStats, fig=None):
    """Draw the k-curve of each student model per metric with its interval (best available estimator)."""
    fig = fig or new_figure(10, 3.4)
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
        ax.xaxis.set_major_locator(integer_locator())
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
    fig = fig or new_figure(5.5, 3.6)
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
    fig = fig or new_figure(5.5, 3.6)
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
    ax.xaxis.set_major_locator(integer_locator())
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
    """Draw the judge's bias (judge minus people) per criterion and composite (overall) with its interval."""
    a = _headline(stats.agreement)
    fig = fig or new_figure(7.5, max(2.5, 0.22 * len(a) + 1))
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
    ax.set_xlabel("bias: judge minus people (pass rate on the items both graded)")
    ax.grid(alpha=0.3)
    return fig


def plot_confusion(stats: AuditStats, fig=None):
    """Draw the 2x2 confusion matrices (human rows, judge columns) of the composites, overall."""
    a = stats.agreement
    comp = a[(a["breakdown"] == "overall") & (a["scope"] == "composite")] if not a.empty else a
    fig = fig or new_figure(9, 3)
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
    fig = fig or new_figure(7.5, max(2.5, 0.22 * len(a) + 1))
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
    fig = fig or new_figure(5.2, max(2.4, 0.2 * len(a) + 0.9))
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
    fig = fig or new_figure(width, height)
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
        ax.xaxis.set_major_locator(integer_locator())
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
