"""Adjudication: disputed cells, decisions with reason tags, agreement before and after."""

from __future__ import annotations

import json
from collections import defaultdict

import pytest
from sklearn.metrics import cohen_kappa_score

from gradeapp.cli import main as cli_main
from gradeapp.db import open_project
from gradeapp.errors import GradeappError
from gradeapp.services.adjudication import (
    REASON_TAGS,
    adjudicated_labels,
    agreement_table,
    decide,
    disagreements,
    human_labels,
    normalize_reason,
)
from tests.team_sim import Clock, grade


@pytest.fixture
def project(demo_path):
    return open_project(demo_path, create=False)


def oracle_cells(store) -> set[tuple[str, str]]:
    """Compute the disputed cells with plain loops over the raw rows (independent of the pandas code)."""
    latest: dict[tuple, tuple] = {}
    for kind, name, uid, crit, run, value, status, created, vid in store.execute(
        "SELECT gr.kind, gr.name, g.uid, v.criterion, v.run, v.value, v.status, v.created, v.id FROM verdicts v "
        "JOIN graders gr ON gr.id = v.grader_id JOIN generations g ON g.id = v.generation_id"
    ):
        key = (kind, name, uid, crit, run)
        if key not in latest or (created, vid) > latest[key][:2]:
            latest[key] = (created, vid, value, status)
    humans, runs = defaultdict(list), defaultdict(list)
    for (kind, _name, uid, crit, _run), (_c, _i, value, status) in latest.items():
        if status == "retracted" or value is None:
            continue
        if kind == "human":
            humans[(uid, crit)].append(value)
        elif kind == "judge":
            runs[(uid, crit)].append(value)
    out = set()
    for cell, values in humans.items():
        votes = runs.get(cell, [])
        judge = (sum(votes) > len(votes) / 2) if votes else None
        if len(set(values)) > 1 or (judge is not None and any(v != int(judge) for v in values)):
            out.add(cell)
    return out


def test_disputed_cells_match_an_independent_count(project):
    with project as store:
        cells = disagreements(store)
        assert {(c["uid"], c["criterion"]) for c in cells} == oracle_cells(store)
        assert len(cells) > 0
        # Worst criterion first, among undecided cells.
        rates = [c["criterion_rate"] for c in cells]
        assert rates == sorted(rates, reverse=True)
        both = [c for c in cells if len(c["people"]) == 2 and "person-person" in c["kinds"]]
        assert both, "the demo's overlap has person-person disagreements"


def test_cells_carry_notes_and_judge_reasons(project):
    with project as store:
        # An item nobody graded yet, which the judge passes on topic in at least two of three runs.
        uid = store.execute(
            "SELECT ge.uid FROM verdicts v JOIN graders g ON g.id = v.grader_id JOIN generations ge ON ge.id = v.generation_id "
            "WHERE g.kind = 'judge' AND v.criterion = 'topic' AND ge.uid > 'demo-020' GROUP BY ge.uid "
            "HAVING SUM(v.value) >= 2 ORDER BY ge.uid LIMIT 1"
        ).fetchone()[0]
        clock = Clock()
        grade(store, "cleo", uid, {"topic": 0}, seconds=30, created=clock(), note="is this about sewing?")
        store.add_review(store.grader_id("human", "cleo"), store.generation_id(uid), "note", note="odd text")
        cell = {(c["uid"], c["criterion"]): c for c in disagreements(store)}[(uid, "topic")]
        assert cell["people"] == [{"name": "cleo", "value": 0, "note": "is this about sewing?"}]
        assert {"name": "cleo", "note": "odd text"} in cell["item_notes"]
        assert cell["judge"]["value"] == 1 and cell["judge"]["reasons"] and len(cell["judge"]["runs"]) == 3
        assert cell["kinds"] == ["person-judge"]


def test_decision_is_an_adjudicator_verdict_with_a_reason_tag(project):
    with project as store:
        cell = disagreements(store)[0]
        row = decide(store, cell["uid"], cell["criterion"], 1, "Judge error", by="dora", note="clear case")
        assert row["reason"] == "judge_error"
        kind, name, value, reason, note, version = store.execute(
            "SELECT g.kind, g.name, v.value, v.reason, v.note, v.guideline_version FROM verdicts v "
            "JOIN graders g ON g.id = v.grader_id WHERE g.kind = 'adjudicator'"
        ).fetchone()
        assert (kind, name, value, reason, note, version) == (
            "adjudicator",
            "dora",
            1,
            "judge_error",
            "clear case",
            1,
        )
        after = disagreements(store)
        assert after[-1]["uid"] == cell["uid"] and after[-1]["decision"]["value"] == 1
        assert all(c["decision"] is None for c in after[:-1])
        assert (cell["uid"], cell["criterion"]) not in {
            (c["uid"], c["criterion"]) for c in disagreements(store, include_decided=False)
        }
        # A later decision replaces the earlier one.
        decide(store, cell["uid"], cell["criterion"], 0, "ambiguous text")
        assert disagreements(store)[-1]["decision"]["reason"] == "ambiguous_text"


def test_decide_refuses_bad_input(project):
    with project as store:
        with pytest.raises(GradeappError, match="unknown reason"):
            decide(store, "demo-001", "topic", 1, "tired")
        with pytest.raises(GradeappError, match="no generation"):
            decide(store, "nope", "topic", 1, "judge error")
        with pytest.raises(GradeappError, match="not a criterion"):
            decide(store, "demo-001", "skill:nonexistent", 1, "judge error")
        with pytest.raises(GradeappError, match="1 \\(pass\\) or 0"):
            decide(store, "demo-001", "topic", 2, "judge error")
        assert store.execute("SELECT COUNT(*) FROM graders WHERE kind = 'adjudicator'").fetchone()[0] == 0


def test_reason_tags_accept_spaces_hyphens_and_case():
    assert [
        normalize_reason(t) for t in ("annotator error", "Judge-Error", "GUIDELINE_GAP", " ambiguous  text ")
    ] == list(REASON_TAGS)


def test_adjudicated_labels_replace_decided_cells_and_agreement_rises(project):
    with project as store:
        cells = [c for c in disagreements(store) if "person-person" in c["kinds"]]
        for c in cells:
            decide(store, c["uid"], c["criterion"], c["judge"]["value"] if c["judge"] else 1, "guideline gap")
        before, after = human_labels(store), adjudicated_labels(store)
        assert len(before) == len(after)
        merged = before.merge(after, on=["grader", "generation_id", "criterion"], suffixes=("_b", "_a"))
        changed = merged[merged["value_b"] != merged["value_a"]]
        decided = {(c["uid"], c["criterion"]) for c in cells}
        assert len(changed) > 0 and set(zip(changed["uid_b"], changed["criterion"], strict=True)) <= decided
        rows = {(r["criterion"], r["comparison"]): r for r in agreement_table(store)}
        pp = rows[("all", "person-person")]
        assert pp["agreement_after"] == 1.0 and pp["agreement_before"] < 1.0
        # The 'before' column is exactly sklearn's kappa over the person-judge pairs.
        pj = rows[("all", "person-judge")]
        from gradeapp.services.adjudication import human_judge_pairs

        pairs = human_judge_pairs(store)
        assert pj["n"] == len(pairs)
        assert pj["kappa_before"] == pytest.approx(cohen_kappa_score(pairs["human"], pairs["judge"]))
        assert pj["agreement_after"] >= pj["agreement_before"]


def test_cli_list_decide_agreement(project, capsys):
    path = str(project.path)
    project.close()
    assert cli_main(["adjudicate", "list", "--project", path, "--json"]) == 0
    cells = json.loads(capsys.readouterr().out)
    first = cells[0]
    assert (
        cli_main(
            [
                "adjudicate",
                "decide",
                first["uid"],
                first["criterion"],
                "0",
                "--reason",
                "annotator error",
                "--by",
                "dora",
                "--project",
                path,
            ]
        )
        == 0
    )
    assert "by dora (annotator error)" in capsys.readouterr().out
    assert cli_main(["adjudicate", "list", "--open", "--project", path]) == 0
    out = capsys.readouterr().out
    assert f"{len(cells) - 1} disputed cells, {len(cells) - 1} undecided" in out
    assert (
        cli_main(
            [
                "adjudicate",
                "decide",
                first["uid"],
                first["criterion"],
                "0",
                "--reason",
                "bored",
                "--project",
                path,
            ]
        )
        == 2
    )
    assert "unknown reason" in capsys.readouterr().err
    assert cli_main(["adjudicate", "agreement", "--project", path]) == 0
    assert "person-person" in capsys.readouterr().out
