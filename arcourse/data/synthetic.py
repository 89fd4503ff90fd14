"""Synthetic sources whose entropy is known exactly.

A stationary Markov chain over K symbols has entropy rate
    H = -sum_i pi_i sum_j P_ij log P_ij,
with pi its stationary distribution. No model can beat H nats per symbol on long sequences;
the gap between a model's cross-entropy and H is the KL divergence from the source.
"""
from __future__ import annotations

import numpy as np
import torch

from arcourse.metrics import entropy


class MarkovChain:
    """A first-order Markov chain over K symbols with a known entropy rate.

    Args:
        transition: (K, K) row-stochastic matrix, P[i, j] = p(x_t = j | x_{t-1} = i).
    """

    def __init__(self, transition):
        P = np.asarray(transition, dtype=np.float64)
        if P.ndim != 2 or P.shape[0] != P.shape[1] or P.shape[0] < 2:
            raise ValueError(f"transition must be a square (K, K) matrix with K >= 2, got shape {P.shape}")
        entropy(P)  # validates: entries >= 0, every row sums to 1
        self.transition = P

    @classmethod
    def random(cls, n_states: int, concentration: float = 0.3, seed: int = 0) -> "MarkovChain":
        """A chain with Dirichlet(concentration) rows: small concentration, peaked rows,
        low entropy rate."""
        if n_states < 2:
            raise ValueError(f"n_states must be >= 2, got n_states={n_states}")
        if not concentration > 0:
            raise ValueError(f"concentration must be > 0, got concentration={concentration}")
        rng = np.random.default_rng(seed)
        return cls(rng.dirichlet(np.full(n_states, concentration), size=n_states))

    @property
    def n_states(self) -> int:
        return self.transition.shape[0]

    def stationary(self) -> np.ndarray:
        """pi with pi P = pi: the left eigenvector of P for eigenvalue 1, normalised."""
        values, vectors = np.linalg.eig(self.transition.T)
        pi = np.real(vectors[:, np.argmin(np.abs(values - 1))])
        return pi / pi.sum()

    def entropy_rate(self, unit: str = "nats") -> float:
        """H = sum_i pi_i H(P_i.): the best achievable NLL per symbol."""
        return float(self.stationary() @ entropy(self.transition, unit=unit))

    def sample(self, n_sequences: int, length: int, seed: int = 0) -> torch.Tensor:
        """Sequences started from the stationary distribution.

        Returns:
            (B, T) int64 tensor of states, B = n_sequences, T = length.
        """
        if n_sequences < 1 or length < 1:
            raise ValueError(f"n_sequences and length must be >= 1, got {n_sequences} and {length}")
        rng = np.random.default_rng(seed)
        cumulative = np.cumsum(self.transition, axis=1)
        states = np.empty((n_sequences, length), dtype=np.int64)
        states[:, 0] = rng.choice(self.n_states, size=n_sequences, p=self.stationary())
        for t in range(1, length):
            u = rng.random(n_sequences)[:, None]
            rows = cumulative[states[:, t - 1]]
            states[:, t] = np.minimum((u > rows).sum(axis=1), self.n_states - 1)
        return torch.from_numpy(states)
