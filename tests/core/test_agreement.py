"""Agreement statistics against independent oracles: scikit-learn, krippendorff, scipy and published values."""

from __future__ import annotations

import math

import krippendorff
import numpy as np
import pandas as pd
import pytest
from scipy.stats import binomtest
from sklearn.metrics import cohen_kappa_score

from gradeapp.core.agreement import (
    NO_VARIATION,
    _grouped_alphas,
    _matrix,
    agreement_table,
    alpha_nominal,
    cohen_kappa,
    human_human,
    judge_self_consistency,
    kappa_row,
    mcnemar_exact,
    nominal_alpha_from_counts,
    skillmix_table,
    two_by_two,
)
from gradeapp.db import open_project
from gradeapp.services.audit import load_audit_data
from gradeapp.services.scores import skillmix_scores
from tests.simulate import simulate_project


def _counts(h: np.ndarray, j: np.ndarray) -> tuple[int, int, int, int]:
    return (
        int(np.sum((h == 1) & (j == 1))),
        int(np.sum((h == 1) & (j == 0))),
        int(np.sum((h == 0) & (j == 1))),
        int(np.sum((h == 0) & (j == 0))),
    )


@pytest.mark.parametrize("seed", range(5))
def test_kappa_matches_scikit_learn(seed):
    rng = np.random.default_rng(seed)
    h = (rng.random(300) < rng.uniform(0.1, 0.9)).astype(int)
    j = np.where(rng.random(300) < 0.8, h, 1 - h)
    st = two_by_two(*_counts(h, j))
    assert float(st["kappa"]) == pytest.approx(cohen_kappa_score(h, j), abs=1e-12)
    assert float(st["agreement"]) == pytest.approx(np.mean(h == j))


def test_ac1_and_pabak_on_the_published_table():
    # a = both pass 130, b = human pass & judge fail 56, c = human fail & judge pass 9, d = both fail 5
    st = two_by_two(130, 56, 9, 5)
    assert float(st["kappa"]) == pytest.approx(0.022, abs=0.0005)
    assert float(st["ac1"]) == pytest.approx(0.533, abs=0.0005)
    assert float(st["pabak"]) == pytest.approx(0.35, abs=1e-12)


def test_mcnemar_matches_scipy_binomtest():
    for b, c in [(0, 0), (5, 1), (12, 30), (56, 9)]:
        expected = 1.0 if b + c == 0 else binomtest(min(b, c), b + c, 0.5).pvalue
        assert float(mcnemar_exact(b, c)) == pytest.approx(expected, abs=1e-12)


def test_alpha_matches_the_krippendorff_package_and_reports_no_variation():
    rng = np.random.default_rng(4)
    m = (rng.random((3, 40)) < 0.6).astype(float)
    m[1, ::7] = np.nan
    m[2, ::5] = np.nan
    a, note = alpha_nominal(m)
    assert note == ""
    assert a == pytest.approx(
        krippendorff.alpha(reliability_data=m, level_of_measurement="nominal"), abs=1e-12
    )
    same = np.ones((2, 10))
    a, note = alpha_nominal(same)
    assert math.isnan(a) and note == NO_VARIATION


def test_alpha_from_weighted_counts_matches_the_package_on_the_expanded_units():
    rng = np.random.default_rng(11)
    for n_values, max_raters in ((2, 3), (2, 5), (3, 4)):
        counts = rng.integers(0, max_raters, size=(60, n_values))
        counts[:3] = 0  # an unrated unit and units rated once are not pairable
        counts[3, 0] = 1
        weights = rng.integers(1, 4, size=60)
        expanded = np.repeat(counts, weights, axis=0)
        expected = krippendorff.alpha(value_counts=expanded, level_of_measurement="nominal")
        assert nominal_alpha_from_counts(counts, weights) == pytest.approx(expected, rel=1e-12)
        assert nominal_alpha_from_counts(expanded) == pytest.approx(expected, rel=1e-12)


def test_alphas_of_all_groups_at_once_match_one_matrix_per_group():
    rng = np.random.default_rng(5)
    n = 3000
    group = rng.integers(0, 12, n)
    unit = rng.integers(0, 40, n)
    rater = rng.integers(0, 4, n)
    value = (rng.random(n) < 0.6).astype(float)
    value[rng.random(n) < 0.1] = np.nan  # not rated
    group[group == 11] = 10  # a group of t without ratings keeps the default
    value[group == 9] = 1.0  # no variation
    got = _grouped_alphas(group, unit, rater, value, 12)
    for g in range(12):
        idx = np.flatnonzero(group == g)
        if not len(idx):
            assert g not in got
            continue
        expected = alpha_nominal(_matrix(rater[idx], unit[idx], value[idx]))  # last rating of a cell counts
        a, note = got.get(g, (math.nan, "undefined: no unit rated twice"))
        assert note == expected[1]
        assert (math.isnan(a) and math.isnan(expected[0])) or a == pytest.approx(expected[0], rel=1e-12)


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    path = tmp_path_factory.mktemp("agree") / "sim.gradeapp"
    simulate_project(
        path,
        n_generations=900,
        n_audit=150,
        second_person=0.5,
        human_error=0.08,
        sensitivity=0.85,
        specificity=0.75,
        seed=11,
    )
    with open_project(path) as store:
        data = load_audit_data(store)
    return path, data


def _oracle_frames(path):
    """Read the project's current verdicts directly (not through the audit loader)."""
    with open_project(path) as store:
        judge = store.current_verdicts_df("judge")
        people = store.current_verdicts_df("human")
    maj = judge.groupby(["generation_id", "criterion"])["value"].mean().gt(0.5).astype(float).rename("judge")
    return maj, people


def test_criterion_kappa_and_alpha_match_oracles_built_from_the_database(project):
    path, data = project
    table = agreement_table(data, bootstrap=0)
    maj, people = _oracle_frames(path)
    crit = "makes_sense"
    cons = people[people["criterion"] == crit].groupby("generation_id")["value"].mean().gt(0.5).astype(float)
    j = maj.xs(crit, level="criterion").reindex(cons.index)
    row = table[(table["breakdown"] == "overall") & (table["criterion"] == crit)].iloc[0]
    assert row["n"] == len(cons)
    assert row["kappa"] == pytest.approx(cohen_kappa_score(cons.to_numpy(), j.to_numpy()), abs=1e-12)
    # alpha across all raters: the judge's majority and every person, units = generations
    ratings = people[people["criterion"] == crit].pivot(
        index="grader", columns="generation_id", values="value"
    )
    ratings.loc["judge"] = maj.xs(crit, level="criterion").reindex(ratings.columns)
    expected = krippendorff.alpha(
        reliability_data=ratings.to_numpy(dtype=float), level_of_measurement="nominal"
    )
    assert row["alpha"] == pytest.approx(expected, abs=1e-12)


def test_breakdowns_partition_the_overall_counts(project):
    _, data = project
    table = agreement_table(data, bootstrap=0)
    overall = table[(table["breakdown"] == "overall")].set_index("criterion")["n"]
    for breakdown in ("student", "k", "student_k"):
        sums = table[table["breakdown"] == breakdown].groupby("criterion")["n"].sum()
        assert sums.to_dict() == overall.loc[sums.index].to_dict()
    assert {"full_marks", "all_skills", "skill_fraction>=0.5", "skill:* (all skills)"} <= set(overall.index)
    cats = table[table["breakdown"] == "skill_category"]
    assert cats["n"].sum() == overall["skill:* (all skills)"]


def test_bootstrap_intervals_are_seeded_and_bracket_the_estimates(project):
    _, data = project
    t1 = agreement_table(data, bootstrap=200, seed=3, alpha_for=())
    t2 = agreement_table(data, bootstrap=200, seed=3, alpha_for=())
    t3 = agreement_table(data, bootstrap=200, seed=4, alpha_for=())
    pd.testing.assert_frame_equal(t1, t2)
    assert not t1["kappa_ci_low"].equals(t3["kappa_ci_low"])
    big = t1[(t1["n"] >= 100) & t1["kappa"].notna()]
    assert not big.empty
    assert (big["kappa_ci_low"] <= big["kappa"] + 1e-9).all() and (
        big["kappa"] <= big["kappa_ci_high"] + 1e-9
    ).all()
    assert (t1["small_n"] == (t1["n"] < 30)).all()


def test_human_human_kappa_matches_scikit_learn(project):
    path, data = project
    hh = human_human(data).set_index("criterion")
    _, people = _oracle_frames(path)
    wide = (
        people[people["criterion"] == "topic"]
        .pivot(index="generation_id", columns="grader", values="value")
        .dropna()
    )
    assert hh.loc["topic", "n_items"] == len(wide)
    a, b = wide.columns
    assert hh.loc["topic", "kappa"] == pytest.approx(cohen_kappa_score(wide[a], wide[b]), abs=1e-12)


def test_judge_self_consistency_is_perfect_for_a_deterministic_judge(tmp_path):
    path = tmp_path / "perfect.gradeapp"
    simulate_project(path, n_generations=120, n_audit=20, sensitivity=1.0, specificity=1.0, seed=1)
    with open_project(path) as store:
        sc = judge_self_consistency(load_audit_data(store)).set_index("criterion")
    assert (sc["unanimous"] == 1.0).all()
    assert (sc["pairwise"] == 1.0).all()


def test_post_reveal_and_unsubmitted_verdicts_are_left_out(project, tmp_path):
    import shutil

    path = tmp_path / "copy.gradeapp"
    shutil.copy(project[0], path)
    with open_project(path) as store:
        before = agreement_table(load_audit_data(store), bootstrap=0)
        person = store.grader_id("human", "sim person A")
        gid = store.execute("SELECT MIN(generation_id) FROM audit_items").fetchone()[0]
        store.add_verdicts(
            [{"grader_id": person, "generation_id": gid, "criterion": "topic", "value": 0, "post_reveal": 1}]
        )
        data = load_audit_data(store)
        assert any("after the judge was revealed" in e["why"] for e in data.exclusions)
        store.add_review(person, gid, "unsubmit")
        after = agreement_table(load_audit_data(store), bootstrap=0)
    key = (before["breakdown"] == "overall") & (before["criterion"] == "makes_sense")
    # the unsubmitted generation leaves the table (unless a second person graded it)
    assert after.loc[key.to_numpy(), "n"].iloc[0] <= before.loc[key, "n"].iloc[0]
    assert after.loc[key.to_numpy(), "n"].iloc[0] >= before.loc[key, "n"].iloc[0] - 1


def test_skillmix_table_of_the_judge_matches_the_foundation_metrics(project):
    path, data = project
    ours = skillmix_table(data)
    with open_project(path) as store:
        ref = skillmix_scores(store, kind="judge")
    mine = ours[(ours["source"] == "judge") & (ours["rounds"] == "best_of")].set_index(
        ["student", "k", "metric"]
    )
    ref = ref.set_index(["student", "k", "metric"])
    assert mine["mean"].sort_index().to_numpy() == pytest.approx(ref["mean"].sort_index().to_numpy())
    assert set(ours["rounds"]) == {"best_of", "single"} and set(ours["source"]) == {"judge", "people"}


def test_judge_self_consistency_alpha_matches_the_package_on_the_raw_run_matrix(project):
    path, data = project
    sc = judge_self_consistency(data).set_index("criterion")
    with open_project(path) as store:
        runs = store.current_verdicts_df("judge")
    # the program decides the sentence limit; topic is the judge's own call
    topic = runs[(runs["criterion"] == "topic") & runs["generation_id"].isin(data.gens.index)]
    matrix = topic.pivot(index="run", columns="generation_id", values="value").to_numpy(dtype=float)
    expected = krippendorff.alpha(reliability_data=matrix, level_of_measurement="nominal")
    assert sc.loc["topic", "alpha"] == pytest.approx(expected, abs=1e-12)
    agree = (np.nanmax(matrix, axis=0) == np.nanmin(matrix, axis=0)).mean()
    assert sc.loc["topic", "unanimous"] == pytest.approx(agree)


def test_an_unparsed_judge_point_is_missing_in_every_2x2_statistic_and_counted_beside_n(tmp_path):
    path = tmp_path / "unparsed.gradeapp"
    simulate_project(path, n_generations=300, n_audit=120, sensitivity=0.85, specificity=0.8, seed=8)
    with open_project(path) as store:
        drawn = [g for (g,) in store.execute("SELECT generation_id FROM audit_items ORDER BY 1 LIMIT 15")]
        marks = ",".join("?" * len(drawn))
        # every run of the topic point of 15 audited generations comes back unparsed
        store.execute(
            f"UPDATE verdicts SET value = NULL, status = 'unparsed' WHERE criterion = 'topic' "
            f"AND generation_id IN ({marks}) AND grader_id = (SELECT id FROM graders WHERE kind = 'judge')",
            drawn,
        )
        store.conn.commit()
        data = load_audit_data(store)
        people = store.current_verdicts_df("human")
        runs = store.current_verdicts_df("judge")
    table = agreement_table(data, bootstrap=0)
    row = table[(table["breakdown"] == "overall") & (table["criterion"] == "topic")].iloc[0]
    assert row["n_judge_missing"] == 15
    # the oracle: the judge's majority over its parsed runs against the person, the 15 left out
    h = people[people["criterion"] == "topic"].set_index("generation_id")["value"]
    t = runs[runs["criterion"] == "topic"].groupby("generation_id")["value"].agg(["mean", "count"])
    j = (t["mean"] > 0.5).astype(int).where(t["count"] > 0)
    both = pd.concat([h.rename("h"), j.rename("j")], axis=1, join="inner").dropna()
    assert row["n"] == len(both) and row["n"] + row["n_judge_missing"] == len(h)
    assert row["kappa"] == pytest.approx(cohen_kappa_score(both["h"], both["j"]), abs=1e-12)
    b = int(((both["h"] == 1) & (both["j"] == 0)).sum())
    c = int(((both["h"] == 0) & (both["j"] == 1)).sum())
    assert row["mcnemar_p"] == pytest.approx(binomtest(min(b, c), b + c, 0.5).pvalue, abs=1e-12)


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


def test_cohen_kappa_matches_sklearn():
    rng = np.random.default_rng(4)
    for _ in range(20):
        a = rng.integers(0, 2, 40)
        b = np.where(rng.random(40) < 0.8, a, 1 - a)
        assert cohen_kappa(a, b) == pytest.approx(cohen_kappa_score(a, b))
    assert cohen_kappa([1, 1, 1], [1, 1, 1]) is None
    assert cohen_kappa([], []) is None
    assert kappa_row([1, 0, 1, 1], [1, 1, 1, 1]) == {"n": 4, "agreement": 0.75, "kappa": 0.0}
    assert kappa_row([], []) == {"n": 0, "agreement": None, "kappa": None}
