"""Evidence on a real project file: marks appended, removed and restored; statistics from the project."""

from __future__ import annotations

import pandas as pd
import pytest

from gradeapp.core.rubric import TOPIC
from gradeapp.db import evidence_store, open_project
from gradeapp.errors import GradeappError
from gradeapp.services import evidence
from gradeapp.services.export import export_project


@pytest.fixture
def store(demo_path):
    with open_project(demo_path, create=False) as s:
        yield s


@pytest.fixture
def person(store) -> int:
    return store.grader_id("human", "pat (test)")


def _first_generation(store) -> tuple[int, str]:
    return store.execute("SELECT id, text FROM generations ORDER BY id LIMIT 1").fetchone()


def test_mark_stores_offsets_and_words_trimmed_of_edge_spaces(store, person):
    gid, text = _first_generation(store)
    end = text.index(" ", 3) + 1  # a word selection that took the following space
    change = evidence.mark_evidence(store, person, gid, TOPIC, 0, end)
    assert (change.start, change.end, change.quote) == (0, end - 1, text[: end - 1])
    [row] = evidence.generation_evidence(store, gid, [person])
    assert (row["start_char"], row["end_char"], row["quote"], row["criterion"]) == (
        0,
        end - 1,
        text[: end - 1],
        TOPIC,
    )


def test_remove_appends_a_row_and_restore_adds_the_mark_again(store, person):
    gid, text = _first_generation(store)
    mark = evidence.mark_evidence(store, person, gid, TOPIC, 0, 4)
    evidence.remove_evidence(store, person, mark.mark_id)
    assert evidence.generation_evidence(store, gid, [person]) == []
    again = evidence.restore_evidence(store, person, mark.mark_id)
    [row] = evidence.generation_evidence(store, gid, [person])
    assert row["id"] == again.mark_id != mark.mark_id
    actions = [r["action"] for r in evidence_store.all_evidence_rows(store)]
    assert actions == ["add", "remove", "add"]  # nothing updated, nothing deleted


def test_bad_marks_are_refused_and_nothing_is_written(store, person):
    gid, text = _first_generation(store)
    with pytest.raises(GradeappError, match="outside the text"):
        evidence.mark_evidence(store, person, gid, TOPIC, 0, len(text) + 5)
    with pytest.raises(GradeappError, match="not one of"):
        evidence.mark_evidence(store, person, gid, "skill:nonexistent", 0, 3)
    other = store.grader_id("human", "sam (test)")
    mark = evidence.mark_evidence(store, person, gid, TOPIC, 0, 3)
    with pytest.raises(GradeappError, match="not a current mark"):
        evidence.remove_evidence(store, other, mark.mark_id)
    assert len(evidence_store.all_evidence_rows(store)) == 1


def test_statistics_count_a_persons_and_a_judges_marks(store, person):
    gid, text = _first_generation(store)
    judge = store.grader_id("judge", "fake-judge", model="fake")
    with store.atomic():
        store.add_verdicts(
            [{"grader_id": g, "generation_id": gid, "criterion": TOPIC, "value": 1} for g in (person, judge)]
        )
        evidence_store.insert_evidence(
            store.conn,
            [
                {"grader_id": judge, "generation_id": gid, "criterion": TOPIC, "start_char": 0, "end_char": 4,
                 "quote": text[:4], "grounding": "grounded", "score": 100.0},
            ],
        )  # fmt: skip
    evidence.mark_evidence(store, person, gid, TOPIC, 0, 4)
    tables = evidence.evidence_statistics(store, bootstrap=10)
    judge_key = "fake-judge"
    row = tables["grounding"].set_index("judge").loc[judge_key]
    assert (row["credited"], row["grounded"]) == (1, 1.0)
    spans = tables["span_agreement"].set_index("pair")
    assert spans.loc["person-judge", "f1"] == 1.0


def test_a_replaced_reply_removes_the_quotes_of_the_reply_it_replaces(store):
    gid, text = _first_generation(store)
    judge = store.grader_id("judge", "fake-judge", model="fake")
    with store.atomic():
        reply = store.add_reply(judge, gid, 1, "{}", "ok")
        base = {
            "grader_id": judge,
            "generation_id": gid,
            "criterion": TOPIC,
            "quote": "x",
            "grounding": "not_found",
        }
        evidence_store.replace_reply_evidence(store.conn, reply, [base])
        evidence_store.replace_reply_evidence(store.conn, reply, [{**base, "quote": "y"}])
    assert [r["quote"] for r in evidence.generation_evidence(store, gid, [judge])] == ["y"]
    assert [r["action"] for r in evidence_store.all_evidence_rows(store)] == ["add", "remove", "add"]


@pytest.mark.slow
def test_export_writes_the_evidence_tables_only_when_there_is_evidence(store, person, tmp_path):
    assert evidence.export_evidence(store, tmp_path) == ({}, "")
    gid, text = _first_generation(store)
    evidence.mark_evidence(store, person, gid, TOPIC, 0, 4)
    paths = export_project(store, tmp_path / "out")
    marks = pd.read_csv(paths["evidence"])
    assert marks[["generation_id", "criterion", "start", "end", "quote"]].values.tolist() == [
        [gid, TOPIC, 0, 4, text[:4]]
    ]
    for name in ("evidence_grounding", "evidence_grounded_agreement", "evidence_span_agreement"):
        assert paths[name].exists()
    assert "Evidence: the words behind the verdicts" in paths["report"].read_text(encoding="utf-8")
