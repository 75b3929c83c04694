"""Krippendorff's nominal alpha against the krippendorff package."""

from __future__ import annotations

import math

import krippendorff
import numpy as np
import pytest

from gradeapp.core.alpha import (
    NO_VARIATION,
    _grouped_alphas,
    _matrix,
    alpha_nominal,
    nominal_alpha_from_counts,
)


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
