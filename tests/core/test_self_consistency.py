"""The judge's self-consistency across its runs."""

from __future__ import annotations

import krippendorff
import pytest

from gradeapp.core.self_consistency import judge_self_consistency
from gradeapp.db import open_project
from gradeapp.services.audit_data import load_audit_data
from tests.simulate import simulate_project


def test_judge_self_consistency_is_perfect_for_a_deterministic_judge(tmp_path):
    path = tmp_path / "perfect.gradeapp"
    simulate_project(path, n_generations=120, n_audit=20, sensitivity=1.0, specificity=1.0, seed=1)
    with open_project(path) as store:
        sc = judge_self_consistency(load_audit_data(store)).set_index("criterion")
    assert (sc["unanimous"] == 1.0).all()
    assert (sc["pairwise"] == 1.0).all()


def test_self_consistency_is_on_the_judge_s_own_runs_where_the_rules_would_hide_disagreement(tmp_path):
    path = tmp_path / "runs.gradeapp"
    simulate_project(path, n_generations=240, n_audit=0, sensitivity=0.7, specificity=0.7, seed=6)
    with open_project(path) as store:
        data = load_audit_data(store)
        runs = store.current_verdicts_df("judge")
    sc = judge_self_consistency(data).set_index("criterion")
    limit = runs[runs["criterion"] == "sentence_limit"]
    matrix = limit.pivot(index="run", columns="generation_id", values="value").to_numpy(dtype=float)
    unanimous = float((matrix.max(axis=0) == matrix.min(axis=0)).mean())
    assert sc.loc["sentence_limit", "unanimous"] == pytest.approx(unanimous)
    assert sc.loc["sentence_limit", "unanimous"] < 0.6  # the judge's own runs disagree often
    assert sc.loc["sentence_limit", "alpha"] == pytest.approx(
        krippendorff.alpha(reliability_data=matrix, level_of_measurement="nominal"), abs=1e-12
    )
    # after the program's sentence count every run says the same: reported apart, never instead
    assert sc.loc["sentence_limit (after the rules)", "unanimous"] == 1.0
    assert sc.loc["sentence_limit (after the rules)", "basis"] == "after the rules"
    assert sc.loc["sentence_limit", "basis"] == "judge's runs"
