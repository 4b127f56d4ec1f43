"""Bootstrap intervals and exact paired tests, on cases with known answers."""

import numpy as np
import pytest
from scipy.stats import binomtest

from infocam.stats import (bootstrap_interval, mcnemar_exact, paired_bootstrap_interval, sign_flip_p_value)


def test_a_constant_sample_has_a_point_interval():
    assert bootstrap_interval([np.ones(50)]) == (1.0, 1.0)


def test_the_bootstrap_interval_of_a_proportion_matches_the_normal_approximation():
    hits = np.array([1] * 200 + [0] * 200)  # p = 0.5, n = 400: standard error 0.025
    low, high = bootstrap_interval([hits], resamples=4000)
    assert low == pytest.approx(0.5 - 1.96 * 0.025, abs=0.006)
    assert high == pytest.approx(0.5 + 1.96 * 0.025, abs=0.006)


def test_the_bootstrap_is_seeded():
    values = np.random.default_rng(1).random(100)
    assert bootstrap_interval([values], seed=3) == bootstrap_interval([values], seed=3)
    assert bootstrap_interval([values], seed=3) != bootstrap_interval([values], seed=4)


def test_seeds_are_resampled_within_and_pooled_by_their_mean():
    # Two seeds, each constant: resampling within a seed cannot move its mean, so the interval is the point
    # (0 + 1) / 2 = 0.5; resampling across the pooled images would have spread it.
    assert bootstrap_interval([np.zeros(30), np.ones(30)]) == (0.5, 0.5)


def test_identical_methods_differ_by_zero_with_p_one():
    hits = np.random.default_rng(2).integers(0, 2, 80)
    assert paired_bootstrap_interval([hits], [hits]) == (0.0, 0.0)
    assert mcnemar_exact(hits, hits) == 1.0


def test_mcnemar_is_the_exact_binomial_test_on_the_discordant_pairs():
    a = np.array([1] * 9 + [0] * 2 + [1] * 20 + [0] * 5, dtype=bool)
    b = np.array([0] * 9 + [1] * 2 + [1] * 20 + [0] * 5, dtype=bool)
    expected = binomtest(2, 11, 0.5).pvalue  # 9 pairs only a hits, 2 only b
    assert mcnemar_exact(a, b) == pytest.approx(expected)
    assert mcnemar_exact(a, b) == pytest.approx(2 * (1 + 11 + 55) / 2 ** 11)


@pytest.mark.parametrize("only_a, only_b", [(0, 1), (3, 3), (1, 0), (40, 61), (1200, 1310), (2900, 3100)])
def test_mcnemar_matches_scipys_binomial_test_up_to_thousands_of_discordant_pairs(only_a, only_b):
    a = np.array([1] * only_a + [0] * only_b + [1] * 7, dtype=bool)
    b = np.array([0] * only_a + [1] * only_b + [1] * 7, dtype=bool)
    expected = binomtest(min(only_a, only_b), only_a + only_b, 0.5).pvalue
    assert mcnemar_exact(a, b) == pytest.approx(expected, rel=1e-9, abs=1e-300)


def test_a_paired_difference_interval_excludes_zero_for_a_clear_gain():
    rng = np.random.default_rng(5)
    b = rng.integers(0, 2, 300)
    a = np.maximum(b, rng.random(300) < 0.3)  # a hits wherever b does, and more
    low, high = paired_bootstrap_interval([a], [b])
    assert 0 < low < (a.mean() - b.mean()) < high


def test_the_sign_flip_test_enumerates_every_flip():
    assert sign_flip_p_value([1.0, 2.0, 3.0]) == pytest.approx(2 / 8)  # only all-positive and all-negative
    assert sign_flip_p_value([0.0, 0.0]) == 1.0
    assert sign_flip_p_value([1.0, -1.0]) == 1.0
