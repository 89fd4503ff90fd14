"""µ-law companding and quantisation: known values, inverses, the round-trip bound, errors."""
import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from arcourse import dequantize_signal, mu_law_compress, mu_law_decode, mu_law_encode, mu_law_expand, quantize_signal


def reference_encode(x: np.ndarray, levels: int) -> np.ndarray:
    """The textbook formula written out independently (torchaudio's convention)."""
    mu = levels - 1
    y = np.sign(x) * np.log(1 + mu * np.abs(x)) / math.log(1 + mu)
    return np.floor((y + 1) / 2 * mu + 0.5).astype(np.int64)


def round_trip_bound(x: np.ndarray, levels: int) -> np.ndarray:
    mu = levels - 1
    return (1 / mu + np.abs(x)) * ((1 + mu) ** (1 / mu) - 1)


def test_compress_known_values():
    x = torch.tensor([-1.0, 0.0, 1.0])
    torch.testing.assert_close(mu_law_compress(x), x)
    # f(x) = ln(1 + 255 x) / ln(256): a quiet 1 % sample is lifted to about 23 % of full scale
    assert float(mu_law_compress(torch.tensor(0.01))) == pytest.approx(math.log(3.55) / math.log(256))


def test_compress_and_expand_are_inverse():
    x = torch.linspace(-1, 1, 1001, dtype=torch.float64)
    torch.testing.assert_close(mu_law_expand(mu_law_compress(x)), x, atol=1e-12, rtol=0)
    for mu in (1.0, 15.0, 255.0):
        torch.testing.assert_close(mu_law_compress(mu_law_expand(x, mu), mu), x, atol=1e-12, rtol=0)


def test_compress_is_monotone_and_odd():
    x = torch.linspace(-1, 1, 501, dtype=torch.float64)
    y = mu_law_compress(x)
    assert bool((y.diff() > 0).all())
    torch.testing.assert_close(mu_law_compress(-x), -y)


def test_encode_matches_the_formula_and_the_ends():
    x = np.random.default_rng(0).uniform(-1, 1, size=5000)
    for levels in (2, 16, 256):
        np.testing.assert_array_equal(mu_law_encode(x, levels), reference_encode(x, levels))
    assert mu_law_encode(np.array([-1.0, 0.0, 1.0])).tolist() == [0, 128, 255]


def test_kind_in_kind_out():
    assert isinstance(mu_law_encode(np.zeros(3)), np.ndarray)
    assert isinstance(mu_law_encode([0.0, 0.5]), np.ndarray)
    q = mu_law_encode(torch.zeros(3))
    assert isinstance(q, torch.Tensor) and q.dtype == torch.int64
    assert isinstance(mu_law_decode(np.array([0, 255])), np.ndarray)
    assert mu_law_decode(q).dtype == torch.float32


@settings(max_examples=60, deadline=None)
@given(arrays(np.float64, st.integers(1, 200), elements=st.floats(-1, 1)), st.sampled_from([16, 64, 256]))
def test_round_trip_error_is_relative(x, levels):
    back = mu_law_decode(mu_law_encode(x, levels), levels)
    assert np.all(np.abs(back - x) <= round_trip_bound(x, levels) + 1e-6)


def test_quantize_and_dequantize():
    q = quantize_signal(torch.tensor([-1.0, -0.5, 0.0, 0.5, 1.0]), levels=5)
    assert q.tolist() == [0, 1, 2, 3, 4]
    torch.testing.assert_close(dequantize_signal(q, levels=5), torch.tensor([-1.0, -0.5, 0.0, 0.5, 1.0]))
    y = torch.rand(1000) * 2 - 1
    assert float((dequantize_signal(quantize_signal(y)) - y).abs().max()) <= 1 / 255 + 1e-6  # half a step


@pytest.mark.parametrize("call, match", [
    (lambda: mu_law_encode(np.array([0.5, 1.5])), r"\[-1, 1\]"),
    (lambda: mu_law_encode(np.array([0.0, np.nan])), "NaN"),
    (lambda: mu_law_encode(np.array([0, 1])), "floating-point"),
    (lambda: mu_law_encode(np.zeros(3), levels=1), "levels"),
    (lambda: mu_law_encode(np.zeros(3), levels=2.5), "levels"),
    (lambda: mu_law_decode(np.array([0, 256])), r"\[0, 256\)"),
    (lambda: mu_law_decode(np.array([0.0, 1.0])), "integer"),
    (lambda: mu_law_compress(np.zeros(3), mu=0), "mu"),
    (lambda: mu_law_compress("loud"), "array-like|floating"),
])
def test_bad_inputs(call, match):
    with pytest.raises((ValueError, TypeError), match=match):
        call()
