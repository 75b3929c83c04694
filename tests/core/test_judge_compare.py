"""Judge comparison statistics against hand-written oracles: the paired bootstrap and exact McNemar."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import cohen_kappa_score
from statsmodels.stats.contingency_tables import mcnemar

from gradeapp.core.judge_compare import compare_judges, mcnemar_exact_p, resample_indices, verdict_sentence

# A small table: 12 generations, two points each (a criterion and a composite), people and two judges.
H = [1, 1, 0, 1, 0, 0, 1, 1, 0, 1, 0, 1]
A = [1, 0, 0, 1, 1, 0, 1, 0, 0, 1, 1, 1]
B = [1, 1, 0, 1, 0, 0, 1, 1, 1, 1, 0, 1]
H2 = [0, 1, 1, 1, 0, 1, 0, 0, 1, 1, 0, 0]
A2 = [0, 1, 0, 1, 1, 1, 0, 1, 1, 0, 0, 0]
B2 = [0, 1, 1, 1, 0, 0, 0, 0, 1, 1, 0, 1]


def _wide() -> pd.DataFrame:
    gens = list(range(101, 113))
    one = pd.DataFrame(
        {"generation_id": gens, "criterion": "topic", "scope": "criterion", "h": H, "A": A, "B": B}
    )
    two = pd.DataFrame(
        {"generation_id": gens, "criterion": "full_marks", "scope": "composite", "h": H2, "A": A2, "B": B2}
    )
    return pd.concat([one, two], ignore_index=True)


def _kappa(h, j) -> float:
    h, j = np.asarray(h), np.asarray(j)
    po = np.mean(h == j)
    pe = h.mean() * j.mean() + (1 - h.mean()) * (1 - j.mean())
    return float((po - pe) / (1 - pe)) if pe < 1 else float("nan")


def _percentile(x, q) -> float:
    x = np.asarray(x, dtype=float)
    return float(np.quantile(x[~np.isnan(x)], q))


def test_point_statistics_match_scikit_learn():
    per, pairs = compare_judges(_wide(), ["A", "B"], bootstrap=0)
    row = per[(per["judge"] == "A") & (per["criterion"] == "topic")].iloc[0]
    assert row["n"] == 12
    assert row["kappa"] == pytest.approx(cohen_kappa_score(H, A))
    assert row["agreement"] == pytest.approx(np.mean(np.array(H) == np.array(A)))
    assert row["bias"] == pytest.approx(np.mean(A) - np.mean(H))
    pair = pairs[pairs["criterion"] == "topic"].iloc[0]
    assert pair["d_kappa"] == pytest.approx(cohen_kappa_score(H, B) - cohen_kappa_score(H, A))
    assert np.isnan(pair["d_kappa_low"])


def test_paired_bootstrap_matches_a_hand_written_one():
    resamples, seed = 400, 11
    per, pairs = compare_judges(_wide(), ["A", "B"], bootstrap=resamples, seed=seed)
    # The hand-written bootstrap: draw generations with replacement, carry both of each drawn generation's
    # points and both judges' verdicts along, recompute each statistic, take percentiles.
    draws = resample_indices(12, resamples, seed)
    for item, (h, a, b) in {"topic": (H, A, B), "full_marks": (H2, A2, B2)}.items():
        h, a, b = np.array(h), np.array(a), np.array(b)
        dk, da, ka = [], [], []
        for idx in draws:
            dk.append(_kappa(h[idx], b[idx]) - _kappa(h[idx], a[idx]))
            da.append(np.mean(h[idx] == b[idx]) - np.mean(h[idx] == a[idx]))
            ka.append(_kappa(h[idx], a[idx]))
        pair = pairs[pairs["criterion"] == item].iloc[0]
        assert pair["d_kappa_low"] == pytest.approx(_percentile(dk, 0.025))
        assert pair["d_kappa_high"] == pytest.approx(_percentile(dk, 0.975))
        assert pair["d_agreement_low"] == pytest.approx(_percentile(da, 0.025))
        assert pair["d_agreement_high"] == pytest.approx(_percentile(da, 0.975))
        row = per[(per["judge"] == "A") & (per["criterion"] == item)].iloc[0]
        assert row["kappa_low"] == pytest.approx(_percentile(ka, 0.025))
        assert row["kappa_high"] == pytest.approx(_percentile(ka, 0.975))


def test_the_bootstrap_keeps_a_generations_points_together():
    # Duplicating every generation's point under a second criterion name must not change the pooled item's
    # interval width the way independent resampling of points would: the resampled unit is the generation.
    wide = _wide()
    wide = wide[wide["criterion"] == "topic"]
    twice = pd.concat([wide, wide.assign(criterion="topic")], ignore_index=True)
    _, once_pairs = compare_judges(wide, ["A", "B"], bootstrap=300, seed=2)
    _, twice_pairs = compare_judges(twice, ["A", "B"], bootstrap=300, seed=2)
    assert twice_pairs.iloc[0]["d_kappa_low"] == pytest.approx(once_pairs.iloc[0]["d_kappa_low"])
    assert twice_pairs.iloc[0]["n"] == 24


@pytest.mark.parametrize("only_a,only_b", [(0, 0), (3, 0), (7, 2), (12, 30), (50, 51)])
def test_mcnemar_matches_statsmodels_exact(only_a, only_b):
    table = [[10, only_a], [only_b, 5]]
    expected = mcnemar(table, exact=True).pvalue if only_a + only_b else 1.0
    assert mcnemar_exact_p(only_a, only_b) == pytest.approx(expected)


def test_mcnemar_counts_which_judge_agreed_with_people():
    _, pairs = compare_judges(_wide(), ["A", "B"], bootstrap=0)
    pair = pairs[pairs["criterion"] == "topic"].iloc[0]
    h, a, b = np.array(H), np.array(A), np.array(B)
    assert pair["only_a_right"] == int(((a == h) & (b != h)).sum())
    assert pair["only_b_right"] == int(((b == h) & (a != h)).sum())
    table = [[0, pair["only_a_right"]], [pair["only_b_right"], 0]]
    assert pair["mcnemar_p"] == pytest.approx(mcnemar(table, exact=True).pvalue)


def test_the_sentence_names_the_better_judge_with_its_interval_and_cost():
    # the table five times over: the same difference on 60 generations, an interval clear of zero
    wide = _wide()
    larger = pd.concat([wide.assign(generation_id=wide["generation_id"] + 1000 * i) for i in range(5)])
    per, pairs = compare_judges(larger, ["A", "B"], bootstrap=400, seed=1)
    text = verdict_sentence(per, pairs, {"A": 1.0, "B": 2.5})
    assert text.startswith("Judge B agrees with people better than A on topic, Δκ +0.51 [")
    assert "2.5x the cost" in text
    # on the 12 generations alone the interval includes zero: neither is named better
    per, pairs = compare_judges(wide, ["A", "B"], bootstrap=400, seed=1)
    text = verdict_sentence(per, pairs, {"A": 1.0, "B": 2.5})
    assert text.startswith("Neither B nor A agrees with people clearly better: on topic")
    assert "(the interval includes zero)" in text
    assert verdict_sentence(per.iloc[0:0], pairs.iloc[0:0]).startswith("Only one judge")
