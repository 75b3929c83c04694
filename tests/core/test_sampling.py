import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gradeapp.core.sampling import draw_combinations, n_combinations, novelty_bound
from gradeapp.errors import GradeappError
from gradeapp.services.sampling import sample_into

SKILLS = [f"skill {i}" for i in range(15)]
TOPICS = [f"topic {i}" for i in range(6)]


@settings(max_examples=60)
@given(k=st.integers(1, 6), n=st.integers(0, 40), seed=st.integers(0, 10**6))
def test_draws_are_reproducible_k_subsets_of_the_catalog(k, n, seed):
    a = draw_combinations(SKILLS, TOPICS, k, n, seed)
    assert a == draw_combinations(SKILLS, TOPICS, k, n, seed)
    assert len(a) == n
    for c in a:
        assert len(c.skills) == k == len(set(c.skills))
        assert set(c.skills) <= set(SKILLS) and c.topic in TOPICS


def test_draws_are_roughly_uniform_over_skills_and_topics():
    drawn = draw_combinations(SKILLS, TOPICS, 3, 6000, seed=1)
    counts = {s: 0 for s in SKILLS}
    for c in drawn:
        for s in c.skills:
            counts[s] += 1
    expected = 6000 * 3 / len(SKILLS)
    assert all(abs(v - expected) < 5 * math.sqrt(expected) for v in counts.values())
    topic_counts = {t: sum(c.topic == t for c in drawn) for t in TOPICS}
    assert all(abs(v - 1000) < 5 * math.sqrt(1000) for v in topic_counts.values())


def test_different_seeds_give_different_draws():
    assert draw_combinations(SKILLS, TOPICS, 3, 20, 1) != draw_combinations(SKILLS, TOPICS, 3, 20, 2)


def test_too_large_k_is_a_user_error():
    with pytest.raises(GradeappError, match="needs at least"):
        draw_combinations(SKILLS[:2], TOPICS, 3, 1, 0)


def test_combination_count_and_the_papers_novelty_bound():
    assert n_combinations(101, 2, 100) == 5050 * 100
    assert novelty_bound(5) == pytest.approx(0.068, abs=0.001)
    assert novelty_bound(6) == pytest.approx(0.00098, abs=0.00001)


def test_sample_into_stores_distinct_combinations_and_can_exclude_common(store):
    store.upsert_skills([{"name": s, "common": i < 5} for i, s in enumerate(SKILLS)])
    store.add_topics(TOPICS)
    report = sample_into(store, [2, 3], 25, seed=10, exclude_common=True)
    assert [r["k"] for r in report["per_k"]] == [2, 3]
    combos = store.combinations_df()
    assert len(combos) == sum(r["distinct"] for r in report["per_k"])
    assert not combos["has_common"].any()
    again = sample_into(store, [2, 3], 25, seed=10, exclude_common=True)
    assert len(store.combinations_df()) == len(combos)
    assert again["per_k"][0]["possible"] == n_combinations(10, 2, 6)
