"""PixelCNN and Gated PixelCNN: images generated one sub-pixel at a time.

PixelCNN comes from van den Oord, Kalchbrenner and Kavukcuoglu (2016), "Pixel Recurrent
Neural Networks"; the gated version with vertical and horizontal stacks from van den Oord,
Kalchbrenner, Vinyals, Espeholt, Graves and Kavukcuoglu (2016), "Conditional Image
Generation with PixelCNN Decoders". An image is read in raster order (rows top to bottom,
pixels left to right, colours R -> G -> B within a pixel), p(x) = prod_i p(x_i | x_<i), and
each conditional is a K-way softmax over grey levels. A masked convolution zeroes the kernel
weights that would see x_i itself or anything later, so one forward pass yields every
conditional at once (parallel training, exact likelihood) while sampling needs one pass per
sub-pixel; stacked masked 3x3 convolutions miss a wedge of the past (the blind spot), which
the gated model's two stacks (rows above; the row so far) close.

Contract: `model(x)` takes levels x (B, C, H, W) in [0, K) and returns logits (B, C, H, W, K).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from arcourse._checks import check_condition, check_int, check_number, check_odd_kernel


def _kernel_pair(kernel_size: int | tuple[int, int]) -> tuple[int, int]:
    pair = (kernel_size, kernel_size) if isinstance(kernel_size, int) else tuple(kernel_size)
    if len(pair) != 2:
        raise ValueError(f"kernel_size must be an odd int >= 1 or a pair of them, got kernel_size={kernel_size!r}")
    return tuple(check_odd_kernel("kernel_size", k) for k in pair)


def pixelcnn_mask(kernel_size: int | tuple[int, int], mask_type: str, in_channels: int = 1,
                  out_channels: int = 1, data_channels: int = 1) -> torch.Tensor:
    """The 0/1 mask of a masked convolution in raster order.

    Every kernel tap above the centre row, and left of the centre in the centre row, is kept;
    everything right of or below the centre is zeroed. At the centre tap itself the feature
    channels are split into `data_channels` contiguous groups (colours R, G, B, ...): an
    output of colour c sees inputs of colours < c (type A, the first layer, which must not
    see the sub-pixel it predicts) or <= c (type B, every later layer).

    Args:
        kernel_size: odd k or (kh, kw).
        mask_type: "A" or "B".
        in_channels, out_channels: feature channels, each a multiple of data_channels.
        data_channels: C, colour channels of the image (1 grey, 3 RGB).
    Returns:
        (out_channels, in_channels, kh, kw) float32 tensor of zeros and ones.
    """
    kh, kw = _kernel_pair(kernel_size)
    if mask_type not in ("A", "B"):
        raise ValueError(f"mask_type must be 'A' or 'B', got mask_type={mask_type!r}")
    for name, value in (("data_channels", data_channels), ("in_channels", in_channels), ("out_channels", out_channels)):
        check_int(name, value, 1)
    if in_channels % data_channels or out_channels % data_channels:
        raise ValueError(f"in_channels and out_channels must be multiples of data_channels={data_channels}, "
                         f"got in_channels={in_channels}, out_channels={out_channels}")
    mask = torch.zeros(out_channels, in_channels, kh, kw)
    ci, cj = kh // 2, kw // 2
    mask[:, :, :ci, :] = 1           # rows above
    mask[:, :, ci, :cj] = 1          # left in the centre row
    out_colour = torch.arange(out_channels) // (out_channels // data_channels)  # (out,)
    in_colour = torch.arange(in_channels) // (in_channels // data_channels)     # (in,)
    if mask_type == "A":
        centre = in_colour[None, :] < out_colour[:, None]
    else:
        centre = in_colour[None, :] <= out_colour[:, None]
    mask[:, :, ci, cj] = centre.float()
    return mask


class MaskedConv2d(nn.Conv2d):
    """A 'same'-padded convolution whose weights are multiplied by `pixelcnn_mask`.

    Args:
        in_channels, out_channels: feature channels (multiples of data_channels).
        kernel_size: odd k or (kh, kw).
        mask_type: "A" (first layer: hides the centre sub-pixel) or "B" (later layers).
        data_channels: C, colours of the image; the channel-ordering rule of `pixelcnn_mask`.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int | tuple[int, int],
                 mask_type: str = "B", *, data_channels: int = 1, bias: bool = True):
        kh, kw = _kernel_pair(kernel_size)
        mask = pixelcnn_mask((kh, kw), mask_type, in_channels, out_channels, data_channels)
        super().__init__(in_channels, out_channels, (kh, kw), padding=(kh // 2, kw // 2), bias=bias)
        self.mask_type, self.data_channels = mask_type, data_channels
        self.register_buffer("mask", mask, persistent=False)  # rebuilt from the arguments, not saved

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, in, H, W) -> (B, out, H, W)
        return self._conv_forward(x, self.weight * self.mask, self.bias)


def _check_levels_channels(vocab_size, data_channels, hidden_channels) -> None:
    check_int("vocab_size", vocab_size, 2)
    check_int("data_channels", data_channels, 1)
    check_int("hidden_channels", hidden_channels, 1)
    if hidden_channels % data_channels:
        raise ValueError(f"hidden_channels must be a multiple of data_channels={data_channels} "
                         f"(one group of features per colour), got hidden_channels={hidden_channels}")


@dataclass(frozen=True)
class PixelCNNConfig:
    """A PixelCNN: one type-A masked convolution, then residual blocks of type-B ones.

    Attributes:
        vocab_size: K, grey levels per sub-pixel (the softmax size).
        data_channels: C, colours per pixel (1 grey, 3 RGB).
        hidden_channels: feature channels inside the network (a multiple of C).
        n_layers: residual blocks of masked kernel_size x kernel_size convolutions.
        kernel_size: odd kernel of the blocks.
        first_kernel_size: odd kernel of the type-A input convolution.
    """

    vocab_size: int = 17
    data_channels: int = 1
    hidden_channels: int = 64
    n_layers: int = 5
    kernel_size: int = 3
    first_kernel_size: int = 7

    def __post_init__(self):
        _check_levels_channels(self.vocab_size, self.data_channels, self.hidden_channels)
        check_int("n_layers", self.n_layers, 1)
        for name in ("kernel_size", "first_kernel_size"):
            check_odd_kernel(name, getattr(self, name))

    @classmethod
    def tiny(cls, **overrides) -> "PixelCNNConfig":
        """A few thousand parameters: for tests and gradient pictures (binary by default;
        6 features per colour)."""
        C = overrides.get("data_channels", 1)
        return cls(**{"vocab_size": 2, "hidden_channels": 6 * C, "n_layers": 2, "kernel_size": 3,
                      "first_kernel_size": 3, **overrides})

    @classmethod
    def small(cls, **overrides) -> "PixelCNNConfig":
        """Sized for 8x8 digits of 17 levels on a CPU."""
        return cls(**{"vocab_size": 17, "hidden_channels": 64, "n_layers": 5, "kernel_size": 3,
                      "first_kernel_size": 5, **overrides})


@dataclass(frozen=True)
class GatedPixelCNNConfig:
    """A Gated PixelCNN: n_layers gated layers, each with a vertical and a horizontal stack.

    Attributes:
        vocab_size: K, grey levels per sub-pixel.
        data_channels: C, colours per pixel.
        hidden_channels: feature channels of each stack (a multiple of C).
        n_layers: gated layers.
        kernel_size: odd width k; the vertical stack sees k//2 + 1 rows, the horizontal
            stack k//2 + 1 pixels of its row, per layer.
        n_conditions: classes to condition on (0: unconditional).
    """

    vocab_size: int = 17
    data_channels: int = 1
    hidden_channels: int = 64
    n_layers: int = 6
    kernel_size: int = 3
    n_conditions: int = 0

    def __post_init__(self):
        _check_levels_channels(self.vocab_size, self.data_channels, self.hidden_channels)
        check_int("n_layers", self.n_layers, 1)
        check_odd_kernel("kernel_size", self.kernel_size, 3)
        check_int("n_conditions", self.n_conditions, 0)

    @classmethod
    def tiny(cls, **overrides) -> "GatedPixelCNNConfig":
        """A few thousand parameters: for tests and gradient pictures (binary by default;
        4 features per colour)."""
        C = overrides.get("data_channels", 1)
        return cls(**{"vocab_size": 2, "hidden_channels": 4 * C, "n_layers": 2, "kernel_size": 3, **overrides})

    @classmethod
    def small(cls, **overrides) -> "GatedPixelCNNConfig":
        """Sized for 8x8 digits of 17 levels on a CPU."""
        return cls(**{"vocab_size": 17, "hidden_channels": 64, "n_layers": 6, "kernel_size": 3, **overrides})


class _PixelModel(nn.Module):
    """What the pixel models share: K levels of C colours in, logits (B, C, H, W, K) out."""

    def __init__(self, vocab_size: int, data_channels: int):
        super().__init__()
        self.vocab_size, self.data_channels = vocab_size, data_channels

    def _scaled_input(self, x: torch.Tensor) -> torch.Tensor:
        """Levels (B, C, H, W) -> floats in [-1, 1]; floating input passes through the same
        scaling, so input gradients can be taken."""
        C, K = self.data_channels, self.vocab_size
        if x.ndim != 4 or x.shape[1] != C:
            raise ValueError(f"x must have shape (B, {C}, H, W), got {tuple(x.shape)}")
        if not x.is_floating_point():
            if x.dtype == torch.bool:
                raise TypeError("x must hold integer levels (or floats for gradient probes), got dtype torch.bool")
            if x.numel() and (x.min() < 0 or x.max() >= K):
                raise ValueError(f"x must hold levels in [0, {K}), found [{int(x.min())}, {int(x.max())}]")
        return x.float() * (2.0 / (K - 1)) - 1.0

    def _logits(self, out: torch.Tensor) -> torch.Tensor:
        """(B, C*K, H, W), contiguous per colour -> (B, C, H, W, K)."""
        B, _, H, W = out.shape
        C, K = self.data_channels, self.vocab_size
        return out.view(B, C, K, H, W).permute(0, 1, 3, 4, 2)


def _output_head(hidden: int, data_channels: int, vocab_size: int) -> nn.Sequential:
    """Two 1x1 type-B convolutions to K logits per sub-pixel."""
    return nn.Sequential(
        nn.ReLU(),
        MaskedConv2d(hidden, hidden, 1, "B", data_channels=data_channels),
        nn.ReLU(),
        MaskedConv2d(hidden, data_channels * vocab_size, 1, "B", data_channels=data_channels),
    )


class PixelCNN(_PixelModel):
    """Type-A masked convolution, residual blocks of type-B ones, and a 1x1 output head.

    forward(x (B, C, H, W) levels) -> logits (B, C, H, W, K).
    """

    def __init__(self, config: PixelCNNConfig):
        if not isinstance(config, PixelCNNConfig):
            raise TypeError(f"config must be a PixelCNNConfig, got {type(config).__name__}")
        super().__init__(config.vocab_size, config.data_channels)
        self.config = config
        C, D = config.data_channels, config.hidden_channels
        self.input_conv = MaskedConv2d(C, D, config.first_kernel_size, "A", data_channels=C)
        self.blocks = nn.ModuleList(
            MaskedConv2d(D, D, config.kernel_size, "B", data_channels=C) for _ in range(config.n_layers))
        self.head = _output_head(D, C, config.vocab_size)

    def forward(self, x: torch.Tensor, condition: torch.Tensor | None = None) -> torch.Tensor:
        check_condition(condition, 0, len(x))
        h = self.input_conv(self._scaled_input(x))   # (B, D, H, W)
        for block in self.blocks:
            h = h + block(F.relu(h))                  # residual
        return self._logits(self.head(h))             # (B, C, H, W, K)


def _gate(x: torch.Tensor, data_channels: int) -> torch.Tensor:
    """tanh(f) * sigmoid(g), where each colour's group of 2D channels holds its f then its g.

    (B, 2D, H, W) -> (B, D, H, W), keeping the contiguous colour groups of the masks.
    """
    B, D2, H, W = x.shape
    x = x.view(B, data_channels, 2, D2 // (2 * data_channels), H, W)
    return (torch.tanh(x[:, :, 0]) * torch.sigmoid(x[:, :, 1])).reshape(B, D2 // 2, H, W)


def _shift_down(x: torch.Tensor) -> torch.Tensor:
    """Move every row one down (zeros on top): row i now carries what row i-1 held."""
    return F.pad(x, (0, 0, 1, 0))[:, :, :-1, :]


class GatedLayer(nn.Module):
    """One layer of the Gated PixelCNN.

    The vertical stack convolves a (k//2 + 1) x k window ending at the current row; shifted
    one row down it tells the horizontal stack about every row above. The horizontal stack
    convolves the current row up to the current pixel (a masked 1 x k kernel, type A in the
    first layer), adds the vertical information, gates, and keeps a residual connection.
    """

    def __init__(self, in_channels: int, channels: int, kernel_size: int, data_channels: int, first: bool,
                 n_conditions: int = 0):
        super().__init__()
        k = kernel_size
        self.kernel_size, self.data_channels, self.first = k, data_channels, first
        self.vertical = nn.Conv2d(in_channels, 2 * channels, (k // 2 + 1, k))
        self.vertical_to_horizontal = nn.Conv2d(2 * channels, 2 * channels, 1)
        self.horizontal = MaskedConv2d(in_channels, 2 * channels, (1, k), "A" if first else "B",
                                       data_channels=data_channels)
        self.horizontal_out = MaskedConv2d(channels, channels, 1, "B", data_channels=data_channels)
        self.class_bias = nn.Embedding(n_conditions, 4 * channels) if n_conditions else None

    def forward(self, v: torch.Tensor, h: torch.Tensor, condition: torch.Tensor | None = None
                ) -> tuple[torch.Tensor, torch.Tensor]:
        k = self.kernel_size
        v_pre = self.vertical(F.pad(v, (k // 2, k // 2, k // 2, 0)))  # (B, 2D, H, W): rows <= i
        h_pre = self.horizontal(h) + self.vertical_to_horizontal(_shift_down(v_pre))  # rows < i, row i so far
        if self.class_bias is not None:
            v_bias, h_bias = self.class_bias(condition)[:, :, None, None].chunk(2, dim=1)  # (B, 2D, 1, 1) each
            v_pre, h_pre = v_pre + v_bias, h_pre + h_bias
        v_out = _gate(v_pre, self.data_channels)                   # (B, D, H, W)
        h_out = self.horizontal_out(_gate(h_pre, self.data_channels))
        return v_out, (h_out if self.first else h + h_out)  # residual after the first layer


class GatedPixelCNN(_PixelModel):
    """Gated layers with vertical and horizontal stacks (no blind spot), optional class input.

    forward(x (B, C, H, W) levels, condition (B,) class ids or None) -> logits (B, C, H, W, K).
    """

    def __init__(self, config: GatedPixelCNNConfig):
        if not isinstance(config, GatedPixelCNNConfig):
            raise TypeError(f"config must be a GatedPixelCNNConfig, got {type(config).__name__}")
        super().__init__(config.vocab_size, config.data_channels)
        self.config = config
        C, D = config.data_channels, config.hidden_channels
        self.layers = nn.ModuleList(
            GatedLayer(C if i == 0 else D, D, config.kernel_size, C, first=i == 0, n_conditions=config.n_conditions)
            for i in range(config.n_layers))
        self.head = _output_head(D, C, config.vocab_size)

    def forward(self, x: torch.Tensor, condition: torch.Tensor | None = None) -> torch.Tensor:
        condition = check_condition(condition, self.config.n_conditions, len(x))
        v = h = self._scaled_input(x)                 # (B, C, H, W)
        for layer in self.layers:
            v, h = layer(v, h, condition)                # (B, D, H, W) each
        return self._logits(self.head(h))             # (B, C, H, W, K)


class IndependentPixels(_PixelModel):
    """The baseline that ignores every dependency: one categorical per sub-pixel position,
    p(x) = prod_i p_i(x_i), with p_i the smoothed frequencies of the training images.

    forward(x (B, C, H, W)) -> the same logits (B, C, H, W, K) for every image.
    """

    def __init__(self, log_probs: torch.Tensor):
        if log_probs.ndim != 4 or log_probs.shape[-1] < 2:
            raise ValueError(f"log_probs must have shape (C, H, W, K) with K >= 2, got {tuple(log_probs.shape)}")
        super().__init__(log_probs.shape[-1], log_probs.shape[0])
        self.log_probs = nn.Parameter(log_probs.float())

    @classmethod
    def from_images(cls, images: torch.Tensor, vocab_size: int, smoothing: float = 1.0) -> "IndependentPixels":
        """The maximum-likelihood table with `smoothing` pseudo-counts per level (add-one by default).

        Args:
            images: (N, C, H, W) training levels in [0, vocab_size).
        """
        check_int("vocab_size", vocab_size, 2)
        check_number("smoothing", smoothing, 0)
        if images.ndim != 4 or images.is_floating_point() or len(images) == 0:
            raise ValueError(f"images must be integer levels of shape (N, C, H, W), got {tuple(images.shape)}")
        counts = F.one_hot(images.long().cpu(), vocab_size).sum(0).double() + smoothing  # (C, H, W, K), on the CPU
        return cls((counts / counts.sum(-1, keepdim=True)).log())

    def forward(self, x: torch.Tensor, condition: torch.Tensor | None = None) -> torch.Tensor:
        check_condition(condition, 0, len(x))
        self._scaled_input(x)  # validates the shape and the levels
        if tuple(x.shape[2:]) != tuple(self.log_probs.shape[1:3]):
            raise ValueError(f"x must be {tuple(self.log_probs.shape[1:3])} images, got {tuple(x.shape[2:])}")
        return self.log_probs.expand(len(x), *self.log_probs.shape)  # (B, C, H, W, K)


def pixel_input_gradient(model: nn.Module, shape: tuple[int, int, int], channel: int, row: int, col: int, *,
                         n_images: int = 16, seed: int = 0) -> torch.Tensor:
    """Which sub-pixels one output sees: |d logits[:, channel, row, col] / d x|, summed over
    the K logits and over `n_images` random images (so a zero means no path at all, not a
    lucky cancellation).

    Causality in raster order means it is zero at (channel, row, col) itself and at every
    later sub-pixel. The images are random floats in [0, K - 1] (the models scale levels to
    [-1, 1] either way), drawn on the CPU from `seed`, so the answer does not depend on the
    device.

    Args:
        model: a pixel model, model(x (B, C, H, W) floats) -> (B, C, H, W, K).
        shape: (C, H, W) of the images.
        channel, row, col: the output sub-pixel.
    Returns:
        (C, H, W) float tensor on the model's device.
    """
    for name, value in (("channel", channel), ("row", row), ("col", col)):
        check_int(name, value, 0)
    check_int("n_images", n_images, 1)
    if len(shape) != 3 or not (channel < shape[0] and row < shape[1] and col < shape[2]):
        raise ValueError(f"(channel, row, col) = {(channel, row, col)} must lie inside shape (C, H, W) = {shape}")
    gen = torch.Generator().manual_seed(seed)
    weight = next(model.parameters())
    x = (torch.rand(n_images, *shape, generator=gen) * (model.vocab_size - 1)).to(weight.device, weight.dtype)
    x.requires_grad_(True)
    (grad,) = torch.autograd.grad(model(x)[:, channel, row, col].sum(), x)  # leaves the parameters' .grad alone
    return grad.abs().sum(0)  # (C, H, W)
