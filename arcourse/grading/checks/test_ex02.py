"""Graded checks for exercise 02: entropy, cross-entropy, KL divergence, perplexity, bits per
dimension and a stable log-softmax.

References are `arcourse.metrics` and torch's own `log_softmax`; inputs are random batches
of distributions with some zero entries (0 log 0 = 0 must hold) and logits up to +-1e4.
"""
import math

import numpy as np
import torch
from hypothesis import HealthCheck, given, settings, strategies as st

from arcourse import metrics
from arcourse.grading.api import check_close, points, question

# `student` is a plain function-scoped fixture that returns the same object every time
FAST = settings(max_examples=25, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture])


@st.composite
def distributions(draw, zeros=True, shape=None):
    """A float64 batch of distributions, shape (B, V) or (A, B, V); some entries exactly 0."""
    if shape is None:
        V = draw(st.integers(1, 12))
        shape = draw(st.sampled_from([(V,), (draw(st.integers(1, 4)), V), (2, draw(st.integers(1, 3)), V)]))
    gen = torch.Generator().manual_seed(draw(st.integers(0, 2**31 - 1)))
    e = -torch.rand(shape, generator=gen, dtype=torch.float64).log()   # Dirichlet(1) via exponentials
    if zeros:
        e[torch.rand(shape, generator=gen) < 0.3] = 0.0
        e[..., 0] += 1e-3                                                # no all-zero row
    return e / e.sum(dim=-1, keepdim=True)


@st.composite
def pairs(draw):
    """(p, q) of the same shape; p may have zeros, q is positive (finite cross-entropy)."""
    p = draw(distributions())
    return p, draw(distributions(zeros=False, shape=tuple(p.shape)))


@question("entropy", "H(p) along the last axis, with 0 log 0 = 0",
          write=("arcourse.metrics.information.entropy",))
class TestEntropy:
    @points(1)
    def test_known_values(self, student):
        p = torch.tensor([[0.5, 0.5, 0.0, 0.0], [0.25] * 4, [1.0, 0.0, 0.0, 0.0]], dtype=torch.float64)
        check_close(student.entropy(p), [math.log(2), math.log(4), 0.0], "entropy(p)", p=p)

    @points(2)
    @FAST
    @given(distributions())
    def test_matches_reference(self, student, p):
        check_close(student.entropy(p), metrics.entropy(p), "entropy(p)", atol=1e-10, p=p)


@question("cross_entropy", "H(p, q) along the last axis",
          write=("arcourse.metrics.information.cross_entropy",))
class TestCrossEntropy:
    @points(1)
    def test_known_values(self, student):
        p = torch.tensor([0.5, 0.5, 0.0], dtype=torch.float64)
        q = torch.tensor([0.25, 0.25, 0.5], dtype=torch.float64)
        check_close(student.cross_entropy(p, q), math.log(4), "cross_entropy(p, q)", p=p, q=q)

    @points(2)
    @FAST
    @given(pairs())
    def test_matches_reference(self, student, pq):
        p, q = pq
        check_close(student.cross_entropy(p, q), metrics.cross_entropy(p, q), "cross_entropy(p, q)",
                    atol=1e-10, p=p, q=q)


@question("kl_divergence", "KL(p || q) >= 0 along the last axis",
          write=("arcourse.metrics.information.kl_divergence", "torch.nn.functional.kl_div",
                 "torch.distributions.kl.kl_divergence"))
class TestKLDivergence:
    @points(2)
    @FAST
    @given(pairs())
    def test_matches_reference(self, student, pq):
        p, q = pq
        check_close(student.kl_divergence(p, q), metrics.kl_divergence(p, q), "kl_divergence(p, q)",
                    atol=1e-10, p=p, q=q)

    @points(1)
    @FAST
    @given(distributions())
    def test_zero_for_equal_distributions(self, student, p):
        check_close(student.kl_divergence(p, p), torch.zeros(p.shape[:-1], dtype=torch.float64),
                    "kl_divergence(p, p)", atol=1e-12, p=p)


@question("perplexity_from_nll", "exp(total NLL / tokens)",
          write=("arcourse.metrics.information.perplexity",))
class TestPerplexity:
    @points(1)
    def test_uniform_and_perfect(self, student):
        for V in (2, 27, 50_257):
            got = student.perplexity_from_nll(1000 * math.log(V), 1000)
            check_close(got, float(V), f"perplexity_from_nll(1000 * log({V}), 1000)", rtol=1e-9)
        check_close(student.perplexity_from_nll(0.0, 10), 1.0, "perplexity_from_nll(0.0, 10)")

    @points(1)
    @FAST
    @given(st.floats(0, 30), st.integers(1, 10**6))
    def test_matches_reference_for_floats(self, student, mean_nll, n):
        total = mean_nll * n                     # up to 30 nats per token: perplexity up to 1e13
        got = student.perplexity_from_nll(total, n)
        check_close(float(got), metrics.perplexity(total, n), f"perplexity_from_nll({total!r}, {n})", rtol=1e-9)

    @points(1)
    def test_tensors_and_two_to_the_bits_per_token(self, student):
        totals = torch.tensor([0.0, 12.5, 700.0, 3000.0], dtype=torch.float64)
        got = student.perplexity_from_nll(totals, 500)
        check_close(got, metrics.perplexity(totals, 500), "perplexity_from_nll(totals, 500)", totals=totals)
        check_close(got, 2 ** metrics.bits_per_token(totals, 500), "perplexity_from_nll(totals, 500)",
                    totals=totals)


@question("bits_per_dim", "total NLL / (dims * ln 2)",
          write=("arcourse.metrics.information.bits_per_dim", "arcourse.metrics.information.bits_per_token"))
class TestBitsPerDim:
    @points(1)
    def test_uniform_8_bit_images_are_8_bits(self, student):
        D = 3 * 32 * 32
        check_close(student.bits_per_dim(D * math.log(256), D), 8.0, "bits_per_dim(D log 256, D)", D=D)

    @points(1)
    @FAST
    @given(st.floats(0, 1e7), st.integers(1, 10**6))
    def test_matches_reference(self, student, total, n):
        check_close(float(student.bits_per_dim(total, n)), metrics.bits_per_dim(total, n),
                    f"bits_per_dim({total!r}, {n})", rtol=1e-9)


@st.composite
def logits(draw):
    shape = (draw(st.integers(1, 4)), draw(st.integers(1, 10)))
    scale = draw(st.sampled_from([1.0, 30.0, 1e4]))
    dtype = draw(st.sampled_from([torch.float32, torch.float64]))
    gen = torch.Generator().manual_seed(draw(st.integers(0, 2**31 - 1)))
    return (torch.randn(shape, generator=gen, dtype=torch.float64) * scale).to(dtype)


@question("log_softmax", "a log-softmax that never underflows or overflows",
          write=("torch.log_softmax", "torch.nn.functional.log_softmax", "torch.Tensor.log_softmax",
                 "torch.special.log_softmax", "torch.logsumexp", "torch.Tensor.logsumexp",
                 "torch.special.logsumexp"))
class TestLogSoftmax:
    @points(2)
    @FAST
    @given(logits())
    def test_matches_torch(self, student, z):
        got = student.log_softmax(z)
        tol = 1e-5 if z.dtype == torch.float32 else 1e-10
        check_close(got, torch.log_softmax(z, dim=-1), "log_softmax(z)", atol=tol, rtol=tol, z=z)

    @points(1)
    def test_extreme_logits_stay_finite(self, student):
        z = torch.tensor([[0.0, -200.0, 5.0], [1000.0, 0.0, -1000.0], [-5000.0, -5001.0, -4999.0]])
        got = torch.as_tensor(student.log_softmax(z))
        assert torch.isfinite(got).all(), f"log_softmax gave non-finite values for large logits:\n{got}"
        check_close(got, torch.log_softmax(z, dim=-1), "log_softmax(z)", atol=1e-4, z=z)

    @points(1)
    def test_works_on_any_leading_shape(self, student):
        z = torch.from_numpy(np.random.default_rng(0).normal(size=(2, 3, 5)))
        check_close(student.log_softmax(z), torch.log_softmax(z, dim=-1), "log_softmax(z) for z of shape (2, 3, 5)",
                    atol=1e-10, z=z)
