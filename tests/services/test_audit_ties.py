"""People who tie on a point: the adjudicator's decision where there is one, else missing, never a fail.

A simulation with a known truth and two people of known error rate: both grade every audited point and
each flips the truth with probability E, independently. Where they tie (one flipped), the rule leaves the
point missing until adjudicated, so the people's rate over the decided points estimates
(theta (1-E)^2 + (1-theta) E^2) / ((1-E)^2 + E^2); counting the tie as a fail (the old rule) gives the
numerator alone, a rate too low by theta 2E(1-E) / ((1-E)^2 + E^2) on top.
"""

from __future__ import annotations

import numpy as np
import pytest

from gradeapp.core.agreement import agreement_table
from gradeapp.core.calibration import calibrate
from gradeapp.db import open_project
from gradeapp.services.adjudication import decide
from gradeapp.services.audit_data import load_audit_data
from tests.simulate import simulate_project

ERROR = 0.15  # each person's chance of flipping a point


@pytest.fixture(scope="module")
def two_raters(tmp_path_factory):
    path = tmp_path_factory.mktemp("ties") / "ties.gradeapp"
    return simulate_project(
        path, n_generations=600, students={"s": 1.0}, ks=(2,), n_audit=600, human_error=ERROR,
        second_person=1.0, seed=7,
    )  # fmt: skip


def test_a_tie_between_two_people_is_missing_never_a_fail_and_the_rate_is_unbiased(two_raters):
    with open_project(two_raters.path) as store:
        data = load_audit_data(store)
    points = data.human_points.groupby(["generation_id", "criterion"])["value"].agg(["mean", "size"])
    assert (points["size"] == 2).all()
    tied = points.index[points["mean"] == 0.5]
    consensus = data.human_own_consensus.set_index(["generation_id", "criterion"])["value"]
    # every tie is missing (before: every tie was a fail, 0.0)
    assert len(tied) > 0.8 * 2 * ERROR * (1 - ERROR) * len(points)
    assert consensus.reindex(tied).isna().all()
    assert consensus.drop(tied).notna().all()
    note = next(e for e in data.exclusions if "no adjudicator decided" in e["why"])
    assert note["n"] == len(tied)
    # the truth: the share of the k + 3 points passed, over the audited generations
    truth = two_raters.truth
    theta = float((truth["A"] + truth["B"]).sum() / (truth["k"] + 3).sum())
    agree = (1 - ERROR) ** 2 + ERROR**2
    expected = (theta * (1 - ERROR) ** 2 + (1 - theta) * ERROR**2) / agree
    decided = consensus.dropna()
    se = np.sqrt(expected * (1 - expected) / len(decided))
    assert abs(decided.mean() - expected) < 4 * se
    as_fails = consensus.fillna(0.0).mean()  # what the old rule reported
    assert expected - as_fails > 8 * se


def test_an_adjudicated_tie_takes_the_decision_and_the_rest_are_counted_where_shown(two_raters, tmp_path):
    path = tmp_path / "copy.gradeapp"
    path.write_bytes(two_raters.path.read_bytes())
    with open_project(path) as store:
        data = load_audit_data(store)
        points = data.human_points.groupby(["generation_id", "criterion"])["value"].mean()
        generation_id, criterion = points.index[points == 0.5][0]
        decide(store, str(data.gens.loc[generation_id, "uid"]), criterion, 1, "annotator_error")
        after = load_audit_data(store)
    consensus = after.human_own_consensus.set_index(["generation_id", "criterion"])["value"]
    assert consensus[(generation_id, criterion)] == 1.0
    used = next(e for e in after.exclusions if "adjudicator's decision is used" in e["why"])
    assert used["n"] == 1
    # a composite a tie could change is undecided: left out of the estimate and said in its note
    rates = calibrate(after)
    people = rates[(rates["estimator"] == "human_only") & (rates["metric"] == "full_marks")].iloc[0]
    open_full_marks = int(after.human_gen["full_marks"].isna().sum())
    assert open_full_marks > 0 and people["n_audited"] == len(after.human_gen) - open_full_marks
    assert "people tied" in people["note"]
    # the agreement tables count them beside n, in n_people_undecided
    table = agreement_table(after, bootstrap=0)
    row = table[(table["breakdown"] == "overall") & (table["criterion"] == "full_marks")].iloc[0]
    assert row["n_people_undecided"] == open_full_marks
    assert row["n"] + row["n_judge_missing"] + row["n_people_undecided"] == len(after.human_gen)
