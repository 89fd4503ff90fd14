"""One training loop for every model of the course.

Every model maps inputs to logits with the category axis last, so one loss (`nll`) and one
loop serve RNNs, PixelCNNs, WaveNets and GPTs alike. The loop follows the model's device:
batches are moved to where the parameters are.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Callable, Iterable, Iterator

import torch
from tqdm.auto import tqdm

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
        batch: (inputs, targets); targets equal to IGNORE_INDEX (padding) are skipped.
    Returns:
        (sum of NLL in nats, number of counted targets), both scalar tensors.
    """
    inputs, targets = batch[0], batch[1]
    logits = model(inputs)
    total = nll(logits, targets, reduction="sum")
    return total, (targets != IGNORE_INDEX).sum()


def _to_device(batch: Batch, device: torch.device) -> Batch:
    return tuple(t.to(device, non_blocking=True) if isinstance(t, torch.Tensor) else t for t in batch)


def _model_device(model: torch.nn.Module) -> torch.device:
    param = next(model.parameters(), None)
    return param.device if param is not None else torch.device("cpu")


@torch.no_grad()
def evaluate(model: torch.nn.Module, batches: Iterable[Batch], loss_fn: LossFn = default_loss) -> float:
    """Mean NLL per counted target (nats) of `model` over all `batches`, in eval mode.

    Weighted by targets, not by batches, so it is the exact per-token NLL of the data set.
    """
    was_training = model.training
    model.eval()
    device = _model_device(model)
    total, count = 0.0, 0
    for batch in batches:
        batch_total, batch_count = loss_fn(model, _to_device(batch, device))
        total += float(batch_total)
        count += int(batch_count)
    model.train(was_training)
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
    eval_batches: Callable[[], Iterable[Batch]] | None = None,
    eval_every: int = 0,
    loss_fn: LossFn = default_loss,
    optimizer: torch.optim.Optimizer | None = None,
    progress: bool = True,
    description: str = "training",
    history: History | None = None,
) -> History:
    """Train `model` with AdamW for `steps` steps on teacher-forced batches.

    Args:
        batches: an iterable of (inputs, targets, ...) batches (cycled if it runs out), or a
            function returning one batch per call.
        steps: number of optimiser steps.
        lr, weight_decay: AdamW settings (ignored when `optimizer` is given).
        clip_grad_norm: clip the global gradient norm to this value (None: no clipping);
            the norm before clipping is recorded in `History.grad_norm` either way.
        schedule: "constant" or "cosine" (decays to 10 % of lr), after `warmup_steps` of
            linear warm-up.
        eval_batches: a function returning the evaluation batches; evaluated every
            `eval_every` steps and at the end.
        loss_fn: (model, batch) -> (summed NLL, count); the default suits every
            logits-last model.
        history: continue filling an earlier run's History (its step count goes on).
    Returns:
        the History: training loss per step, evaluation loss, grad norms, seconds, tokens.
    """
    if not isinstance(steps, int) or steps < 1:
        raise ValueError(f"steps must be a positive int, got steps={steps!r}")
    if not lr > 0:
        raise ValueError(f"lr must be > 0, got lr={lr!r}")
    if schedule not in {"constant", "cosine"}:
        raise ValueError(f"schedule must be 'constant' or 'cosine', got schedule={schedule!r}")
    if clip_grad_norm is not None and not clip_grad_norm > 0:
        raise ValueError(f"clip_grad_norm must be > 0 or None, got clip_grad_norm={clip_grad_norm!r}")
    if eval_every < 0:
        raise ValueError(f"eval_every must be >= 0, got eval_every={eval_every!r}")

    device = _model_device(model)
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
            history.eval_steps.append(first + i)
            history.eval_loss.append(evaluate(model, eval_batches(), loss_fn))
            start += time.perf_counter() - eval_start  # keep evaluation out of the training time
        if i % 10 == 0 or i == steps - 1:
            bar.set_postfix(loss=f"{history.train_loss[-1]:.3f}")
    for group, base in zip(opt.param_groups, base_lrs):
        group["lr"] = base
    history.seconds += time.perf_counter() - start
    if eval_batches is not None:
        history.eval_steps.append(first + steps - 1)
        history.eval_loss.append(evaluate(model, eval_batches(), loss_fn))
    model.eval()
    return history


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
