"""One training loop for every model of the course, and the losses it can run.

Every model maps inputs to logits with the category axis last, so one loss (`nll`) and one
loop serve RNNs, PixelCNNs, WaveNets and GPTs alike. The loop follows the model's device:
batches are moved to where the parameters are. `ScheduledSampling` (at the end) is a loss
that trains on some of the model's own samples (Bengio et al., 2015).
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Callable, Iterable, Iterator

import torch
from tqdm.auto import tqdm

from arcourse._checks import check_int, check_number, eval_mode, model_device
from arcourse.metrics import IGNORE_INDEX, nll

Batch = tuple[torch.Tensor, ...]
LossFn = Callable[[torch.nn.Module, Batch], tuple[torch.Tensor, torch.Tensor]]


@dataclass
class History:
    """What a training run measured: losses by step (nats per target) and wall time."""

    steps: list[int] = field(default_factory=list)
    train_loss: list[float] = field(default_factory=list)
    eval_steps: list[int] = field(default_factory=list)
    eval_loss: list[float] = field(default_factory=list)
    grad_norm: list[float] = field(default_factory=list)
    seconds: float = 0.0       # time spent in training steps (evaluation not included)
    tokens: int = 0

    @property
    def tokens_per_second(self) -> float:
        return self.tokens / self.seconds if self.seconds > 0 else float("nan")


def default_loss(model: torch.nn.Module, batch: Batch) -> tuple[torch.Tensor, torch.Tensor]:
    """Summed NLL of `targets` under `model(inputs)`, and the number of counted targets.

    Args:
        batch: (inputs, targets) or (inputs, targets, condition); targets equal to
            IGNORE_INDEX (padding) are skipped; a condition (B,) (an instrument, a digit
            class) is passed as `model(inputs, condition=condition)`.
    Returns:
        (sum of NLL in nats, number of counted targets), both scalar tensors.
    """
    inputs, targets = batch[0], batch[1]
    condition = batch[2] if len(batch) > 2 else None
    logits = model(inputs) if condition is None else model(inputs, condition=condition)
    total = nll(logits, targets, reduction="sum")
    return total, (targets != IGNORE_INDEX).sum()


def _to_device(batch: Batch, device: torch.device) -> Batch:
    return tuple(t.to(device, non_blocking=True) if isinstance(t, torch.Tensor) else t for t in batch)


@torch.no_grad()
def evaluate(model: torch.nn.Module, batches: Iterable[Batch], loss_fn: LossFn = default_loss) -> float:
    """Mean NLL per counted target (nats) of `model` over all `batches`, in eval mode.

    Weighted by targets, not by batches, so it is the exact per-token NLL of the data set.
    """
    device = model_device(model)
    total, count = 0.0, 0
    with eval_mode(model):
        for batch in batches:
            batch_total, batch_count = loss_fn(model, _to_device(batch, device))
            total += float(batch_total)
            count += int(batch_count)
    if count == 0:
        raise ValueError("batches held no targets to evaluate")
    return total / count


def _lr_factor(step: int, steps: int, warmup: int, schedule: str) -> float:
    if step < warmup:
        return (step + 1) / warmup
    if schedule == "constant":
        return 1.0
    progress = (step - warmup) / max(1, steps - warmup)
    return 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress))  # cosine down to 10 %


def train(
    model: torch.nn.Module,
    batches: Iterable[Batch] | Callable[[], Batch],
    steps: int,
    *,
    lr: float = 1e-3,
    weight_decay: float = 0.0,
    clip_grad_norm: float | None = 1.0,
    schedule: str = "constant",
    warmup_steps: int = 0,
    eval_batches: Iterable[Batch] | Callable[[], Iterable[Batch]] | None = None,
    eval_every: int = 0,
    on_eval: Callable[[int, float, torch.nn.Module], None] | None = None,
    loss_fn: LossFn = default_loss,
    optimizer: torch.optim.Optimizer | None = None,
    progress: bool = True,
    description: str = "training",
    history: History | None = None,
) -> History:
    """Train `model` with AdamW for `steps` steps on teacher-forced batches.

    The model is put in train mode for the steps and left in eval mode afterwards (ready
    to sample or score); `evaluate` restores whatever mode it found.

    Args:
        batches: an iterable of (inputs, targets, ...) batches (cycled if it runs out), or a
            function returning one batch per call.
        steps: number of optimiser steps.
        lr, weight_decay: AdamW settings (ignored when `optimizer` is given).
        clip_grad_norm: clip the global gradient norm to this value (None: no clipping);
            the norm before clipping is recorded in `History.grad_norm` either way.
        schedule: "constant" or "cosine" (decays to 10 % of lr), after `warmup_steps` of
            linear warm-up.
        eval_batches: the evaluation batches (a re-iterable collection, such as a list or
            a NameBatches, or a function returning them); evaluated every `eval_every`
            steps and at the end.
        on_eval: called as on_eval(step, eval_loss, model) after each evaluation, the model
            in eval mode: keep the best weights, stop a plot, log (its time is not
            counted as training time).
        loss_fn: (model, batch) -> (summed NLL, count); the default suits every
            logits-last model.
        history: continue filling an earlier run's History (its step count goes on).
    Returns:
        the History: training loss per step, evaluation loss, grad norms, seconds, tokens.
    """
    check_int("steps", steps, 1)
    check_number("lr", lr, 0, low_open=True)
    if schedule not in {"constant", "cosine"}:
        raise ValueError(f"schedule must be 'constant' or 'cosine', got schedule={schedule!r}")
    if clip_grad_norm is not None:
        check_number("clip_grad_norm", clip_grad_norm, 0, low_open=True)
    check_int("eval_every", eval_every, 0)

    device = model_device(model)
    history = history if history is not None else History()
    opt = optimizer or _adamw(model.parameters(), lr=lr, weight_decay=weight_decay)
    base_lrs = [group["lr"] for group in opt.param_groups]
    next_batch = batches if callable(batches) else _cycle(batches)
    first = history.steps[-1] + 1 if history.steps else 0
    model.train()
    start = time.perf_counter()
    bar = tqdm(range(steps), desc=description, disable=not progress, leave=False)
    for i in bar:
        factor = _lr_factor(i, steps, warmup_steps, schedule)
        for group, base in zip(opt.param_groups, base_lrs):
            group["lr"] = base * factor
        batch = _to_device(next_batch(), device)
        total, count = loss_fn(model, batch)
        loss = total / count.clamp(min=1)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        norm = torch.nn.utils.clip_grad_norm_(model.parameters(), clip_grad_norm or float("inf"))
        opt.step()
        history.steps.append(first + i)
        history.train_loss.append(loss.item())
        history.grad_norm.append(float(norm))
        history.tokens += int(count)
        if eval_batches is not None and eval_every and (i + 1) % eval_every == 0 and i + 1 < steps:
            eval_start = time.perf_counter()
            _evaluate_into(history, first + i, model, eval_batches, loss_fn, on_eval)
            start += time.perf_counter() - eval_start  # keep evaluation out of the training time
        if i % 10 == 0 or i == steps - 1:
            bar.set_postfix(loss=f"{history.train_loss[-1]:.3f}")
    for group, base in zip(opt.param_groups, base_lrs):
        group["lr"] = base
    history.seconds += time.perf_counter() - start
    if eval_batches is not None:
        _evaluate_into(history, first + steps - 1, model, eval_batches, loss_fn, on_eval)
    model.eval()
    return history


def _evaluate_into(history: History, step: int, model: torch.nn.Module, eval_batches, loss_fn: LossFn,
                   on_eval) -> None:
    """One evaluation during `train`: record it, then tell `on_eval` (model in eval mode)."""
    loss = evaluate(model, eval_batches() if callable(eval_batches) else eval_batches, loss_fn)
    history.eval_steps.append(step)
    history.eval_loss.append(loss)
    if on_eval is not None:
        with eval_mode(model):
            on_eval(step, loss, model)


_FUSED_DEVICES = ("cpu", "cuda", "mps", "xpu")  # devices with torch's fused AdamW kernel


def _adamw(params, **settings) -> torch.optim.AdamW:
    """AdamW with torch's fused kernel (one C++ pass per tensor, on the CPU too) when every
    parameter is a floating-point tensor on a device that has it, else torch's default
    implementation: the same update either way.

    On a CPU torch otherwise picks the single-tensor version, a dozen Python-dispatched ops
    per parameter tensor per step: several per cent of a step of nanoGPT's CPU recipe.

    Args:
        params: parameters or parameter groups, as torch.optim.AdamW takes them.
        settings: AdamW's keyword arguments (lr, betas, weight_decay, ...).
    """
    params = list(params)
    tensors = [p for item in params for p in (item["params"] if isinstance(item, dict) else [item])]
    fused = all(p.is_floating_point() and p.device.type in _FUSED_DEVICES for p in tensors)
    return torch.optim.AdamW(params, fused=fused or None, **settings)


def _cycle(batches: Iterable[Batch]) -> Callable[[], Batch]:
    """Turn a re-iterable collection of batches into an endless supply of them."""
    iterator: Iterator[Batch] = iter(batches)

    def next_batch() -> Batch:
        nonlocal iterator
        try:
            return next(iterator)
        except StopIteration:
            iterator = iter(batches)
            try:
                return next(iterator)
            except StopIteration:
                raise ValueError("batches is empty") from None

    return next_batch


# Scheduled sampling ----------------------------------------------------------------------
#
# Scheduled sampling (Bengio, Vinyals, Jaitly and Shazeer, 2015): train on some of the
# model's own choices, so that generation is less of a surprise.
#
# Teacher forcing feeds the true token x_{t-1} at every step, yet generation feeds the model's
# own sample; the states reached from its own (possibly wrong) prefixes are never trained in
# (exposure bias). Scheduled sampling flips a coin at every step: with probability p the input
# is a token sampled from the model's prediction at the step before, otherwise the true one,
# and the target is always the true next token. p starts at 0 (plain teacher forcing, while
# the model's samples are still noise) and grows over training. The sampled token is treated
# as a constant: no gradient flows through the draw, as in the paper.
#
# Steps run one at a time, so the model needs `unroll(idx (B, T), state) -> (logits, state)`
# with gradients (`CharRNN` has it).


class ScheduledSampling:
    """A `loss_fn` for `arcourse.train` that mixes the model's own samples into its inputs.

    The sampling probability rises linearly from 0 to `probability` over the first
    `ramp_steps` training calls and stays there (ramp_steps=0: `probability` from the start).
    In eval mode (`arcourse.evaluate`) it scores plain teacher-forced NLL, so evaluation
    numbers stay comparable with every other model.

    Args:
        probability: the final chance, per position, that the input is the model's sample;
            0 <= probability <= 1.
        ramp_steps: training calls over which the chance rises from 0; int >= 0.
        seed: seeds the coin flips and the samples (a private generator on the batch's device).
    """

    def __init__(self, probability: float, *, ramp_steps: int = 0, seed: int = 0):
        self.probability = check_number("probability", probability, 0, 1, who="ScheduledSampling")
        self.ramp_steps = check_int("ramp_steps", ramp_steps, 0, who="ScheduledSampling")
        self.seed = seed
        self.calls = 0  # training calls so far: the position on the schedule
        self._generator: torch.Generator | None = None

    def probability_at(self, call: int) -> float:
        """The sampling probability used at training call number `call` (0-based)."""
        if self.ramp_steps == 0:
            return self.probability
        return self.probability * min(1.0, call / self.ramp_steps)

    def _generator_on(self, device: torch.device) -> torch.Generator:
        if self._generator is None or self._generator.device != device:
            self._generator = torch.Generator(device=device).manual_seed(self.seed)
        return self._generator

    def __call__(self, model: torch.nn.Module, batch: Batch) -> tuple[torch.Tensor, torch.Tensor]:
        """Summed NLL of the true targets and their count, inputs mixed with model samples.

        Args:
            model: a sequence model with `unroll(idx (B, T), state) -> (logits (B, T, V), state)`.
            batch: (inputs (B, T), targets (B, T)); targets equal to IGNORE_INDEX are skipped.
        Returns:
            (sum of NLL in nats, number of counted targets), scalar tensors.
        """
        inputs, targets = batch[0], batch[1]
        if not hasattr(model, "unroll"):
            raise TypeError(f"ScheduledSampling needs a model with unroll(idx, state), got {type(model).__name__}")
        count = (targets != IGNORE_INDEX).sum()
        if not model.training:
            return nll(model(inputs), targets, reduction="sum"), count
        p = self.probability_at(self.calls)
        self.calls += 1
        gen = self._generator_on(inputs.device)
        B, T = inputs.shape
        use_sample = torch.rand(B, T, generator=gen, device=inputs.device) < p  # (B, T); column 0 unused
        state, token, steps = None, inputs[:, 0], []
        for t in range(T):
            logits, state = model.unroll(token[:, None], state)  # (B, 1, V)
            steps.append(logits)
            if t + 1 < T:
                sample = torch.multinomial(logits[:, 0].detach().float().softmax(dim=-1), 1, generator=gen)[:, 0]
                token = torch.where(use_sample[:, t + 1], sample, inputs[:, t + 1])  # (B,)
        return nll(torch.cat(steps, dim=1), targets, reduction="sum"), count  # logits (B, T, V)
