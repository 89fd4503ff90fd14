"""The library's small shared helpers: argument checks, the model's device, eval mode, prompts.

Private (no name here is part of the public API), but the one home of each of these
concepts: every module imports them from here instead of writing its own variant.

The error rule, everywhere: `TypeError` for a wrong type or dtype, `ValueError` for a bad
value (out of range, NaN, infinity), and the message names the argument and what it got.
"""
from __future__ import annotations

import math
import numbers
from contextlib import contextmanager
from typing import Iterator, Sequence

import numpy as np
import torch


def _needs(who: str | None, name: str, requirement: str) -> str:
    """'TopK needs an int k >= 1' or 'k must be an int >= 1': the two phrasings of the library."""
    return f"{who} needs {requirement}" if who else f"{name} must be {requirement.replace(' ' + name, '', 1)}"


def check_int(name: str, value, low: int | None = None, high: int | None = None, *, who: str | None = None) -> int:
    """`value` as an int in [low, high] (either bound may be None); bools are not ints.

    Raises:
        TypeError: value is not an integer (NumPy integers count as integers).
        ValueError: value lies outside [low, high].
    """
    bounds = (f" in [{low}, {high}]" if low is not None and high is not None
              else f" >= {low}" if low is not None else f" <= {high}" if high is not None else "")
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{_needs(who, name, f'an int {name}{bounds}')}, got {name}={value!r} "
                        f"of type {type(value).__name__}")
    if (low is not None and value < low) or (high is not None and value > high):
        raise ValueError(f"{_needs(who, name, f'an int {name}{bounds}')}, got {name}={value!r}")
    return int(value)


def check_number(name: str, value, low: float | None = None, high: float | None = None, *,
                 low_open: bool = False, high_open: bool = False, who: str | None = None) -> float:
    """`value` as a finite float in the interval from low to high (open ends when asked).

    Raises:
        TypeError: value is not a real number (bools are not numbers here).
        ValueError: value is NaN, infinite or outside the interval.
    """
    if low is not None and high is not None:
        interval = f"{low:g} {'<' if low_open else '<='} {name} {'<' if high_open else '<='} {high:g}"
    elif low is not None:
        interval = f"a finite {name} {'>' if low_open else '>='} {low:g}"
    elif high is not None:
        interval = f"a finite {name} {'<' if high_open else '<='} {high:g}"
    else:
        interval = f"a finite number {name}"
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{who + ' needs' if who else name + ' must be'} a number, got {name}={value!r} "
                        f"of type {type(value).__name__}")
    number = float(value)
    bad = not math.isfinite(number)
    bad |= low is not None and (number <= low if low_open else number < low)
    bad |= high is not None and (number >= high if high_open else number > high)
    if bad:
        if who:
            message = f"{who} needs {interval}"
        elif low is not None and high is not None:
            message = f"{name} must satisfy {interval}"
        else:
            message = f"{name} must be {interval.replace('a finite ' + name, 'a finite number', 1)}"
        raise ValueError(f"{message}, got {name}={value!r}")
    return number


def check_odd_kernel(name: str, value, low: int = 1) -> int:
    """An odd int kernel size >= low (masked and 'same'-padded convolutions need a centre)."""
    check_int(name, value)
    if value < low or value % 2 == 0:
        raise ValueError(f"{name} must be an odd int >= {low}, got {name}={value!r}")
    return value


def check_ids(name: str, ids, n_categories: int | None = None, *, ndim: int | None = None) -> torch.Tensor:
    """An int64 tensor of ids, optionally of `ndim` dimensions and within [0, n_categories).

    Raises:
        TypeError: not a tensor, or not int64.
        ValueError: wrong number of dimensions, empty, or an id out of range.
    """
    if not isinstance(ids, torch.Tensor) or ids.dtype != torch.long:
        got = f"dtype {ids.dtype}" if isinstance(ids, torch.Tensor) else type(ids).__name__
        raise TypeError(f"{name} must be an int64 tensor of ids, got {got}")
    if ndim is not None and ids.ndim != ndim:
        shape = {1: "(B,)", 2: "(B, T)"}.get(ndim, f"{ndim} dimensions")
        raise ValueError(f"{name} must have shape {shape}, got {tuple(ids.shape)}")
    if n_categories is not None and ids.numel() and (int(ids.min()) < 0 or int(ids.max()) >= n_categories):
        raise ValueError(f"{name} must hold ids in [0, {n_categories}), "
                         f"got values from {int(ids.min())} to {int(ids.max())}")
    return ids


def check_vectors(name: str, x, dim: int) -> torch.Tensor:
    """A (B, dim) floating-point tensor of real vectors: the input of the models of
    continuous data (flows, VAE, diffusion), which read points, not ids.

    Raises:
        TypeError: not a tensor, or not floating point.
        ValueError: not of shape (B, dim).
    """
    if not isinstance(x, torch.Tensor) or not x.is_floating_point():
        got = f"dtype {x.dtype}" if isinstance(x, torch.Tensor) else type(x).__name__
        raise TypeError(f"{name} must be a floating-point tensor (B, {dim}), got {got}")
    if x.ndim != 2 or x.shape[1] != dim:
        raise ValueError(f"{name} must have shape (B, {dim}), got {tuple(x.shape)}")
    return x


def check_condition(condition, n_conditions: int, batch: int) -> torch.Tensor | None:
    """A model's global condition: None when n_conditions == 0, else (batch,) integer ids
    in [0, n_conditions). The one check every conditioned model shares."""
    if n_conditions == 0:
        if condition is not None:
            raise ValueError("this model is unconditional (n_conditions=0); pass condition=None")
        return None
    if condition is None:
        raise ValueError(f"this model is conditioned on n_conditions={n_conditions} classes: "
                         f"pass condition, ({batch},) integer ids")
    if not isinstance(condition, torch.Tensor) or condition.is_floating_point() or condition.dtype == torch.bool:
        got = f"dtype {condition.dtype}" if isinstance(condition, torch.Tensor) else type(condition).__name__
        raise TypeError(f"condition must be an integer tensor of ids, got {got}")
    if condition.shape != (batch,):
        raise ValueError(f"condition must have shape ({batch},), got {tuple(condition.shape)}")
    if int(condition.min()) < 0 or int(condition.max()) >= n_conditions:
        raise ValueError(f"condition ids must lie in [0, {n_conditions}), got {condition.tolist()}")
    return condition


def check_distribution(name: str, p: np.ndarray | torch.Tensor, axis: int) -> None:
    """Raise ValueError unless p is a non-empty array of probabilities summing to 1 along axis."""
    if p.ndim == 0:
        raise ValueError(f"{name} must have at least one axis of categories, got a scalar")
    if p.shape[axis] == 0 or (p.numel() if isinstance(p, torch.Tensor) else p.size) == 0:
        raise ValueError(f"{name} is empty (shape {tuple(p.shape)}); a distribution needs at least one category")
    is_torch = isinstance(p, torch.Tensor)
    finite = torch.isfinite(p).all() if is_torch else np.isfinite(p).all()
    if not bool(finite):
        raise ValueError(f"{name} has NaN or infinite entries")
    low = float(p.min())
    if low < 0:
        raise ValueError(f"{name} must have entries >= 0, found {low:.3g}")
    total = p.sum(dim=axis) if is_torch else p.sum(axis=axis)
    eps = torch.finfo(p.dtype).eps if is_torch else np.finfo(p.dtype).eps
    tol = max(1e-6, 50 * eps * math.sqrt(p.shape[axis]))
    worst = float((total - 1).abs().max()) if is_torch else float(np.abs(total - 1).max())
    if worst > tol:
        raise ValueError(f"{name} must sum to 1 along axis {axis} (within {tol:.1g}), but a row is off by {worst:.3g}")


def model_device(model: torch.nn.Module) -> torch.device:
    """Where the model's parameters live (the CPU for a model without any): library code
    follows its inputs and never picks a device itself."""
    param = next(model.parameters(), None)
    return param.device if param is not None else torch.device("cpu")


@contextmanager
def eval_mode(*models: torch.nn.Module) -> Iterator[None]:
    """Run the block with every model in eval mode, then restore each one's own mode, even
    when the block raises (a sampler interrupted by an error must not leave a model in eval
    mode, with dropout silently off for the rest of training)."""
    modes = [model.training for model in models]
    for model in models:
        model.eval()
    try:
        yield
    finally:
        for model, mode in zip(models, modes):
            model.train(mode)


def as_prompt(prompt: torch.Tensor | Sequence[int], device: torch.device, *, batch: int | None = None
              ) -> tuple[torch.Tensor, bool]:
    """A prompt as (B, T) int64 ids on `device`, and whether it came as one (T,) sequence.

    Args:
        prompt: (B, T) or (T,) ids (a tensor or a list), B, T >= 1.
        batch: when given, the only batch size accepted.
    """
    if isinstance(prompt, torch.Tensor) and (prompt.is_floating_point() or prompt.dtype == torch.bool):
        raise TypeError(f"prompt must hold integer token ids, got dtype {prompt.dtype}")
    idx = torch.as_tensor(prompt, dtype=torch.long, device=device)
    squeeze = idx.ndim == 1
    if squeeze:
        idx = idx[None]
    if idx.ndim != 2 or idx.shape[0] < 1 or idx.shape[1] < 1:
        raise ValueError(f"prompt must have shape (B, T) or (T,) with B, T >= 1, got {tuple(idx.shape)}")
    if batch is not None and idx.shape[0] != batch:
        raise ValueError(f"prompt must have shape (T,) or ({batch}, T), got {tuple(idx.shape)}")
    return idx, squeeze
