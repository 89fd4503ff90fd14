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
from importlib import resources
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F

from arcourse.decoding import Temperature, sample_tokens
from arcourse.metrics import nll


def _kernel_pair(kernel_size: int | tuple[int, int]) -> tuple[int, int]:
    pair = (kernel_size, kernel_size) if isinstance(kernel_size, int) else tuple(kernel_size)
    if len(pair) != 2 or any(isinstance(k, bool) or not isinstance(k, int) or k < 1 or k % 2 == 0 for k in pair):
        raise ValueError(f"kernel_size must be an odd int >= 1 or a pair of them, got kernel_size={kernel_size!r}")
    return pair


def _check_positive_int(name: str, value, minimum: int = 1) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}, got {name}={value!r}")


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
        _check_positive_int(name, value)
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


def _check_levels_channels(levels, data_channels, hidden_channels) -> None:
    _check_positive_int("levels", levels, 2)
    _check_positive_int("data_channels", data_channels)
    _check_positive_int("hidden_channels", hidden_channels)
    if hidden_channels % data_channels:
        raise ValueError(f"hidden_channels must be a multiple of data_channels={data_channels} "
                         f"(one group of features per colour), got hidden_channels={hidden_channels}")


@dataclass(frozen=True)
class PixelCNNConfig:
    """A PixelCNN: one type-A masked convolution, then residual blocks of type-B ones.

    Attributes:
        levels: K, grey levels per sub-pixel (the softmax size).
        data_channels: C, colours per pixel (1 grey, 3 RGB).
        hidden_channels: feature channels inside the network (a multiple of C).
        n_layers: residual blocks of masked kernel_size x kernel_size convolutions.
        kernel_size: odd kernel of the blocks.
        first_kernel_size: odd kernel of the type-A input convolution.
    """

    levels: int = 17
    data_channels: int = 1
    hidden_channels: int = 64
    n_layers: int = 5
    kernel_size: int = 3
    first_kernel_size: int = 7

    def __post_init__(self):
        _check_levels_channels(self.levels, self.data_channels, self.hidden_channels)
        _check_positive_int("n_layers", self.n_layers)
        for name in ("kernel_size", "first_kernel_size"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1 or value % 2 == 0:
                raise ValueError(f"{name} must be an odd int >= 1, got {name}={value!r}")

    @classmethod
    def tiny(cls, levels: int = 2, data_channels: int = 1) -> "PixelCNNConfig":
        """A few thousand parameters: for tests and gradient pictures."""
        return cls(levels=levels, data_channels=data_channels, hidden_channels=6 * data_channels, n_layers=2,
                   kernel_size=3, first_kernel_size=3)

    @classmethod
    def digits(cls, levels: int = 17) -> "PixelCNNConfig":
        """Sized for 8x8 digits on a CPU."""
        return cls(levels=levels, data_channels=1, hidden_channels=64, n_layers=5, kernel_size=3, first_kernel_size=5)


@dataclass(frozen=True)
class GatedPixelCNNConfig:
    """A Gated PixelCNN: n_layers gated layers, each with a vertical and a horizontal stack.

    Attributes:
        levels: K, grey levels per sub-pixel.
        data_channels: C, colours per pixel.
        hidden_channels: feature channels of each stack (a multiple of C).
        n_layers: gated layers.
        kernel_size: odd width k; the vertical stack sees k//2 + 1 rows, the horizontal
            stack k//2 + 1 pixels of its row, per layer.
        n_classes: classes to condition on (0: unconditional).
    """

    levels: int = 17
    data_channels: int = 1
    hidden_channels: int = 64
    n_layers: int = 6
    kernel_size: int = 3
    n_classes: int = 0

    def __post_init__(self):
        _check_levels_channels(self.levels, self.data_channels, self.hidden_channels)
        _check_positive_int("n_layers", self.n_layers)
        if isinstance(self.kernel_size, bool) or not isinstance(self.kernel_size, int) or self.kernel_size < 3 \
                or self.kernel_size % 2 == 0:
            raise ValueError(f"kernel_size must be an odd int >= 3, got kernel_size={self.kernel_size!r}")
        _check_positive_int("n_classes", self.n_classes, 0)

    @classmethod
    def tiny(cls, levels: int = 2, data_channels: int = 1, n_classes: int = 0) -> "GatedPixelCNNConfig":
        """A few thousand parameters: for tests and gradient pictures."""
        return cls(levels=levels, data_channels=data_channels, hidden_channels=4 * data_channels, n_layers=2,
                   kernel_size=3, n_classes=n_classes)

    @classmethod
    def digits(cls, levels: int = 17, n_classes: int = 0) -> "GatedPixelCNNConfig":
        """Sized for 8x8 digits on a CPU."""
        return cls(levels=levels, data_channels=1, hidden_channels=64, n_layers=6, kernel_size=3, n_classes=n_classes)


class _PixelModel(nn.Module):
    """What the pixel models share: K levels of C colours in, logits (B, C, H, W, K) out."""

    def __init__(self, levels: int, data_channels: int):
        super().__init__()
        self.levels, self.data_channels = levels, data_channels

    def _scaled_input(self, x: torch.Tensor) -> torch.Tensor:
        """Levels (B, C, H, W) -> floats in [-1, 1]; floating input passes through the same
        scaling, so input gradients can be taken."""
        C, K = self.data_channels, self.levels
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
        C, K = self.data_channels, self.levels
        return out.view(B, C, K, H, W).permute(0, 1, 3, 4, 2)


def _output_head(hidden: int, data_channels: int, levels: int) -> nn.Sequential:
    """Two 1x1 type-B convolutions to K logits per sub-pixel."""
    return nn.Sequential(
        nn.ReLU(),
        MaskedConv2d(hidden, hidden, 1, "B", data_channels=data_channels),
        nn.ReLU(),
        MaskedConv2d(hidden, data_channels * levels, 1, "B", data_channels=data_channels),
    )


class PixelCNN(_PixelModel):
    """Type-A masked convolution, residual blocks of type-B ones, and a 1x1 output head.

    forward(x (B, C, H, W) levels) -> logits (B, C, H, W, K).
    """

    def __init__(self, config: PixelCNNConfig):
        if not isinstance(config, PixelCNNConfig):
            raise TypeError(f"config must be a PixelCNNConfig, got {type(config).__name__}")
        super().__init__(config.levels, config.data_channels)
        self.config = config
        C, D = config.data_channels, config.hidden_channels
        self.input_conv = MaskedConv2d(C, D, config.first_kernel_size, "A", data_channels=C)
        self.blocks = nn.ModuleList(
            MaskedConv2d(D, D, config.kernel_size, "B", data_channels=C) for _ in range(config.n_layers))
        self.head = _output_head(D, C, config.levels)

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        if labels is not None:
            raise ValueError("this PixelCNN is unconditional; labels must be None")
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
                 n_classes: int = 0):
        super().__init__()
        k = kernel_size
        self.kernel_size, self.data_channels, self.first = k, data_channels, first
        self.vertical = nn.Conv2d(in_channels, 2 * channels, (k // 2 + 1, k))
        self.vertical_to_horizontal = nn.Conv2d(2 * channels, 2 * channels, 1)
        self.horizontal = MaskedConv2d(in_channels, 2 * channels, (1, k), "A" if first else "B",
                                       data_channels=data_channels)
        self.horizontal_out = MaskedConv2d(channels, channels, 1, "B", data_channels=data_channels)
        self.class_bias = nn.Embedding(n_classes, 4 * channels) if n_classes else None

    def forward(self, v: torch.Tensor, h: torch.Tensor, labels: torch.Tensor | None = None
                ) -> tuple[torch.Tensor, torch.Tensor]:
        k = self.kernel_size
        v_pre = self.vertical(F.pad(v, (k // 2, k // 2, k // 2, 0)))  # (B, 2D, H, W): rows <= i
        h_pre = self.horizontal(h) + self.vertical_to_horizontal(_shift_down(v_pre))  # rows < i, row i so far
        if self.class_bias is not None:
            v_bias, h_bias = self.class_bias(labels)[:, :, None, None].chunk(2, dim=1)  # (B, 2D, 1, 1) each
            v_pre, h_pre = v_pre + v_bias, h_pre + h_bias
        v_out = _gate(v_pre, self.data_channels)                   # (B, D, H, W)
        h_out = self.horizontal_out(_gate(h_pre, self.data_channels))
        return v_out, (h_out if self.first else h + h_out)  # residual after the first layer


class GatedPixelCNN(_PixelModel):
    """Gated layers with vertical and horizontal stacks (no blind spot), optional class input.

    forward(x (B, C, H, W) levels, labels (B,) or None) -> logits (B, C, H, W, K).
    """

    def __init__(self, config: GatedPixelCNNConfig):
        if not isinstance(config, GatedPixelCNNConfig):
            raise TypeError(f"config must be a GatedPixelCNNConfig, got {type(config).__name__}")
        super().__init__(config.levels, config.data_channels)
        self.config = config
        C, D = config.data_channels, config.hidden_channels
        self.layers = nn.ModuleList(
            GatedLayer(C if i == 0 else D, D, config.kernel_size, C, first=i == 0, n_classes=config.n_classes)
            for i in range(config.n_layers))
        self.head = _output_head(D, C, config.levels)

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        labels = _check_labels(self.config.n_classes, labels, len(x))
        v = h = self._scaled_input(x)                 # (B, C, H, W)
        for layer in self.layers:
            v, h = layer(v, h, labels)                # (B, D, H, W) each
        return self._logits(self.head(h))             # (B, C, H, W, K)


def _check_labels(n_classes: int, labels: torch.Tensor | None, batch: int) -> torch.Tensor | None:
    if n_classes == 0:
        if labels is not None:
            raise ValueError("this model is unconditional (n_classes=0); labels must be None")
        return None
    if labels is None:
        raise ValueError(f"this model is class-conditional (n_classes={n_classes}); pass labels (B,)")
    if labels.shape != (batch,) or labels.is_floating_point() or labels.dtype == torch.bool:
        raise ValueError(f"labels must be {batch} integer class ids, got dtype {labels.dtype} shape {tuple(labels.shape)}")
    if labels.min() < 0 or labels.max() >= n_classes:
        raise ValueError(f"labels must lie in [0, {n_classes}), found [{int(labels.min())}, {int(labels.max())}]")
    return labels


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
    def from_images(cls, images: torch.Tensor, levels: int, smoothing: float = 1.0) -> "IndependentPixels":
        """The maximum-likelihood table with `smoothing` pseudo-counts per level (add-one by default).

        Args:
            images: (N, C, H, W) training levels in [0, levels).
        """
        _check_positive_int("levels", levels, 2)
        if not smoothing >= 0:
            raise ValueError(f"smoothing must be >= 0, got smoothing={smoothing!r}")
        if images.ndim != 4 or images.is_floating_point() or len(images) == 0:
            raise ValueError(f"images must be integer levels of shape (N, C, H, W), got {tuple(images.shape)}")
        counts = F.one_hot(images.long().cpu(), levels).sum(0).double() + smoothing  # (C, H, W, K), on the CPU
        return cls((counts / counts.sum(-1, keepdim=True)).log())

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        if labels is not None:
            raise ValueError("IndependentPixels is unconditional; labels must be None")
        self._scaled_input(x)  # validates the shape and the levels
        if tuple(x.shape[2:]) != tuple(self.log_probs.shape[1:3]):
            raise ValueError(f"x must be {tuple(self.log_probs.shape[1:3])} images, got {tuple(x.shape[2:])}")
        return self.log_probs.expand(len(x), *self.log_probs.shape)  # (B, C, H, W, K)


def log_likelihood(model: nn.Module, images: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
    """Exact log p(x) in nats of each image: the sum of its sub-pixels' log-conditionals.

    Divide the negative by C*H*W*ln 2 (`arcourse.bits_per_dim`) for bits per dimension.

    Args:
        images: (B, C, H, W) levels.
    Returns:
        (B,) log-likelihoods (<= 0).
    """
    logits = model(images, labels) if labels is not None else model(images)  # (B, C, H, W, K)
    return -nll(logits, images.long(), reduction="none").sum(dim=(1, 2, 3))


def _model_device(model: nn.Module) -> torch.device:
    param = next(model.parameters(), None)
    return param.device if param is not None else torch.device("cpu")


@torch.no_grad()
def complete_images(model: nn.Module, images: torch.Tensor, known: torch.Tensor, *, temperature: float = 1.0,
                    generator: torch.Generator | None = None, labels: torch.Tensor | None = None) -> torch.Tensor:
    """Fill in the unknown sub-pixels in raster order, each drawn from p(x_i | x_<i) / temperature.

    One forward pass per unknown sub-pixel (that is why sampling is slow). The result is an
    exact sample of p(unknown | known) when every known sub-pixel comes before every unknown
    one in raster order (say, the top rows); known sub-pixels later in the order are kept,
    but the model cannot let them shape the earlier draws.

    Args:
        images: (B, C, H, W) levels; entries where `known` is False are ignored.
        known: bool, (B, C, H, W) or broadcastable to it (e.g. (H, W)).
        temperature: > 0; each conditional's logits are divided by it.
        generator: a seeded torch.Generator on the model's device, for repeatable samples.
        labels: (B,) class ids for a class-conditional model.
    Returns:
        (B, C, H, W) int64 levels, equal to `images` wherever `known`.
    """
    scale = Temperature(temperature)
    if not isinstance(images, torch.Tensor) or images.ndim != 4 or images.is_floating_point():
        raise ValueError("images must be an integer tensor of shape (B, C, H, W)")
    if not isinstance(known, torch.Tensor) or known.dtype != torch.bool:
        raise TypeError("known must be a bool tensor (True where the sub-pixel is given)")
    try:
        known = torch.broadcast_to(known, images.shape)
    except RuntimeError:
        raise ValueError(f"known of shape {tuple(known.shape)} does not broadcast to images {tuple(images.shape)}") from None
    device = _model_device(model)
    x = torch.where(known.to(images.device), images, torch.zeros_like(images)).long().to(device)
    known = known.to(device)
    extra = () if labels is None else (labels.to(device),)
    was_training = model.training
    model.eval()
    _, C, H, W = x.shape
    for i in range(H):
        for j in range(W):
            for c in range(C):
                todo = ~known[:, c, i, j]                            # (B,)
                if not todo.any():
                    continue
                logits = model(x, *extra)[:, c, i, j]                # (B, K)
                draw = sample_tokens(scale(logits), generator=generator)
                x[:, c, i, j] = torch.where(todo, draw, x[:, c, i, j])
    model.train(was_training)
    return x


def sample_images(model: nn.Module, n: int, size: tuple[int, int], *, temperature: float = 1.0,
                  generator: torch.Generator | None = None, labels: torch.Tensor | None = None) -> torch.Tensor:
    """Draw n images of size (H, W) pixel by pixel (`complete_images` with nothing known).

    Returns:
        (n, C, H, W) int64 levels on the model's device.
    """
    _check_positive_int("n", n)
    if len(size) != 2:
        raise ValueError(f"size must be (H, W), got size={size!r}")
    for name, value in zip(("height", "width"), size):
        _check_positive_int(name, value)
    shape = (n, model.data_channels, *size)
    device = _model_device(model)
    blank = torch.zeros(shape, dtype=torch.long, device=device)
    return complete_images(model, blank, torch.zeros(shape, dtype=torch.bool, device=device),
                           temperature=temperature, generator=generator, labels=labels)


_KINDS = {"PixelCNN": (PixelCNN, PixelCNNConfig), "GatedPixelCNN": (GatedPixelCNN, GatedPixelCNNConfig)}


def load_pixelcnn(source: str | Path) -> tuple[nn.Module, dict]:
    """A PixelCNN or Gated PixelCNN saved as {'kind', 'config': asdict(config), 'state_dict', ...}.

    Args:
        source: the name of a checkpoint shipped in arcourse/checkpoints ("gated_pixelcnn_digits"),
            or the path of a .pt file.
    Returns:
        (the model, on the CPU in eval mode; the whole saved dict, e.g. its "steps" and "test_bpd").
    """
    path = Path(source)
    if path.suffix != ".pt":
        path = Path(str(resources.files("arcourse") / "checkpoints" / f"{source}.pt"))
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {path} (scripts/make_checkpoints_pixelcnn.py makes them)")
    saved = torch.load(path, map_location="cpu", weights_only=True)
    if saved.get("kind") not in _KINDS:
        raise ValueError(f"{path.name} holds kind={saved.get('kind')!r}; expected one of {sorted(_KINDS)}")
    model_class, config_class = _KINDS[saved["kind"]]
    model = model_class(config_class(**saved["config"]))
    model.load_state_dict(saved["state_dict"])
    return model.eval(), saved
