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


def _arrow(ax, start, end, text=None):
    """An arrow from `start` to `end` (data coordinates), optionally labelled at its middle."""
    ax.annotate("", xy=end, xytext=start, arrowprops=dict(arrowstyle="->", lw=0.8, color="0.2"))
    if text:
        ax.text((start[0] + end[0]) / 2 + 0.08, (start[1] + end[1]) / 2, text, fontsize=8, va="center")


def _node(ax, x, y, label, colour="white", width=0.9, height=0.5):
    """A labelled box centred on (x, y)."""
    ax.add_patch(_box(x - width / 2, y - height / 2, width, height, colour))
    ax.text(x, y, label, ha="center", va="center", fontsize=8)


def draw_lstm_cell(ax) -> None:
    """Schematic of one LSTM step: four gates read [h_{t-1}, x_t]; the cell path is f*c + i*c~.

    The top line is the cell state c (only an elementwise product and a sum on it, which is why
    gradients survive many steps); the bottom row the four gate layers; h_t = o * tanh(c_t).
    """
    gates = [("$f_t$  σ", "C0"), ("$i_t$  σ", "C1"), ("$\\tilde c_t$  tanh", "C2"), ("$o_t$  σ", "C3")]
    ax.text(-0.3, 0, "$[h_{t-1}, x_t]$", ha="center", va="center", fontsize=9)
    ax.plot([0.4, 3.5], [0, 0], color="0.2", lw=0.8)
    for n, (label, colour) in enumerate(gates):
        _arrow(ax, (0.5 + n, 0), (0.5 + n, 0.75))
        _node(ax, 0.5 + n, 1.0, label, colour)
    ax.text(-0.3, 3, "$c_{t-1}$", ha="center", va="center", fontsize=9)
    for x, op in [(0.5, "×"), (1.5, "+")]:
        ax.scatter([x], [3], s=260, color="white", edgecolors="k", zorder=2)
        ax.text(x, 3, op, ha="center", va="center", fontsize=10, zorder=3)
    _arrow(ax, (0.0, 3), (0.38, 3)), _arrow(ax, (0.62, 3), (1.38, 3))        # c_{t-1} -> x f -> + i c~
    _arrow(ax, (1.62, 3), (4.5, 3))
    ax.text(4.6, 3, "$c_t$", va="center", fontsize=9)
    _arrow(ax, (0.5, 1.25), (0.5, 2.88))                                       # f into the product
    ax.scatter([1.5], [2.0], s=260, color="white", edgecolors="k", zorder=2)
    ax.text(1.5, 2.0, "×", ha="center", va="center", fontsize=10, zorder=3)
    _arrow(ax, (1.5, 1.25), (1.5, 1.88)), _arrow(ax, (2.5, 1.25), (1.62, 2.0))  # i * c~
    _arrow(ax, (1.5, 2.12), (1.5, 2.88))
    _node(ax, 3.0, 2.2, "tanh", "C4", width=0.6, height=0.35)                 # h = o * tanh(c)
    ax.plot([2.7, 2.7], [3, 2.4], color="0.2", lw=0.8)
    _arrow(ax, (3.3, 2.2), (3.42, 2.2))
    ax.scatter([3.5], [2.2], s=260, color="white", edgecolors="k", zorder=2)
    ax.text(3.5, 2.2, "×", ha="center", va="center", fontsize=10, zorder=3)
    _arrow(ax, (3.5, 1.25), (3.5, 2.08))
    _arrow(ax, (3.62, 2.2), (4.5, 2.2))
    ax.text(4.6, 2.2, "$h_t$", va="center", fontsize=9)
    ax.set_xlim(-0.8, 5.0), ax.set_ylim(-0.4, 3.5), ax.axis("off")


def draw_gated_stacks(ax, kernel_size: int = 3) -> None:
    """Schematic of one Gated PixelCNN layer: the vertical stack (left) feeds the horizontal
    stack (right) only after a shift down by one row; the horizontal stack has a residual.

    Args:
        ax: a matplotlib Axes.
        kernel_size: the odd kernel size k the labels name, >= 1.
    """
    k = kernel_size
    if isinstance(k, bool) or not isinstance(k, int) or k < 1 or k % 2 == 0:
        raise ValueError(f"kernel_size must be an odd int >= 1, got kernel_size={k!r}")
    ax.text(0, -0.2, "$v$ (in)", ha="center", fontsize=9), ax.text(3, -0.2, "$h$ (in)", ha="center", fontsize=9)
    _arrow(ax, (0, 0.05), (0, 0.75)), _arrow(ax, (3, 0.05), (3, 0.75))
    _node(ax, 0, 1.0, f"conv {k // 2 + 1}×{k}\n(rows ≤ i)", "C0", width=1.3, height=0.6)
    _node(ax, 3, 1.0, f"masked conv 1×{k}\n(row i, cols ≤ j)", "C1", width=1.5, height=0.6)
    _arrow(ax, (0.65, 1.0), (1.25, 1.6))
    _node(ax, 1.5, 1.9, "shift down 1\n+ 1×1 conv", "C2", width=1.1, height=0.6)
    _arrow(ax, (2.05, 1.9), (2.88, 2.2))
    ax.scatter([3], [2.2], s=260, color="white", edgecolors="k", zorder=2)
    ax.text(3, 2.2, "+", ha="center", va="center", fontsize=10, zorder=3)
    _arrow(ax, (3, 1.3), (3, 2.08)), _arrow(ax, (3, 2.32), (3, 2.85))
    _arrow(ax, (0, 1.3), (0, 2.85))
    for x in (0, 3):
        _node(ax, x, 3.1, "tanh ⊙ σ", "C3")
    _arrow(ax, (3, 3.35), (3, 3.75))
    _node(ax, 3, 4.0, "1×1 conv", "C4")
    _arrow(ax, (3, 4.25), (3, 4.68))
    ax.scatter([3], [4.8], s=260, color="white", edgecolors="k", zorder=2)
    ax.text(3, 4.8, "+", ha="center", va="center", fontsize=10, zorder=3)
    ax.plot([3, 4.1, 4.1, 3.12], [0.3, 0.3, 4.8, 4.8], color="0.3", lw=0.8)   # residual
    ax.text(4.15, 2.5, "residual", fontsize=8, rotation=90, va="center")
    _arrow(ax, (0, 3.35), (0, 5.3)), _arrow(ax, (3, 4.92), (3, 5.3))
    ax.text(0, 5.4, "$v$ (out)", ha="center", fontsize=9), ax.text(3, 5.4, "$h$ (out)", ha="center", fontsize=9)
    ax.text(0, 5.9, "vertical stack", ha="center", fontsize=9, fontweight="bold")
    ax.text(3, 5.9, "horizontal stack", ha="center", fontsize=9, fontweight="bold")
    ax.set_xlim(-1, 4.6), ax.set_ylim(-0.5, 6.2), ax.axis("off")
