"""The bigram language model: the next token depends only on the current one.

Shannon (1948) generated English from tables of letter-pair frequencies; with add-alpha
(Laplace, for alpha = 1) smoothing, p(b | a) = (N(a, b) + alpha) / (N(a) + alpha * V) is the
maximum-likelihood table after alpha imagined sightings of every pair, so no pair gets
probability zero. It is the baseline every neural language model of the course must beat.

The model is a (V, V) table of logits: `fit` sets it to the log of the smoothed counts in one
pass over the data, and the same table can also be trained by gradient descent, which
converges to the same answer (the counts are the maximum-likelihood solution).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

import torch
from torch import nn

from arcourse._checks import check_ids, check_int, check_number
from arcourse.metrics import IGNORE_INDEX


@dataclass(frozen=True)
class BigramConfig:
    """Args:
        vocab_size: number of token ids V.
        alpha: pseudo-count added to every pair by `fit` (alpha = 0: the raw maximum-likelihood
            table; a row never seen is then uniform, and unseen pairs get probability 0).
    """

    vocab_size: int
    alpha: float = 1.0

    def __post_init__(self):
        check_int("vocab_size", self.vocab_size, 2, who="BigramConfig")
        check_number("alpha", self.alpha, 0, who="BigramConfig")

    @classmethod
    def small(cls, **overrides) -> "BigramConfig":
        """The lectures' model: add-one (Laplace) smoothing. Give vocab_size (and any other
        field) as a keyword; a bigram table has no size to shrink, so there is no tiny()."""
        return cls(**{"alpha": 1.0, **overrides})


class BigramLM(nn.Module):
    """A (V, V) table of next-token logits: logits[b, t] = table[idx[b, t]].

    Args:
        config: a BigramConfig. The table starts at zero (the uniform distribution).
    """

    def __init__(self, config: BigramConfig):
        super().__init__()
        if not isinstance(config, BigramConfig):
            raise TypeError(f"BigramLM needs a BigramConfig, got {type(config).__name__}")
        self.config = config
        self.table = nn.Parameter(torch.zeros(config.vocab_size, config.vocab_size))

    @staticmethod
    def count(batches: Iterable[tuple[torch.Tensor, ...]], vocab_size: int) -> torch.Tensor:
        """N[a, b]: how often target b follows input a in (inputs, targets, ...) batches;
        padding targets (IGNORE_INDEX) are skipped. Returns (V, V) float64 counts."""
        counts = torch.zeros(vocab_size * vocab_size, dtype=torch.float64)
        for batch in batches:
            inputs, targets = batch[0].reshape(-1).cpu(), batch[1].reshape(-1).cpu()
            keep = targets != IGNORE_INDEX
            a, b = inputs[keep], targets[keep]
            if len(a) and (min(a.min(), b.min()) < 0 or max(a.max(), b.max()) >= vocab_size):
                raise ValueError(f"token ids must lie in [0, {vocab_size}), got values outside it")
            counts += torch.bincount(a * vocab_size + b, minlength=vocab_size * vocab_size).double()
        return counts.reshape(vocab_size, vocab_size)

    @torch.no_grad()
    def fit(self, batches: Iterable[tuple[torch.Tensor, ...]]) -> "BigramLM":
        """Set the table to log of the add-alpha smoothed counts of `batches`; returns self."""
        V, alpha = self.config.vocab_size, float(self.config.alpha)
        counts = self.count(batches, V) + alpha                      # (V, V)
        totals = counts.sum(dim=1, keepdim=True)                     # (V, 1)
        probs = torch.where(totals > 0, counts / totals.clamp(min=1e-300), torch.full_like(counts, 1.0 / V))
        self.table.copy_(probs.log().to(self.table.dtype))           # log 0 = -inf for unseen pairs
        return self

    def _check_ids(self, idx: torch.Tensor, what: str) -> None:
        check_ids(what, idx, self.config.vocab_size)

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        """Args: idx (B, T) int64. Returns: (B, T, V) logits (log-probabilities after `fit`)."""
        self._check_ids(idx, "idx")
        if idx.ndim != 2:
            raise ValueError(f"idx must have shape (B, T), got {tuple(idx.shape)}")
        return self.table[idx]                                       # (B, T, V)

    @torch.no_grad()
    def start(self, prompt: torch.Tensor) -> tuple[torch.Tensor, None]:
        """Next-token logits (B, V) after a (B, T) prompt; a bigram keeps no state."""
        return self(prompt)[:, -1], None

    @torch.no_grad()
    def step(self, tokens: torch.Tensor, state: None = None) -> tuple[torch.Tensor, None]:
        """Next-token logits (B, V) after the (B,) latest tokens."""
        self._check_ids(tokens, "tokens")
        return self.table[tokens], None
