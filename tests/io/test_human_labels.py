"""People's labels graded elsewhere count: long or wide files, submitted when complete, drafts reported."""

from __future__ import annotations

import csv
import json
import math
import random
import subprocess
import sys

import pytest

from gradeapp.core.results import StatsOptions
from gradeapp.db import audit_store, item_store, open_project
from gradeapp.errors import InputError
from gradeapp.services.audit import draw_audit
from gradeapp.services.imports import import_sources
from gradeapp.services.stats import compute_stats
from tests.helpers import dump
from tests.simulate import simulate_project


@pytest.fixture
def drawn(tmp_path):
    """A simulated project with a judge, no people, and an audit draw of 60 generations."""
    path = tmp_path / "sim.gradeapp"
    simulate_project(path, n_generations=240, n_audit=0, seed=5)
    with open_project(path) as store:
        draw_audit(store, 60, seed=2, name="spring")
        ids = audit_store.audit_items_df(store)["generation_id"].tolist()
        rows = store.execute(
            "SELECT g.uid, v.criterion, v.value FROM current_verdicts v JOIN generations g ON g.id = v.generation_id "
            f"WHERE v.run = 1 AND v.generation_id IN ({','.join('?' * len(ids))}) ORDER BY g.id, v.criterion",
            ids,
        ).fetchall()
    labels: dict[str, dict[str, int]] = {}
    rng = random.Random(4)
    for uid, crit, value in rows:
        # the people are stricter than the judge: a fifth of its passes are fails to them
        labels.setdefault(uid, {})[crit] = 0 if value == 1 and rng.random() < 0.2 else int(value or 0)
    return path, labels


def _long_file(path, labels, person="zoe", skip=()):
    lines = [
        {"generation": uid, "grader": person, "kind": "human", "criterion": crit, "value": value}
        for uid, crits in labels.items()
        for crit, value in crits.items()
        if (uid, crit) not in skip
    ]
    path.write_text("\n".join(json.dumps(x) for x in lines) + "\n", encoding="utf-8")
    return path


def _stats(path):
    with open_project(path) as store:
        return compute_stats(store, StatsOptions(bootstrap=0))


def test_human_labels_in_the_documented_format_move_the_calibrated_estimates(drawn, tmp_path):
    path, labels = drawn
    before = _stats(path).pass_rates
    ppi = before[(before["estimator"] == "ppi++") & (before["metric"] == "full_marks")]
    assert ppi["estimate"].isna().all() and (ppi["n_audited"] == 0).all()
    f = _long_file(tmp_path / "labels.jsonl", labels)
    with open_project(path) as store:
        report = import_sources(store, [f])[str(f)]
    assert report["items_submitted"] == 60 and "items_left_as_drafts" not in report
    assert report["items_in_audit_draw"] == "60 of 60 generations (draw 'spring')"
    after = _stats(path).pass_rates
    ppi = after[(after["estimator"] == "ppi++") & (after["metric"] == "full_marks")]
    assert ppi["estimate"].notna().all() and ppi["n_audited"].sum() == 60
    human = after[(after["estimator"] == "human_only") & (after["metric"] == "full_marks")]
    judge = after[(after["estimator"] == "judge_only") & (after["metric"] == "full_marks")]
    # the people are stricter: the people-only and calibrated rates fall below the judge's, overall
    assert human["estimate"].mean() < judge["estimate"].mean()
    assert ppi["estimate"].mean() < judge["estimate"].mean()
    # importing the same file again changes nothing
    with open_project(path) as store:
        again = import_sources(store, [f])[str(f)]
    assert again["verdicts_added"] == 0 and again["items_submitted"] == 0


def test_partial_items_stay_drafts_and_are_named_and_as_drafts_keeps_every_item_a_draft(drawn, tmp_path):
    path, labels = drawn
    first, second = list(labels)[:2]
    skip = {(first, next(iter(labels[first]))), (second, next(iter(labels[second])))}
    f = _long_file(tmp_path / "labels.jsonl", labels, skip=skip)
    with open_project(path) as store:
        report = import_sources(store, [f])[str(f)]
        assert report["items_submitted"] == 58 and report["items_left_as_drafts"] == 2
        assert report["drafts_for_example"] == f"{first} (zoe), {second} (zoe)"
        zoe = store.grader_id("human", "zoe")
        assert not item_store.is_submitted(store, zoe, store.generation_id(first))
    # the missing labels arrive later: the items complete and are submitted then
    rest = _long_file(tmp_path / "rest.jsonl", {u: {c: labels[u][c]} for u, c in skip})
    with open_project(path) as store:
        assert import_sources(store, [rest])[str(rest)]["items_submitted"] == 2
    g = _long_file(tmp_path / "other.jsonl", labels, person="yan")
    with open_project(path) as store:
        report = import_sources(store, [g], as_drafts=True)[str(g)]
        assert report["items_submitted"] == 0 and report["items_left_as_drafts"] == 60
        assert report["drafts_for_example"].endswith(" ...")


def _wide_file(path, labels, person, plain=False):
    crits = sorted({c for crits in labels.values() for c in crits})
    head = [c.removeprefix("skill:") if plain else c for c in crits]
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["generation", "grader", *head])
        for uid, row in labels.items():
            w.writerow(
                [uid, person, *("" if c not in row else ("pass" if row[c] else "fail") for c in crits)]
            )
    return path


@pytest.mark.parametrize("plain", [False, True])
def test_a_wide_sheet_imports_like_the_long_file(drawn, tmp_path, plain):
    path, labels = drawn
    wide = _wide_file(tmp_path / "sheet.csv", labels, "zoe", plain=plain)
    with open_project(path) as store:
        report = import_sources(store, [wide])[str(wide)]
        assert report["items_submitted"] == 60
        n_labels = sum(len(c) for c in labels.values())
        assert report["verdicts_added"] == n_labels
    longf = _long_file(tmp_path / "labels.jsonl", labels)
    with open_project(path) as store:
        # the same labels in long form are already there: nothing new
        assert import_sources(store, [longf])[str(longf)]["verdicts_added"] == 0


def test_a_wide_sheet_with_a_foreign_column_names_its_line_and_column_and_changes_nothing(drawn, tmp_path):
    path, labels = drawn
    uid = next(iter(labels))
    bad = tmp_path / "bad.csv"
    bad.write_text(f"generation,grader,topic,sarcasm\n{uid},zoe,1,\n{uid},ann,1,0\n", encoding="utf-8")
    with open_project(path) as store:
        before = dump(store)
        with pytest.raises(InputError) as err:
            import_sources(store, [bad])
        assert (err.value.line, err.value.field) == (3, "sarcasm")
        assert dump(store) == before


def test_cli_import_as_drafts_prints_the_drafts_and_the_draw(drawn, tmp_path):
    path, labels = drawn
    f = _long_file(tmp_path / "labels.jsonl", labels)
    out = subprocess.run(
        [sys.executable, "-m", "gradeapp", "import", str(f), "--as-drafts", "--project", str(path)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert (
        "items left as drafts 60" in out and "items in audit draw 60 of 60 generations (draw 'spring')" in out
    )
    s = _stats(path).pass_rates
    assert math.isnan(s[(s["estimator"] == "ppi++")]["estimate"].iloc[0])
