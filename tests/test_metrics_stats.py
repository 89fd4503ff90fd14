"""Pearson's chi-square goodness-of-fit test on hand-computed cases."""
import math

import numpy as np
import pytest
import torch

from arcourse.metrics import chi_square_test


def test_statistic_and_p_value_by_hand():
    # 3 cells: 2 degrees of freedom, where the chi-square survival function is exp(-x / 2)
    counts, probs = [30, 50, 20], [0.25, 0.5, 0.25]
    statistic, p_value = chi_square_test(counts, probs)
    assert statistic == pytest.approx((30 - 25) ** 2 / 25 + 0 + (20 - 25) ** 2 / 25)
    assert p_value == pytest.approx(math.exp(-statistic / 2))
    # 2 cells, 1 degree of freedom: 3.841 is the 95 % point
    n = 1000
    heads = 500 + 3.841458820694124**0.5 * (n * 0.25) ** 0.5
    assert chi_square_test(torch.tensor([heads, n - heads]), torch.tensor([0.5, 0.5]))[1] == pytest.approx(0.05)


def test_samples_from_the_claimed_distribution_pass_and_others_fail():
    rng = np.random.default_rng(0)
    probs = np.array([0.5, 0.3, 0.15, 0.05])
    counts = np.bincount(rng.choice(4, size=5_000, p=probs), minlength=4)
    assert chi_square_test(counts, probs)[1] > 1e-3
    assert chi_square_test(counts, [0.25] * 4)[1] < 1e-10


def test_sparse_cells_are_pooled_and_impossible_counts_fail():
    probs = [0.6, 0.39, 0.005, 0.005]  # with n = 100, the last two cells expect 0.5 each
    pooled = chi_square_test([60, 38, 1, 1], probs)
    assert pooled[0] == pytest.approx((38 - 39) ** 2 / 39 + (2 - 1) ** 2 / 1, abs=1e-12)  # last two pooled
    assert chi_square_test([60, 39, 1, 0], [0.6, 0.4, 0.0, 0.0]) == (math.inf, 0.0)


def test_bad_input_is_named():
    with pytest.raises(ValueError, match="same length"):
        chi_square_test([1, 2], [1.0])
    with pytest.raises(ValueError, match="sum to 1"):
        chi_square_test([1, 2], [0.5, 0.6])
    with pytest.raises(ValueError, match=">= 0"):
        chi_square_test([-1, 2], [0.5, 0.5])
    with pytest.raises(ValueError, match="all zero"):
        chi_square_test([0, 0], [0.5, 0.5])
    with pytest.raises(ValueError, match="at least two cells"):
        chi_square_test([3, 0], [0.5, 0.5])
