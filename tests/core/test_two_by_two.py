"""Statistics of 2x2 counts against scikit-learn, scipy and a published table."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import binomtest
from sklearn.metrics import cohen_kappa_score

from gradeapp.core.two_by_two import bootstrap_weights, cohen_kappa, kappa_row, mcnemar_exact, two_by_two
from gradeapp.errors import GradeappError


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


def test_a_bootstrap_too_large_for_memory_is_refused_before_it_starts():
    with pytest.raises(GradeappError, match="needs 745.1 GB"):
        bootstrap_weights(1_000_000, 100_000, 0)
    assert bootstrap_weights(100, 10, 0).shape == (100, 10)
