"""µ-law companding and quantisation: audio samples in [-1, 1] <-> 256 integer levels.

A WaveNet predicts each audio sample with a softmax over a few hundred classes, so the
signal must be discrete. Quantising the raw amplitude uniformly to 8 bits wastes levels
on loud values and drowns quiet sounds in noise; µ-law (ITU-T G.711) first compresses
    f(x) = sign(x) ln(1 + µ|x|) / ln(1 + µ),    µ = 255,
which spends the levels roughly logarithmically, so the error is a near-constant fraction
of the amplitude. The inverse is f^-1(y) = sign(y) ((1 + µ)^|y| - 1) / µ.

Conventions (the same as torchaudio's `mu_law_encoding`): `levels` classes 0..levels-1,
µ = levels - 1, level q sits at y = 2 q / µ - 1, and y is rounded half up to a level.
Each function takes a torch tensor or anything NumPy can read and returns the same kind.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import torch


def _as_tensor(name: str, x: Any) -> tuple[torch.Tensor, bool]:
    """x as a tensor, and whether the caller gave a tensor (so the answer is one too)."""
    if isinstance(x, torch.Tensor):
        return x, True
    try:
        return torch.as_tensor(np.asarray(x)), False
    except (TypeError, ValueError, RuntimeError) as err:
        raise TypeError(f"{name} must be a torch tensor or array-like, got {type(x).__name__}") from err


def _like(y: torch.Tensor, was_tensor: bool):
    return y if was_tensor else y.numpy()


def _check_levels(levels: Any) -> None:
    if isinstance(levels, bool) or not isinstance(levels, (int, np.integer)) or levels < 2:
        raise ValueError(f"levels must be an int >= 2, got levels={levels!r}")


def _check_mu(mu: Any) -> None:
    if isinstance(mu, bool) or not isinstance(mu, (int, float)) or not mu > 0:
        raise ValueError(f"mu must be a number > 0, got mu={mu!r}")


def _check_signal(name: str, x: torch.Tensor) -> torch.Tensor:
    if not x.is_floating_point():
        raise TypeError(f"{name} must hold floating-point samples in [-1, 1], got dtype {x.dtype}")
    if x.numel() and not bool(torch.isfinite(x).all()):
        raise ValueError(f"{name} has NaN or infinite samples")
    if x.numel() and float(x.abs().max()) > 1:
        raise ValueError(f"{name} must lie in [-1, 1] (normalise the signal first), "
                         f"got max |{name}| = {float(x.abs().max()):.4g}")
    return x


def mu_law_compress(x: Any, mu: float = 255.0):
    """f(x) = sign(x) ln(1 + µ|x|) / ln(1 + µ): [-1, 1] -> [-1, 1], steep near 0.

    Args:
        x: samples in [-1, 1], any shape.
        mu: the compression parameter µ > 0 (255 for 8-bit telephony).
    Returns:
        the companded samples, same shape and kind (tensor or array) as x.
    """
    _check_mu(mu)
    t, was_tensor = _as_tensor("x", x)
    t = _check_signal("x", t)
    y = torch.sign(t) * torch.log1p(mu * t.abs()) / np.log1p(mu)
    return _like(y, was_tensor)


def mu_law_expand(y: Any, mu: float = 255.0):
    """The inverse of `mu_law_compress`: f^-1(y) = sign(y) ((1 + µ)^|y| - 1) / µ.

    Args:
        y: companded values in [-1, 1], any shape.
    Returns:
        the samples x with f(x) = y, same shape and kind as y.
    """
    _check_mu(mu)
    t, was_tensor = _as_tensor("y", y)
    t = _check_signal("y", t)
    x = torch.sign(t) * torch.expm1(t.abs() * np.log1p(mu)) / mu
    return _like(x, was_tensor)


def quantize(y: Any, levels: int = 256):
    """Uniform quantisation of [-1, 1] to integer levels 0..levels-1 (rounding half up).

    Used on raw samples this is linear PCM; used on `mu_law_compress(x)` it is µ-law.

    Args:
        y: values in [-1, 1], any shape.
        levels: how many levels (256 = 8 bits).
    Returns:
        int64 level ids, same shape and kind as y.
    """
    _check_levels(levels)
    t, was_tensor = _as_tensor("y", y)
    t = _check_signal("y", t)
    q = torch.floor((t + 1) / 2 * (levels - 1) + 0.5).long().clamp(0, levels - 1)
    return _like(q, was_tensor)


def dequantize(q: Any, levels: int = 256):
    """The value each level stands for: level q -> 2 q / (levels - 1) - 1 in [-1, 1].

    Args:
        q: integer level ids in [0, levels), any shape.
    Returns:
        float32 values, same shape and kind as q.
    """
    _check_levels(levels)
    t, was_tensor = _as_tensor("q", q)
    if t.is_floating_point() or t.dtype == torch.bool:
        raise TypeError(f"q must hold integer level ids, got dtype {t.dtype}")
    if t.numel() and (int(t.min()) < 0 or int(t.max()) >= levels):
        raise ValueError(f"q must lie in [0, {levels}), got values from {int(t.min())} to {int(t.max())}")
    return _like(t.float() * (2 / (levels - 1)) - 1, was_tensor)


def mu_law_encode(x: Any, levels: int = 256):
    """Samples in [-1, 1] -> µ-law level ids 0..levels-1, with µ = levels - 1.

    Args:
        x: float samples in [-1, 1], any shape.
        levels: number of classes (256: the 8-bit µ-law of telephony and WaveNet).
    Returns:
        int64 level ids, same shape and kind as x.
    """
    _check_levels(levels)
    return quantize(mu_law_compress(x, mu=levels - 1), levels)


def mu_law_decode(q: Any, levels: int = 256):
    """µ-law level ids -> samples in [-1, 1].

    The round trip is accurate relative to the amplitude: with µ = levels - 1,
    |mu_law_decode(mu_law_encode(x)) - x| <= (1/µ + |x|) ((1 + µ)^(1/µ) - 1), i.e. about
    2.2 % of |x| plus 9e-5 for 256 levels (half a level in the companded domain).

    Args:
        q: integer level ids in [0, levels), any shape.
    Returns:
        float samples, same shape and kind as q.
    """
    _check_levels(levels)
    return mu_law_expand(dequantize(q, levels), mu=levels - 1)
