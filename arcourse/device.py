"""Where tensors live, and how runs are made repeatable.

One helper picks the device for the whole course so that no notebook scatters `.cuda()`
calls: CUDA when present, then Apple's MPS, then the CPU. `ARCOURSE_DEVICE` overrides the
choice (e.g. `ARCOURSE_DEVICE=cpu` to compare with a laptop, `cuda:1` for a second GPU).
"""
from __future__ import annotations

import os
import random

import numpy as np
import torch

from arcourse._checks import check_int

_ENV = "ARCOURSE_DEVICE"


def get_device(prefer: str | None = None) -> torch.device:
    """Return the device to compute on.

    Args:
        prefer: a device string ("cpu", "cuda", "cuda:0", "mps"). When None, the environment
            variable ARCOURSE_DEVICE is used if set, else cuda, then mps, then cpu.
    Returns:
        a `torch.device`; a requested device that is not available raises ValueError.
    """
    choice = prefer if prefer is not None else os.environ.get(_ENV, "").strip() or None
    if choice is None:
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        device = torch.device(choice)
    except (RuntimeError, TypeError) as err:
        raise ValueError(f"{_ENV}/prefer must name a torch device such as 'cpu' or 'cuda', got {choice!r}") from err
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {choice!r} was asked for (prefer/{_ENV}) but CUDA is not available")
    if device.type == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise ValueError(f"device {choice!r} was asked for (prefer/{_ENV}) but MPS is not available")
    return device


def seed_everything(seed: int) -> None:
    """Seed Python's, NumPy's and PyTorch's global generators so a run repeats exactly."""
    check_int("seed", seed, 0)
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def make_generator(seed: int, device: torch.device | str = "cpu") -> torch.Generator:
    """A fresh `torch.Generator` on `device` seeded with `seed`: re-running a cell that
    makes its own generator reproduces its samples, whatever ran before it."""
    check_int("seed", seed, 0)
    gen = torch.Generator(device=device)
    gen.manual_seed(seed)
    return gen
