"""One computation, one number: the same figure on every surface, read back from each (issue 20).

On the demo, with every surface at its defaults: full-marks Cohen's kappa with its bootstrap interval
(`stats --json`, agreement.csv, judges.csv, `judges compare` as a service, report.html, the desk's
Statistics view) and one cell's calibrated full-marks rate with its interval (`stats --json`,
pass_rates.csv, report.html, headline.tex, headline.md, the desk).
"""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import json  # noqa: E402
import re  # noqa: E402

import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from gradeapp.cli import main  # noqa: E402
from gradeapp.db import open_project  # noqa: E402
from gradeapp.services.export import export_project  # noqa: E402
from gradeapp.services.judges import compare_project_judges  # noqa: E402
from gradeapp.ui.stats_view import StatsView  # noqa: E402


def _kappa_text(kappa: float, low: float, high: float) -> str:
    return f"kappa {kappa:.2f} [{low:.2f}, {high:.2f}]"


def _rate_text(rate: float, low: float, high: float) -> str:
    return f"{100 * rate:.0f} [{100 * low:.0f}, {100 * high:.0f}]"


@pytest.mark.slow
def test_full_marks_kappa_and_a_calibrated_rate_read_the_same_on_every_surface(
    demo_path, tmp_path, capsys, qtbot
):
    assert main(["stats", "--project", str(demo_path), "--json"]) == 0
    cli = json.loads(capsys.readouterr().out)
    row = next(
        r for r in cli["agreement"]
        if r["breakdown"] == "overall" and r["scope"] == "composite" and r["criterion"] == "full_marks"
    )  # fmt: skip
    kappa = _kappa_text(row["kappa"], row["kappa_ci_low"], row["kappa_ci_high"])
    cell = next(r for r in cli["pass_rates"] if r["estimator"] == "ppi++" and r["metric"] == "full_marks")
    rate = _rate_text(cell["estimate"], cell["ci_low"], cell["ci_high"])

    with open_project(demo_path) as store:
        out = export_project(store, tmp_path / "export")["pass_rates"].parent
        service = compare_project_judges(store, at_least=1).per_judge
    seen = {}
    agreement = pd.read_csv(out / "agreement.csv")
    a = agreement[(agreement["breakdown"] == "overall") & (agreement["criterion"] == "full_marks")].iloc[0]
    seen["agreement.csv"] = _kappa_text(a["kappa"], a["kappa_ci_low"], a["kappa_ci_high"])
    judges = pd.read_csv(out / "judges.csv")
    j = judges[judges["criterion"] == "full_marks"].iloc[0]
    seen["judges.csv"] = _kappa_text(j["kappa"], j["kappa_low"], j["kappa_high"])
    s = service[service["criterion"] == "full_marks"].iloc[0]
    seen["judges compare"] = _kappa_text(s["kappa"], s["kappa_low"], s["kappa_high"])
    report = (out / "report.html").read_text(encoding="utf-8")
    seen["report.html"] = re.search(r"kappa [0-9.]+ \[[0-9.\-]+, [0-9.\-]+\]", report).group(0)

    view = StatsView(demo_path, poll_ms=60_000)
    qtbot.addWidget(view)
    view.show()
    qtbot.waitUntil(lambda: view.stats is not None, timeout=120_000)
    qtbot.waitUntil(lambda: view.pool.activeThreadCount() == 0, timeout=120_000)  # the judges tab too
    seen["desk"] = re.search(r"kappa [0-9.]+ \[[0-9.\-]+, [0-9.\-]+\]", view.trust_text.text()).group(0)
    desk = view.models["agreement"].frame()
    d = desk[(desk["scope"] == "composite") & (desk["criterion"] == "full_marks")].iloc[
        0
    ]  # the overall table
    seen["desk table"] = _kappa_text(d["kappa"], d["kappa_ci_low"], d["kappa_ci_high"])
    assert seen == dict.fromkeys(seen, kappa)

    rates = {}
    csv = pd.read_csv(out / "pass_rates.csv")
    c = csv[(csv["estimator"] == "ppi++") & (csv["metric"] == "full_marks")].iloc[0]
    rates["pass_rates.csv"] = _rate_text(c["estimate"], c["ci_low"], c["ci_high"])
    tex_row = next(
        line for line in (out / "headline.tex").read_text().splitlines() if cell["student"] in line
    )
    rates["headline.tex"] = tex_row.split(" & ")[3]
    md_row = next(line for line in (out / "headline.md").read_text().splitlines() if cell["student"] in line)
    rates["headline.md"] = md_row.split(" | ")[3]
    html_cell = re.search(r"<div class='cal'>(\d+)%</div><span class='ci'>\[(\d+), (\d+)\]</span>", report)
    rates["report.html"] = f"{html_cell.group(1)} [{html_cell.group(2)}, {html_cell.group(3)}]"
    p = view.models["pass_rates"].frame()
    p = p[(p["estimator"] == "ppi++") & (p["metric"] == "full_marks")].iloc[0]
    rates["desk"] = _rate_text(p["estimate"], p["ci_low"], p["ci_high"])
    assert rates == dict.fromkeys(rates, rate)
