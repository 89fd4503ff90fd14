"""Speculative decoding: a cheap draft model proposes, the target verifies, and the tokens
come out exactly as the target alone would sample them.

Leviathan, Kalman and Matias (2023) and Chen et al. (2023): draw k tokens x_1..x_k from the
draft q; one parallel forward pass of the target p over all of them gives
p(. | prefix), p(. | prefix, x_1), ..., p(. | prefix, x_1..x_k). Accept x_i with probability
min(1, p(x_i) / q(x_i)); at the first rejection emit a draw from the residual
r = max(0, p - q) / sum(max(0, p - q)) instead and stop; if all k pass, emit a bonus draw
from the last p. Each emitted token then has probability
    q(y) min(1, p(y)/q(y)) + (1 - sum_x min(p(x), q(x))) r(y) = min(p, q)(y) + max(0, p - q)(y) = p(y),
so the output distribution is unchanged, while one target call yields 1 to k + 1 tokens;
the acceptance probability per token is sum_x min(p(x), q(x)) = 1 - TV(p, q).

Models follow the sequence protocol of `arcourse.decoding`: `model(idx)` -> (B, T, V),
optional `start`/`step` (used for the draft) and `context_len`. A target with
`extend(tokens, state)` -> (logits (B, T, V), state) whose state has `.length` and
`.crop(length)` (the GPT's KV cache) is verified incrementally: each round reads only the
tokens it has not read before, and the cache is cropped back after a rejection.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import torch

from arcourse._checks import as_prompt, check_int, eval_mode, model_device
from arcourse.decoding._stepper import Stepper
from arcourse.decoding.processors import Processor, apply_processors


def acceptance_probability(p: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
    """min(1, p / q) per token: the chance a token drafted from q is kept (1 where q = 0,
    a token the draft never proposes).

    Args:
        p, q: (..., V) target and draft probabilities.
    Returns:
        (..., V).
    """
    ratio = p / q.clamp(min=torch.finfo(q.dtype).tiny)
    return torch.where(q > 0, ratio.clamp(max=1.0), torch.ones_like(p))


def residual_distribution(p: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
    """max(0, p - q), normalised: where to resample after a rejection. Rejections happen
    only when that mass is positive; where it is zero (p == q) the row is p itself.

    Args:
        p, q: (..., V) target and draft probabilities.
    Returns:
        (..., V), rows summing to 1.
    """
    if p.shape != q.shape:
        raise ValueError(f"p and q must have the same shape, got {tuple(p.shape)} and {tuple(q.shape)}")
    excess = (p - q).clamp(min=0)
    total = excess.sum(dim=-1, keepdim=True)
    return torch.where(total > 0, excess / total.clamp(min=torch.finfo(p.dtype).tiny), p)


def verify_draft(p: torch.Tensor, q: torch.Tensor, draft: torch.Tensor, *,
                 generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """The accept/reject step for B independent rows of k drafted tokens each.

    Args:
        p: (B, k + 1, V) target probabilities at each drafted position and one after.
        q: (B, k, V) draft probabilities the tokens were drawn from.
        draft: (B, k) the drafted tokens (k may be 0: then this is a plain draw from p).
        generator: seeded torch.Generator on p.device.
    Returns:
        n_accepted (B,): how many leading drafted tokens are kept, 0..k;
        next_token (B,): the token emitted after them (residual draw, or bonus from p).
    """
    B, k, V = q.shape
    if p.shape != (B, k + 1, V) or draft.shape != (B, k):
        raise ValueError(f"verify_draft needs p (B, k + 1, V), q (B, k, V), draft (B, k); got p {tuple(p.shape)}, "
                         f"q {tuple(q.shape)}, draft {tuple(draft.shape)}")
    p_drafted = p[:, :k].gather(-1, draft[..., None])[..., 0]  # (B, k)
    q_drafted = q.gather(-1, draft[..., None])[..., 0]  # (B, k)
    u = torch.rand(B, k, generator=generator, device=p.device, dtype=p.dtype)
    accepted = u * q_drafted < p_drafted  # probability min(1, p / q), no division
    n_accepted = accepted.long().cumprod(dim=-1).sum(dim=-1)  # (B,) leading run of acceptances
    rows = torch.arange(B, device=p.device)
    q_padded = torch.cat([q, q.new_zeros(B, 1, V)], dim=1)  # q = 0 after the draft: residual = p (bonus)
    next_probs = residual_distribution(p[rows, n_accepted], q_padded[rows, n_accepted])  # (B, V)
    next_token = torch.multinomial(next_probs, 1, generator=generator)[:, 0]  # (B,)
    return n_accepted, next_token


@dataclass
class SpeculativeStats:
    """What a speculative run cost: drafted and accepted tokens, calls to each model."""

    new_tokens: int = 0
    drafted: int = 0
    accepted: int = 0
    target_calls: int = 0
    draft_calls: int = 0

    @property
    def acceptance_rate(self) -> float:
        """Accepted / drafted tokens."""
        return self.accepted / self.drafted if self.drafted else math.nan

    @property
    def tokens_per_target_call(self) -> float:
        """New tokens per target forward pass (plain sampling: exactly 1)."""
        return self.new_tokens / self.target_calls if self.target_calls else math.nan


def _draft_tokens(draft: torch.nn.Module, seq: torch.Tensor, k: int, processors: Sequence[Processor],
                  generator: torch.Generator | None, use_cache: bool) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """k tokens sampled from the draft after seq (1, T), with the distributions they came from."""
    stepper = Stepper(draft, use_cache=use_cache)
    tokens: list[torch.Tensor] = []  # k of (1,)
    probs: list[torch.Tensor] = []  # k of (1, V)
    for i in range(k):
        logits = stepper.start(seq) if i == 0 else stepper.push(tokens[-1])
        q = apply_processors(logits, processors).float().softmax(dim=-1)  # (1, V)
        tokens.append(torch.multinomial(q, 1, generator=generator)[:, 0])
        probs.append(q)
    return tokens, probs


@torch.no_grad()
def speculative_generate(
    target: torch.nn.Module,
    draft: torch.nn.Module,
    prompt: torch.Tensor | Sequence[int],
    max_new_tokens: int,
    *,
    k: int = 4,
    processors: Sequence[Processor] = (),
    generator: torch.Generator | None = None,
    eos_id: int | None = None,
    use_cache: bool = True,
) -> tuple[torch.Tensor, SpeculativeStats]:
    """Sample from `target` (after `processors`) with `draft` proposing k tokens at a time.

    One sequence at a time (batch size 1): rows of a batch would accept different numbers
    of tokens and drift apart. The target runs one forward pass per round over the drafted
    tokens (a verification pass). With `use_cache`, the draft uses its `start`/`step` fast
    path when it has one, and a target with `extend` reads only the new tokens after its KV
    cache (cropped back to the accepted prefix after each round) while the sequence fits
    its context; otherwise, and beyond that, the pass re-reads the whole window. The tokens are distributed exactly as
    `generate(target, prompt, max_new_tokens, processors=processors)` as long as the sequence
    fits in `target.context_len` (beyond it, earlier positions of a verification pass see a
    window that ends at the last drafted token, up to k tokens shorter).

    Args:
        target, draft: sequence models with the same vocabulary.
        prompt: (1, T) or (T,) int64 token ids, T >= 1.
        max_new_tokens: int >= 0.
        k: tokens drafted per round, >= 1 (fewer in the last round, so none is wasted).
        processors: logits processors applied to both models' logits.
        generator: a seeded torch.Generator on the models' device.
        eos_id: stop after emitting this token.
        use_cache: the incremental paths above (same tokens for the same seed, up to float
            rounding in the logits).
    Returns:
        tokens: (1, T + n) or (T + n,) like the prompt: the prompt followed by new tokens;
        stats: a SpeculativeStats (acceptance rate, target calls, ...).
    """
    check_int("max_new_tokens", max_new_tokens, 0)
    check_int("k", k, 1, who="speculative_generate")
    context_len = getattr(target, "context_len", None)
    if context_len is not None and context_len < k + 1:
        raise ValueError(f"k={k} needs a target context_len >= k + 1 = {k + 1} for the verification pass, "
                         f"got context_len={context_len}")
    seq, squeeze = as_prompt(prompt, model_device(target), batch=1)
    with eval_mode(target, draft):
        return _speculative_loop(target, draft, seq, squeeze, max_new_tokens, k, processors, generator, eos_id,
                                 use_cache, context_len)


def _speculative_loop(target, draft, seq, squeeze, max_new_tokens, k, processors, generator, eos_id, use_cache,
                      context_len) -> tuple[torch.Tensor, SpeculativeStats]:
    """The rounds of `speculative_generate`, with both models already in eval mode."""
    stats = SpeculativeStats()
    cached_target = use_cache and hasattr(target, "extend")
    cache = None  # the target's state after the tokens it has read (all of seq but the newest)
    if max_new_tokens > 0:  # one-token probes: a draft token the target cannot read would fail obscurely
        vocab = (target(seq[:, -1:]).shape[-1], draft(seq[:, -1:]).shape[-1])
        if vocab[0] != vocab[1]:
            raise ValueError(f"target and draft must share a vocabulary, got V={vocab[0]} and V={vocab[1]}")
    while stats.new_tokens < max_new_tokens:
        k_now = min(k, max_new_tokens - stats.new_tokens - 1)  # the round's last token is always the target's
        tokens, probs = _draft_tokens(draft, seq, k_now, processors, generator, use_cache)
        drafted = torch.stack(tokens, dim=1) if tokens else seq.new_zeros(1, 0)  # (1, k_now)
        window = torch.cat([seq, drafted], dim=1)
        cached_target = cached_target and (context_len is None or window.shape[1] <= context_len)
        if cached_target:
            logits, cache = target.extend(window[:, 0 if cache is None else cache.length:], cache)
            logits = logits[0, -(k_now + 1):]  # (k_now + 1, V)
        else:
            window = window if context_len is None else window[:, -context_len:]
            logits = target(window)[0, -(k_now + 1):]  # (k_now + 1, V)
        p = apply_processors(logits, processors).float().softmax(dim=-1)[None]  # (1, k_now + 1, V)
        q = torch.stack(probs, dim=1) if probs else p.new_zeros(1, 0, p.shape[-1])  # (1, k_now, V)
        n_accepted, next_token = verify_draft(p, q, drafted, generator=generator)
        new = torch.cat([drafted[:, : int(n_accepted)], next_token[:, None]], dim=1)  # (1, n + 1)
        if cached_target:  # forget the rejected drafts; the new token is read next round
            cache = cache.crop(seq.shape[1] + int(n_accepted))
        stats.drafted += k_now
        stats.accepted += int(n_accepted)
        stats.target_calls += 1
        stats.draft_calls += k_now
        stop = eos_id is not None and bool((new == eos_id).any())
        if stop:
            new = new[:, : int((new[0] == eos_id).nonzero()[0]) + 1]  # up to the first eos
        seq = torch.cat([seq, new], dim=1)
        stats.new_tokens += new.shape[1]
        if stop:
            break
    return (seq[0] if squeeze else seq), stats
