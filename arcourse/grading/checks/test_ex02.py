"""Graded checks for exercise 02: the plug-in entropy of counts (warm-up); log-sum-exp over
any axis with -inf entries, a masked label-smoothed cross-entropy, the perplexity of a padded
batch (core); the Miller-Madow correction and the plug-in bias experiment (stretch).

References are `arcourse.metrics`, torch's own `logsumexp` and `F.cross_entropy`, and
NumPy loops written here; inputs are random batches with zero counts, -inf entries, padding
and logits up to +-1e4.
"""
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import HealthCheck, given, settings, strategies as st

from arcourse import metrics
from arcourse.grading.api import check_close, points, question

# `student` is a plain function-scoped fixture that returns the same object every time
FAST = settings(max_examples=15, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture])


@st.composite
def count_tables(draw):
    """int64 counts of shape (V,), (B, V) or (A, B, V); some cells 0, every row positive."""
    V = draw(st.integers(1, 12))
    shape = draw(st.sampled_from([(V,), (draw(st.integers(2, 4)), V), (2, draw(st.integers(2, 3)), V)]))
    gen = torch.Generator().manual_seed(draw(st.integers(0, 2**31 - 1)))
    counts = torch.randint(0, 50, shape, generator=gen)
    counts[torch.rand(shape, generator=gen) < 0.3] = 0
    counts[..., 0] += 1                                                 # no all-zero row
    return counts


def _frequencies(counts):
    c = counts.double()
    return c / c.sum(dim=-1, keepdim=True)


@question("plugin_entropy", "the entropy of the frequencies of counts", tier="warm-up",
          write=("arcourse.metrics.information.entropy",))
class TestPluginEntropy:
    @points(1)
    def test_known_values(self, student):
        counts = torch.tensor([[5, 5, 0, 0], [1, 1, 1, 1], [9, 0, 0, 0], [30, 10, 0, 0]])
        want = [math.log(2), math.log(4), 0.0, -(0.75 * math.log(0.75) + 0.25 * math.log(0.25))]
        check_close(student.plugin_entropy(counts), want, "plugin_entropy(counts)", atol=1e-10, counts=counts)

    @points(2)
    @FAST
    @given(count_tables())
    def test_batches_with_zero_counts(self, student, counts):
        check_close(student.plugin_entropy(counts), metrics.entropy(_frequencies(counts)), "plugin_entropy(counts)",
                    atol=1e-10, counts=counts)


@st.composite
def masked_arrays(draw):
    """float32 or float64 arrays of 1-3 axes with entries up to 1e4, some -inf, some rows all -inf."""
    shape = tuple(draw(st.lists(st.integers(1, 5), min_size=1, max_size=3)))
    gen = torch.Generator().manual_seed(draw(st.integers(0, 2**31 - 1)))
    x = torch.randn(shape, generator=gen, dtype=torch.float64) * draw(st.sampled_from([1.0, 50.0, 1e4]))
    x[torch.rand(shape, generator=gen) < 0.3] = -math.inf
    dtype = draw(st.sampled_from([torch.float32, torch.float64]))
    return x.to(dtype), draw(st.integers(-len(shape), len(shape) - 1))


@question("logsumexp", "log-sum-exp over a chosen axis, with -inf entries", tier="core",
          write=("torch.logsumexp", "torch.Tensor.logsumexp", "torch.special.logsumexp",
                 "torch.log_softmax", "torch.nn.functional.log_softmax", "torch.Tensor.log_softmax",
                 "torch.special.log_softmax"))
class TestLogsumexp:
    @points(2)
    @FAST
    @given(masked_arrays())
    def test_matches_torch_on_any_axis(self, student, case):
        x, dim = case
        got = student.logsumexp(x, dim)
        tol = 1e-5 if x.dtype == torch.float32 else 1e-10
        check_close(got, torch.logsumexp(x, dim=dim), f"logsumexp(x, dim={dim})", atol=tol, rtol=tol, x=x)

    @points(1)
    def test_all_masked_rows_give_minus_infinity(self, student):
        x = torch.tensor([[-math.inf, -math.inf], [0.0, -math.inf], [-math.inf, -math.inf]], dtype=torch.float64)
        got = torch.as_tensor(student.logsumexp(x, 1))
        assert not torch.isnan(got).any(), f"logsumexp of a row of -inf should be -inf, not nan: got {got}"
        check_close(got, [-math.inf, 0.0, -math.inf], "logsumexp(x, dim=1)", x=x)
        check_close(student.logsumexp(x, 0), [0.0, -math.inf], "logsumexp(x, dim=0)", x=x)

    @points(1)
    def test_huge_entries_stay_finite(self, student):
        x = torch.tensor([[1e4, 1e4, -1e4], [-3e4, -3e4 + math.log(3), -5e4]], dtype=torch.float32)
        got = torch.as_tensor(student.logsumexp(x, -1))
        assert torch.isfinite(got).all(), f"logsumexp of finite entries should be finite, got {got}"
        check_close(got, torch.logsumexp(x, dim=-1), "logsumexp(x, dim=-1)", rtol=1e-6, x=x)


def _batch(B, T, V, seed, scale=3.0):
    gen = torch.Generator().manual_seed(seed)
    logits = torch.randn(B, T, V, generator=gen, dtype=torch.float64) * scale
    targets = torch.randint(0, V, (B, T), generator=gen)
    return logits, targets


@question("smoothed_cross_entropy", "cross-entropy with padding ignored and labels smoothed", tier="core",
          write=("torch.nn.functional.cross_entropy", "torch.nn.functional.nll_loss",
                 "arcourse.metrics.information.nll"))
class TestSmoothedCrossEntropy:
    @points(2)
    @FAST
    @given(st.integers(1, 3), st.integers(1, 6), st.integers(2, 9), st.integers(0, 2**31 - 1))
    def test_padding_is_ignored(self, student, B, T, V, seed):
        logits, targets = _batch(B, T, V, seed)
        targets[torch.rand(B, T, generator=torch.Generator().manual_seed(seed)) < 0.4] = -100
        targets[0, 0] = 0                                               # at least one counted token
        want = F.cross_entropy(logits.reshape(-1, V), targets.reshape(-1), ignore_index=-100)
        check_close(student.smoothed_cross_entropy(logits, targets, -100, 0.0), want,
                    "smoothed_cross_entropy(logits, targets)", atol=1e-10, targets=targets)

    @points(2)
    @FAST
    @given(st.floats(0.0, 1.0), st.integers(2, 9), st.integers(0, 2**31 - 1))
    def test_label_smoothing_and_another_ignore_index(self, student, eps, V, seed):
        logits, targets = _batch(2, 5, V, seed)
        targets[1, 2:] = V                                              # padding marked with V, not -100
        want = F.cross_entropy(logits.reshape(-1, V), targets.reshape(-1), ignore_index=V, label_smoothing=eps)
        check_close(student.smoothed_cross_entropy(logits, targets, V, eps), want,
                    f"smoothed_cross_entropy(logits, targets, ignore_index={V}, label_smoothing={eps})",
                    atol=1e-10, targets=targets)

    @points(1)
    def test_what_padding_holds_does_not_matter(self, student):
        logits, targets = _batch(2, 4, 5, seed=3)
        targets[:, 3] = -100
        a = float(student.smoothed_cross_entropy(logits, targets, -100, 0.2))
        logits[:, 3] = torch.tensor([1e4, -1e4, 0.0, 7.0, 2.0], dtype=torch.float64)
        b = float(student.smoothed_cross_entropy(logits, targets, -100, 0.2))
        assert math.isclose(a, b, rel_tol=1e-12), f"changing the logits of padding changed the loss: {a} -> {b}"

    @points(1, validation=True)
    def test_bad_smoothing_raises(self, student):
        logits, targets = _batch(1, 3, 4, seed=4)
        for eps in (-0.1, 1.5):
            with pytest.raises(ValueError):
                student.smoothed_cross_entropy(logits, targets, -100, eps)


def reference_perplexity(logits, targets, lengths):
    total, count = 0.0, 0
    for b, length in enumerate(lengths.tolist()):
        for t in range(length):
            row = logits[b, t].double()
            total += float(torch.logsumexp(row, 0) - row[targets[b, t]])
            count += 1
    return math.exp(total / count)


@question("padded_perplexity", "the corpus perplexity of a padded batch", tier="core",
          write=("torch.nn.functional.cross_entropy", "torch.nn.functional.nll_loss",
                 "arcourse.metrics.information.nll", "arcourse.metrics.information.perplexity"))
class TestPaddedPerplexity:
    @points(1)
    def test_uniform_model(self, student):
        logits = torch.zeros(3, 6, 50)
        targets = torch.randint(0, 50, (3, 6), generator=torch.Generator().manual_seed(0))
        got = student.padded_perplexity(logits, targets, torch.tensor([6, 1, 3]))
        check_close(got, 50.0, "padded_perplexity(uniform logits over 50, ...)", rtol=1e-6)

    @points(2)
    @FAST
    @given(st.integers(1, 4), st.integers(1, 7), st.integers(2, 9), st.integers(0, 2**31 - 1))
    def test_counts_tokens_not_sequences(self, student, B, T, V, seed):
        logits, targets = _batch(B, T, V, seed)
        lengths = torch.randint(1, T + 1, (B,), generator=torch.Generator().manual_seed(seed))
        lengths[0] = T                                                  # sequences of different lengths
        check_close(student.padded_perplexity(logits, targets, lengths), reference_perplexity(logits, targets, lengths),
                    "padded_perplexity(logits, targets, lengths)", rtol=1e-9, lengths=lengths)


@question("miller_madow_entropy", "the plug-in entropy of a histogram with the Miller-Madow correction",
          tier="stretch")
class TestMillerMadow:
    @points(2)
    @FAST
    @given(count_tables())
    def test_matches_the_formula(self, student, counts):
        for row in counts.reshape(-1, counts.shape[-1]):               # one histogram at a time
            c = row.double()
            want = metrics.entropy(c / c.sum()) + (int((c > 0).sum()) - 1) / (2 * float(c.sum()))
            check_close(student.miller_madow_entropy(row), want, "miller_madow_entropy(counts)", atol=1e-10,
                        counts=row)


@question("entropy_bias", "measured bias of the plug-in entropy against the sample size", tier="stretch",
          experiment=True, seconds=60)
class TestEntropyBias:
    @points(3)
    def test_bias_is_negative_and_falls_like_m_minus_1_over_2n(self, student):
        twelve_of_twenty = torch.zeros(20, dtype=torch.float64)
        twelve_of_twenty[[0, 2, 3, 4, 7, 8, 10, 12, 14, 15, 17, 18]] = 1 / 12
        for probs, m, sizes, seed in ((twelve_of_twenty, 12, [30, 120, 480, 1920], 5),
                                      (torch.full((4,), 0.25, dtype=torch.float64), 4, [10, 40, 160, 640], 6)):
            biases = [float(b) for b in student.entropy_bias(probs, sizes, 200, seed)]
            assert len(biases) == len(sizes), f"expected {len(sizes)} biases, got {biases}"
            assert all(b < 0 for b in biases), f"the plug-in estimate should be low on average (m={m}): {biases}"
            assert all(abs(a) > abs(b) for a, b in zip(biases, biases[1:])), \
                f"the bias should shrink as N grows fourfold (m={m}): {biases}"
            ratios = [-b * 2 * n / (m - 1) for b, n in zip(biases, sizes)][1:]
            assert all(0.6 < r < 1.5 for r in ratios), \
                (f"for N >= 4m the bias should be near -(m - 1)/2N with m = {m} outcomes of positive probability; "
                 f"bias * 2N / -(m - 1) = {[round(r, 2) for r in ratios]}")
