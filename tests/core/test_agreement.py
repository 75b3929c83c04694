"""Agreement statistics against independent oracles: scikit-learn, krippendorff, scipy and published values."""

from __future__ import annotations

import krippendorff
import numpy as np
import pandas as pd
import pytest
from scipy.stats import binomtest
from sklearn.metrics import cohen_kappa_score

from gradeapp.core.agreement import agreement_table, human_human
from gradeapp.core.self_consistency import judge_self_consistency
from gradeapp.core.summary import skillmix_table
from gradeapp.db import open_project
from gradeapp.services.audit_data import load_audit_data
from tests.simulate import simulate_project
from tests.skillmix_oracle import skillmix_scores


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
    share = people[people["criterion"] == crit].groupby("generation_id")["value"].mean()
    cons = share[share != 0.5].gt(0.5).astype(float)  # a tie between people is missing, never a fail
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
