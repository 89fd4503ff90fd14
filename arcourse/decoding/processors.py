"""Logits processors: how the next token is chosen from a model's (B, V) logits.

A list of processors, each a callable (B, V) -> (B, V) applied in order (temperature, top-k,
top-p, min-p, repetition penalty), then greedy argmax or a categorical draw
(`sample_tokens`) with a `torch.Generator`.

Processor contract: `proc(logits)` takes (B, V) floating logits and returns a new (B, V)
tensor, never editing its input; a dropped token gets -inf. Arguments are validated in
`__init__`. A processor that needs the tokens chosen so far (the repetition penalty) sets the
class attribute `uses_history = True` and is called as `proc(logits, history)` with history
(B, T) int64 ids: the prompt followed by the tokens generated so far. `apply_processors`
passes the history to exactly those processors; plain functions work as processors too.
"""
from __future__ import annotations

import math
from typing import Callable, Sequence

import torch

from arcourse._checks import check_ids, check_int, check_number

Processor = Callable[..., torch.Tensor]


def _accurate_dtype(x: torch.Tensor) -> torch.dtype:
    """float64 for sums that must be exact near a threshold; float32 on MPS, which has no float64."""
    return torch.float32 if x.device.type == "mps" else torch.float64


def _check_logits(logits: torch.Tensor, who: str) -> None:
    if not isinstance(logits, torch.Tensor) or not logits.is_floating_point():
        raise TypeError(f"{who} needs a floating-point tensor of logits, got {type(logits).__name__}"
                        + (f" of dtype {logits.dtype}" if isinstance(logits, torch.Tensor) else ""))
    if logits.ndim != 2 or logits.shape[-1] < 1:
        raise ValueError(f"{who} needs logits of shape (B, V) with V >= 1, got shape {tuple(logits.shape)}")


class Temperature:
    """Divide logits by tau: p_tau ∝ p ** (1 / tau). tau -> 0 is greedy, tau = 1 the model,
    tau > 1 flatter."""

    def __init__(self, temperature: float):
        self.temperature = check_number("temperature", temperature, 0, low_open=True, who="Temperature")

    def __call__(self, logits: torch.Tensor) -> torch.Tensor:  # (B, V) -> (B, V)
        _check_logits(logits, "Temperature")
        return logits / self.temperature

    def __repr__(self) -> str:
        return f"Temperature({self.temperature:g})"


class TopK:
    """Keep exactly k tokens per row, the k largest logits; drop the rest.

    Ties: when several tokens tie with the k-th largest logit, the ones with the lowest ids
    are kept, so exactly min(k, V) tokens survive, always. (Hugging Face's TopKLogitsWarper
    keeps every token tied with the k-th instead, which can keep more than k.) Tokens that
    were already -inf stay -inf, so fewer than k can have nonzero probability.
    """

    def __init__(self, k: int):
        self.k = check_int("k", k, 1, who="TopK")

    def __call__(self, logits: torch.Tensor) -> torch.Tensor:  # (B, V) -> (B, V)
        _check_logits(logits, "TopK")
        k = self.k
        if k >= logits.shape[-1]:  # every token is among the k largest: nothing to drop
            return logits.clone()  # a new tensor, as from every processor
        order = logits.argsort(dim=-1, descending=True, stable=True)  # ties: lower id first
        keep = torch.zeros_like(logits, dtype=torch.bool).scatter(-1, order[:, :k], True)
        return logits.masked_fill(~keep, float("-inf"))

    def __repr__(self) -> str:
        return f"TopK({self.k})"


class TopP:
    """Nucleus sampling (Holtzman et al., 2020): keep the smallest set of most probable tokens
    whose probability mass is >= p; always at least one token.

    Token i (in order of decreasing probability, ties by lower id) is kept exactly when the
    mass of the tokens before it is < p. p = 1 keeps every token.
    """

    def __init__(self, p: float):
        self.p = check_number("p", p, 0, 1, low_open=True, who="TopP")

    def __call__(self, logits: torch.Tensor) -> torch.Tensor:  # (B, V) -> (B, V)
        _check_logits(logits, "TopP")
        if self.p == 1.0:  # everything; cumulative sums that round to 1 must not drop the tail
            return logits.clone()
        sorted_logits, order = logits.sort(dim=-1, descending=True, stable=True)
        probs = sorted_logits.to(_accurate_dtype(logits)).softmax(dim=-1)  # sums accurate near p
        mass_before = torch.nn.functional.pad(probs.cumsum(dim=-1)[:, :-1], (1, 0))  # (B, V)
        drop_sorted = mass_before >= self.p  # the set is complete before this token
        drop = torch.zeros_like(drop_sorted).scatter(-1, order, drop_sorted)
        return logits.masked_fill(drop, float("-inf"))

    def __repr__(self) -> str:
        return f"TopP({self.p:g})"


class MinP:
    """Min-p sampling (Nguyen et al., 2024): keep the tokens whose probability is at least
    p times that of the most probable token; the cut scales with the model's confidence.

    Computed on logits, log p_i >= log p_max + log p, so it is exact for huge logits too.
    p = 1 keeps only the most probable token(s).
    """

    def __init__(self, p: float):
        self.p = check_number("p", p, 0, 1, low_open=True, who="MinP")

    def __call__(self, logits: torch.Tensor) -> torch.Tensor:  # (B, V) -> (B, V)
        _check_logits(logits, "MinP")
        threshold = logits.max(dim=-1, keepdim=True).values + math.log(self.p)  # (B, 1)
        return logits.masked_fill(logits < threshold, float("-inf"))

    def __repr__(self) -> str:
        return f"MinP({self.p:g})"


class RepetitionPenalty:
    """Make tokens that already occur in the sequence less likely (Keskar et al., 2019, CTRL).

    A seen token's logit is divided by `penalty` when positive and multiplied by it when
    negative, so penalty > 1 always lowers it; penalty = 1 changes nothing, penalty < 1
    encourages repetition. Needs the history: called as `proc(logits, history)`.
    """

    uses_history = True

    def __init__(self, penalty: float):
        self.penalty = check_number("penalty", penalty, 0, low_open=True, who="RepetitionPenalty")

    def __call__(self, logits: torch.Tensor, history: torch.Tensor) -> torch.Tensor:  # (B, V), (B, T)
        _check_logits(logits, "RepetitionPenalty")
        check_ids("history", history, logits.shape[-1], ndim=2)
        if history.shape[0] != logits.shape[0]:
            raise ValueError(f"RepetitionPenalty needs history (B, T) with B={logits.shape[0]}, "
                             f"got shape {tuple(history.shape)}")
        seen = torch.zeros_like(logits, dtype=torch.bool).scatter(-1, history, True)  # (B, V)
        penalised = torch.where(logits > 0, logits / self.penalty, logits * self.penalty)
        return torch.where(seen, penalised, logits)

    def __repr__(self) -> str:
        return f"RepetitionPenalty({self.penalty:g})"


def apply_processors(logits: torch.Tensor, processors: Sequence[Processor],
                     history: torch.Tensor | None = None) -> torch.Tensor:
    """Apply each processor in order to (B, V) logits; the input is left untouched.

    Args:
        logits: (B, V).
        processors: callables (B, V) -> (B, V); those with `uses_history = True` are called
            as proc(logits, history).
        history: (B, T) int64, the tokens so far; needed only by history processors.
    Returns:
        (B, V) processed logits.
    """
    _check_logits(logits, "apply_processors")
    for proc in processors:
        if not callable(proc):
            raise TypeError(f"processors must be callables (B, V) -> (B, V), got {proc!r}")
        if getattr(proc, "uses_history", False):
            if history is None:
                raise ValueError(f"{proc!r} needs the tokens so far: pass history=(B, T) ids to apply_processors")
            logits = proc(logits, history)
        else:
            logits = proc(logits)
    return logits


def sample_tokens(logits: torch.Tensor, *, greedy: bool = False, generator: torch.Generator | None = None
                  ) -> torch.Tensor:
    """One token per row: the argmax when greedy (ties: lowest id), else a draw from softmax(logits).

    Args:
        logits: (B, V); every row needs at least one finite logit.
        generator: a seeded torch.Generator on logits.device, for repeatable draws.
    Returns:
        (B,) int64 token ids.
    """
    _check_logits(logits, "sample_tokens")
    if greedy:
        return logits.argmax(dim=-1)
    if generator is not None and generator.device.type != logits.device.type:
        raise ValueError(f"generator is on {generator.device} but logits are on {logits.device}; "
                         "make it with make_generator(seed, device)")
    probs = logits.float().softmax(dim=-1)
    if not bool(torch.isfinite(probs).all()):
        raise ValueError("sample_tokens got a row with no finite logit (every token dropped, or NaN)")
    return torch.multinomial(probs, 1, generator=generator).squeeze(-1)  # (B,)


def check_processors(processors: Sequence[Processor]) -> None:
    """TypeError unless every entry is callable (checked before a model runs)."""
    for proc in processors:
        if not callable(proc):
            raise TypeError(f"processors must be callables (B, V) -> (B, V), got {proc!r}")


def processors_for(temperature: float, top_k: int, top_p: float) -> list[Processor]:
    """The usual three knobs as a processor list: Temperature, then TopK (top_k = 0: off),
    then TopP (top_p = 1: off). The decoding panel's sliders map through it."""
    procs: list[Processor] = [Temperature(temperature)]
    if top_k != 0:
        procs.append(TopK(top_k))
    if top_p != 1.0:
        procs.append(TopP(top_p))
    return procs
