"""Hostile or mistaken input on the command line: refused in one line, nothing changed."""

from __future__ import annotations

import pytest

from gradeapp.cli import main
from gradeapp.db import open_project
from gradeapp.errors import InputError
from gradeapp.services.grading import set_decisions, skip, submit
from tests.helpers import dump


def test_queue_of_a_new_annotator_writes_nothing(demo_path, capsys):
    with open_project(demo_path) as store:
        before = dump(store)
    assert main(["queue", "--annotator", "newcomer", "--limit", "3", "--project", str(demo_path)]) == 0
    assert "done 0 /" in capsys.readouterr().out
    with open_project(demo_path) as store:
        assert dump(store) == before


def test_grade_refuses_negative_seconds_and_stores_nothing(demo_path, capsys):
    with open_project(demo_path) as store:
        before = dump(store)
    argv = ["grade", "demo-001", "--annotator", "zed", "--accept", "--submit", "--seconds", "-5"]
    with pytest.raises(SystemExit) as stop:
        main([*argv, "--project", str(demo_path)])
    assert stop.value.code == 2 and "--seconds" in capsys.readouterr().err
    with open_project(demo_path) as store:
        assert dump(store) == before


@pytest.mark.parametrize("seconds", [-1.0, float("inf"), float("nan")])
def test_the_grading_service_refuses_a_time_that_is_not_a_duration(demo_path, seconds):
    with open_project(demo_path) as store:
        grader = store.grader_id("human", "zed")
        gid = store.generation_id("demo-001")
        before = dump(store)
        for action in (
            lambda: submit(store, grader, gid, seconds=seconds),
            lambda: skip(store, grader, gid, seconds=seconds),
            lambda: set_decisions(store, grader, gid, {"topic": 1}, seconds=seconds),
        ):
            with pytest.raises(InputError, match="field 'seconds'"):
                action()
        assert dump(store) == before


def test_a_guideline_file_over_a_megabyte_is_refused_without_reading_it_all(demo_path, tmp_path, capsys):
    huge = tmp_path / "guide.txt"
    with huge.open("wb") as handle:
        handle.truncate(10**10)  # a sparse 10 GB file: reading it whole would exhaust memory
    assert main(["guidelines", "edit", "--file", str(huge), "--project", str(demo_path)]) == 2
    assert "over 1,000,000 bytes" in capsys.readouterr().err
