"""Generated data sets with a known answer, for experiments where the architecture decides.

Three generators, each built so that one property of a model is what matters:
- `GaussianMixture2D`: a 2-D density with an exact log-density, so flows, VAEs, diffusion
  and AR models can be scored against the truth (its entropy is the best achievable NLL).
- `delay_task`: token streams whose target at step t is the token seen `distance` steps
  earlier, so a model's loss shows whether its context reaches that far.
- `synthetic_shapes`: binary images of hatching, boxes and rings. Hatching that falls four
  to six pixels to the left per row is only predictable from pixels up and to the right,
  the region a plain PixelCNN's stacked masks never see (its blind spot).
"""
from __future__ import annotations

import math

import numpy as np
import torch

from arcourse._checks import check_int, check_number
from arcourse.data.images import ImageData


class GaussianMixture2D:
    """Equal-weight isotropic Gaussians on a ring: multimodal, with an exact density.

    Args:
        n_modes: Gaussians, evenly spaced on a circle of `radius`.
        radius: > 0, distance of each mean from the origin.
        std: > 0, standard deviation of every component.
    """

    def __init__(self, n_modes: int = 6, radius: float = 2.0, std: float = 0.3):
        check_int("n_modes", n_modes, 1)
        radius = check_number("radius", radius, 0, low_open=True)
        std = check_number("std", std, 0, low_open=True)
        angles = torch.arange(n_modes, dtype=torch.float64) * (2 * math.pi / n_modes)
        self.means = radius * torch.stack([angles.cos(), angles.sin()], dim=1)  # (M, 2)
        self.std = std

    def sample(self, n: int, *, generator: torch.Generator | None = None) -> torch.Tensor:
        """n points, (n, 2) float32."""
        check_int("n", n, 1)
        mode = torch.randint(len(self.means), (n,), generator=generator)
        noise = torch.randn(n, 2, generator=generator, dtype=torch.float64)
        return (self.means[mode] + self.std * noise).float()

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        """Exact log-density (nats) of points x (..., 2); returns (...)."""
        if not isinstance(x, torch.Tensor) or not x.is_floating_point():
            raise TypeError(f"x must be a floating-point tensor of points (..., 2), got {getattr(x, 'dtype', type(x))}")
        if x.shape[-1:] != (2,):
            raise ValueError(f"x must be a tensor of points (..., 2), got shape {tuple(x.shape)}")
        d2 = ((x.double()[..., None, :] - self.means) ** 2).sum(-1)              # (..., M)
        log_comp = -d2 / (2 * self.std**2) - math.log(2 * math.pi * self.std**2)
        return (torch.logsumexp(log_comp, dim=-1) - math.log(len(self.means))).to(x.dtype)


def delay_task(n: int, length: int, distance: int, vocab_size: int = 4, seed: int = 0
               ) -> tuple[torch.Tensor, torch.Tensor]:
    """Random token streams whose target at step t is the input token at step t - distance.

    Targets before step `distance` have nothing to copy and are IGNORE_INDEX (-100), so the
    best achievable loss on the counted targets is 0, and a model that cannot see `distance`
    steps back can do no better than log(vocab_size) nats.

    Args:
        n: sequences; length: T, steps per sequence; distance: 1 <= distance < length.
        vocab_size: V >= 2 symbols, uniform and independent.
    Returns:
        (inputs (n, T) int64, targets (n, T) int64).
    """
    check_int("n", n, 1)
    check_int("length", length, 2)
    check_int("vocab_size", vocab_size, 2)
    check_int("distance", distance, 1)
    if distance >= length:
        raise ValueError(f"distance must be < length={length}, got distance={distance}")
    gen = torch.Generator().manual_seed(seed)
    inputs = torch.randint(vocab_size, (n, length), generator=gen)
    targets = torch.full_like(inputs, -100)
    targets[:, distance:] = inputs[:, :-distance]
    return inputs, targets


SHAPE_CLASSES = ("hatching", "box", "ring")


def synthetic_shapes(n: int, size: int = 12, seed: int = 0) -> ImageData:
    """Binary images of one pattern each, labelled by kind (`SHAPE_CLASSES`).

    - hatching: shallow stripes falling to the left; every row is the row above moved
      `shift` pixels left (shift 4 to 6 per image), so x[i, j] = x[i-1, j+shift] — exactly
      the up-and-to-the-right pixels a plain PixelCNN never sees;
    - box: the outline of an axis-aligned rectangle;
    - ring: a digital circle outline.

    Args:
        n: images; size: H = W >= 8 pixels.
    Returns:
        ImageData with images (n, 1, size, size) in {0, 1} and labels (n,) in [0, 3).
    """
    check_int("n", n, 1)
    check_int("size", size, 8)
    rng = np.random.default_rng(seed)
    images = np.zeros((n, 1, size, size), dtype=np.int64)
    labels = rng.integers(len(SHAPE_CLASSES), size=n)
    rows, cols = np.mgrid[:size, :size]
    for img, kind in zip(images[:, 0], labels):
        if kind == 0:
            shift = int(rng.integers(4, 7))
            runs = rng.integers(2, 5, size=size * (shift + 1))              # stripe widths 2-4
            base = (np.repeat(np.arange(len(runs)), runs) % 2)[rng.integers(2):][: size * (shift + 1)]
            img[:] = base[cols + shift * rows]
        elif kind == 1:
            top, left = rng.integers(0, size - 4, size=2)
            height, width = rng.integers(4, size - max(top, left) + 1, size=2)
            bottom, right = top + height - 1, left + width - 1
            inside = (rows >= top) & (rows <= bottom) & (cols >= left) & (cols <= right)
            edge = (rows == top) | (rows == bottom) | (cols == left) | (cols == right)
            img[inside & edge] = 1
        else:
            radius = rng.uniform(2.5, size / 2 - 1)
            cy, cx = rng.uniform(radius, size - 1 - radius, size=2)
            dist = np.hypot(rows - cy, cols - cx)
            img[np.abs(dist - radius) < 0.6] = 1
    return ImageData(torch.from_numpy(images), levels=2, labels=torch.from_numpy(labels))
