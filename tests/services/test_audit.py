"""Audit draws: designs, inclusion probabilities, the CLI, and which human verdicts count."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from gradeapp.cli import main
from gradeapp.core.audit_draw import DrawSettingError
from gradeapp.db import audit_store, open_project
from gradeapp.errors import GradeappError
from gradeapp.services.audit import draw_audit
from gradeapp.services.audit_data import load_audit_data
from tests.simulate import simulate_project


@pytest.fixture()
def project(tmp_path):
    path = tmp_path / "sim.gradeapp"
    simulate_project(path, n_generations=240, n_audit=0, seed=3)
    return path


def test_draw_is_recorded_with_design_stratum_and_probability(project):
    with open_project(project) as store:
        report = draw_audit(store, 5, design="stratified", per_cell=True, seed=9, name="first")
        items = audit_store.audit_items_df(store, report["id"])
        draws = audit_store.audit_draws_df(store)
        with pytest.raises(GradeappError, match="exists already"):
            draw_audit(store, 5, seed=1, name="first")
    assert len(items) == 6 * 5
    assert draws.iloc[0]["design"] == "stratified"
    assert json.loads(draws.iloc[0]["params"])["per_cell"] is True
    assert set(items["stratum"]) == {
        f"{s}|k={k}" for s in ("big-100b", "mid-10b", "small-1b") for k in (2, 3)
    }
    assert items["inclusion_prob"].eq(5 / 40).all()


def test_cli_draw_and_list_print_the_drawn_ids(project, capsys):
    assert (
        main(["audit", "draw", "--project", str(project), "--size", "12", "--seed", "4", "--name", "a1"]) == 0
    )
    capsys.readouterr()
    assert main(["audit", "list", "--project", str(project), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out[0]["name"] == "a1" and len(out[0]["generations"]) == 12
    assert all(uid.startswith("sim-") for uid in out[0]["generations"])
    assert main(["audit", "list", "--project", str(project)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[1:] == out[0]["generations"]


def test_cli_reports_a_user_error_in_one_line(project, capsys):
    code = main(["audit", "draw", "--project", str(project), "--size", "3", "--seed", "1", "--by-verdict"])
    assert code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].endswith(
        "--by-verdict: stratifying by the judge's verdict needs the stratified design"
    )


def test_a_draw_setting_error_names_the_setting_in_the_domains_words(project):
    with open_project(project) as store, pytest.raises(DrawSettingError) as caught:
        draw_audit(store, 0, seed=1)
    assert caught.value.setting == "size" and "--" not in str(caught.value)


def test_only_submitted_verdicts_on_the_latest_draw_feed_the_calibration(project):
    with open_project(project) as store:
        draw_audit(store, 10, seed=1, name="d1")
        drawn = audit_store.audit_items_df(store)["generation_id"].tolist()
        person = store.grader_id("human", "p")
        crits = dict(
            store.execute(
                "SELECT generation_id, GROUP_CONCAT(DISTINCT criterion) FROM verdicts GROUP BY generation_id"
            )
        )
        for gid in drawn[:4]:
            store.add_verdicts(
                {"grader_id": person, "generation_id": gid, "criterion": c, "value": 1}
                for c in crits[gid].split(",")
            )
        for gid in drawn[:3]:
            store.add_review(person, gid, "submit")
        store.add_review(person, drawn[2], "unsubmit")
        data = load_audit_data(store)
    assert sorted(data.human_gen.index) == sorted(drawn[:2])  # drawn[2] unsubmitted, drawn[3] never submitted
    assert any("not submitted" in e["why"] for e in data.exclusions)
    assert any("not graded" in e["why"] for e in data.exclusions)


def test_judge_points_are_the_current_verdicts_of_the_view(project):
    with open_project(project) as store:
        judge = store.grader_id("judge", "sim-judge", model="sim-judge", prompt_version="sim")
        gid = 5
        store.add_verdicts(
            [
                {"grader_id": judge, "generation_id": gid, "criterion": "topic", "run": 2, "value": 0},
                {"grader_id": judge, "generation_id": gid, "criterion": "topic", "run": 2, "value": 1},
                {
                    "grader_id": judge,
                    "generation_id": gid,
                    "criterion": "makes_sense",
                    "run": 1,
                    "value": None,
                    "status": "retracted",
                },
            ]
        )
        ours = audit_store.judge_points(store, judge)
        view = store.current_verdicts_df("judge")[["generation_id", "criterion", "run", "value"]]
    key = ["generation_id", "criterion", "run"]
    pd.testing.assert_frame_equal(
        ours.sort_values(key).reset_index(drop=True),
        view.sort_values(key).reset_index(drop=True),
        check_dtype=False,
    )
    assert (
        (view["generation_id"] == gid) & (view["criterion"] == "makes_sense") & (view["run"] == 1)
    ).sum() == 0
