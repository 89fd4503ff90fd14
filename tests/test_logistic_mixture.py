"""The discretised mixture of logistics: normalisation, stability, agreement, sampling."""
import math

import pytest
import torch

from arcourse import nll
from arcourse.decoding import sample_tokens
from arcourse.logistic_mixture import (LogisticMixtureHead, logistic_mixture_log_probs, logistic_mixture_nll,
                                       sample_logistic_mixture)


def random_params(shape, m, seed=0, scale=1.0):
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(*shape, 3 * m, generator=gen, dtype=torch.float64) * scale


@pytest.mark.parametrize("levels", [2, 17, 256])
def test_probabilities_over_all_levels_sum_to_one(levels):
    params = random_params((5, 7), 4, scale=2.0)
    probs = logistic_mixture_log_probs(params, levels).exp()
    assert probs.shape == (5, 7, levels)
    torch.testing.assert_close(probs.sum(-1), torch.ones(5, 7, dtype=torch.float64), atol=1e-12, rtol=0)


def test_edge_bins_hold_the_tails():
    # one component far below -1: almost all of its mass is in level 0's open bin
    params = torch.tensor([[0.0, -5.0, -2.0]], dtype=torch.float64)
    probs = logistic_mixture_log_probs(params, 17).exp()[0]
    assert probs[0] > 1 - 1e-6
    params = torch.tensor([[0.0, 5.0, -2.0]], dtype=torch.float64)
    assert logistic_mixture_log_probs(params, 17).exp()[0, -1] > 1 - 1e-6
    # and the edges equal the logistic CDF / survival function exactly
    mu, log_s = 0.3, -1.0
    params = torch.tensor([[0.0, mu, log_s]], dtype=torch.float64)
    p = logistic_mixture_log_probs(params, 5).exp()[0]
    s = math.exp(log_s)
    sigmoid = lambda a: 1 / (1 + math.exp(-a))  # noqa: E731
    assert abs(float(p[0]) - sigmoid((-1 + 0.25 - mu) / s)) < 1e-12
    assert abs(float(p[-1]) - (1 - sigmoid((1 - 0.25 - mu) / s))) < 1e-12


def test_direct_nll_equals_the_full_table_and_nll():
    params = random_params((3, 4), 5, seed=1, scale=1.5)
    targets = torch.randint(0, 256, (3, 4), generator=torch.Generator().manual_seed(2))
    full = logistic_mixture_log_probs(params, 256)
    torch.testing.assert_close(logistic_mixture_nll(params, targets, 256, reduction="none"),
                               -full.gather(-1, targets[..., None])[..., 0])
    torch.testing.assert_close(logistic_mixture_nll(params, targets, 256), nll(full, targets))


def test_log_prob_is_finite_for_very_sharp_and_far_components():
    # a bin 20 scale units from the mean (probability ~e^-20) and log-scales below the clamp
    params = torch.tensor([[0.0, -0.9, -30.0], [0.0, 0.9, 3.0]], dtype=torch.float32, requires_grad=True)
    targets = torch.tensor([65535, 0])
    loss = logistic_mixture_nll(params, targets, 65536)
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(params.grad).all()
    logp = logistic_mixture_log_probs(params.detach(), 1024)
    assert torch.isfinite(logp).all()


def test_sampling_matches_the_probabilities():
    params = torch.tensor([1.0, -0.5, 0.2, 0.6, -1.5, -2.0], dtype=torch.float64)  # M = 2
    n = 40000
    probs = logistic_mixture_log_probs(params, 9).exp()
    direct = sample_logistic_mixture(params.expand(n, 6), 9, generator=torch.Generator().manual_seed(0))
    via_logits = sample_tokens(logistic_mixture_log_probs(params.expand(n, 6), 9).float(),
                               generator=torch.Generator().manual_seed(1))
    for draws in (direct, via_logits):
        freq = torch.bincount(draws, minlength=9).double() / n
        assert (freq - probs).abs().max() < 0.01


def test_head_shapes_and_gradients():
    head = LogisticMixtureHead(8, 5)
    params = head(torch.randn(2, 3, 8))
    assert params.shape == (2, 3, 15)
    logistic_mixture_nll(params, torch.zeros(2, 3, dtype=torch.long), 17).backward()
    assert head.proj.weight.grad is not None


def test_bad_input_is_rejected():
    params = random_params((2,), 2)
    with pytest.raises(ValueError, match="vocab_size"):
        logistic_mixture_log_probs(params, 1)
    with pytest.raises(TypeError, match="vocab_size"):
        logistic_mixture_log_probs(params, 4.0)
    with pytest.raises(ValueError, match="3M"):
        logistic_mixture_log_probs(torch.zeros(2, 5), 4)
    with pytest.raises(TypeError, match="floating"):
        logistic_mixture_log_probs(torch.zeros(2, 6, dtype=torch.long), 4)
    with pytest.raises(ValueError, match=r"\[0, 4\)"):
        logistic_mixture_nll(torch.zeros(2, 6), torch.tensor([0, 4]), 4)
    with pytest.raises(TypeError, match="int64"):
        logistic_mixture_nll(torch.zeros(2, 6), torch.tensor([0.0, 1.0]), 4)
    with pytest.raises(ValueError, match="shape"):
        logistic_mixture_nll(torch.zeros(2, 6), torch.tensor([0, 1, 2]), 4)
    with pytest.raises(ValueError, match="reduction"):
        logistic_mixture_nll(torch.zeros(2, 6), torch.tensor([0, 1]), 4, reduction="avg")
    with pytest.raises(ValueError, match="n_components"):
        LogisticMixtureHead(4, 0)
    with pytest.raises(TypeError, match="in_features"):
        LogisticMixtureHead(4.0, 2)
