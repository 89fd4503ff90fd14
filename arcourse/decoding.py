"""Turning a model's next-token distribution into text: logits processors, sampling, beam search.

Generation is ancestral sampling from the chain rule: draw x_1 ~ p(x_1), then
x_2 ~ p(x_2 | x_1), and so on, feeding each output back as the next input. How each token is
chosen is a separate decision: a list of logits processors, each a callable (B, V) -> (B, V)
applied in order (temperature, top-k, top-p, min-p, repetition penalty), then greedy argmax
or a categorical draw (`sample_tokens`). Beam search instead keeps the `beam_width` most
probable partial sequences; `exhaustive_search` finds the exact most probable one on tiny
problems, to check it against.

Processor contract: `proc(logits)` takes (B, V) floating logits and returns a new (B, V)
tensor, never editing its input; a dropped token gets -inf. Arguments are validated in
`__init__`. A processor that needs the tokens chosen so far (the repetition penalty) sets the
class attribute `uses_history = True` and is called as `proc(logits, history)` with history
(B, T) int64 ids: the prompt followed by the tokens generated so far. `apply_processors`
passes the history to exactly those processors; plain functions work as processors too.

Every sequence model of the course plugs in through one protocol:
    model(idx)                 -> logits (B, T, V)        the whole sequence, teacher forced
    model.start(prompt)        -> (logits (B, V), state)  optional fast path: read the prompt,
    model.step(tokens, state)  -> (logits (B, V), state)  then one token at a time (RNN state,
                                                         conv queues, KV cache)
    model.context_len          optional: the longest input the model accepts
Models without `start`/`step`, or calls with use_cache=False, recompute the whole prefix
at every step; both paths give the same tokens. Beam search and scoring always recompute.
"""
from __future__ import annotations

import itertools
import math
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Callable, Iterator, Sequence

import torch

Processor = Callable[..., torch.Tensor]

#: the most continuations `exhaustive_search` enumerates (V ** max_new_tokens)
MAX_EXHAUSTIVE = 2 ** 20


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


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
        if not _is_number(temperature) or not temperature > 0:
            raise ValueError(f"Temperature needs a finite temperature > 0, got temperature={temperature!r}")
        self.temperature = float(temperature)

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
        if not _is_int(k) or k < 1:
            raise ValueError(f"TopK needs an integer k >= 1, got k={k!r}")
        self.k = k

    def __call__(self, logits: torch.Tensor) -> torch.Tensor:  # (B, V) -> (B, V)
        _check_logits(logits, "TopK")
        k = min(self.k, logits.shape[-1])
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
        if not _is_number(p) or not 0 < p <= 1:
            raise ValueError(f"TopP needs 0 < p <= 1, got p={p!r}")
        self.p = float(p)

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
        if not _is_number(p) or not 0 < p <= 1:
            raise ValueError(f"MinP needs 0 < p <= 1, got p={p!r}")
        self.p = float(p)

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
        if not _is_number(penalty) or not penalty > 0:
            raise ValueError(f"RepetitionPenalty needs a finite penalty > 0, got penalty={penalty!r}")
        self.penalty = float(penalty)

    def __call__(self, logits: torch.Tensor, history: torch.Tensor) -> torch.Tensor:  # (B, V), (B, T)
        _check_logits(logits, "RepetitionPenalty")
        if (not isinstance(history, torch.Tensor) or history.dtype != torch.long or history.ndim != 2
                or history.shape[0] != logits.shape[0]):
            raise ValueError(f"RepetitionPenalty needs history of int64 ids with shape (B, T), B={logits.shape[0]}, "
                             f"got {getattr(history, 'dtype', type(history).__name__)} "
                             f"{tuple(getattr(history, 'shape', ()))}")
        if history.numel() and not (0 <= int(history.min()) and int(history.max()) < logits.shape[-1]):
            raise ValueError(f"history holds ids outside the vocabulary [0, {logits.shape[-1]})")
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


def _model_device(model: torch.nn.Module) -> torch.device:
    param = next(model.parameters(), None)
    return param.device if param is not None else torch.device("cpu")


@contextmanager
def _eval_mode(model: torch.nn.Module) -> Iterator[None]:
    was_training = model.training
    model.eval()
    try:
        yield
    finally:
        model.train(was_training)


def _as_prompt(prompt: torch.Tensor | Sequence[int], device: torch.device) -> tuple[torch.Tensor, bool]:
    idx = torch.as_tensor(prompt, dtype=torch.long, device=device)
    squeeze = idx.ndim == 1
    if squeeze:
        idx = idx[None]
    if idx.ndim != 2 or idx.shape[0] < 1 or idx.shape[1] < 1:
        raise ValueError(f"prompt must have shape (B, T) or (T,) with B, T >= 1, got {tuple(idx.shape)}")
    return idx, squeeze


def _check_count(value, name: str, low: int) -> None:
    if not _is_int(value) or value < low:
        raise ValueError(f"{name} must be an int >= {low}, got {name}={value!r}")


def _check_eos(eos_id, vocab_size: int) -> None:
    if eos_id is not None and (not _is_int(eos_id) or not 0 <= eos_id < vocab_size):
        raise ValueError(f"eos_id must be None or an id in [0, {vocab_size}), got eos_id={eos_id!r}")


def _full_next_logits(model: torch.nn.Module, idx: torch.Tensor) -> torch.Tensor:
    """Logits (B, V) for the token after idx (B, T), from one full pass over the last
    context_len tokens."""
    context_len = getattr(model, "context_len", None)
    window = idx if context_len is None else idx[:, -context_len:]
    logits = model(window)
    if logits.ndim != 3 or logits.shape[:2] != window.shape:
        raise ValueError(f"model(idx) must return logits (B, T, V) for idx {tuple(window.shape)}, "
                         f"got {tuple(logits.shape)}")
    return logits[:, -1, :]  # (B, V)


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

    Batched: each row of a (B, T) prompt is continued independently (draw several samples
    of one prompt with `prompt.expand(n, -1)`); all rows share `generator`, so the same seed
    gives the same batch.

    Args:
        model: a sequence model (see the module docstring); run in eval mode.
        prompt: (B, T) or (T,) int64 token ids, T >= 1 (e.g. the boundary token alone).
        processors: logits processors applied in order before each choice; history
            processors see the prompt plus the tokens generated so far.
        greedy: take the most probable token (after the processors) instead of sampling.
        generator: seeded torch.Generator on the model's device, for repeatable samples.
        eos_id: stop a row once it emits this token; finished rows are padded with it and
            generation ends when every row has finished.
        use_cache: use the model's incremental `start`/`step` when it has one.
    Returns:
        (B, T + n) (or (T + n,) for a 1-D prompt): the prompt followed by the new tokens,
        n <= max_new_tokens.
    """
    _check_count(max_new_tokens, "max_new_tokens", 0)
    for proc in processors:
        if not callable(proc):
            raise TypeError(f"processors must be callables (B, V) -> (B, V), got {proc!r}")
    device = _model_device(model)
    idx, squeeze = _as_prompt(prompt, device)
    cached = use_cache and hasattr(model, "start") and hasattr(model, "step")
    finished = torch.zeros(idx.shape[0], dtype=torch.bool, device=device)
    seq = idx
    with _eval_mode(model):
        if max_new_tokens > 0:
            logits, state = model.start(idx) if cached else (_full_next_logits(model, idx), None)
            _check_eos(eos_id, logits.shape[-1])
        for i in range(max_new_tokens):
            processed = apply_processors(logits, processors, history=seq)
            token = sample_tokens(processed, greedy=greedy, generator=generator)  # (B,)
            if eos_id is not None:
                token = token.masked_fill(finished, eos_id)
                finished |= token == eos_id
            seq = torch.cat([seq, token[:, None]], dim=1)  # (B, T + i + 1)
            if (eos_id is not None and bool(finished.all())) or i == max_new_tokens - 1:
                break
            if cached:
                logits, state = model.step(token, state)
            else:
                logits = _full_next_logits(model, seq)
    return seq[0] if squeeze else seq


@torch.no_grad()
def next_token_logits(model: torch.nn.Module, prompt: torch.Tensor | Sequence[int]) -> torch.Tensor:
    """The model's logits for the token that follows `prompt`, in eval mode.

    Args:
        prompt: (B, T) or (T,) int64 ids.
    Returns:
        (B, V), or (V,) for a 1-D prompt.
    """
    idx, squeeze = _as_prompt(prompt, _model_device(model))
    with _eval_mode(model):
        logits = _full_next_logits(model, idx)
    return logits[0] if squeeze else logits


def _new_token_log_probs(model: torch.nn.Module, tokens: torch.Tensor, prompt_len: int
                         ) -> tuple[torch.Tensor, int]:
    """log p(x_t | x_<t) for t = prompt_len .. T-1 in one teacher-forced pass: (B, T - prompt_len),
    and the vocabulary size."""
    context_len = getattr(model, "context_len", None)
    if context_len is not None and tokens.shape[1] - 1 > context_len:
        raise ValueError(f"sequences of {tokens.shape[1]} tokens do not fit the model's context_len={context_len}")
    logits = model(tokens[:, :-1])  # (B, T - 1, V)
    log_probs = logits.float().log_softmax(dim=-1)[:, prompt_len - 1:]  # (B, n, V)
    return log_probs.gather(-1, tokens[:, prompt_len:, None]).squeeze(-1), logits.shape[-1]  # (B, n)


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
    if not isinstance(tokens, torch.Tensor) or tokens.dtype != torch.long or tokens.ndim != 2:
        raise ValueError(f"tokens must be an int64 tensor (B, T), got {getattr(tokens, 'dtype', type(tokens))} "
                         f"{tuple(getattr(tokens, 'shape', ()))}")
    if not _is_int(prompt_len) or not 1 <= prompt_len <= tokens.shape[1]:
        raise ValueError(f"prompt_len must be an int in [1, {tokens.shape[1]}], got prompt_len={prompt_len!r}")
    if prompt_len == tokens.shape[1]:
        zero = torch.zeros(tokens.shape[0], device=tokens.device)
        return zero, zero.long()
    with _eval_mode(model):
        per_token, vocab_size = _new_token_log_probs(model, tokens, prompt_len)  # (B, n)
    _check_eos(eos_id, vocab_size)
    length = _lengths_to_eos(tokens[:, prompt_len:], eos_id)
    counted = torch.arange(per_token.shape[1], device=tokens.device) < length[:, None]  # (B, n)
    return per_token.masked_fill(~counted, 0.0).sum(dim=1), length


def length_normalised(log_prob: torch.Tensor, length: torch.Tensor, length_penalty: float) -> torch.Tensor:
    """The beam-search score of a hypothesis: log_prob / length ** length_penalty.

    length_penalty = 0 ranks by raw log-probability (which favours short outputs), 1 by the
    mean log-probability per token; larger values favour longer outputs.
    """
    return log_prob / length.to(log_prob.dtype).clamp(min=1) ** length_penalty


@dataclass(frozen=True)
class BeamSearchOutput:
    """The best hypothesis per prompt.

    tokens: (B, T + n) prompt and continuation; shorter continuations padded with eos_id.
    log_prob: (B,) log-probability of the continuation in nats (eos included).
    score: (B,) log_prob / length ** length_penalty, what the search maximised.
    length: (B,) number of new tokens, eos included.
    (Without a batch dimension when the prompt was 1-D.)
    """

    tokens: torch.Tensor
    log_prob: torch.Tensor
    score: torch.Tensor
    length: torch.Tensor


def _check_search_args(max_new_tokens, length_penalty) -> None:
    _check_count(max_new_tokens, "max_new_tokens", 1)
    if not _is_number(length_penalty):
        raise ValueError(f"length_penalty must be a finite number, got length_penalty={length_penalty!r}")


def _finish(tokens, log_prob, score, length, squeeze: bool) -> BeamSearchOutput:
    if squeeze:
        return BeamSearchOutput(tokens[0], log_prob[0], score[0], length[0])
    return BeamSearchOutput(tokens, log_prob, score, length)


@torch.no_grad()
def beam_search(
    model: torch.nn.Module,
    prompt: torch.Tensor | Sequence[int],
    max_new_tokens: int,
    *,
    beam_width: int = 4,
    length_penalty: float = 1.0,
    eos_id: int | None = None,
) -> BeamSearchOutput:
    """The most probable continuation that a beam of `beam_width` partial sequences finds.

    Each step extends every live beam by every token and scores the extensions by their
    summed log-probability. Extensions ending in eos_id are finished hypotheses (ranked by
    `length_normalised`); of the others, the beam_width best stay alive. After
    max_new_tokens steps the live beams finish too. A row stops early once no live beam can
    still beat its best finished hypothesis (log-probabilities only fall as a sequence
    grows, so this bound is exact). beam_width = 1 follows the greedy path, and records
    greedy's own answer among its hypotheses, so it never scores below greedy decoding.
    Wider beams usually score higher, but beam search is a heuristic: that is not a theorem.

    The model is re-run on the whole prefix at every step (batched over prompts and beams),
    which suits the course's small models.

    Args:
        model: a sequence model, model(idx (B, T)) -> (B, T, V).
        prompt: (B, T) or (T,) int64 ids; rows are searched independently.
        max_new_tokens: the longest continuation, >= 1.
        beam_width: live beams per prompt, >= 1.
        length_penalty: alpha in log_prob / length ** alpha (0: raw log-probability).
        eos_id: the end-of-sequence id, or None for continuations of exactly max_new_tokens.
    Returns:
        a BeamSearchOutput with the best hypothesis per prompt.
    """
    _check_search_args(max_new_tokens, length_penalty)
    _check_count(beam_width, "beam_width", 1)
    device = _model_device(model)
    idx, squeeze = _as_prompt(prompt, device)
    B, T = idx.shape
    pad = 0 if eos_id is None else eos_id
    alive = idx[:, None, :]  # (B, W, T + s): W = 1 before the first step
    alive_lp = torch.zeros(B, 1, device=device)  # (B, W)
    best_tokens = torch.full((B, T + max_new_tokens), pad, dtype=torch.long, device=device)
    best_lp = torch.full((B,), float("-inf"), device=device)
    best_score = torch.full((B,), float("-inf"), device=device)
    best_len = torch.zeros(B, dtype=torch.long, device=device)

    def record(candidates, lp, length, better):  # keep the better finished hypotheses
        nonlocal best_tokens, best_lp, best_score, best_len
        padded = torch.nn.functional.pad(candidates, (0, T + max_new_tokens - candidates.shape[1]), value=pad)
        best_tokens = torch.where(better[:, None], padded, best_tokens)
        best_lp = torch.where(better, lp, best_lp)
        best_score = torch.where(better, length_normalised(lp, length, length_penalty), best_score)
        best_len = torch.where(better, length, best_len)

    with _eval_mode(model):
        for step in range(1, max_new_tokens + 1):
            W = alive.shape[1]
            logits = _full_next_logits(model, alive.reshape(B * W, -1))  # (B * W, V)
            V = logits.shape[-1]
            if step == 1:
                _check_eos(eos_id, V)
            total = alive_lp[:, :, None] + logits.float().log_softmax(dim=-1).view(B, W, V)  # (B, W, V)
            length = torch.full((B,), step, dtype=torch.long, device=device)
            last = step == max_new_tokens
            if eos_id is not None or last:
                # finished now: eos extensions, or every extension at the last step
                ending = total[:, :, eos_id] if not last else total.reshape(B, W * V)  # (B, W) or (B, W * V)
                lp, pick = ending.max(dim=1)  # (B,)
                beam = pick if not last else pick // V
                token = torch.full_like(pick, eos_id) if not last else pick % V
                candidates = torch.cat([alive[torch.arange(B, device=device), beam], token[:, None]], dim=1)
                score = length_normalised(lp, length, length_penalty)
                record(candidates, lp, length, score > best_score)
            if last:
                break
            if eos_id is not None:
                total = total.clone()
                total[:, :, eos_id] = float("-inf")  # eos extensions are finished, not alive
            n_alive = min(beam_width, W * (V - (eos_id is not None)))
            if n_alive == 0:
                break
            alive_lp, pick = total.reshape(B, W * V).topk(n_alive, dim=1)  # (B, W')
            beam, token = pick // V, pick % V
            alive = torch.cat([alive.gather(1, beam[:, :, None].expand(-1, -1, alive.shape[2])),
                               token[:, :, None]], dim=2)  # (B, W', T + step)
            # no live beam can beat a row's best: extensions only lower the log-probability
            bound = torch.maximum(alive_lp / (step + 1) ** length_penalty,
                                  alive_lp / max_new_tokens ** length_penalty).max(dim=1).values
            if bool((best_score >= bound).all()):
                break
    keep = T + int(best_len.max())
    return _finish(best_tokens[:, :keep], best_lp, best_score, best_len, squeeze)


@torch.no_grad()
def exhaustive_search(
    model: torch.nn.Module,
    prompt: torch.Tensor | Sequence[int],
    max_new_tokens: int,
    *,
    length_penalty: float = 1.0,
    eos_id: int | None = None,
    batch_size: int = 4096,
) -> BeamSearchOutput:
    """The exact answer beam search approximates, by scoring every continuation.

    Enumerates all V ** max_new_tokens continuations (at most MAX_EXHAUSTIVE), each cut at
    its first eos_id, and returns the one with the highest length-normalised score (ties:
    the first in lexicographic order of ids). Only for tiny vocabularies and lengths.

    Args and Returns: as `beam_search`.
    """
    _check_search_args(max_new_tokens, length_penalty)
    _check_count(batch_size, "batch_size", 1)
    device = _model_device(model)
    idx, squeeze = _as_prompt(prompt, device)
    with _eval_mode(model):
        V = _full_next_logits(model, idx[:1]).shape[-1]
    _check_eos(eos_id, V)
    if V ** max_new_tokens > MAX_EXHAUSTIVE:
        raise ValueError(f"exhaustive_search would score V ** max_new_tokens = {V}**{max_new_tokens} sequences, "
                         f"more than {MAX_EXHAUSTIVE}; use fewer tokens or a smaller vocabulary")
    rows = []
    for row in idx:
        best = None
        chunks = itertools.product(range(V), repeat=max_new_tokens)
        while chunk := list(itertools.islice(chunks, batch_size)):
            new = torch.tensor(chunk, dtype=torch.long, device=device)  # (N, n)
            tokens = torch.cat([row.expand(len(new), -1), new], dim=1)  # (N, T + n)
            lp, length = sequence_log_probs(model, tokens, idx.shape[1], eos_id=eos_id)
            score = length_normalised(lp, length, length_penalty)
            i = int(score.argmax())
            if best is None or score[i] > best[2]:
                best = (tokens[i], lp[i], score[i], length[i])
        rows.append(best)
    keep = idx.shape[1] + max(int(r[3]) for r in rows)
    pad = 0 if eos_id is None else eos_id
    tokens = torch.stack([torch.cat([t[: idx.shape[1] + int(n)],
                                     torch.full((keep - idx.shape[1] - int(n),), pad, dtype=torch.long,
                                                device=device)]) for t, _, _, n in rows])
    return _finish(tokens, *(torch.stack([r[i] for r in rows]) for i in (1, 2, 3)), squeeze)
