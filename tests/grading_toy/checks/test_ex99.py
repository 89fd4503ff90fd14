"""Graded checks of the toy exercise ex99 (tests/grading_toy/solutions/ex99_toy.py)."""
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from arcourse.grading import check_close, points, question


@question("softmax", "probabilities along the last axis")
class TestSoftmax:
    @points(2)
    def test_matches_torch(self, student):
        """agrees with torch.softmax on random logits"""
        x = torch.randn(4, 7, generator=torch.Generator().manual_seed(1))
        check_close(student.softmax(x), torch.softmax(x, dim=-1), "softmax(x)", x=x)

    @points(1)
    @settings(max_examples=10)
    @given(st.integers(2, 4), st.lists(st.floats(-50, 50), min_size=2, max_size=12))
    def test_rows_sum_to_one(self, student, rows, values):
        """every row sums to one (random rows, hypothesis)"""
        x = torch.tensor(values[: len(values) // rows * rows] or [0.0] * rows, dtype=torch.float64).reshape(rows, -1)
        check_close(student.softmax(x).sum(-1), torch.ones(rows, dtype=torch.float64), "softmax(x).sum(-1)", x=x)


@question("running_mean", "the mean of every prefix")
class TestRunningMean:
    @points(2)
    def test_matches_cumsum(self, student):
        xs = np.random.default_rng(0).normal(size=9)
        check_close(student.running_mean(xs), np.cumsum(xs) / np.arange(1, 10), "running_mean(xs)", xs=xs)

    @points(1)
    def test_rejects_empty(self, student):
        """raises ValueError for an empty array"""
        with pytest.raises(ValueError):
            student.running_mean(np.array([]))


@question("bigram_counts", "a dict of character pairs")
class TestBigramCounts:
    @points(1)
    def test_counts(self, student):
        got = student.bigram_counts("abab")
        assert got == {("a", "b"): 2, ("b", "a"): 1}, f"bigram_counts('abab') returned {got!r}"

    @points(1)
    def test_empty_text(self, student):
        assert student.bigram_counts("") == {}


@question("running_stats", "a class that keeps state")
class TestRunningStats:
    @points(2)
    def test_mean_and_count(self, student):
        stats = student.RunningStats()
        for value in [1.0, 2.0, 6.0]:
            stats.update(value)
        assert stats.count == 3, f"count is {stats.count!r} after 3 updates"
        check_close(stats.mean(), 3.0, "RunningStats().mean() after 1, 2, 6")
