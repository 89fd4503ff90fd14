"""Sampling images from a pixel model, one sub-pixel at a time in raster order.

The same processors as for text choose each sub-pixel's level from its (B, K) logits, so
temperature, top-k or top-p apply to images unchanged. One forward pass per unknown
sub-pixel: that is why autoregressive image sampling is slow.
"""
from __future__ import annotations

from typing import Sequence

import torch
import torch.nn as nn

from arcourse._checks import check_int, eval_mode, model_device
from arcourse.decoding._stepper import call_model
from arcourse.decoding.processors import Processor, apply_processors, check_processors, sample_tokens


@torch.no_grad()
def complete_images(model: nn.Module, images: torch.Tensor, known: torch.Tensor, *,
                    processors: Sequence[Processor] = (), generator: torch.Generator | None = None,
                    condition: torch.Tensor | None = None) -> torch.Tensor:
    """Fill in the unknown sub-pixels in raster order, each drawn from p(x_i | x_<i) after `processors`.

    The result is an exact sample of p(unknown | known) when every known sub-pixel comes
    before every unknown one in raster order (say, the top rows); known sub-pixels later in
    the order are kept, but the model cannot let them shape the earlier draws.

    Args:
        model: a pixel model, model(x (B, C, H, W), condition=None) -> (B, C, H, W, K).
        images: (B, C, H, W) levels; entries where `known` is False are ignored.
        known: bool, (B, C, H, W) or broadcastable to it (e.g. (H, W)).
        processors: logits processors applied to each sub-pixel's (B, K) logits
            (e.g. [Temperature(0.8)]); history processors see nothing and are not supported.
        generator: a seeded torch.Generator on the model's device, for repeatable samples.
        condition: (B,) class ids for a class-conditional model.
    Returns:
        (B, C, H, W) int64 levels, equal to `images` wherever `known`.
    """
    check_processors(processors)
    if not isinstance(images, torch.Tensor) or images.is_floating_point() or images.dtype == torch.bool:
        raise TypeError("images must be an integer tensor of levels (B, C, H, W)")
    if images.ndim != 4:
        raise ValueError(f"images must have shape (B, C, H, W), got {tuple(images.shape)}")
    if not isinstance(known, torch.Tensor) or known.dtype != torch.bool:
        raise TypeError("known must be a bool tensor (True where the sub-pixel is given)")
    try:
        known = torch.broadcast_to(known, images.shape)
    except RuntimeError:
        raise ValueError(f"known of shape {tuple(known.shape)} does not broadcast to images {tuple(images.shape)}") from None
    device = model_device(model)
    x = torch.where(known.to(images.device), images, torch.zeros_like(images)).long().to(device)
    known = known.to(device)
    condition = None if condition is None else condition.to(device)
    _, C, H, W = x.shape
    with eval_mode(model):
        for i in range(H):
            for j in range(W):
                for c in range(C):
                    todo = ~known[:, c, i, j]                                      # (B,)
                    if not todo.any():
                        continue
                    logits = call_model(model, x, condition)[:, c, i, j]           # (B, K)
                    draw = sample_tokens(apply_processors(logits, processors), generator=generator)
                    x[:, c, i, j] = torch.where(todo, draw, x[:, c, i, j])
    return x


def sample_images(model: nn.Module, n_images: int, size: tuple[int, int], *, processors: Sequence[Processor] = (),
                  generator: torch.Generator | None = None, condition: torch.Tensor | None = None) -> torch.Tensor:
    """Draw n_images images of size (H, W) sub-pixel by sub-pixel (`complete_images` with
    nothing known).

    Returns:
        (n_images, C, H, W) int64 levels on the model's device.
    """
    check_int("n_images", n_images, 1)
    if len(size) != 2:
        raise ValueError(f"size must be (H, W), got size={size!r}")
    for name, value in zip(("height", "width"), size):
        check_int(name, value, 1)
    shape = (n_images, model.data_channels, *size)
    device = model_device(model)
    blank = torch.zeros(shape, dtype=torch.long, device=device)
    return complete_images(model, blank, torch.zeros(shape, dtype=torch.bool, device=device),
                           processors=processors, generator=generator, condition=condition)
