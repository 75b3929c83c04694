"""Comparing judges on a simulated project where the better judge is known."""

from __future__ import annotations

import json
import shutil

import pandas as pd
import pytest

from gradeapp.cli import main
from gradeapp.core.judge_compare import JUDGES_CSV_COLUMNS
from gradeapp.core.results import StatsOptions
from gradeapp.db import open_project
from gradeapp.errors import GradeappError
from gradeapp.services.export import export_project
from gradeapp.services.judges import compare_project_judges, write_judges_csv
from tests.simulate import simulate_project


@pytest.fixture(scope="module")
def two_judges(tmp_path_factory):
    path = tmp_path_factory.mktemp("judges") / "two.gradeapp"
    simulate_project(
        path,
        n_generations=900,
        n_audit=240,
        judges={"good": (0.95, 0.92), "poor": (0.82, 0.72)},
        judge_cost={"good": 1.8, "poor": 1.0},
        seed=5,
    )
    return path


def test_the_comparison_finds_the_good_judge_with_an_interval_excluding_zero(two_judges):
    with open_project(two_judges) as store:
        cmp = compare_project_judges(store, options=StatsOptions(bootstrap=400, seed=1))
    assert cmp.judges == ["good", "poor"] and cmp.n_generations == 240
    pairs = cmp.pairs.set_index("criterion")
    for item in ("full_marks", "all_skills", "skill:* (all skills)"):
        # columns are b - a = poor - good: the whole interval below zero
        assert pairs.loc[item, "d_kappa_high"] < 0
        assert pairs.loc[item, "d_agreement_high"] < 0
        assert pairs.loc[item, "mcnemar_p"] < 0.01
        assert pairs.loc[item, "only_a_right"] > pairs.loc[item, "only_b_right"]
    assert cmp.sentence.startswith("Judge good agrees with people better than poor on ")
    assert "1.8x the cost" in cmp.sentence
    table = cmp.table()
    assert list(table.columns[:5]) == ["judge", "criterion", "n", "agreement", "kappa"]
    fm = table[table["criterion"] == "full_marks"].set_index("judge")
    # a better judge buys a narrower PPI++ interval for the same audit
    assert fm.loc["good", "ppi_half_width"] < fm.loc["poor", "ppi_half_width"]
    assert fm.loc["good", "cost_usd"] == pytest.approx(1.8)
    assert fm.loc["good", "calls"] == 900 * 3
    skills = table[table["criterion"] == "skill:* (all skills)"].set_index("judge")
    assert skills.loc["good", "pairwise"] > skills.loc["poor", "pairwise"]


def test_judges_compare_cli_prints_the_verdict_and_json(two_judges, capsys):
    assert main(["judges", "compare", "--project", str(two_judges), "--bootstrap", "200"]) == 0
    out = capsys.readouterr().out
    assert "Judge good agrees with people better than poor" in out
    assert main(["judges", "compare", "--project", str(two_judges), "--judges", "poor,good", "--json",
                 "--bootstrap", "100"]) == 0  # fmt: skip
    doc = json.loads(capsys.readouterr().out)
    assert doc["judges"] == ["poor", "good"]
    rows = pd.DataFrame(doc["judges_table"])
    assert set(rows["judge"]) == {"poor", "good"}
    assert {"full_marks", "all_skills", "topic"} <= set(rows["criterion"])


def test_one_judge_or_an_unknown_name_is_one_clear_error(two_judges, tmp_path, capsys):
    with open_project(two_judges) as store, pytest.raises(GradeappError, match="no judge named 'nobody'"):
        compare_project_judges(store, ["good", "nobody"])
    single = tmp_path / "one.gradeapp"
    simulate_project(single, n_generations=60, n_audit=10, seed=1)
    assert main(["judges", "compare", "--project", str(single)]) == 2
    assert "needs at least 2" in capsys.readouterr().err


def test_judges_csv_columns(two_judges, tmp_path):
    with open_project(two_judges) as store:
        path = write_judges_csv(store, tmp_path / "judges.csv", options=StatsOptions(bootstrap=50))
    df = pd.read_csv(path)
    assert list(df.columns) == JUDGES_CSV_COLUMNS
    assert len(df) == 2 * 7  # two judges x (4 criterion kinds + 3 composites)


def test_export_writes_judges_csv_and_a_report_section(two_judges, tmp_path):
    with open_project(two_judges) as store:
        paths = export_project(store, tmp_path / "out", StatsOptions(bootstrap=50))
    df = pd.read_csv(paths["judges"])
    assert list(df.columns[:5]) == ["judge", "criterion", "n", "agreement", "kappa"]
    assert set(df["judge"]) == {"good", "poor"}
    page = paths["report"].read_text(encoding="utf-8")
    assert "Judges compared" in page and "Judge good agrees with people better than poor" in page


def test_a_judge_without_verdicts_is_left_out_unless_named(two_judges, tmp_path):
    path = tmp_path / "three.gradeapp"
    shutil.copy(two_judges, path)
    with open_project(path) as store:
        store.grader_id("judge", "never-run", model="never-run", prompt_version="v0")
        cmp = compare_project_judges(store, options=StatsOptions(bootstrap=0))
        assert cmp.judges == ["good", "poor"] and cmp.n_generations == 240
        named = compare_project_judges(store, ["good", "never-run"], StatsOptions(bootstrap=0))
        assert named.n_generations == 0 and named.per_judge.empty
