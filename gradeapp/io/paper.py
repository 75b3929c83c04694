"""Paper-ready outputs: the headline table as LaTeX (booktabs) and Markdown, the figures as SVG and PDF.

Figures are sized for one column (3.3 in wide). Fonts are embedded: PDF text is TrueType (Type 42,
`pdf.fonttype 42`, what publishers ask for instead of Type 3), SVG text is drawn as paths
(`svg.fonttype 'path'`), so both look the same on every machine without the fonts installed.
"""

from __future__ import annotations

import html
import math
import re
from pathlib import Path

import numpy as np

from gradeapp.core.results import AuditStats
from gradeapp.core.summary import bias_direction_known, bias_words, headline_table
from gradeapp.io.figures import integer_locator, new_figure, plot_forest

COLUMN_WIDTH_IN = 3.3
FONT_RC = {"pdf.fonttype": 42, "ps.fonttype": 42, "svg.fonttype": "path", "font.size": 7}
METRIC_TITLES = {"full_marks": "full marks", "all_skills": "all skills", "skill_fraction": "skill fraction"}


def _p(x: float) -> str:
    return "--" if x is None or math.isnan(x) else f"{abs(100 * x) if abs(x) < 0.005 else 100 * x:.0f}"


def _rows(stats: AuditStats, metric: str) -> list[dict]:
    """Return the headline rows with their figures as text (pass rates in %, the bias in points)."""
    head = headline_table(stats.pass_rates, metric)
    rows = []
    for r in head.to_dict("records"):
        cal = (
            "--"
            if math.isnan(r["calibrated"])
            else f"{_p(r['calibrated'])} [{_p(r['ci_low'])}, {_p(r['ci_high'])}]"
        )
        rows.append(
            {"student": str(r["student"]), "k": str(r["k"]), "judge": _p(r["judge"]), "calibrated": cal,
             "people": _p(r["people"]), "n": f"{r['n_audited']}/{r['n_judged']}", "bias": r}
        )  # fmt: skip
    return rows


HEADER = ["Student", "$k$", "Judge", "Calibrated [95\\% CI]", "People", "$n$ audited/judged", "Bias (pt)"]
CAPTION = (
    "Pass rate ({metric}, %) per student and k: the judge alone, calibrated by the audited texts (PPI++, "
    "{conf} interval), people alone. Bias: judge minus people (their calibrated rate), in points with its "
    "interval; where the interval includes 0 the sign of the bias cannot be told."
)
# Every character LaTeX treats specially in text, and what prints it (the T1/OT1 text commands for the
# ones that have no escape by backslash, so that < > | do not come out as other glyphs in OT1).
TEX_SPECIAL = {
    "\\": "\\textbackslash{}", "&": "\\&", "%": "\\%", "$": "\\$", "#": "\\#", "_": "\\_", "{": "\\{",
    "}": "\\}", "~": "\\textasciitilde{}", "^": "\\textasciicircum{}", "<": "\\textless{}",
    ">": "\\textgreater{}", "|": "\\textbar{}",
}  # fmt: skip
_TEX_SPECIAL = re.compile("|".join(re.escape(c) for c in TEX_SPECIAL))


def tex_escape(text: str) -> str:
    """Return text with every LaTeX special character written so that it prints as itself (one pass)."""
    return _TEX_SPECIAL.sub(lambda m: TEX_SPECIAL[m.group(0)], text)


def _tex_number(text: str) -> str:
    """Write a signed number in math mode, so that its minus sign is a true minus, not a hyphen."""
    return text if text in ("0", "--") else f"${text}$"


def _tex_bias(row: dict) -> str:
    """Return the bias cell: points and interval, or that its sign cannot be told."""
    if math.isnan(row["bias_points"]):
        return "--"
    interval = f"[{_tex_number(_signed(row['bias_low']))}, {_tex_number(_signed(row['bias_high']))}]"
    if not bias_direction_known(row):
        return f"sign unknown {interval}"
    return f"{_tex_number(_signed(row['bias_points']))} {interval}"


def _signed(x: float) -> str:
    text = f"{x:+.0f}"
    return "0" if text in ("+0", "-0") else text


def headline_latex(stats: AuditStats, metric: str = "full_marks") -> str:
    """Return the headline table as a LaTeX booktabs table (pass rates in %), with a label to cite it by."""
    conf = f"{stats.options.confidence:.0%}"
    caption = tex_escape(CAPTION.format(metric=METRIC_TITLES[metric], conf=conf)).replace(" k:", " $k$:")
    lines = [
        "% gradeapp headline table. Needs in the preamble: \\usepackage{booktabs} (the rules).",
        "\\begin{table}[t]",
        "\\centering\\small",
        f"\\caption{{{caption}}}",
        f"\\label{{tab:gradeapp-{metric.replace('_', '-')}}}",
        "\\begin{tabular}{lrrlrrl}",
        "\\toprule",
        " & ".join(HEADER) + " \\\\",
        "\\midrule",
    ]
    previous = None
    for row in _rows(stats, metric):
        student = tex_escape(row["student"]) if row["student"] != previous else ""
        previous = row["student"]
        cells = [
            student,
            row["k"],
            row["judge"],
            row["calibrated"],
            row["people"],
            row["n"],
            _tex_bias(row["bias"]),
        ]
        lines.append(" & ".join(cells) + " \\\\")
    lines += ["\\bottomrule", "\\end{tabular}", "\\end{table}", ""]
    return "\n".join(lines)


_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]|~])")  # what starts emphasis, code, links or a cell


def markdown_escape(text: str) -> str:
    """Return text safe in a Markdown table cell: HTML escaped, Markdown's punctuation backslash-escaped."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", html.escape(text, quote=True))


def headline_markdown(stats: AuditStats, metric: str = "full_marks") -> str:
    """Return the headline table as a Markdown (pipe) table; a name's HTML is escaped, never passed through."""
    header = [h.replace("$", "").replace("\\%", "%") for h in HEADER]
    caption = CAPTION.format(metric=METRIC_TITLES[metric], conf=f"{stats.options.confidence:.0%}")
    lines = [
        caption,
        "",
        "| " + " | ".join(header) + " |",
        "|" + "|".join(["---"] + ["---:"] * (len(header) - 1)) + "|",
    ]
    for row in _rows(stats, metric):
        bias = (
            bias_words(row["bias"]).replace(" pt", "") if not math.isnan(row["bias"]["bias_points"]) else "--"
        )
        cells = [
            markdown_escape(row["student"]),
            row["k"],
            row["judge"],
            row["calibrated"],
            row["people"],
            row["n"],
            bias,
        ]
        lines.append("| " + " | ".join(cells) + " |")
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
