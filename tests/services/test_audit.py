"""Audit draws: designs, inclusion probabilities, the CLI, and which human verdicts count."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from gradeapp.cli import main
from gradeapp.db import audit_store, open_project
from gradeapp.errors import GradeappError
from gradeapp.services.audit import draw_audit, load_audit_data, plan_draw
from tests.simulate import simulate_project


def _pool(n_cells: int = 4, per_cell: int = 50, pass_share: float = 0.2) -> pd.DataFrame:
    rows = []
    gid = 1
    for c in range(n_cells):
        for i in range(per_cell):
            rows.append(
                {
                    "generation_id": gid,
                    "student": f"s{c % 2}",
                    "k": 2 + c // 2,
                    "verdict": int(i < per_cell * pass_share),
                }
            )
            gid += 1
    return pd.DataFrame(rows)


def test_uniform_draw_is_a_seeded_simple_random_sample():
    pool = _pool()
    a = plan_draw(pool, 40, seed=1)
    b = plan_draw(pool, 40, seed=1)
    c = plan_draw(pool, 40, seed=2)
    assert a.equals(b) and not a.equals(c)
    assert len(a) == 40 and a["generation_id"].is_unique
    assert (a["inclusion_prob"] == 40 / 200).all()


def test_stratified_per_cell_draws_the_same_number_from_every_cell():
    pool = _pool(per_cell=30)
    d = plan_draw(pool, 10, design="stratified", per_cell=True, seed=0)
    assert d.groupby("stratum").size().tolist() == [10, 10, 10, 10]
    assert (d["inclusion_prob"] == 10 / 30).all()


def test_stratified_by_verdict_oversamples_the_rarer_verdict_with_known_probabilities():
    pool = _pool(per_cell=50, pass_share=0.2)  # 10 passes and 40 fails per cell
    d = plan_draw(pool, 16, design="stratified", per_cell=True, by_verdict=True, seed=0)
    merged = d.merge(pool, on="generation_id")
    per = merged.groupby(["stratum", "verdict"]).agg(
        n=("generation_id", "size"), p=("inclusion_prob", "first")
    )
    per = per.reset_index()
    assert (per["n"] == 8).all()  # half of each cell's 16 from each verdict
    assert per.loc[per["verdict"] == 1, "p"].eq(8 / 10).all()
    assert per.loc[per["verdict"] == 0, "p"].eq(8 / 40).all()


def test_proportional_stratified_draw_allocates_by_cell_size():
    pool = pd.concat(
        [
            _pool(n_cells=1, per_cell=90),
            _pool(n_cells=1, per_cell=10).assign(
                generation_id=lambda f: f["generation_id"] + 1000, student="other"
            ),
        ]
    )
    d = plan_draw(pool, 20, design="stratified", seed=0)
    sizes = d.groupby("stratum").size()
    assert sizes.sum() == 20
    assert sizes.max() == 18 and sizes.min() == 2


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
    assert len(err) == 1 and "needs --design stratified" in err[0]


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
