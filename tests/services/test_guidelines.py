"""Versioned guidelines: default text, one version per edit, statistics split by version."""

from __future__ import annotations

import json

import pytest
from sklearn.metrics import cohen_kappa_score

from gradeapp.cli import main as cli_main
from gradeapp.db import open_project
from gradeapp.errors import GradeappError
from gradeapp.services import adjudication, guidelines
from gradeapp.services.adjudication import human_judge_pairs
from tests.team_sim import Clock, grade


def test_default_is_installed_once_as_version_1(tmp_path):
    with open_project(tmp_path / "p.gradeapp") as store:
        assert guidelines.ensure_guidelines(store) == 1
        assert guidelines.ensure_guidelines(store) == 1
        text = guidelines.current(store)["text"]
        for phrase in ("Correctly illustrates", "Pertains to", "makes sense", "sentence"):
            assert phrase in text
        assert store.execute("SELECT COUNT(*) FROM guidelines").fetchone()[0] == 1


def test_each_edit_is_a_new_version_and_unchanged_text_is_not(tmp_path):
    with open_project(tmp_path / "p.gradeapp") as store:
        v1 = guidelines.current(store)["text"]
        assert guidelines.edit(store, v1 + "\n") == {"version": 1, "changed": False}
        assert guidelines.edit(store, v1 + "\n5. New rule.\n") == {"version": 2, "changed": True}
        assert guidelines.edit(store, "Short.\n") == {"version": 3, "changed": True}
        assert guidelines.current_version(store) == 3
        assert guidelines.show(store, 1)["text"] == v1
        hist = guidelines.history(store)
        assert [h["version"] for h in hist] == [1, 2, 3]
        assert hist[0]["first_changed_line"] is None
        assert hist[1]["first_changed_line"] == len(v1.splitlines()) + 1
        assert hist[2]["first_changed_line"] == 1
        with pytest.raises(GradeappError, match="empty"):
            guidelines.edit(store, "  \n")
        with pytest.raises(GradeappError, match="no guideline version 9"):
            guidelines.show(store, 9)


def test_agreement_is_split_by_the_version_people_saw(demo_path):
    with open_project(demo_path, create=False) as store:
        clock = Clock()
        uids = [f"demo-{n:03d}" for n in range(20, 30)]
        for uid in uids[:6]:
            grade(store, "cleo", uid, {"topic": 1, "makes_sense": 1}, seconds=20, created=clock())
        guidelines.edit(store, guidelines.current(store)["text"] + "\nTopic: be strict.\n")
        for uid in uids[6:]:
            grade(store, "cleo", uid, {"topic": 0, "makes_sense": 1}, seconds=20, created=clock())
        rows = {r["guideline_version"]: r for r in adjudication.agreement_by_guideline_version(store)}
        assert set(rows) == {None, 1, 2}  # the demo's people graded before any guideline existed
        assert rows[1]["n"] == 12 and rows[2]["n"] == 8
        pairs = human_judge_pairs(store)
        v2 = pairs[pairs["guideline_version"] == 2]
        assert rows[2]["agreement"] == pytest.approx((v2["human"] == v2["judge"]).mean())
        if v2["judge"].nunique() > 1 or v2["human"].nunique() > 1:
            assert rows[2]["kappa"] == pytest.approx(cohen_kappa_score(v2["human"], v2["judge"]))


def test_cli_init_show_edit_history(tmp_path, capsys):
    project = str(tmp_path / "p.gradeapp")
    assert cli_main(["init", "--project", project]) == 0
    assert cli_main(["guidelines", "init", "--project", project]) == 0
    assert "version 1" in capsys.readouterr().out
    new = tmp_path / "g.txt"
    new.write_text("Our own rules.\nTwo lines.\n", encoding="utf-8")
    assert cli_main(["guidelines", "edit", "--file", str(new), "--project", project]) == 0
    assert "stored guideline version 2" in capsys.readouterr().out
    assert cli_main(["guidelines", "show", "--project", project]) == 0
    assert capsys.readouterr().out.startswith("# version 2 (")
    assert cli_main(["guidelines", "show", "--version", "2", "--project", project]) == 0
    assert "Our own rules." in capsys.readouterr().out
    assert cli_main(["guidelines", "history", "--json", "--project", project]) == 0
    assert [r["version"] for r in json.loads(capsys.readouterr().out)] == [1, 2]
    assert (
        cli_main(["guidelines", "edit", "--file", str(tmp_path / "missing.txt"), "--project", project]) == 2
    )
    assert "cannot read" in capsys.readouterr().err
