"""Plotting helpers the lectures share, kept out of the notebooks where drawing is not the lesson.

Only matplotlib and numpy; nothing here trains, samples or picks a device.
"""
from __future__ import annotations

import numpy as np
import torch


def image_grid(images: torch.Tensor, rows: int, cols: int, gap: int = 1) -> np.ndarray:
    """Tile single-channel images into one array, with `gap` blank (NaN) pixels between tiles.

    Args:
        images: (N, 1, H, W) or (N, H, W), N >= rows * cols; the first rows * cols are drawn.
        rows, cols: the grid's shape in tiles.
        gap: blank pixels between neighbouring tiles, >= 0.
    Returns:
        (rows * (H + gap) - gap, cols * (W + gap) - gap) float array; NaN in the gaps, so that
        `imshow` leaves them in the colour map's "bad" colour (white with `show_grid`).
    """
    if images.ndim == 4:
        if images.shape[1] != 1:
            raise ValueError(f"images must have one channel, got shape {tuple(images.shape)}")
        images = images[:, 0]
    if images.ndim != 3:
        raise ValueError(f"images must have shape (N, 1, H, W) or (N, H, W), got {tuple(images.shape)}")
    for name, value, low in (("rows", rows, 1), ("cols", cols, 1), ("gap", gap, 0)):
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise ValueError(f"{name} must be an int >= {low}, got {name}={value!r}")
    if len(images) < rows * cols:
        raise ValueError(f"need rows * cols = {rows * cols} images, got {len(images)}")
    H, W = images.shape[1:]
    grid = np.full((rows * (H + gap) - gap, cols * (W + gap) - gap), np.nan)
    pictures = images[: rows * cols].detach().cpu().double().numpy()
    for n, picture in enumerate(pictures):
        r, c = divmod(n, cols)
        grid[r * (H + gap):r * (H + gap) + H, c * (W + gap):c * (W + gap) + W] = picture
    return grid


def show_grid(ax, grid: np.ndarray, vmax: float, cmap: str = "Greys") -> None:
    """Draw an `image_grid` on `ax` with white gaps and no axes."""
    import matplotlib.pyplot as plt

    colours = plt.get_cmap(cmap).copy()
    colours.set_bad("white")
    ax.imshow(np.ma.masked_invalid(grid), cmap=colours, vmin=0, vmax=vmax)
    ax.axis("off")


def draw_dependency_graph(ax, order, names=None) -> None:
    """The graph an AR order induces: every variable points to every later one in `order`.

    Args:
        ax: a matplotlib Axes.
        order: the variables (0-based ids) in the order the chain rule visits them.
        names: optional labels per variable id (default x_1, x_2, ...).
    """
    order = list(order)
    if sorted(order) != list(range(len(order))):
        raise ValueError(f"order must be a permutation of 0..{len(order) - 1}, got {order}")
    names = names or [f"$x_{i + 1}$" for i in range(len(order))]
    for rank, var in enumerate(order):
        for later_rank in range(rank + 1, len(order)):
            height = 0.35 * (later_rank - rank - 1)                      # longer arcs bend higher
            ax.annotate("", xy=(later_rank, 0.08), xytext=(rank, 0.08),
                        arrowprops=dict(arrowstyle="->", color="0.4", lw=1,
                                        connectionstyle=f"arc3,rad={-0.25 - height}"))
        ax.scatter([rank], [0], s=700, color="white", edgecolors="k", zorder=2)
        ax.text(rank, 0, names[var], ha="center", va="center", zorder=3)
    ax.set_xlim(-0.6, len(order) - 0.4), ax.set_ylim(-0.5, 1.3), ax.axis("off")


def draw_conditionals(ax, n: int, shared: bool) -> None:
    """Schematic of n conditionals p(x_i | x_<i): n separate networks, or one shared network.

    Args:
        ax: a matplotlib Axes.
        n: number of variables, >= 1.
        shared: False draws one box per conditional; True one box that all of them use.
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be an int >= 1, got n={n!r}")
    for i in range(n):
        ax.text(i, 0, f"$x_{{<{i + 1}}}$", ha="center", va="center", fontsize=9)
        ax.text(i, 2, f"$p(x_{i + 1}\\mid x_{{<{i + 1}}})$", ha="center", va="center", fontsize=8)
        if shared:
            ax.annotate("", xy=(i, 0.75), xytext=(i, 0.2), arrowprops=dict(arrowstyle="->", lw=0.8))
            ax.annotate("", xy=(i, 1.8), xytext=(i, 1.25), arrowprops=dict(arrowstyle="->", lw=0.8))
        else:
            ax.add_patch(_box(i - 0.38, 0.75, 0.76, 0.5, f"C{i % 10}"))
            ax.text(i, 1.0, f"net {i + 1}", ha="center", va="center", fontsize=8)
            ax.annotate("", xy=(i, 0.75), xytext=(i, 0.2), arrowprops=dict(arrowstyle="->", lw=0.8))
            ax.annotate("", xy=(i, 1.8), xytext=(i, 1.25), arrowprops=dict(arrowstyle="->", lw=0.8))
    if shared:
        ax.add_patch(_box(-0.45, 0.75, n - 0.1, 0.5, "C0"))
        ax.text((n - 1) / 2, 1.0, "one network, the same weights at every position", ha="center", va="center",
                fontsize=8)
    ax.set_xlim(-0.6, n - 0.4), ax.set_ylim(-0.4, 2.4), ax.axis("off")


def _box(x, y, width, height, colour):
    from matplotlib.patches import FancyBboxPatch

    return FancyBboxPatch((x, y), width, height, boxstyle="round,pad=0.02", facecolor=colour, alpha=0.3,
                          edgecolor="k")


def draw_block_diagram(ax, stages, residuals=(), title: str | None = None) -> None:
    """A bottom-to-top flow of named stages, with residual connections drawn beside it.

    Args:
        ax: a matplotlib Axes.
        stages: box labels, from input (bottom) to output (top).
        residuals: (start, end) pairs of stage indices: the input of stage `start` is added
            to the output of stage `end` (drawn as a bypass into a "+" above `end`).
        title: optional title.
    """
    stages = list(stages)
    for start, end in residuals:
        if not 0 <= start <= end < len(stages):
            raise ValueError(f"residual ({start}, {end}) must satisfy 0 <= start <= end < {len(stages)}")
    for i, label in enumerate(stages):
        ax.add_patch(_box(-1, 2 * i, 2, 1, f"C{i % 10}"))
        ax.text(0, 2 * i + 0.5, label, ha="center", va="center", fontsize=8)
        if i:
            ax.annotate("", xy=(0, 2 * i), xytext=(0, 2 * i - 1), arrowprops=dict(arrowstyle="->", lw=0.8))
    for n, (start, end) in enumerate(residuals):
        x, y0, y1 = 1.4 + 0.3 * (n % 2), 2 * start - 0.5, 2 * end + 1.5
        ax.plot([0, x, x, 0.15], [y0, y0, y1, y1], color="0.3", lw=0.8)
        ax.text(0, y1, "+", ha="center", va="center", fontsize=11, fontweight="bold")
    ax.set_xlim(-1.5, 2.2), ax.set_ylim(-1, 2 * len(stages)), ax.axis("off")
    if title:
        ax.set_title(title, fontsize=9)
