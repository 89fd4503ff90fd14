"""Search for the most probable continuation instead of sampling one.

Beam search keeps the `beam_width` most probable partial sequences; `exhaustive_search`
finds the exact most probable one on tiny problems, to check beam search against. Both
re-run the model on the whole prefix at every step, which suits the course's small models.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Sequence

import torch

from arcourse._checks import as_prompt, check_int, check_number, eval_mode, model_device
from arcourse.decoding._stepper import check_eos, full_next_logits
from arcourse.decoding.generate import sequence_log_probs

#: the most continuations `exhaustive_search` enumerates (V ** max_new_tokens)
MAX_EXHAUSTIVE = 2 ** 20


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
    check_int("max_new_tokens", max_new_tokens, 1)
    check_number("length_penalty", length_penalty)


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
    check_int("beam_width", beam_width, 1)
    device = model_device(model)
    idx, squeeze = as_prompt(prompt, device)
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

    with eval_mode(model):
        for step in range(1, max_new_tokens + 1):
            W = alive.shape[1]
            logits = full_next_logits(model, alive.reshape(B * W, -1))  # (B * W, V)
            V = logits.shape[-1]
            if step == 1:
                check_eos(eos_id, V)
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
    check_int("batch_size", batch_size, 1)
    device = model_device(model)
    idx, squeeze = as_prompt(prompt, device)
    with eval_mode(model):
        V = full_next_logits(model, idx[:1]).shape[-1]
    check_eos(eos_id, V)
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
