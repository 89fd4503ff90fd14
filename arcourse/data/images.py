"""Small image data sets that work offline, as integer grey levels for pixel-by-pixel models.

A PixelCNN predicts each sub-pixel as one of K levels with a K-way softmax, so images are kept
as int64 tensors (N, C, H, W) with values in [0, K). The default set is scikit-learn's
handwritten digits (1,797 images of 8x8 pixels, 17 grey levels 0..16), shipped inside the
package; a larger set (MNIST, CIFAR-10, ... saved as a .npy/.npz array) can be given by path.
"""
from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np
import torch

from arcourse._checks import check_int

from arcourse.data.text import split_dataset

DIGITS_MAX_VALUE = 16  # scikit-learn's digits hold grey levels 0..16


@dataclass(frozen=True)
class ImageData:
    """Images as integer levels, with optional class labels.

    Attributes:
        images: (N, C, H, W) int64, values in [0, levels).
        labels: (N,) int64 class ids, or None.
        levels: K, the number of grey levels per sub-pixel.
    """

    images: torch.Tensor
    labels: torch.Tensor | None
    levels: int

    def __post_init__(self):
        if not isinstance(self.images, torch.Tensor) or self.images.ndim != 4 or self.images.dtype != torch.int64:
            raise TypeError("images must be an int64 tensor of shape (N, C, H, W)")
        check_int("levels", self.levels, 2)
        if len(self.images) and (self.images.min() < 0 or self.images.max() >= self.levels):
            raise ValueError(f"images must hold levels in [0, {self.levels}), found "
                             f"[{int(self.images.min())}, {int(self.images.max())}]")
        if self.labels is not None and (self.labels.ndim != 1 or len(self.labels) != len(self.images)):
            raise ValueError(f"labels must have shape ({len(self.images)},), got {tuple(self.labels.shape)}")

    def __len__(self) -> int:
        return len(self.images)

    @property
    def shape(self) -> tuple[int, int, int]:
        """(C, H, W) of one image."""
        return tuple(self.images.shape[1:])

    def subset(self, index: Sequence[int] | torch.Tensor) -> "ImageData":
        """The images (and labels) at `index`, in that order."""
        index = torch.as_tensor(index, dtype=torch.long)
        labels = None if self.labels is None else self.labels[index]
        return ImageData(self.images[index], labels, self.levels)


def quantize_intensities(values: np.ndarray | torch.Tensor, max_value: int, levels: int) -> torch.Tensor:
    """Map integer intensities 0..max_value onto `levels` equally wide bins 0..levels-1.

    Bin of v: floor(v * levels / (max_value + 1)); with levels = max_value + 1 nothing changes.

    Returns:
        int64 tensor of the same shape.
    """
    check_int("max_value", max_value, 1)
    check_int("levels", levels, 2, int(max_value) + 1)
    values = torch.as_tensor(np.asarray(values)).long()
    if values.numel() and (values.min() < 0 or values.max() > max_value):
        raise ValueError(f"values must lie in [0, {max_value}], found [{int(values.min())}, {int(values.max())}]")
    return values * int(levels) // (int(max_value) + 1)


def load_digits(levels: int = DIGITS_MAX_VALUE + 1) -> ImageData:
    """scikit-learn's 1,797 handwritten digits (8x8, grey levels 0..16), with their labels 0-9.

    The data ship with scikit-learn, so nothing downloads.

    Args:
        levels: K, grey levels to keep: 17 leaves the data as they are, 2 makes them binary.
    Returns:
        ImageData with images (1797, 1, 8, 8) in [0, levels) and labels (1797,).
    """
    from sklearn.datasets import load_digits as _sklearn_digits  # imported here: only digits need it

    digits = _sklearn_digits()
    images = quantize_intensities(digits.images.astype(np.int64), DIGITS_MAX_VALUE, levels)[:, None]  # (N, 1, 8, 8)
    return ImageData(images, torch.as_tensor(digits.target, dtype=torch.long), int(levels))


def load_image_array(path: str | Path, *, levels: int = 256, max_value: int = 255, key: str | None = None,
                     labels_key: str | None = None, channels_last: bool = True) -> ImageData:
    """Images from a NumPy file you provide (.npy, or .npz holding several arrays).

    Args:
        path: a .npy file, or a .npz file (choose the array with `key` when it holds several).
        levels: K, grey levels to keep (quantised from 0..max_value).
        max_value: the largest intensity the file can hold (255 for 8-bit images).
        key: the .npz entry holding the images.
        labels_key: the .npz entry holding integer class labels, if any.
        channels_last: 4-D arrays are (N, H, W, C) when True (the NumPy convention), else
            (N, C, H, W); 3-D arrays (N, H, W) are greyscale.
    Returns:
        ImageData with images (N, C, H, W) int64 in [0, levels).
    """
    file = Path(path)
    if not file.is_file():
        raise FileNotFoundError(f"no image array file at {file}")
    if file.suffix not in {".npy", ".npz"}:
        raise ValueError(f"path must be a .npy or .npz file, got {file.name}")
    labels = None
    if file.suffix == ".npy":
        if key is not None or labels_key is not None:
            raise ValueError("key and labels_key only apply to .npz files")
        array = np.load(file, allow_pickle=False)
    else:
        with np.load(file, allow_pickle=False) as archive:
            names = sorted(archive.files)
            if key is None:
                if len(names) != 1:
                    raise ValueError(f"{file.name} holds several arrays {names}; choose one with key=")
                key = names[0]
            for name in (key, labels_key):
                if name is not None and name not in names:
                    raise ValueError(f"{file.name} has no array {name!r}; it holds {names}")
            array = archive[key]
            if labels_key is not None:
                labels = archive[labels_key]
    if array.dtype.kind not in "iub":
        raise TypeError(f"the images must be integer intensities 0..max_value, got dtype {array.dtype}; "
                        "scale and round floating-point images first")
    if array.ndim == 3:
        array = array[:, None]
    elif array.ndim == 4:
        array = array.transpose(0, 3, 1, 2) if channels_last else array
    else:
        raise ValueError(f"the images must have shape (N, H, W) or (N, H, W, C), got {array.shape}")
    if min(array.shape) < 1:
        raise ValueError(f"the image array is empty, shape {array.shape}")
    images = quantize_intensities(np.ascontiguousarray(array).astype(np.int64), max_value, levels)
    if labels is not None:
        if labels.dtype.kind not in "iu" or labels.shape != (len(images),):
            raise ValueError(f"labels must be {len(images)} integers, got dtype {labels.dtype} shape {labels.shape}")
        labels = torch.as_tensor(labels.astype(np.int64))
    return ImageData(images, labels, int(levels))


def split_images(data: ImageData, fractions: Sequence[float] = (0.8, 0.1, 0.1), seed: int = 0) -> list[ImageData]:
    """Shuffle with `seed` and cut into parts (train, validation, test by default).

    The same data and seed always give the same split.
    """
    return [data.subset(part) for part in split_dataset(range(len(data)), fractions, seed)]


class ImageBatches:
    """Batches for `arcourse.train`: (inputs, targets) = (images, images), or with labels.

    The masks of a PixelCNN do the shifting, so the targets are the inputs themselves.
    Iterating covers every image once; each pass draws a new order from `seed` unless
    shuffle=False (for evaluation).

    Yields:
        (images (B, C, H, W), images (B, C, H, W)) or, when with_labels, also labels (B,).
    """

    def __init__(self, data: ImageData, batch_size: int, *, shuffle: bool = True, seed: int = 0,
                 with_labels: bool = False):
        check_int("batch_size", batch_size, 1)
        if len(data) == 0:
            raise ValueError("data holds no images")
        if with_labels and data.labels is None:
            raise ValueError("with_labels=True but the data have no labels")
        self.data, self.batch_size, self.shuffle, self.seed = data, batch_size, shuffle, seed
        self.with_labels, self.passes = with_labels, 0

    def __len__(self) -> int:
        return -(-len(self.data) // self.batch_size)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, ...]]:
        order = list(range(len(self.data)))
        if self.shuffle:
            random.Random(self.seed * 1_000_003 + self.passes).shuffle(order)
            self.passes += 1
        for start in range(0, len(order), self.batch_size):
            part = self.data.subset(order[start:start + self.batch_size])
            yield (part.images, part.images, part.labels) if self.with_labels else (part.images, part.images)
