"""Exports: exact columns, formula-injection safety, verdicts that round-trip, a self-contained report."""

from __future__ import annotations

import base64
import csv
import json
import re

import pandas as pd
import pytest

from gradeapp.cli import main
from gradeapp.db import open_project
from gradeapp.io.importers import import_generations
from gradeapp.io.tables import neutralise, restore, write_csv
from gradeapp.paths import demo_data_dir
from gradeapp.services.catalog import import_catalog
from gradeapp.services.export import PASS_RATES_COLUMNS, verdicts_frame
from gradeapp.services.imports import import_sources
from tests.simulate import simulate_project

AGREEMENT_REQUIRED = [
    "scope",
    "student",
    "k",
    "criterion",
    "n",
    "p_human",
    "p_judge",
    "bias",
    "agreement",
    "kappa",
    "ac1",
    "pabak",
    "alpha",
    "sensitivity",
    "specificity",
]
FORMULAS = [
    '=HYPERLINK("http://example.invalid","x")',
    "+1+2",
    "-- not a number",
    "@SUM(A1)",
    "'=quoted already",
]


def _header(path) -> list[str]:
    with open(path, newline="", encoding="utf-8") as fh:
        return next(csv.reader(fh))


@pytest.fixture(scope="module")
def demo(copy_demo, tmp_path_factory):
    """The demo project with a few verdict reasons that look like spreadsheet formulas."""
    path = copy_demo(tmp_path_factory.mktemp("demo") / "demo.gradeapp")
    with open_project(path) as store:
        ann = store.grader_id("human", "ann (demo)")
        rows = store.execute(
            "SELECT generation_id, criterion, value FROM current_verdicts WHERE grader_id = ? LIMIT ?",
            [ann, len(FORMULAS)],
        ).fetchall()
        store.add_verdicts(
            {
                "grader_id": ann,
                "generation_id": g,
                "criterion": c,
                "value": v,
                "reason": text,
                "note": text,
                "seconds": 3.5,
                "guideline_version": 2,
            }
            for (g, c, v), text in zip(rows, FORMULAS, strict=True)
        )
    return path


@pytest.fixture(scope="module")
def demo_export(demo, tmp_path_factory):
    out = tmp_path_factory.mktemp("out") / "x"
    assert main(["export", "--project", str(demo), "--out", str(out), "--bootstrap", "100"]) == 0
    return out


def test_export_writes_the_four_exports_with_the_exact_columns(demo_export):
    for name in (
        "pass_rates.csv",
        "agreement.csv",
        "verdicts.csv",
        "verdicts.parquet",
        "report.html",
        "annotators.csv",
    ):
        assert (demo_export / name).stat().st_size > 0
    assert _header(demo_export / "pass_rates.csv") == PASS_RATES_COLUMNS
    assert set(AGREEMENT_REQUIRED) <= set(_header(demo_export / "agreement.csv"))
    rates = pd.read_csv(demo_export / "pass_rates.csv")
    assert set(rates["metric"]) == {"full_marks", "all_skills", "skill_fraction"}
    assert set(rates["estimator"]) <= {"judge_only", "human_only", "ppi++", "stratified", "rogan_gladen"}
    agreement = pd.read_csv(demo_export / "agreement.csv", keep_default_na=False)
    overall = agreement[agreement["breakdown"] == "overall"]
    assert (overall["student"] == "").all() and (overall["k"] == "").all()
    assert set(agreement["scope"]) == {"criterion", "composite"}


def test_csv_cells_that_look_like_formulas_are_neutralised_and_numbers_stay_numbers(tmp_path):
    frame = pd.DataFrame({"x": [-0.05, 1.5], "s": ["-0.05", "=1+2"], "t": ["+cmd|' /C calc'!A0", "@x"]})
    write_csv(frame, tmp_path / "f.csv")
    with open(tmp_path / "f.csv", newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    assert rows[1] == ["-0.05", "-0.05", "'+cmd|' /C calc'!A0"]
    assert rows[2] == ["1.5", "'=1+2", "'@x"]
    for text in [*FORMULAS, "plain", "'plain", "-3", ""]:
        assert restore(neutralise(text)) == text


def test_exported_csvs_hold_no_live_formula(demo_export):
    for name in ("pass_rates.csv", "agreement.csv", "verdicts.csv"):
        with open(demo_export / name, newline="", encoding="utf-8") as fh:
            for row in csv.reader(fh):
                for cell in row:
                    if cell[:1] in ("=", "+", "-", "@"):
                        float(cell)  # only a plain number may start like a formula
    text = (demo_export / "verdicts.csv").read_text(encoding="utf-8")
    assert "'=HYPERLINK" in text and "'@SUM(A1)" in text and "''=quoted already" in text


def _fresh_like_demo(path):
    """A new project with the demo's catalog and generations but no verdicts."""
    src = demo_data_dir()
    store = open_project(path, name="fresh")
    with store.atomic():
        import_catalog(store, [src / "skills.jsonl", src / "topics.txt"])
        import_generations(store, src / "generations.jsonl")
    return store


def _canonical(store) -> pd.DataFrame:
    df = verdicts_frame(store)
    return df.sort_values(["kind", "grader", "generation", "criterion", "run"]).reset_index(drop=True)


@pytest.mark.parametrize("name", ["verdicts.csv", "verdicts.parquet"])
def test_verdicts_round_trip_into_a_fresh_project(demo, demo_export, tmp_path, name):
    with open_project(demo) as store:
        expected = _canonical(store)
    with _fresh_like_demo(tmp_path / "fresh.gradeapp") as store:
        report = import_sources(store, [demo_export / name])
        got = _canonical(store)
        again = import_sources(store, [demo_export / name])  # a second import changes nothing
    counts = next(iter(report.values()))
    assert counts["verdicts_added"] == len(expected)
    assert next(iter(again.values()))["verdicts_added"] == 0
    pd.testing.assert_frame_equal(got, expected, check_dtype=False)
    assert set(FORMULAS) <= set(got["reason"].dropna())


def test_report_is_one_self_contained_page_with_embedded_plots(demo_export):
    html = (demo_export / "report.html").read_text(encoding="utf-8")
    sources = re.findall(r"src=['\"]([^'\"]+)['\"]", html)
    assert len(sources) >= 8
    for src in sources:
        assert src.startswith("data:image/png;base64,")
        assert base64.b64decode(src.split(",", 1)[1])[:8] == b"\x89PNG\r\n\x1a\n"
    assert not re.search(r"<(link|script)[^>]+(href|src)=", html)
    # the answer comes first: the headline question, the students' sentences and the trust section, in
    # that order, before the curves and the folded full tables
    order = [
        "What is each model's true pass rate?",
        "demo-atlas-70b</b>: At k = ",
        "Can the judge be trusted?",
        "k-curves: the judge alone and calibrated",
        "Emergence",
        "Novelty bound",
        "<details><summary>Pass rates",
    ]
    positions = [html.index(text) for text in order]
    assert positions == sorted(positions)
    assert "calibrated by 6 audited texts the rate is" in html
    assert "(demo data)" in html and "@page{size:A4" in html
    for folded in ("Bias per criterion", "Confusion matrices", "Kappa, AC1 and PABAK", "What was excluded"):
        assert f"<summary>{folded}" in html


def test_every_missing_estimate_says_why_in_the_csv(demo_export):
    rates = pd.read_csv(demo_export / "pass_rates.csv", keep_default_na=False)
    assert list(rates.columns)[-1] == "note"
    blank = rates[rates["estimate"] == ""]
    assert len(blank) > 0 and (blank["note"].str.len() > 10).all()


def test_paper_outputs_are_booktabs_markdown_and_column_wide_figures_with_embedded_fonts(demo_export):
    tex = (demo_export / "headline.tex").read_text(encoding="utf-8")
    assert "\\toprule" in tex and "\\midrule" in tex and "\\bottomrule" in tex
    rates = pd.read_csv(demo_export / "pass_rates.csv")
    ppi = rates[(rates["metric"] == "full_marks") & (rates["estimator"] == "ppi++")]
    first = ppi.sort_values(["student", "k"]).iloc[0]
    row = f"{first['student']} & {first['k']} & "
    assert row in tex and f"[{100 * first['ci_low']:.0f}, {100 * first['ci_high']:.0f}]" in tex
    md = (demo_export / "headline.md").read_text(encoding="utf-8")
    table = [line for line in md.splitlines() if line.startswith("|")]
    assert len(table) == 2 + len(ppi) and all(line.count("|") == 8 for line in table)
    for name in ("k_curve", "agreement"):
        pdf = (demo_export / f"{name}.pdf").read_bytes()
        assert pdf.startswith(b"%PDF") and b"/FontFile2" in pdf and b"/Type3" not in pdf  # TrueType, embedded
        svg = (demo_export / f"{name}.svg").read_text(encoding="utf-8")
        width = float(re.search(r'width="([\d.]+)pt"', svg).group(1))
        assert width == pytest.approx(3.3 * 72, abs=1) and "<text" not in svg  # one column; glyphs as paths


def test_stats_json_prints_the_same_tables(demo, capsys):
    assert main(["stats", "--project", str(demo), "--json", "--bootstrap", "0"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert {
        "pass_rates",
        "agreement",
        "human_human",
        "judge_self_consistency",
        "skillmix",
        "audit_plan",
        "exclusions",
    } <= set(out)
    assert out["judge"] == "demo-judge"
    assert {r["estimator"] for r in out["pass_rates"]} >= {"judge_only", "ppi++"}
    assert main(["stats", "--project", str(demo), "--bootstrap", "0"]) == 0
    assert "pass rates" in capsys.readouterr().out


def test_export_of_a_simulated_project_goes_to_the_default_folder(tmp_path, monkeypatch):
    path = tmp_path / "sim.gradeapp"
    simulate_project(path, n_generations=300, n_audit=60, seed=2)
    monkeypatch.chdir(tmp_path)
    assert main(["export", "--project", str(path), "--bootstrap", "0"]) == 0
    (folder,) = (tmp_path / "exports").iterdir()
    assert folder.name.startswith("sim-")
    rates = pd.read_csv(folder / "pass_rates.csv")
    ppi = rates[rates["estimator"] == "ppi++"]
    assert ppi["estimate"].notna().all() and (ppi["n_audited"] > 0).all()
    assert _header(folder / "pass_rates.csv") == PASS_RATES_COLUMNS


def test_verdict_export_keeps_text_that_first_appears_after_thousands_of_empty_cells(tmp_path):
    # The export reads verdict rows with the ADBC driver, which infers a column's type from its first
    # values: a reason, note or duration that only a grader's last row has must come out as it is.
    path = tmp_path / "sim.gradeapp"
    simulate_project(path, n_generations=300, n_audit=20, seed=3)
    with open_project(path) as store:
        judge = store.execute("SELECT id FROM graders WHERE kind = 'judge' ORDER BY id").fetchone()[0]
        last = store.execute(
            "SELECT id FROM verdicts WHERE grader_id = ? ORDER BY generation_id DESC, criterion DESC, run DESC "
            "LIMIT 1",
            [judge],
        ).fetchone()[0]
        n_before = store.execute("SELECT COUNT(*) FROM verdicts WHERE grader_id = ?", [judge]).fetchone()[0]
        store.execute(
            "UPDATE verdicts SET reason = '=late', note = 'a note', seconds = 2.5, guideline_version = 7 "
            "WHERE id = ?",
            [last],
        )
        store.conn.commit()
        frame = verdicts_frame(store)
        expected = store.execute("SELECT COUNT(*) FROM current_verdicts").fetchone()[0]
    assert n_before > 2_000  # the driver looks at the first 1,024 rows
    assert len(frame) == expected
    row = frame[frame["reason"].notna()]
    assert row[["reason", "note", "seconds", "guideline_version"]].values.tolist() == [
        ["=late", "a note", 2.5, 7]
    ]
