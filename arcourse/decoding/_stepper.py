"""What every sampler of the decoding package shares: one model call per new token.

`Stepper` hides the two ways to get the next-token logits of a sequence model: its fast path
(`start(prompt)` once, then `step(token, state)`, returning the new state) or a full
recompute of the last `context_len` tokens. `generate` and speculative drafting both run on
it, so cache = recompute holds for both by construction.
"""
from __future__ import annotations

import torch

from arcourse._checks import check_int


def check_eos(eos_id, vocab_size: int) -> None:
    """None, or an id of the vocabulary."""
    if eos_id is not None:
        check_int("eos_id", eos_id, 0, vocab_size - 1)


def call_model(model: torch.nn.Module, idx: torch.Tensor, condition: torch.Tensor | None) -> torch.Tensor:
    """model(idx), passing `condition=` only when there is one (unconditioned models need
    not accept the keyword)."""
    return model(idx) if condition is None else model(idx, condition=condition)


def full_next_logits(model: torch.nn.Module, idx: torch.Tensor, condition: torch.Tensor | None = None
                     ) -> torch.Tensor:
    """Logits (B, V) for the token after idx (B, T), from one full pass over the last
    context_len tokens."""
    context_len = getattr(model, "context_len", None)
    window = idx if context_len is None else idx[:, -context_len:]
    logits = call_model(model, window, condition)
    if logits.ndim != 3 or logits.shape[:2] != window.shape:
        raise ValueError(f"model(idx) must return logits (B, T, V) for idx {tuple(window.shape)}, "
                         f"got {tuple(logits.shape)}")
    return logits[:, -1, :]  # (B, V)


class Stepper:
    """Next-token logits for a sequence that grows one token per row at a time.

    Args:
        model: a sequence model (see `arcourse.decoding`), already in eval mode.
        use_cache: use `start`/`step` when the model has them.
        condition: (B,) ids passed to `start`/`forward` of a conditioned model.
    """

    def __init__(self, model: torch.nn.Module, *, use_cache: bool = True, condition: torch.Tensor | None = None):
        self.model, self.condition = model, condition
        self.cached = use_cache and hasattr(model, "start") and hasattr(model, "step")
        self.state = None
        self.seq: torch.Tensor | None = None  # the sequence so far, kept for recomputing only

    def start(self, prompt: torch.Tensor) -> torch.Tensor:
        """Read the prompt (B, T); return the logits (B, V) of the token after it."""
        self.seq = prompt
        if self.cached:
            if self.condition is None:
                logits, self.state = self.model.start(prompt)
            else:
                logits, self.state = self.model.start(prompt, condition=self.condition)
            return logits
        return full_next_logits(self.model, prompt, self.condition)

    def push(self, token: torch.Tensor) -> torch.Tensor:
        """Append token (B,); return the logits (B, V) of the token after it."""
        if self.cached:  # the state holds what the model needs of the sequence
            logits, self.state = self.model.step(token, self.state)
            return logits
        self.seq = torch.cat([self.seq, token[:, None]], dim=1)  # (B, T + 1)
        return full_next_logits(self.model, self.seq, self.condition)
