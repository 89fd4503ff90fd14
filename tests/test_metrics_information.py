"""Information measures: hand-computed cases, the identities as properties, and bad input."""
import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from arcourse.metrics import (bits_per_dim, bits_per_token, cross_entropy, entropy, kl_divergence, nll,
                              perplexity)


@st.composite
def distributions(draw, size=None):
    """A probability vector with some exact zeros, and a same-size one with full support."""
    n = size or draw(st.integers(1, 12))
    w = draw(arrays(np.float64, n, elements=st.floats(0, 10)))
    if w.sum() == 0:
        w[0] = 1.0
    return w / w.sum()


@st.composite
def pairs(draw):
    p = draw(distributions())
    w = draw(arrays(np.float64, p.size, elements=st.floats(0.01, 10)))
    return p, w / w.sum()


def test_hand_computed_values():
    p, q = [0.5, 0.25, 0.25], [0.25, 0.5, 0.25]
    assert entropy(p, unit="bits") == pytest.approx(1.5, abs=1e-12)
    assert cross_entropy(p, q, unit="bits") == pytest.approx(0.5 * 2 + 0.25 * 1 + 0.25 * 2, abs=1e-12)
    assert kl_divergence(p, q, unit="bits") == pytest.approx(0.25, abs=1e-12)
    assert entropy([1.0, 0.0]) == 0.0  # 0 log 0 = 0
    assert cross_entropy([0.0, 1.0], [1.0, 0.0]) == math.inf  # q misses p's support


@settings(max_examples=200, deadline=None)
@given(pairs())
def test_cross_entropy_is_entropy_plus_kl(pq):
    p, q = pq
    assert cross_entropy(p, q) == pytest.approx(entropy(p) + kl_divergence(p, q), abs=1e-9)


@settings(max_examples=200, deadline=None)
@given(pairs())
def test_kl_is_non_negative_and_zero_only_at_p_equals_q(pq):
    p, q = pq
    assert kl_divergence(p, q) >= -1e-12
    assert kl_divergence(p, p) == pytest.approx(0.0, abs=1e-12)
    if not np.allclose(p, q, atol=1e-6):
        assert kl_divergence(p, q) > 0


@settings(max_examples=100, deadline=None)
@given(st.integers(1, 5000))
def test_uniform_has_perplexity_v(V):
    p = np.full(V, 1.0 / V)
    assert perplexity(entropy(p)) == pytest.approx(V, rel=1e-9)
    assert perplexity(cross_entropy(p, p) * 7, 7) == pytest.approx(V, rel=1e-9)


@settings(max_examples=100, deadline=None)
@given(st.floats(0, 50), st.integers(1, 10_000))
def test_perplexity_is_two_to_the_bits_per_token(per_token, n):
    total = per_token * n
    assert perplexity(total, n) == pytest.approx(2 ** bits_per_token(total, n), rel=1e-9)


def test_perfect_model_has_perplexity_one_and_bits_per_dim():
    assert perplexity(0.0, 10) == 1.0
    # a uniform model over 256 levels spends exactly 8 bits on each dimension
    assert bits_per_dim(3 * 32 * 32 * math.log(256), 3 * 32 * 32) == pytest.approx(8.0)


def test_bits_and_nats_agree():
    p = np.array([0.1, 0.2, 0.7])
    assert entropy(p, unit="bits") == pytest.approx(entropy(p) / math.log(2))


def test_torch_and_numpy_agree_and_keep_their_kind():
    rng = np.random.default_rng(0)
    p = rng.dirichlet(np.ones(5), size=4)
    q = rng.dirichlet(np.ones(5), size=4)
    out = kl_divergence(torch.tensor(p), torch.tensor(q))
    assert isinstance(out, torch.Tensor) and out.shape == (4,)
    np.testing.assert_allclose(out.numpy(), kl_divergence(p, q), atol=1e-12)
    assert entropy(p.T, axis=0).shape == (4,)


@pytest.mark.parametrize("bad, message", [
    ([0.5, 0.6], "sum to 1"),
    ([-0.1, 1.1], ">= 0"),
    ([], "empty"),
    ([np.nan, 1.0], "NaN"),
    (np.float64(1.0), "scalar"),
])
def test_bad_distributions_raise_naming_the_argument(bad, message):
    with pytest.raises(ValueError, match=message) as info:
        entropy(bad)
    assert "p " in str(info.value) or str(info.value).startswith("p")


def test_bad_pairs_and_arguments():
    with pytest.raises(ValueError, match="same shape"):
        cross_entropy([0.5, 0.5], [1.0])
    with pytest.raises(ValueError, match="q must sum to 1"):
        kl_divergence([0.5, 0.5], [0.5, 0.6])
    with pytest.raises(TypeError, match="both"):
        cross_entropy(torch.tensor([1.0]), np.array([1.0]))
    with pytest.raises(ValueError, match="unit"):
        entropy([1.0], unit="decibans")
    with pytest.raises(ValueError, match="n_tokens"):
        perplexity(1.0, 0)
    with pytest.raises(ValueError, match="total_nll"):
        bits_per_token(-1.0, 3)
    with pytest.raises(ValueError, match="n_dims"):
        bits_per_dim(1.0, -2)


def test_nll_matches_log_softmax_and_skips_padding():
    gen = torch.Generator().manual_seed(0)
    logits = torch.randn(2, 3, 5, generator=gen)
    targets = torch.tensor([[1, 4, -100], [0, -100, -100]])
    logp = logits.log_softmax(-1)
    want = -(logp[0, 0, 1] + logp[0, 1, 4] + logp[1, 0, 0])
    torch.testing.assert_close(nll(logits, targets, reduction="sum"), want)
    torch.testing.assert_close(nll(logits, targets), want / 3)
    per = nll(logits, targets, reduction="none")
    assert per.shape == (2, 3) and per[1, 2] == 0


def test_nll_rejects_bad_shapes_and_ids():
    with pytest.raises(ValueError, match="shape"):
        nll(torch.zeros(2, 3, 5), torch.zeros(2, 4, dtype=torch.long))
    with pytest.raises(ValueError, match="targets must lie"):
        nll(torch.zeros(2, 5), torch.tensor([0, 5]))
    with pytest.raises(TypeError, match="integer"):
        nll(torch.zeros(2, 5), torch.zeros(2))
    with pytest.raises(ValueError, match="reduction"):
        nll(torch.zeros(2, 5), torch.zeros(2, dtype=torch.long), reduction="max")
