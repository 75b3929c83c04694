import itertools

import numpy as np
import pandas as pd
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from gradeapp.core.metrics import (
    aggregate,
    apply_deterministic,
    generation_scores,
    majority_vote,
    score_generations,
)


@st.composite
def graded(draw):
    k = draw(st.integers(1, 6))
    skills = draw(st.lists(st.integers(0, 1), min_size=k, max_size=k))
    other = draw(st.lists(st.integers(0, 1), min_size=3, max_size=3))
    return k, skills, other


@given(graded())
def test_metric_definitions_match_the_paper(case):
    k, skills, (topic, sense, limit) = case
    a, b = sum(skills), topic + sense + limit
    out = generation_scores(k, skills, topic, sense, limit)
    assert out["full_marks"] == (1.0 if a == k and b == 3 else 0.0)
    assert out["all_skills"] == (1.0 if a == k and b >= 2 else 0.0)
    assert out["skill_fraction"] == (a / k if b == 3 else 0.0)
    # full marks implies all skills implies skill fraction 1 when B = 3
    assert out["full_marks"] <= out["all_skills"]
    assert out["full_marks"] <= out["skill_fraction"]


@settings(max_examples=50)
@given(st.lists(graded(), min_size=1, max_size=12))
def test_vectorised_scores_equal_the_scalar_definition(cases):
    rows = []
    for gid, (k, skills, other) in enumerate(cases):
        names = [f"skill:s{i}" for i in range(k)] + ["topic", "makes_sense", "sentence_limit"]
        for crit, v in zip(names, [*skills, *other], strict=True):
            rows.append({"generation_id": gid, "criterion": crit, "value": float(v), "k": k})
    scored = score_generations(pd.DataFrame(rows)).set_index("generation_id")
    for gid, (k, skills, other) in enumerate(cases):
        expect = generation_scores(k, skills, *other)
        for m, v in expect.items():
            assert scored.loc[gid, m] == v


@given(st.lists(st.one_of(st.none(), st.integers(0, 1)), min_size=1, max_size=5))
def test_majority_ignores_unparsed_runs_and_ties_fail(values):
    df = pd.DataFrame(
        {"generation_id": 1, "criterion": "topic", "value": [np.nan if v is None else v for v in values]}
    )
    out = majority_vote(df).iloc[0]
    parsed = [v for v in values if v is not None]
    if not parsed:
        assert np.isnan(out["value"])
    else:
        assert out["value"] == (1.0 if sum(parsed) * 2 > len(parsed) else 0.0)
    assert out["n_runs"] == len(values) and out["n_parsed"] == len(parsed)


def test_deterministic_rules_override_the_judge():
    pts = pd.DataFrame(
        {
            "generation_id": [1, 1, 1, 1, 1],
            "criterion": ["skill:metaphor", "skill:irony", "topic", "makes_sense", "sentence_limit"],
            "value": [1.0, 1.0, 1.0, 1.0, 1.0],
            "k": 2,
        }
    )
    checks = pd.DataFrame({"generation_id": [1], "n_sentences": [3], "named_skills": ['["irony"]']})
    out = apply_deterministic(pts, checks).set_index("criterion")["value"]
    assert out["sentence_limit"] == 0.0 and out["skill:irony"] == 0.0 and out["skill:metaphor"] == 1.0
    off = apply_deterministic(pts, checks, naming_penalty=False, program_sentence_limit=False)
    assert off["value"].tolist() == [1.0] * 5


def test_sentence_limit_is_supplied_when_the_judge_gave_none():
    pts = pd.DataFrame({"generation_id": [7], "criterion": ["topic"], "value": [1.0], "k": [3]})
    checks = pd.DataFrame({"generation_id": [7], "n_sentences": [2], "named_skills": ["[]"]})
    out = apply_deterministic(pts, checks).set_index("criterion")["value"]
    assert out["sentence_limit"] == 1.0


def test_best_of_rounds_then_mean_and_standard_error():
    scores = pd.DataFrame(
        {
            "student": "m",
            "k": 2,
            "combination_id": [1, 1, 1, 2, 2, 2],
            "full_marks": [0, 1, 0, 0, 0, 0],
            "all_skills": [0, 1, 0, 0, 1, 0],
            "skill_fraction": [0.5, 1, 0, 0, 0.5, 0],
        }
    )
    best = aggregate(scores).set_index("metric")
    assert best.loc["full_marks", "mean"] == 0.5 and best.loc["full_marks", "n"] == 2
    assert best.loc["full_marks", "se"] == np.std([1, 0], ddof=1) / np.sqrt(2)
    single = aggregate(scores, best_of_rounds=False).set_index("metric")
    assert single.loc["all_skills", "mean"] == 2 / 6 and single.loc["all_skills", "n"] == 6


def test_every_combination_of_two_points_covers_the_metric_edges():
    seen = set()
    for skills in itertools.product([0, 1], repeat=2):
        for other in itertools.product([0, 1], repeat=3):
            seen.add(tuple(generation_scores(2, list(skills), *other).values()))
    assert (1.0, 1.0, 1.0) in seen and (0.0, 1.0, 0.0) in seen and (0.0, 0.0, 0.5) in seen


@st.composite
def partly_graded(draw):
    """One generation whose points are 0, 1, None (undecided) or absent (no row)."""
    k = draw(st.integers(1, 5))
    points = draw(st.lists(st.sampled_from([0, 1, None, "absent"]), min_size=k + 3, max_size=k + 3))
    return k, points


@settings(max_examples=300)
@given(st.lists(partly_graded(), min_size=1, max_size=10))
def test_undecided_metrics_are_those_the_missing_points_could_change(cases):
    """Oracle: every completion of the missing points by the scalar definition; one value, else NaN."""
    rows, expected = [], {}
    for gid, (k, points) in enumerate(cases):
        names = [f"skill:s{i}" for i in range(k)] + ["topic", "makes_sense", "sentence_limit"]
        rows += [
            {"generation_id": gid, "criterion": c, "value": np.nan if v is None else v, "k": k}
            for c, v in zip(names, points, strict=True)
            if v != "absent"
        ]
        holes = [i for i, v in enumerate(points) if v not in (0, 1)]
        seen: dict[str, set[float]] = {m: set() for m in ("full_marks", "all_skills", "skill_fraction")}
        for fill in itertools.product((0, 1), repeat=len(holes)):
            full = list(points)
            for i, v in zip(holes, fill, strict=True):
                full[i] = v
            out = generation_scores(k, full[:k], *full[k:])
            for m in seen:
                seen[m].add(out[m])
        expected[gid] = ({m: (s.pop() if len(s) == 1 else np.nan) for m, s in seen.items()}, len(holes))
    assume(rows)  # every point of every generation absent: nothing to score
    got = score_generations(pd.DataFrame(rows), missing="undecided").set_index("generation_id")
    for gid, (values, n_missing) in expected.items():
        if gid not in got.index:  # every point absent: no row to score
            continue
        assert got.loc[gid, "n_missing"] == n_missing
        for m, v in values.items():
            g = got.loc[gid, m]
            assert (np.isnan(g) and np.isnan(v)) or g == v, (cases[gid], m, g, v)
    # The reference's rule scores the same points with every missing one failed.
    failed = score_generations(pd.DataFrame(rows)).set_index("generation_id")
    for gid, (k, points) in enumerate(cases):
        if gid in failed.index:
            zero = [0 if v not in (0, 1) else v for v in points]
            ref = generation_scores(k, zero[:k], *zero[k:])
            assert all(failed.loc[gid, m] == ref[m] for m in ref)
