"""Judging a trained sequence model: exact log-likelihoods of strings, and exposure bias.

An AR model gives the exact probability of a whole sequence by the chain rule,
log p(w_1..w_T) = sum_t log p(w_t | w_<t): the summed teacher-forced NLL, negated.

Exposure bias: a model trained on ground-truth prefixes (teacher forcing) is run on its own
prefixes when it generates, so one unusual choice puts it in states it never trained in,
and errors can pile up along the sequence. `exposure_bias` measures this without an oracle:
held-out data and free-running samples are both compared with the training data through
their character n-grams. A sample from a perfect model is distributed like held-out data, so
its rate of n-grams never seen in training matches the held-out rate; the excess (`gap`),
and how it grows with the position in the sequence, is how far generation drifts off the
data's distribution. Teacher-forced loss per position is reported next to it.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import torch

from arcourse._checks import check_int, eval_mode, model_device
from arcourse.data.text import CharTokenizer, pad_sequences
from arcourse.decoding import Processor, generate
from arcourse.metrics.information import IGNORE_INDEX, log_likelihood, nll


@torch.no_grad()
def text_log_prob(model: torch.nn.Module, tokenizer: CharTokenizer, texts: Sequence[str], *,
                  batch_size: int = 1024) -> torch.Tensor:
    """log p(text) of each whole text, wrapped in boundary tokens: for "ann" that is
    log p(a | .) + log p(n | .a) + log p(n | .an) + log p(. | .ann). Runs in eval mode.

    Returns:
        (N,) float64 log-probabilities in nats, on the CPU.
    """
    if isinstance(texts, str):
        raise TypeError("texts must be a sequence of strings, got one string; wrap it in a list")
    check_int("batch_size", batch_size, 1)
    device = model_device(model)
    seqs = [tokenizer.encode(t, add_boundary=True) for t in texts]
    out = []
    with eval_mode(model):
        for start in range(0, len(seqs), batch_size):
            inputs, targets = pad_sequences(seqs[start:start + batch_size], tokenizer.boundary_id)
            out.append(log_likelihood(model, inputs.to(device), targets.to(device)).double().cpu())
    return torch.cat(out) if out else torch.zeros(0, dtype=torch.float64)


def _ngrams(text: str, n: int, finished: bool = True) -> list[tuple]:
    """The n-gram ending at each predicted position of a boundary-wrapped text; None stands
    for the boundary (padding on the left, the end token on the right when finished)."""
    seq = [None] * (n - 1) + list(text) + ([None] if finished else [])
    return [tuple(seq[t:t + n]) for t in range(len(seq) - n + 1)]


def _unseen_by_position(texts: Sequence[str], finished: Sequence[bool], seen: set, n: int, length: int):
    unseen, count = np.zeros(length), np.zeros(length)
    for text, done in zip(texts, finished):
        for t, gram in enumerate(_ngrams(text, n, done)):
            count[t] += 1
            unseen[t] += gram not in seen
    return unseen, count


@dataclass
class ExposureBias:
    """What `exposure_bias` measured. Positions count predicted tokens: 0 is the first
    character, the last is the end token. Rates are nan where no sequence reaches a position."""

    n: int
    teacher_forced_nll: float                 # nats per token of held-out texts
    unseen_rate_data: float                   # held-out n-grams never seen in training
    unseen_rate_samples: float                # sample n-grams never seen in training
    real_fraction: float                      # samples that are training or held-out texts
    copied_fraction: float                    # samples that are training texts
    unfinished_fraction: float                # samples that hit max_len before the end token
    mean_length_data: float
    mean_length_samples: float
    teacher_forced_nll_by_position: np.ndarray = field(repr=False)
    unseen_rate_data_by_position: np.ndarray = field(repr=False)
    unseen_rate_samples_by_position: np.ndarray = field(repr=False)
    count_data_by_position: np.ndarray = field(repr=False)
    count_samples_by_position: np.ndarray = field(repr=False)
    samples: list[str] = field(repr=False)

    @property
    def gap(self) -> float:
        """Excess unseen n-gram rate of samples over held-out data (0 for a perfect model)."""
        return self.unseen_rate_samples - self.unseen_rate_data


def exposure_bias(
    model: torch.nn.Module,
    tokenizer: CharTokenizer,
    train_texts: Sequence[str],
    test_texts: Sequence[str],
    *,
    n_samples: int = 1000,
    max_len: int | None = None,
    n: int = 3,
    processors: Sequence[Processor] = (),
    generator: torch.Generator | None = None,
    batch_size: int = 1024,
) -> ExposureBias:
    """Compare a model's free-running samples with held-out data (see the module docstring).

    Args:
        model: a sequence model over `tokenizer`'s ids (boundary id 0 opens and closes texts).
        train_texts: what the model was trained on; its n-grams are the yardstick.
        test_texts: held-out texts from the same distribution.
        n_samples: texts to generate, each started from the boundary token.
        max_len: the most characters a sample may have (default: twice the longest
            training text).
        n: n-gram order (3: a character and the two before it).
        processors: logits processors for sampling (e.g. [Temperature(0.8)]).
        generator: seeded torch.Generator on the model's device, for repeatable samples.
    Returns:
        an ExposureBias with the rates, overall and by position, and the samples.
    """
    check_int("n", n, 1, who="exposure_bias")
    check_int("n_samples", n_samples, 1, who="exposure_bias")
    if not train_texts or not test_texts:
        raise ValueError("exposure_bias needs non-empty train_texts and test_texts")
    max_len = 2 * max(len(t) for t in train_texts) if max_len is None else max_len
    check_int("max_len", max_len, 1, who="exposure_bias")
    device = model_device(model)
    eos = tokenizer.boundary_id

    samples, finished = [], []
    for start in range(0, n_samples, batch_size):
        rows = min(batch_size, n_samples - start)
        prompt = torch.full((rows, 1), eos, dtype=torch.long, device=device)
        out = generate(model, prompt, max_len + 1, processors=processors, generator=generator, eos_id=eos)
        for row in out[:, 1:].tolist():
            done = eos in row
            samples.append(tokenizer.decode(row[: row.index(eos)] if done else row[:max_len]))
            finished.append(done)

    seqs = [tokenizer.encode(t, add_boundary=True) for t in test_texts]
    length = max(max(len(s) for s in seqs) - 1, max_len + 1)
    tf_sum, tf_count = np.zeros(length), np.zeros(length)
    with torch.no_grad(), eval_mode(model):
        for start in range(0, len(seqs), batch_size):
            inputs, targets = pad_sequences(seqs[start:start + batch_size], eos)
            losses = nll(model(inputs.to(device)), targets.to(device), reduction="none").double().cpu()
            T = targets.shape[1]
            tf_sum[:T] += losses.sum(dim=0).numpy()
            tf_count[:T] += (targets != IGNORE_INDEX).sum(dim=0).numpy()

    seen = {gram for text in train_texts for gram in _ngrams(text, n)}
    unseen_d, count_d = _unseen_by_position(test_texts, [True] * len(test_texts), seen, n, length)
    unseen_s, count_s = _unseen_by_position(samples, finished, seen, n, length)
    with np.errstate(invalid="ignore", divide="ignore"):
        by_pos = (tf_sum / tf_count, unseen_d / count_d, unseen_s / count_s)
    train_set, test_set = set(train_texts), set(test_texts)
    return ExposureBias(
        n=n,
        teacher_forced_nll=float(tf_sum.sum() / tf_count.sum()),
        unseen_rate_data=float(unseen_d.sum() / count_d.sum()),
        unseen_rate_samples=float(unseen_s.sum() / count_s.sum()),
        real_fraction=float(np.mean([s in train_set or s in test_set for s in samples])),
        copied_fraction=float(np.mean([s in train_set for s in samples])),
        unfinished_fraction=1.0 - float(np.mean(finished)),
        mean_length_data=float(np.mean([len(t) for t in test_texts])),
        mean_length_samples=float(np.mean([len(s) for s in samples])),
        teacher_forced_nll_by_position=by_pos[0],
        unseen_rate_data_by_position=by_pos[1],
        unseen_rate_samples_by_position=by_pos[2],
        count_data_by_position=count_d,
        count_samples_by_position=count_s,
        samples=samples,
    )
