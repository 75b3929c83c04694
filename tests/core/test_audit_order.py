"""Grade until precise enough: the widest-first order and the anytime-valid stopping signal."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from gradeapp.core.audit_order import (
    best_rho2,
    confidence_sequence,
    cs_margin,
    items_until_signal,
    predicted_half_width,
    widest_first,
)
from gradeapp.core.estimators import z_value
from tests.estimator_oracles import ppi_mean


def test_boundary_matches_the_published_formula_and_is_tightest_at_the_planned_size():
    alpha, t = 0.05, 200
    rho2 = best_rho2(t, alpha)
    hand = math.sqrt(2 * (t * rho2 + 1) / (t * t * rho2) * math.log(math.sqrt(t * rho2 + 1) / alpha))
    assert cs_margin(t, rho2, alpha) == pytest.approx(hand)
    # the chosen rho2 minimises the boundary at t (a grid of other values is never tighter)
    assert all(
        cs_margin(t, r, alpha) >= cs_margin(t, rho2, alpha) - 1e-12 for r in rho2 * np.geomspace(0.2, 5, 41)
    )
    # wider than the fixed-n interval (the price of looking after every label), and shrinking with n
    assert cs_margin(t, rho2, alpha) * math.sqrt(t) > z_value(0.95)
    assert cs_margin(400, rho2, alpha) < cs_margin(200, rho2, alpha)
    lo, hi, half = confidence_sequence(0.4, 0.03, 200, 200)
    assert (lo, hi) == pytest.approx((0.4 - half, 0.4 + half)) and half > 1.96 * 0.03
    assert math.isnan(confidence_sequence(0.4, 0.03, 1, 200)[2])


def test_items_until_signal_is_the_first_n_where_the_boundary_reaches_the_target():
    extra = items_until_signal(0.5, 20, 100, 5000, 0.05)
    n = 20 + extra
    rho2 = best_rho2(100, 0.05)
    assert 0.5 * cs_margin(n, rho2, 0.05) <= 0.05 < 0.5 * cs_margin(n - 1, rho2, 0.05)
    assert items_until_signal(0.5, 20, 100, 60, 0.05) == 40  # capped at the pool


def test_widest_first_serves_the_widest_predicted_interval_and_keeps_each_cell_random():
    plan = pd.DataFrame(
        {
            "student": ["a", "b"],
            "k": [2, 2],
            "n_audited": [40, 5],
            "n_judged": [1000, 1000],
            "rho": [0.5, 0.5],
            "sd_human": [0.5, 0.5],
        }
    )
    todo = pd.DataFrame({"generation_id": range(1, 81), "student": ["a"] * 30 + ["b"] * 50, "k": 2})
    order = widest_first(plan, todo, seed=3)
    assert sorted(order) == list(range(1, 81))
    cell = {g: ("a" if g <= 30 else "b") for g in range(1, 81)}
    # b starts at 5 labels against a's 40: it is served alone until it has 40 too (equal widths)
    assert [cell[g] for g in order[:35]] == ["b"] * 35
    n = {"a": 40, "b": 5}
    left = {"a": 30, "b": 50}
    for g in order:  # every step serves a cell whose predicted width is the widest of those with items left
        widths = {s: predicted_half_width(n[s], 0.25, 0.5, 1000) for s in n if left[s]}
        assert widths[cell[g]] == pytest.approx(max(widths.values()))
        n[cell[g]] += 1
        left[cell[g]] -= 1
    b_ids = [g for g in order if cell[g] == "b"]
    assert b_ids != sorted(b_ids)  # a seeded random order within the cell, not by id
    assert widest_first(plan, todo, seed=3) == order


def _stop_study(reps: int, rng, *, big_n=1500, drawn=400, target=0.06, naive=False):
    """Grade a uniform draw one label at a time; stop at the first n where the signal says 'reached'."""
    cover = []
    for _ in range(reps):
        truth = (rng.random(big_n) < 0.35).astype(float)
        runs = np.where(truth == 1, rng.random((3, big_n)) < 0.85, rng.random((3, big_n)) >= 0.8)
        soft = runs.mean(axis=0)
        order = rng.permutation(big_n)[:drawn]
        theta = truth.mean()
        for n in range(10, drawn + 1):
            lab = order[:n]
            mask = np.zeros(big_n, dtype=bool)
            mask[lab] = True
            r = ppi_mean(truth[lab], soft[lab], soft[~mask], 0.95)
            half = (r.ci_high - r.ci_low) / 2
            if naive:
                lo, hi, h = r.ci_low, r.ci_high, half
            else:
                lo, hi, h = confidence_sequence(r.estimate, r.se, n, drawn)
            if h <= target or n == drawn:
                cover.append(lo <= theta <= hi)
                break
    return float(np.mean(cover))


def test_stopping_when_the_confidence_sequence_reaches_the_target_keeps_coverage():
    rng = np.random.default_rng(11)
    assert _stop_study(150, rng) >= 0.93
