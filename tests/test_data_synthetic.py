"""Markov chain source: its entropy rate is the floor of any model's cross-entropy."""
import numpy as np
import pytest
import torch

from arcourse.data import MarkovChain
from arcourse.metrics import entropy


def test_iid_chain_has_the_entropy_of_its_rows():
    row = np.array([0.5, 0.25, 0.25])
    chain = MarkovChain(np.tile(row, (3, 1)))
    np.testing.assert_allclose(chain.stationary(), row, atol=1e-12)
    assert chain.entropy_rate() == pytest.approx(entropy(row), abs=1e-12)


def test_deterministic_cycle_has_zero_entropy_rate():
    chain = MarkovChain(np.roll(np.eye(4), 1, axis=1))
    assert chain.entropy_rate() == pytest.approx(0.0, abs=1e-12)
    seq = chain.sample(3, 9, seed=0)
    assert torch.equal(seq[:, 1:], (seq[:, :-1] + 1) % 4)


def test_empirical_transition_frequencies_match():
    chain = MarkovChain.random(4, seed=1)
    seq = chain.sample(200, 200, seed=0).numpy()
    counts = np.zeros((4, 4))
    np.add.at(counts, (seq[:, :-1].ravel(), seq[:, 1:].ravel()), 1)
    empirical = counts / counts.sum(1, keepdims=True)
    np.testing.assert_allclose(empirical, chain.transition, atol=0.02)
    pi = np.bincount(seq.ravel(), minlength=4) / seq.size
    np.testing.assert_allclose(pi, chain.stationary(), atol=0.02)


def test_bad_chains_raise():
    with pytest.raises(ValueError, match="square"):
        MarkovChain(np.ones((2, 3)) / 3)
    with pytest.raises(ValueError, match="sum to 1"):
        MarkovChain([[0.5, 0.4], [0.5, 0.5]])
    with pytest.raises(ValueError, match="n_states"):
        MarkovChain.random(1)
    with pytest.raises(ValueError, match="length"):
        MarkovChain.random(3).sample(2, 0)
