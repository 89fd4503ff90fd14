"""Sampling whole sequences from a sequence model, one token at a time, and scoring them.

Generation is ancestral sampling from the chain rule: draw x_1 ~ p(x_1), then
x_2 ~ p(x_2 | x_1), and so on, feeding each output back as the next input. Models with
`start`/`step` read each new token in O(1) or O(T); the others recompute the prefix; both
paths give the same tokens (see the package docstring for the protocol).
"""
from __future__ import annotations

from typing import Sequence

import torch

from arcourse._checks import as_prompt, check_ids, check_int, eval_mode, model_device
from arcourse.decoding._stepper import Stepper, check_eos, full_next_logits
from arcourse.metrics.information import IGNORE_INDEX, log_likelihood
from arcourse.decoding.processors import Processor, apply_processors, check_processors, sample_tokens


@torch.no_grad()
def generate(
    model: torch.nn.Module,
    prompt: torch.Tensor | Sequence[int],
    max_new_tokens: int,
    *,
    processors: Sequence[Processor] = (),
    greedy: bool = False,
    generator: torch.Generator | None = None,
    eos_id: int | None = None,
    use_cache: bool = True,
    condition: torch.Tensor | None = None,
) -> torch.Tensor:
    """Continue `prompt` by up to `max_new_tokens` tokens drawn from `model`.

    Batched: each row of a (B, T) prompt is continued independently (draw several samples
    of one prompt with `prompt.expand(n, -1)`); all rows share `generator`, so the same seed
    gives the same batch.

    Args:
        model: a sequence model (see the package docstring); run in eval mode.
        prompt: (B, T) or (T,) int64 token ids, T >= 1 (e.g. the boundary token alone).
        processors: logits processors applied in order before each choice; history
            processors see the prompt plus the tokens generated so far.
        greedy: take the most probable token (after the processors) instead of sampling.
        generator: seeded torch.Generator on the model's device, for repeatable samples.
        eos_id: stop a row once it emits this token; finished rows are padded with it and
            generation ends when every row has finished.
        use_cache: use the model's incremental `start`/`step` when it has one.
        condition: (B,) ids of a global condition (an instrument, a class), passed to
            `model.start`/`model(...)` as `condition=`; None for unconditioned models.
    Returns:
        (B, T + n) (or (T + n,) for a 1-D prompt): the prompt followed by the new tokens,
        n <= max_new_tokens.
    """
    check_int("max_new_tokens", max_new_tokens, 0)
    check_processors(processors)
    device = model_device(model)
    idx, squeeze = as_prompt(prompt, device)
    if condition is not None:
        condition = condition.to(device)
    finished = torch.zeros(idx.shape[0], dtype=torch.bool, device=device)
    stepper = Stepper(model, use_cache=use_cache, condition=condition)
    seq = idx
    # inference mode: no autograd bookkeeping on any op, a real part of a small model's step
    with eval_mode(model), torch.inference_mode():
        if max_new_tokens > 0:
            logits = stepper.start(idx)
            check_eos(eos_id, logits.shape[-1])
        for i in range(max_new_tokens):
            processed = apply_processors(logits, processors, history=seq)
            token = sample_tokens(processed, greedy=greedy, generator=generator)  # (B,)
            if eos_id is not None:
                token = token.masked_fill(finished, eos_id)
                finished |= token == eos_id
            seq = torch.cat([seq, token[:, None]], dim=1)  # (B, T + i + 1)
            if (eos_id is not None and bool(finished.all())) or i == max_new_tokens - 1:
                break
            logits = stepper.push(token)
    if seq.is_inference():  # an ordinary tensor for the caller, who may write to it
        seq = seq.clone()
    return seq[0] if squeeze else seq


@torch.no_grad()
def next_token_logits(model: torch.nn.Module, prompt: torch.Tensor | Sequence[int]) -> torch.Tensor:
    """The model's logits for the token that follows `prompt`, in eval mode.

    Args:
        prompt: (B, T) or (T,) int64 ids.
    Returns:
        (B, V), or (V,) for a 1-D prompt.
    """
    idx, squeeze = as_prompt(prompt, model_device(model))
    with eval_mode(model):
        logits = full_next_logits(model, idx)
    return logits[0] if squeeze else logits


def _lengths_to_eos(new_tokens: torch.Tensor, eos_id: int | None) -> torch.Tensor:
    """Tokens up to and including the first eos in each row (all of them without one): (B,)."""
    n = new_tokens.shape[1]
    if eos_id is None:
        return torch.full((new_tokens.shape[0],), n, dtype=torch.long, device=new_tokens.device)
    is_eos = new_tokens == eos_id
    first = torch.where(is_eos.any(dim=1), is_eos.long().argmax(dim=1) + 1, n)
    return first.long()


@torch.no_grad()
def sequence_log_probs(model: torch.nn.Module, tokens: torch.Tensor, prompt_len: int, *,
                       eos_id: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """The log-probability the model gives each continuation of its prompt.

    Args:
        tokens: (B, T) int64, prompts of length prompt_len followed by continuations (e.g.
            what `generate` returned).
        prompt_len: the length of the prompt, >= 1; tokens[:, prompt_len:] are scored.
        eos_id: when given, a continuation ends at its first eos (counted); what follows
            is padding and not scored.
    Returns:
        (log_prob (B,) in nats, length (B,) the number of scored tokens).
    """
    check_ids("tokens", tokens, ndim=2)
    check_int("prompt_len", prompt_len, 1, tokens.shape[1])
    if prompt_len == tokens.shape[1]:
        zero = torch.zeros(tokens.shape[0], device=tokens.device)
        return zero, zero.long()
    context_len = getattr(model, "context_len", None)
    if context_len is not None and tokens.shape[1] - 1 > context_len:
        raise ValueError(f"sequences of {tokens.shape[1]} tokens do not fit the model's context_len={context_len}")
    length = _lengths_to_eos(tokens[:, prompt_len:], eos_id)  # (B,)
    counted = torch.arange(tokens.shape[1] - prompt_len, device=tokens.device) < length[:, None]  # (B, n)
    targets = tokens[:, 1:].clone()  # (B, T - 1): position t predicts token t + 1
    targets[:, :prompt_len - 1] = IGNORE_INDEX  # the prompt is given, not scored
    targets[:, prompt_len - 1:] = targets[:, prompt_len - 1:].masked_fill(~counted, IGNORE_INDEX)
    with eval_mode(model):
        vocab_size = full_next_logits(model, tokens[:1, :1]).shape[-1]
        check_eos(eos_id, vocab_size)
        log_prob = log_likelihood(model, tokens[:, :-1], targets)  # (B,)
    return log_prob, length
