"""Annotator quality signals: pass rate, speed, fast decisions, agreement; annotators.csv."""

from __future__ import annotations

import csv
import json
import statistics
from pathlib import Path

import pytest
from sklearn.metrics import cohen_kappa_score

from gradeapp.cli import main as cli_main
from gradeapp.core.rubric import criteria
from gradeapp.db import open_project
from gradeapp.services import grading
from gradeapp.services.adjudication import human_judge_pairs
from gradeapp.services.quality import ANNOTATOR_COLUMNS, annotator_table, fast_decisions, write_annotators_csv
from tests.team_sim import Clock, grade


@pytest.fixture(scope="module")
def project_path(copy_demo, tmp_path_factory) -> Path:
    """The demo plus two new people, 'fay' (hasty) and 'gus', who share five items nobody else graded."""
    path = copy_demo(tmp_path_factory.mktemp("q") / "p.gradeapp")
    clock = Clock()
    with open_project(path, create=False) as store:
        free = [
            uid
            for (uid,) in store.execute(
                "SELECT uid FROM generations g WHERE NOT EXISTS (SELECT 1 FROM verdicts v JOIN graders gr "
                "ON gr.id = v.grader_id WHERE v.generation_id = g.id AND gr.kind = 'human') ORDER BY g.id"
            )
        ][:6]
        fay_seconds = [2.0, 3.5, 30.0, 41.0, 4.9, 60.0]
        for i, (uid, secs) in enumerate(zip(free, fay_seconds, strict=True)):
            grade(store, "fay", uid, {"topic": 1, "makes_sense": i % 2}, seconds=secs, created=clock())
        for uid in free[1:]:
            grade(store, "gus", uid, {"topic": 1, "makes_sense": 1}, seconds=25.0, created=clock())
        FREE[:] = free
    return path


FREE: list[str] = []  # the six items fay graded (the fixture fills it)


def test_speed_and_fast_decisions(project_path):
    with open_project(project_path, create=False) as store:
        rows = {r["annotator"]: r for r in annotator_table(store)}
        fay = rows["fay"]
        assert fay["submits"] == 6 and fay["items"] == 6 and fay["verdicts"] == 12
        assert fay["median_seconds"] == statistics.median([2.0, 3.5, 30.0, 41.0, 4.9, 60.0])
        assert fay["fast_decisions"] == 3 and fay["fast_share"] == pytest.approx(0.5)
        assert "3 of 6 first submits took under 5 s" in fay["warnings"]
        assert rows["gus"]["fast_decisions"] == 0 and rows["gus"]["warnings"] == ""
        # A stricter threshold flags fewer.
        assert {r["annotator"]: r["fast_decisions"] for r in annotator_table(store, threshold=3.0)}[
            "fay"
        ] == 1
        fast = fast_decisions(store)
        assert sorted(fast[fast["annotator"] == "fay"]["uid"]) == [FREE[0], FREE[1], FREE[4]]


def test_pass_rate_and_agreement(project_path):
    with open_project(project_path, create=False) as store:
        rows = {r["annotator"]: r for r in annotator_table(store)}
        fay, gus = rows["fay"], rows["gus"]
        assert fay["pass_rate"] == pytest.approx((6 + 3) / 12)
        assert gus["pass_rate"] == 1.0
        # fay and gus share 5 items x 2 criteria; they differ where fay failed makes_sense (even numbers).
        assert fay["n_with_others"] == gus["n_with_others"] == 10
        assert fay["agreement_with_others"] == pytest.approx(8 / 10)
        # gus never fails, so chance agreement equals the observed 0.8: kappa is 0 (sklearn agrees).
        fay_vals = [1, 1, 1, 0, 1, 1, 1, 0, 1, 1]
        assert fay["kappa_with_others"] == pytest.approx(cohen_kappa_score(fay_vals, [1] * 10)) == 0.0
        pairs = human_judge_pairs(store)
        mine = pairs[pairs["grader"] == "fay"]
        assert fay["n_with_judge"] == len(mine)
        assert fay["agreement_with_judge"] == pytest.approx((mine["human"] == mine["judge"]).mean())
        assert fay["kappa_with_judge"] == pytest.approx(cohen_kappa_score(mine["human"], mine["judge"]))
        # The demo's people are there too, with their overlap.
        assert rows["ann (demo)"]["n_with_others"] > 0


def test_annotators_csv(project_path, tmp_path):
    with open_project(project_path, create=False) as store:
        path = write_annotators_csv(store, tmp_path / "out" / "annotators.csv")
        expected = annotator_table(store)
    with path.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert tuple(rows[0]) == ANNOTATOR_COLUMNS
    assert (
        [r["annotator"] for r in rows]
        == [r["annotator"] for r in expected]
        == ["ann (demo)", "ben (demo)", "fay", "gus"]
    )
    fay = rows[2]
    assert fay["fast_decisions"] == "3" and float(fay["pass_rate"]) == pytest.approx(0.75)
    assert float(rows[3]["kappa_with_others"]) == 0.0
    assert rows[3]["warnings"] == "" and float(rows[3]["median_seconds"]) == 25.0


def test_annotators_csv_neutralises_formula_like_names(project_path, tmp_path):
    with open_project(project_path, create=False) as store:
        person = store.grader_id("human", '=HYPERLINK("http://x")')
        gid = store.execute("SELECT id FROM generations ORDER BY id LIMIT 1").fetchone()[0]
        store.add_verdicts([{"grader_id": person, "generation_id": gid, "criterion": "topic", "value": 1}])
        store.add_review(person, gid, "submit", seconds=3.0)
        path = write_annotators_csv(store, tmp_path / "annotators.csv")
    with path.open(newline="", encoding="utf-8") as fh:
        names = [r["annotator"] for r in csv.DictReader(fh)]
    assert '\'=HYPERLINK("http://x")' in names


def test_cli_annotators(project_path, tmp_path, capsys):
    out = tmp_path / "annotators.csv"
    assert cli_main(["annotators", "--project", str(project_path), "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert out.exists() and "warning: 3 of 6 first submits took under 5 s" in text
    assert cli_main(["annotators", "--project", str(project_path), "--json", "--fast", "3"]) == 0
    rows = {r["annotator"]: r for r in json.loads(capsys.readouterr().out)}
    assert rows["fay"]["fast_decisions"] == 1


def test_a_reopened_and_resubmitted_item_is_not_a_fast_decision(copy_demo, tmp_path):
    path = copy_demo(tmp_path / "p.gradeapp")
    with open_project(path, create=False) as store:
        grader = store.grader_id("human", "hal")
        gid = store.execute("SELECT MIN(id) FROM generations").fetchone()[0]
        gen = store.generation(gid)
        values = {c: 1 for c in criteria([s["name"] for s in gen["skills"]])}
        grading.set_decisions(store, grader, gid, values, seconds=30.0)
        grading.submit(store, grader, gid, seconds=30.0)
        grading.unsubmit(store, grader, gid)  # U: a second look at the item just submitted
        grading.submit(store, grader, gid, seconds=1.2)
        hal = {r["annotator"]: r for r in annotator_table(store)}["hal"]
        assert hal["fast_decisions"] == 0 and hal["warnings"] == ""
        assert hal["submits"] == 1 and hal["median_seconds"] == 30.0
        assert "hal" not in set(fast_decisions(store)["annotator"])
