"""Turning a model's next-token distribution into text: logits processors and `generate`.

Generation is ancestral sampling from the chain rule: draw x_1 ~ p(x_1), then
x_2 ~ p(x_2 | x_1), and so on, feeding each output back as the next input. How each token is
chosen is a separate decision: a list of logits processors, each a callable (B, V) -> (B, V)
applied in order (temperature, top-k, top-p, ...), then greedy argmax or a categorical draw.

Every sequence model of the course plugs in through one protocol:
    model(idx)                 -> logits (B, T, V)        the whole sequence, teacher forced
    model.start(prompt)        -> (logits (B, V), state)  optional fast path: read the prompt,
    model.step(tokens, state)  -> (logits (B, V), state)  then one token at a time (RNN state,
                                                         conv queues, KV cache)
    model.context_len          optional: the longest input the model accepts
Models without `start`/`step`, or calls with use_cache=False, recompute the whole prefix
at every step; both paths give the same tokens.
"""
from __future__ import annotations

from typing import Callable, Sequence

import torch

Processor = Callable[[torch.Tensor], torch.Tensor]


class Temperature:
    """Divide logits by tau: p_tau ∝ p ** (1 / tau). tau -> 0 is greedy, tau = 1 the model,
    tau > 1 flatter."""

    def __init__(self, temperature: float):
        if isinstance(temperature, bool) or not isinstance(temperature, (int, float)) or not temperature > 0:
            raise ValueError(f"Temperature needs temperature > 0, got temperature={temperature!r}")
        self.temperature = float(temperature)

    def __call__(self, logits: torch.Tensor) -> torch.Tensor:  # (B, V) -> (B, V)
        return logits / self.temperature


class TopK:
    """Keep the k largest logits in each row; drop the rest (ties with the k-th are kept)."""

    def __init__(self, k: int):
        if isinstance(k, bool) or not isinstance(k, int) or k < 1:
            raise ValueError(f"TopK needs an integer k >= 1, got k={k!r}")
        self.k = k

    def __call__(self, logits: torch.Tensor) -> torch.Tensor:  # (B, V) -> (B, V)
        k = min(self.k, logits.size(-1))
        kth = logits.topk(k, dim=-1).values[..., -1:]  # (B, 1)
        return logits.masked_fill(logits < kth, float("-inf"))


class TopP:
    """Nucleus sampling: keep the smallest set of most probable tokens whose mass is >= p
    (always at least one token)."""

    def __init__(self, p: float):
        if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0 < p <= 1:
            raise ValueError(f"TopP needs 0 < p <= 1, got p={p!r}")
        self.p = float(p)

    def __call__(self, logits: torch.Tensor) -> torch.Tensor:  # (B, V) -> (B, V)
        sorted_logits, order = logits.sort(dim=-1, descending=True)
        probs = sorted_logits.softmax(dim=-1)
        mass_before = probs.cumsum(dim=-1) - probs  # mass of the more probable tokens
        drop_sorted = mass_before >= self.p  # the set is complete before this token
        drop_sorted[..., 0] = False
        drop = torch.zeros_like(drop_sorted).scatter(-1, order, drop_sorted)
        return logits.masked_fill(drop, float("-inf"))


def apply_processors(logits: torch.Tensor, processors: Sequence[Processor]) -> torch.Tensor:
    """Apply each processor in order to (B, V) logits; the input is left untouched."""
    for proc in processors:
        logits = proc(logits)
    return logits


def sample_tokens(logits: torch.Tensor, *, greedy: bool = False, generator: torch.Generator | None = None
                  ) -> torch.Tensor:
    """One token per row: the argmax when greedy, else a draw from softmax(logits).

    Args:
        logits: (B, V).
        generator: a seeded torch.Generator on logits.device, for repeatable draws.
    Returns:
        (B,) int64 token ids.
    """
    if logits.ndim != 2:
        raise ValueError(f"logits must have shape (B, V), got {tuple(logits.shape)}")
    if greedy:
        return logits.argmax(dim=-1)
    probs = logits.float().softmax(dim=-1)
    return torch.multinomial(probs, 1, generator=generator).squeeze(-1)  # (B,)


def _full_next_logits(model: torch.nn.Module, idx: torch.Tensor) -> torch.Tensor:
    context_len = getattr(model, "context_len", None)
    window = idx if context_len is None else idx[:, -context_len:]
    return model(window)[:, -1, :]  # (B, V)


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
) -> torch.Tensor:
    """Continue `prompt` by up to `max_new_tokens` tokens drawn from `model`.

    Args:
        model: a sequence model (see the module docstring); run in eval mode.
        prompt: (B, T) or (T,) int64 token ids, T >= 1 (e.g. the boundary token alone).
        processors: logits processors applied in order before each choice.
        greedy: take the most probable token instead of sampling.
        generator: seeded torch.Generator on the model's device, for repeatable samples.
        eos_id: stop a row once it emits this token; finished rows are padded with it and
            generation ends when every row has finished.
        use_cache: use the model's incremental `start`/`step` when it has one.
    Returns:
        (B, T + n) (or (T + n,) for a 1-D prompt): the prompt followed by the new tokens.
    """
    if isinstance(max_new_tokens, bool) or not isinstance(max_new_tokens, int) or max_new_tokens < 0:
        raise ValueError(f"max_new_tokens must be an int >= 0, got max_new_tokens={max_new_tokens!r}")
    param = next(model.parameters(), None)
    device = param.device if param is not None else torch.device("cpu")
    idx = torch.as_tensor(prompt, dtype=torch.long, device=device)
    squeeze = idx.ndim == 1
    if squeeze:
        idx = idx[None]
    if idx.ndim != 2 or idx.shape[1] < 1:
        raise ValueError(f"prompt must have shape (B, T) or (T,) with T >= 1, got {tuple(idx.shape)}")

    was_training = model.training
    model.eval()
    cached = use_cache and hasattr(model, "start") and hasattr(model, "step")
    finished = torch.zeros(idx.shape[0], dtype=torch.bool, device=device)
    new_tokens = []
    if max_new_tokens > 0:
        logits, state = model.start(idx) if cached else (_full_next_logits(model, idx), None)
    for i in range(max_new_tokens):
        token = sample_tokens(apply_processors(logits, processors), greedy=greedy, generator=generator)
        if eos_id is not None:
            token = token.masked_fill(finished, eos_id)
            finished |= token == eos_id
        new_tokens.append(token)
        if (eos_id is not None and bool(finished.all())) or i == max_new_tokens - 1:
            break
        if cached:
            logits, state = model.step(token, state)
        else:
            logits = _full_next_logits(model, torch.cat([idx, torch.stack(new_tokens, dim=1)], dim=1))
    model.train(was_training)
    out = torch.cat([idx, *(t[:, None] for t in new_tokens)], dim=1)
    return out[0] if squeeze else out
