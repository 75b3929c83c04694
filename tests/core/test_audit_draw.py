"""The audit draw's maths: every design draws with the probabilities it records."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from gradeapp.core.audit_draw import active_probabilities, judge_uncertainty, plan_draw


def _pool(n_cells: int = 4, per_cell: int = 50, pass_share: float = 0.2) -> pd.DataFrame:
    rows = []
    gid = 1
    for c in range(n_cells):
        for i in range(per_cell):
            rows.append(
                {
                    "generation_id": gid,
                    "student": f"s{c % 2}",
                    "k": 2 + c // 2,
                    "verdict": int(i < per_cell * pass_share),
                }
            )
            gid += 1
    return pd.DataFrame(rows)


def test_uniform_draw_is_a_seeded_simple_random_sample():
    pool = _pool()
    a = plan_draw(pool, 40, seed=1)
    b = plan_draw(pool, 40, seed=1)
    c = plan_draw(pool, 40, seed=2)
    assert a.equals(b) and not a.equals(c)
    assert len(a) == 40 and a["generation_id"].is_unique
    assert (a["inclusion_prob"] == 40 / 200).all()


def test_stratified_per_cell_draws_the_same_number_from_every_cell():
    pool = _pool(per_cell=30)
    d = plan_draw(pool, 10, design="stratified", per_cell=True, seed=0)
    assert d.groupby("stratum").size().tolist() == [10, 10, 10, 10]
    assert (d["inclusion_prob"] == 10 / 30).all()


def test_stratified_by_verdict_oversamples_the_rarer_verdict_with_known_probabilities():
    pool = _pool(per_cell=50, pass_share=0.2)  # 10 passes and 40 fails per cell
    d = plan_draw(pool, 16, design="stratified", per_cell=True, by_verdict=True, seed=0)
    merged = d.merge(pool, on="generation_id")
    per = merged.groupby(["stratum", "verdict"]).agg(
        n=("generation_id", "size"), p=("inclusion_prob", "first")
    )
    per = per.reset_index()
    assert (per["n"] == 8).all()  # half of each cell's 16 from each verdict
    assert per.loc[per["verdict"] == 1, "p"].eq(8 / 10).all()
    assert per.loc[per["verdict"] == 0, "p"].eq(8 / 40).all()


def test_proportional_stratified_draw_allocates_by_cell_size():
    pool = pd.concat(
        [
            _pool(n_cells=1, per_cell=90),
            _pool(n_cells=1, per_cell=10).assign(
                generation_id=lambda f: f["generation_id"] + 1000, student="other"
            ),
        ]
    )
    d = plan_draw(pool, 20, design="stratified", seed=0)
    sizes = d.groupby("stratum").size()
    assert sizes.sum() == 20
    assert sizes.max() == 18 and sizes.min() == 2


def test_probabilities_sum_to_the_size_keep_a_floor_and_never_exceed_one():
    u = np.array([0.0] * 90 + [1.0] * 10)
    pi = active_probabilities(u, 10, floor=0.2)
    assert pi.sum() == pytest.approx(10)
    assert pi.min() == pytest.approx(10 * 0.2 / 100)  # the uniform floor: every generation can be drawn
    assert pi[90:].min() > pi[:90].max()
    capped = active_probabilities(u, 40, floor=0.2)  # 10 uncertain ones would need more than 1 each
    assert capped.max() == pytest.approx(1.0) and capped.sum() == pytest.approx(40)
    assert (capped[90:] == 1.0).all() and capped[:90].std() == pytest.approx(0.0)
    assert active_probabilities(np.zeros(50), 10) == pytest.approx(np.full(50, 0.2))  # no doubt: uniform
    assert judge_uncertainty(np.array([0, 1 / 3, 0.5, 1])) == pytest.approx([0, 2 * np.sqrt(2) / 3, 1, 0])


def test_poisson_sampling_draws_each_generation_with_its_recorded_probability():
    rng = np.random.default_rng(0)
    pool = pd.DataFrame(
        {
            "generation_id": np.arange(1, 201),
            "student": "s",
            "k": 2,
            "verdict": 0,
            "uncertainty": rng.choice([0.0, 0.5, 1.0], size=200, p=[0.7, 0.1, 0.2]),
        }
    )
    counts = np.zeros(201)
    reps = 3000
    recorded = None
    for seed in range(reps):
        d = plan_draw(pool, 30, design="active", per_cell=True, seed=seed)
        counts[d["generation_id"].to_numpy()] += 1
        got = pd.Series(d["inclusion_prob"].to_numpy(), index=d["generation_id"].to_numpy())
        recorded = got if recorded is None else recorded.combine_first(got)
    pi = active_probabilities(pool["uncertainty"].to_numpy(), 30)
    assert recorded.sort_index().to_numpy() == pytest.approx(pi[recorded.sort_index().index - 1])
    freq = counts[1:] / reps
    se = np.sqrt(pi * (1 - pi) / reps)
    assert np.all(np.abs(freq - pi) < 4.5 * se + 1e-9)  # the empirical frequencies are the recorded pi
