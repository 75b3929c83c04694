"""The paper outputs: LaTeX that prints every character as itself, true minus signs, Markdown without raw HTML."""

from __future__ import annotations

import dataclasses

import pytest

from gradeapp.core.results import StatsOptions
from gradeapp.db import open_project
from gradeapp.io.paper import headline_latex, headline_markdown, markdown_escape, tex_escape
from gradeapp.services.stats import compute_stats

# Each LaTeX special character and the one text-mode command or escape that prints it (LaTeX's manual).
LATEX_PRINTS = {
    "\\": "\\textbackslash{}",
    "&": "\\&",
    "%": "\\%",
    "$": "\\$",
    "#": "\\#",
    "_": "\\_",
    "{": "\\{",
    "}": "\\}",
    "~": "\\textasciitilde{}",
    "^": "\\textasciicircum{}",
    "<": "\\textless{}",
    ">": "\\textgreater{}",
    "|": "\\textbar{}",
}


@pytest.mark.parametrize(("char", "printed"), list(LATEX_PRINTS.items()))
def test_every_latex_special_character_is_escaped_once(char, printed):
    assert tex_escape(f"a{char}b") == f"a{printed}b"


def test_a_backslash_is_not_escaped_twice():
    # before: a\b became a\textbackslash\{\}b (the braces of the escape escaped again)
    assert tex_escape("a\\b") == "a\\textbackslash{}b"
    assert tex_escape("x_{1}^2 & 50%") == "x\\_\\{1\\}\\textasciicircum{}2 \\& 50\\%"


def test_markdown_escapes_html_and_the_cell_separator():
    assert markdown_escape("<svg onload=alert(1)>") == "&lt;svg onload=alert(1)&gt;"
    assert markdown_escape("a|b *c* [d]") == "a\\|b \\*c\\* \\[d\\]"


@pytest.fixture()
def stats(demo_path):
    with open_project(demo_path) as store:
        result = compute_stats(store, StatsOptions(bootstrap=0))
    rates = result.pass_rates.copy()
    first = rates["student"].iloc[0]
    rates["student"] = rates["student"].replace(first, "<svg onload=alert(1)> a\\b & c_d")
    return dataclasses.replace(result, pass_rates=rates)


def test_the_latex_table_has_a_label_its_packages_and_true_minus_signs(stats):
    tex = headline_latex(stats)
    assert "\\label{tab:gradeapp-full-marks}" in tex
    assert tex.startswith("% ") and "\\usepackage{booktabs}" in tex.splitlines()[0]
    assert "\\textless{}svg onload=alert(1)\\textgreater{} a\\textbackslash{}b \\& c\\_d" in tex
    body = tex.split("\\midrule", 1)[1].split("\\bottomrule", 1)[0]
    assert "$-" in body  # a negative bias is in math mode: a true minus sign
    for line in body.splitlines():
        cells = line.split(" & ")
        assert not any(cell.strip().startswith("-") and cell.strip() != "--" for cell in cells)


def test_the_markdown_table_passes_no_html_through_and_uses_true_minus_signs(stats):
    text = headline_markdown(stats)
    assert "<svg" not in text and "&lt;svg onload=alert(1)&gt; a\\\\b &amp; c\\_d" in text
    assert "\u2212" in text and "[-" not in text
