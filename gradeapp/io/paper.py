"""Paper-ready outputs: the headline table as LaTeX (booktabs) and Markdown, the figures as SVG and PDF.

Figures are sized for one column (3.3 in wide). Fonts are embedded: PDF text is TrueType (Type 42,
`pdf.fonttype 42`, what publishers ask for instead of Type 3), SVG text is drawn as paths
(`svg.fonttype 'path'`), so both look the same on every machine without the fonts installed.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from gradeapp.core.results import AuditStats
from gradeapp.core.summary import headline_table
from gradeapp.io.figures import integer_locator, new_figure, plot_forest

COLUMN_WIDTH_IN = 3.3
FONT_RC = {"pdf.fonttype": 42, "ps.fonttype": 42, "svg.fonttype": "path", "font.size": 7}
METRIC_TITLES = {"full_marks": "full marks", "all_skills": "all skills", "skill_fraction": "skill fraction"}


def _p(x: float) -> str:
    return "--" if x is None or math.isnan(x) else f"{abs(100 * x) if abs(x) < 0.005 else 100 * x:.0f}"


def _rows(stats: AuditStats, metric: str) -> list[list[str]]:
    head = headline_table(stats.pass_rates, metric)
    rows = []
    for r in head.to_dict("records"):
        cal = (
            "--"
            if math.isnan(r["calibrated"])
            else f"{_p(r['calibrated'])} [{_p(r['ci_low'])}, {_p(r['ci_high'])}]"
        )
        b = r["bias_points"]
        bias = "--" if math.isnan(b) else "0" if abs(b) < 0.5 else f"{b:+.0f}"
        rows.append(
            [str(r["student"]), str(r["k"]), _p(r["judge"]), cal, _p(r["people"]),
             f"{r['n_audited']}/{r['n_judged']}", bias]
        )  # fmt: skip
    return rows


HEADER = ["Student", "$k$", "Judge", "Calibrated [95\\% CI]", "People", "$n$ audited/judged", "Bias (pt)"]


def _tex_escape(text: str) -> str:
    for a, b in (("\\", "\\textbackslash{}"), ("&", "\\&"), ("%", "\\%"), ("_", "\\_"), ("#", "\\#"),
                 ("$", "\\$"), ("{", "\\{"), ("}", "\\}"), ("~", "\\textasciitilde{}"), ("^", "\\^{}")):  # fmt: skip
        text = text.replace(a, b)
    return text


def headline_latex(stats: AuditStats, metric: str = "full_marks") -> str:
    """Return the headline table as a LaTeX booktabs table (pass rates in %)."""
    conf = f"{stats.options.confidence:.0%}".replace("%", "\\%")
    lines = [
        "% gradeapp headline table; needs \\usepackage{booktabs}",
        "\\begin{table}[t]",
        "\\centering\\small",
        f"\\caption{{Pass rate ({METRIC_TITLES[metric]}, \\%) per student and $k$: the judge alone, calibrated by "
        f"the audited texts (PPI++, {conf} interval), people alone; bias is judge minus calibrated.}}",
        "\\begin{tabular}{lrrlrrr}",
        "\\toprule",
        " & ".join(HEADER) + " \\\\",
        "\\midrule",
    ]
    previous = None
    for row in _rows(stats, metric):
        student = _tex_escape(row[0]) if row[0] != previous else ""
        previous = row[0]
        lines.append(" & ".join([student, *row[1:]]) + " \\\\")
    lines += ["\\bottomrule", "\\end{tabular}", "\\end{table}", ""]
    return "\n".join(lines)


def headline_markdown(stats: AuditStats, metric: str = "full_marks") -> str:
    """Return the headline table as a Markdown (pipe) table."""
    header = [h.replace("$", "").replace("\\%", "%") for h in HEADER]
    lines = [
        f"Pass rate ({METRIC_TITLES[metric]}, %) per student and k; calibrated = PPI++; bias = judge - calibrated.",
        "",
        "| " + " | ".join(header) + " |",
        "|" + "|".join(["---"] + ["---:"] * (len(header) - 1)) + "|",
    ]
    lines += ["| " + " | ".join(c.replace("|", "\\|") for c in row) + " |" for row in _rows(stats, metric)]
    return "\n".join(lines) + "\n"


def paper_k_curve(stats: AuditStats, metric: str = "full_marks"):
    """Draw one column-wide k-curve: calibrated (solid, with interval) and the judge alone (dashed)."""
    fig = new_figure(COLUMN_WIDTH_IN, 2.3, dpi=150)
    ax = fig.subplots()
    r = (
        stats.pass_rates[stats.pass_rates["metric"] == metric]
        if not stats.pass_rates.empty
        else stats.pass_rates
    )
    for i, student in enumerate(sorted(r["student"].unique()) if not r.empty else []):
        color = f"C{i}"
        cal = (
            r[(r["student"] == student) & (r["estimator"] == "ppi++")]
            .dropna(subset=["estimate"])
            .sort_values("k")
        )
        judge = r[(r["student"] == student) & (r["estimator"] == "judge_only")].sort_values("k")
        if not cal.empty:
            err = np.vstack([cal["estimate"] - cal["ci_low"], cal["ci_high"] - cal["estimate"]]).clip(min=0)
            ax.errorbar(cal["k"] + (i - 1) * 0.05, cal["estimate"], yerr=err, color=color, marker="o",
                        markersize=2.5, capsize=1.5, lw=0.9, label=f"{student}")  # fmt: skip
        ax.plot(judge["k"], judge["estimate"], color=color, ls="--", lw=0.8, alpha=0.8)
    ax.plot([], [], color="gray", ls="--", lw=0.8, label="judge alone (dashed)")
    ax.set_xlabel("$k$ (skills per text)")
    ax.set_ylabel(f"{METRIC_TITLES[metric]} rate")
    ax.xaxis.set_major_locator(integer_locator())
    ax.set_ylim(-0.02, 1.02)
    ax.grid(alpha=0.3, lw=0.4)
    ax.legend(fontsize=5.5, frameon=False)
    return fig


def paper_agreement(stats: AuditStats):
    """Draw the column-wide forest plot of kappa per criterion, worst first."""
    n = (
        max(1, len(stats.agreement[stats.agreement["breakdown"] == "overall"]))
        if not stats.agreement.empty
        else 1
    )
    fig = new_figure(COLUMN_WIDTH_IN, max(1.6, 0.12 * n + 0.55), dpi=150)
    return plot_forest(stats, fig, fontsize=5.5)


def write_paper_outputs(stats: AuditStats, out: Path) -> dict[str, Path]:
    """Write headline.tex, headline.md, k_curve.svg/.pdf and agreement.svg/.pdf into out; return the paths."""
    import matplotlib

    out = Path(out)
    paths = {
        "headline_tex": out / "headline.tex",
        "headline_md": out / "headline.md",
    }
    paths["headline_tex"].write_text(headline_latex(stats), encoding="utf-8")
    paths["headline_md"].write_text(headline_markdown(stats), encoding="utf-8")
    with matplotlib.rc_context(FONT_RC):
        for name, make in (("k_curve", paper_k_curve), ("agreement", paper_agreement)):
            fig = make(stats)
            for ext in ("svg", "pdf"):
                path = out / f"{name}.{ext}"
                fig.savefig(path, format=ext, metadata={"Creator": "gradeapp"} if ext == "svg" else None)
                paths[f"{name}_{ext}"] = path
    return paths
