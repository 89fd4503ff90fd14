"""Small sequence models for the decoding and widget tests (random weights, seeded)."""
from __future__ import annotations

import pytest
import torch
from torch import nn


class TinyLM(nn.Module):
    """A GRU language model that speaks the whole `arcourse.decoding` protocol.

    Its logits depend on every earlier token, so a search that loses track of a beam's
    history gives wrong answers. `sharpness` scales the logits: large values make the
    distributions peaked, so greedy and beam search disagree more often.
    """

    def __init__(self, vocab_size: int = 5, hidden: int = 8, seed: int = 0, sharpness: float = 2.0,
                 context_len: int | None = None):
        super().__init__()
        gen = torch.Generator().manual_seed(seed)
        self.embed = nn.Embedding(vocab_size, hidden)
        self.gru = nn.GRU(hidden, hidden, batch_first=True)
        self.head = nn.Linear(hidden, vocab_size)
        with torch.no_grad():
            for p in self.parameters():
                p.copy_(torch.randn(p.shape, generator=gen) * sharpness)
        if context_len is not None:
            self.context_len = context_len

    def forward(self, idx: torch.Tensor) -> torch.Tensor:  # (B, T) -> (B, T, V)
        out, _ = self.gru(self.embed(idx))
        return self.head(out)

    def start(self, prompt: torch.Tensor):
        out, h = self.gru(self.embed(prompt))
        return self.head(out[:, -1]), h

    def step(self, tokens: torch.Tensor, h: torch.Tensor):
        out, h = self.gru(self.embed(tokens[:, None]), h)
        return self.head(out[:, -1]), h


class FullOnly(nn.Module):
    """The same model without the start/step fast path (full recompute only)."""

    def __init__(self, inner: TinyLM):
        super().__init__()
        self.inner = inner

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        return self.inner(idx)


@pytest.fixture(scope="module")
def lm():
    """The shared model of the generate and search tests."""
    return TinyLM(vocab_size=6, hidden=12, seed=3, sharpness=1.0)
