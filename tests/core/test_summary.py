"""A missing estimate says why and what to do next; the headline reads the same numbers as the tables."""

from __future__ import annotations

import math

import pytest

from gradeapp.core.results import StatsOptions
from gradeapp.core.summary import headline_table, omitted, student_sentences
from gradeapp.db import audit_store, open_project
from gradeapp.services.audit import draw_audit
from gradeapp.services.stats import compute_stats
from tests.simulate import simulate_project


@pytest.fixture
def no_people(tmp_path):
    path = tmp_path / "sim.gradeapp"
    simulate_project(path, n_generations=120, n_audit=0, seed=11)
    return path


def _stats(path):
    with open_project(path) as store:
        return compute_stats(store, StatsOptions(bootstrap=0))


def test_without_a_draw_every_blank_names_the_command_that_makes_one(no_people):
    rates = _stats(no_people).pass_rates
    blank = rates[rates["estimate"].isna()]
    assert len(blank) > 0
    human = blank[blank["estimator"] == "human_only"]
    assert (human["note"] == "no audited generations").all()  # calibration's own reason is kept
    # every blank has a reason; those calibration left empty name the command
    assert (blank["note"].str.len() > 0).all()
    shown, lines = omitted(rates)
    assert shown["estimate"].notna().all() and len(shown) + len(blank) == len(rates)
    assert sum(int(line.split()[0]) for line in lines) == len(blank)


def test_drawn_but_ungraded_texts_are_counted_per_cell(no_people):
    with open_project(no_people) as store:
        draw_audit(store, 4, per_cell=True, seed=1, name="spring")
        drawn = audit_store.audit_items_df(store)["generation_id"].tolist()
        person = store.grader_id("human", "p")
        # grade exactly one drawn text, all its criteria, and submit it
        gid = drawn[0]
        crits = [
            c
            for (c,) in store.execute(
                "SELECT DISTINCT criterion FROM verdicts WHERE generation_id = ?", [gid]
            )
        ]
        store.add_verdicts(
            {"grader_id": person, "generation_id": gid, "criterion": c, "value": 1} for c in crits
        )
        store.add_review(person, gid, "submit")
        student, k = store.execute(
            "SELECT g.student, c.k FROM generations g JOIN combinations c ON c.id = g.combination_id WHERE g.id = ?",
            [gid],
        ).fetchone()
    stats = _stats(no_people)
    rates = stats.pass_rates
    cell = rates[(rates["student"] == student) & (rates["k"] == k) & (rates["metric"] == "full_marks")]
    ppi = cell[cell["estimator"] == "ppi++"].iloc[0]
    assert math.isnan(ppi["estimate"]) and ppi["n_audited"] == 1
    head = headline_table(rates, data=stats.data)
    other = head[head["student"] != student].iloc[0]
    assert other["note"].startswith("4 of 4 drawn texts not graded by people yet: grade them in the desk")
    row = head[(head["student"] == student) & (head["k"] == k)].iloc[0]
    assert math.isnan(row["calibrated"]) and row["note"].startswith("3 of 4 drawn texts not graded")
    # none of this student's cells has a calibrated rate yet: the sentence speaks of its largest k
    cells = head[head["student"] == student]
    assert cells["calibrated"].isna().all()
    sentence = student_sentences(head)[student]
    assert sentence.startswith(f"At k = {cells['k'].max()} ") and "no calibrated rate yet" in sentence


def test_headline_numbers_are_the_tables_numbers(tmp_path):
    path = tmp_path / "sim.gradeapp"
    simulate_project(path, n_generations=300, n_audit=90, seed=4)
    rates = _stats(path).pass_rates
    head = headline_table(rates)
    for r in head.to_dict("records"):
        cell = rates[
            (rates["student"] == r["student"]) & (rates["k"] == r["k"]) & (rates["metric"] == "full_marks")
        ]
        by = dict(zip(cell["estimator"], cell["estimate"], strict=True))
        assert (
            r["judge"] == by["judge_only"]
            and r["calibrated"] == by["ppi++"]
            and r["people"] == by["human_only"]
        )
        assert r["bias_points"] == pytest.approx(100 * (by["judge_only"] - by["ppi++"]))
    sentences = student_sentences(head)
    assert set(sentences) == set(head["student"])
    assert all("calibrated by" in s and "audited texts the rate is" in s for s in sentences.values())
