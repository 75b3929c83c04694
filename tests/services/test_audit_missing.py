"""Missing points counted as they are (issue 11, point 3): never a fail, a composite only where decided.

A small simulated project (k = 2: two skills, topic, makes_sense, sentence_limit; three judge runs; one
person grades every generation) whose chosen generations get hand-written judge runs and human verdicts.
Every expectation below is worked out by hand in the comment beside it.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from gradeapp.core.agreement import _rater_ratings, agreement_table, judge_human_pairs
from gradeapp.core.calibration import calibrate
from gradeapp.core.rubric import MAKES_SENSE, SENTENCE_LIMIT, SKILL_PREFIX, TOPIC
from gradeapp.core.summary import skillmix_table
from gradeapp.db import open_project
from gradeapp.services.audit_data import load_audit_data
from tests.simulate import simulate_project

LATE = "2027-01-02T00:00:00.000000+00:00"
P = None  # an unparsed run


def _criteria(store, g: int) -> dict[str, str]:
    """Return role -> criterion of generation g: X and Y (its two skills, by name) and the other three."""
    skills = sorted(
        r[0]
        for r in store.execute(
            "SELECT DISTINCT criterion FROM verdicts WHERE generation_id = ? AND criterion LIKE ?",
            [g, SKILL_PREFIX + "%"],
        )
    )
    return {"X": skills[0], "Y": skills[1], "topic": TOPIC, "ms": MAKES_SENSE, "sl": SENTENCE_LIMIT}


def _set_judge(store, judge: int, g: int, runs: dict[str, list]) -> None:
    """Give generation g these judge runs (role -> three run values, None unparsed); unnamed roles pass."""
    crit = _criteria(store, g)
    rows = []
    for role, c in crit.items():
        for r, v in enumerate(runs.get(role, [1, 1, 1]), start=1):
            rows.append(
                {
                    "grader_id": judge,
                    "generation_id": g,
                    "criterion": c,
                    "run": r,
                    "value": v,
                    "status": "ok" if v is not None else "unparsed",
                    "created": LATE,
                }
            )
    store.add_verdicts(rows)


def _set_person(store, person: int, g: int, values: dict[str, int | None]) -> None:
    """Give generation g the person's verdicts (role -> 0, 1 or None undecided); unnamed roles pass."""
    crit = _criteria(store, g)
    store.add_verdicts(
        {
            "grader_id": person,
            "generation_id": g,
            "criterion": c,
            "value": values.get(role, 1),
            "created": LATE,
        }
        for role, c in crit.items()
    )


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    path = tmp_path_factory.mktemp("missing") / "missing.gradeapp"
    simulate_project(path, n_generations=12, students={"s": 1.0}, ks=(2,), n_audit=12, seed=4)
    with open_project(path) as store:
        load_audit_data(store)  # caches the checks and the judge's cells: the changes below must reach both
        judge = store.execute("SELECT id FROM graders WHERE kind = 'judge'").fetchone()[0]
        person = store.execute("SELECT id FROM graders WHERE kind = 'human'").fetchone()[0]
        # Every generation: the program counts one sentence (the limit passes), no text names a skill.
        store.execute("UPDATE checks SET n_sentences = 1, n_sentences_ref = 1, named_skills = '[]'")
        _set_judge(store, judge, 1, {"X": [P, P, P]})  # X has no parsed run
        _set_judge(store, judge, 2, {"X": [1, P, P]})  # X: one parsed run, a pass
        _set_judge(store, judge, 3, {"X": [P, P, P], "topic": [0, 0, 0]})  # a known fail beside it
        _set_judge(store, judge, 4, {"X": [1, 0, P]})  # X: a tie among parsed runs
        _set_judge(store, judge, 5, {"X": [P, P, P]})  # X unparsed, but the text names X
        _set_judge(store, judge, 6, {})  # every point passes in every run
        x5 = _criteria(store, 5)["X"][len(SKILL_PREFIX) :]
        store.execute("UPDATE checks SET named_skills = ? WHERE generation_id = 5", [json.dumps([x5])])
        for g in range(1, 13):
            _set_person(store, person, g, {})
        _set_person(store, person, 7, {"X": None})  # partly graded: X undecided, the rest pass
        _set_person(store, person, 8, {"X": None, "topic": 0})  # X undecided beside a failed topic
        _set_person(store, person, 9, {"X": None, "Y": 0})  # X undecided beside a failed skill
        crits = {g: _criteria(store, g) for g in range(1, 13)}
    return path, crits


@pytest.fixture(scope="module")
def data(project):
    with open_project(project[0]) as store:
        return load_audit_data(store)


@pytest.fixture(scope="module")
def x(project) -> dict[int, str]:
    """Return the criterion of skill X per generation."""
    return {g: c["X"] for g, c in project[1].items()}


def _gen(frame: pd.DataFrame, g: int, col: str) -> float:
    return float(frame.loc[g, col])


def _is(value: float, expected: float) -> bool:
    return math.isnan(value) if math.isnan(expected) else math.isclose(value, expected)


NAN = math.nan

# generation -> (full_marks, all_skills, skill_fraction) of the judge's majority after the rules.
JUDGE = {
    1: (NAN, NAN, NAN),  # X missing, the rest pass: X decides all three (the old rule said 0, 0, 0.5)
    2: (1.0, 1.0, 1.0),  # X = majority of its one parsed run = 1 (unparsed counted as fails gave 1/3 < 1/2)
    3: (0.0, NAN, 0.0),  # topic failed: full marks 0 and skill fraction 0 whatever X is; all skills needs X
    4: (0.0, 0.0, 0.5),  # X ties 1-1 among its parsed runs: a fail, decided
    5: (0.0, 0.0, 0.5),  # the naming penalty decides the unparsed X: 0
    6: (1.0, 1.0, 1.0),
}

# generation -> soft (mean over runs whose own metric is decided) of full marks and skill fraction.
SOFT = {
    1: (NAN, NAN),  # no run decides either metric, nor does the majority
    2: (1.0, 1.0),  # run 1 alone decides: all pass (old: runs 2 and 3 as fails gave 1/3 and 2/3)
    3: (0.0, 0.0),  # every run: topic fails, so both are 0 though X is unparsed
    4: (0.5, 0.75),  # run 1 (1, 1.0), run 2 (0, 0.5); run 3 decides neither (old: 1/3 and 2/3)
    5: (0.0, 0.5),  # the rule's X = 0 in every run that has X
    6: (1.0, 1.0),
}


@pytest.mark.parametrize("g", sorted(JUDGE))
def test_judge_majority_and_composites_treat_a_missing_point_as_missing(data, g):
    got = tuple(_gen(data.judge_gen, g, m) for m in ("full_marks", "all_skills", "skill_fraction"))
    assert all(_is(a, b) for a, b in zip(got, JUDGE[g], strict=True)), (g, got)


@pytest.mark.parametrize("g", sorted(SOFT))
def test_soft_score_averages_the_runs_that_decide(data, g):
    got = (_gen(data.judge_gen, g, "full_marks_soft"), _gen(data.judge_gen, g, "skill_fraction_soft"))
    assert all(_is(a, b) for a, b in zip(got, SOFT[g], strict=True)), (g, got)


def test_a_point_without_a_parsed_run_is_missing_unless_a_rule_decides_it(data, x):
    jp = data.judge_points.set_index(["generation_id", "criterion"])
    own = data.judge_own_points.set_index(["generation_id", "criterion"])
    assert math.isnan(jp.loc[(1, x[1]), "value"]) and math.isnan(jp.loc[(1, x[1]), "soft"])
    assert int(own.loc[(1, x[1]), "n_parsed"]) == 0
    assert jp.loc[(2, x[2]), "value"] == 1.0 and jp.loc[(2, x[2]), "soft"] == 1.0
    assert jp.loc[(5, x[5]), "value"] == 0.0  # the naming penalty
    assert math.isnan(own.loc[(5, x[5]), "value"])  # before the rules: no vote
    notes = {e["what"]: e for e in data.exclusions}
    assert notes["judge runs"]["n"] == 3 + 2 + 3 + 1 + 3  # generations 1 to 5
    assert notes["judge points"]["n"] == 2  # X of 1 and 3 (the rule decides X of 5)
    assert notes["judge full_marks"]["n"] == 1  # generation 1
    assert notes["judge all_skills"]["n"] == 2  # 1 and 3
    assert notes["judge skill_fraction"]["n"] == 1


# generation -> the people's (full_marks, all_skills, skill_fraction) with X undecided.
PEOPLE = {
    7: (NAN, NAN, NAN),  # the rest pass: X decides all three (as a fail: 0, 0, 0.5)
    8: (0.0, NAN, 0.0),  # topic failed: full marks and skill fraction 0; all skills = [X passes]
    9: (0.0, 0.0, NAN),  # Y failed: full marks and all skills 0; skill fraction 0 or 0.5 by X
    6: (1.0, 1.0, 1.0),  # fully graded
}


@pytest.mark.parametrize("g", sorted(PEOPLE))
def test_a_partly_graded_item_never_counts_undecided_criteria_as_fails(data, g):
    got = tuple(_gen(data.human_gen, g, m) for m in ("full_marks", "all_skills", "skill_fraction"))
    assert all(_is(a, b) for a, b in zip(got, PEOPLE[g], strict=True)), (g, got)
    by = data.human_gen_by_grader.set_index("generation_id")
    got = tuple(float(by.loc[g, m]) for m in ("full_marks", "all_skills", "skill_fraction"))
    assert all(_is(a, b) for a, b in zip(got, PEOPLE[g], strict=True)), (g, got)


def test_undecided_criteria_of_people_make_no_point_and_no_pair(data, x):
    hc = data.human_consensus
    assert hc[(hc["generation_id"] == 7) & (hc["criterion"] == x[7])].empty
    notes = {e["what"]: e["n"] for e in data.exclusions}
    assert notes["people's full_marks"] == 1 and notes["people's all_skills"] == 2
    assert notes["people's skill_fraction"] == 2
    pairs = judge_human_pairs(data, 0.5)
    fm = pairs[pairs["item"] == "full_marks"].set_index("generation_id")
    assert math.isnan(fm.loc[7, "h"])  # the people's composite is undecided: no pair, counted beside n
    assert math.isnan(fm.loc[1, "j"]) and fm.loc[1, "h"] == 1.0  # the judge's is: missing beside n
    crit = pairs[(pairs["scope"] == "criterion") & (pairs["generation_id"] == 1)].set_index("item")
    assert math.isnan(crit.loc[x[1], "j"])


def test_statistics_count_missing_judge_points_beside_n_and_ppi_stays_defined(data):
    table = agreement_table(data, bootstrap=0)
    row = table[(table["scope"] == "composite") & (table["breakdown"] == "overall")]
    row = row[row["criterion"] == "full_marks"].iloc[0]
    # Pairs: 12 generations less 7 (people undecided); the judge's 1 is missing, never a fail.
    assert row["n"] == 10 and row["n_judge_missing"] == 1 and row["n_people_undecided"] == 1
    est = calibrate(data, rogan_gladen=True).set_index(["metric", "estimator"])
    for m in ("full_marks", "all_skills", "skill_fraction"):
        assert np.isfinite(est.loc[(m, "ppi++"), "estimate"]), m
    # every generation is audited (a census): Rogan-Gladen is the people's rate, whatever the judge said
    rg, people = (est.loc[("full_marks", e), "estimate"] for e in ("rogan_gladen", "human_only"))
    assert rg == pytest.approx(people)


def test_skillmix_table_and_alpha_leave_undecided_composites_out(data):
    t = skillmix_table(data)
    single = t[t["rounds"] == "single"].set_index(["source", "metric"])
    # 12 generations; undecided: the judge's full marks on 1, all skills on 1 and 3; the people's on 7 (+ 8).
    assert single.loc[("judge", "full_marks"), "n"] == 11
    assert single.loc[("judge", "all_skills"), "n"] == 10
    assert single.loc[("people", "full_marks"), "n"] == 11
    assert single.loc[("people", "all_skills"), "n"] == 10
    r = _rater_ratings(data, 0.5)
    r = r[(r["item"] == "skill_fraction>=0.5") & (r["rater"] == "judge")].set_index("generation_id")
    assert math.isnan(r.loc[1, "value"]) and r.loc[3, "value"] == 0.0 and r.loc[4, "value"] == 1.0
