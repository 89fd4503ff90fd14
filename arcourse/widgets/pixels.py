"""Lecture 04's panel: a PixelCNN completes a digit from its top rows.

Choose how many rows of a test digit the model is given; it draws the rest pixel by pixel
in raster order, each from p(x_i | x_<i) at a temperature. Beside the completions the panel
shows the model's distribution over the grey levels of the most uncertain pixel of the first
row it has to draw, and, for every pixel of the true digit, how surprised the model is by it (bits, at temperature 1),
the per-pixel terms whose sum is the digit's exact negative log-likelihood.
"""
from __future__ import annotations

import math

import numpy as np
import torch

from arcourse._checks import check_int, eval_mode, model_device
from arcourse.checkpoint import load_checkpoint
from arcourse.data import load_digits, split_images
from arcourse.decoding import Temperature, complete_images
from arcourse.device import make_generator
from arcourse.widgets._common import figure, import_widgets, observe_all, png, readout_box, show_readout, slider_style


class PixelPanel:
    """Rows given, temperature and digit controls beside sampled completions and the
    model's per-pixel distributions.

    Args:
        model: a trained PixelCNN or Gated PixelCNN of one-channel images, (B, 1, H, W) ->
            (B, 1, H, W, K) logits.
        images: (N, 1, H, W) int64 levels in [0, K) (e.g. the test digits).
        rows, temperature, index: starting values.
        n_samples: completions shown; seed: each update samples with a fresh generator seeded with it.

    State: `completions` ((n_samples, H, W) levels), `shown_pixel` ((row, col): the pixel of
    the first row to draw whose distribution, given the true pixels before it, has the most
    entropy; None when every row is given), `shown_probs` ((K,) that distribution at the
    temperature), `surprise` ((H, W) bits of each true pixel given the ones before it),
    `readout`.
    """

    def __init__(self, model: torch.nn.Module, images: torch.Tensor, *, rows: int = 4, temperature: float = 1.0,
                 index: int = 0, n_samples: int = 4, seed: int = 0):
        widgets = import_widgets()  # lazily: the rest of arcourse works without it

        if not isinstance(images, torch.Tensor) or images.ndim != 4 or images.shape[1] != 1 or images.is_floating_point():
            raise TypeError("PixelPanel needs images as an int64 tensor of shape (N, 1, H, W)")
        _, _, H, W = images.shape
        check_int("rows", rows, 0, H, who="PixelPanel")
        check_int("index", index, 0, len(images) - 1, who="PixelPanel")
        check_int("n_samples", n_samples, 1, 16, who="PixelPanel")
        Temperature(temperature)  # validates it
        self.model, self.images, self.n_samples, self.seed = model, images, n_samples, seed
        self.rows = widgets.IntSlider(value=rows, min=0, max=H, description="rows given", **slider_style())
        self.temperature = widgets.FloatLogSlider(value=temperature, base=10, min=-1, max=0.5, step=0.05,
                                                  description="temperature", readout_format=".2f", **slider_style())
        self.index = widgets.IntSlider(value=index, min=0, max=len(images) - 1, description="digit",
                                       **slider_style())
        self.chart = widgets.Image(format="png")
        self.readout_box = readout_box(widgets)
        observe_all([self.rows, self.temperature, self.index], self.update)
        self.widget = widgets.VBox([widgets.HBox([self.rows, self.temperature, self.index]), self.chart,
                                    self.readout_box]).add_class("arcourse-pixel-panel")
        self.readout = ""
        self.update()

    @classmethod
    def from_checkpoint(cls, name: str = "gated_pixelcnn_digits", **kwargs) -> "PixelPanel":
        """The panel on a shipped PixelCNN checkpoint and the test digits of lecture 04's split."""
        shipped = load_checkpoint(name)
        model = shipped.model
        digits = load_digits(levels=model.config.vocab_size)
        test = split_images(digits, (0.8, 0.1, 0.1), seed=shipped.extras["split_seed"])[2]
        return cls(model, test.images, **kwargs)

    @torch.no_grad()
    def update(self, change=None) -> None:
        """Complete the digit from its given rows; recompute the distributions and the chart."""
        device = model_device(self.model)
        image = self.images[self.index.value: self.index.value + 1].to(device)  # (1, 1, H, W)
        _, _, H, W = image.shape
        rows, temperature = self.rows.value, Temperature(self.temperature.value)
        known = torch.zeros(H, W, dtype=torch.bool, device=device)
        known[:rows] = True
        self.completions = complete_images(self.model, image.expand(self.n_samples, -1, -1, -1), known,
                                           processors=[temperature],
                                           generator=make_generator(self.seed, device))[:, 0].cpu().numpy()
        with eval_mode(self.model):
            logits = self.model(image)[0, 0]                                 # (H, W, K)
        self.vocab_size = int(logits.shape[-1])
        truth = image[0, 0]
        log_probs = logits.log_softmax(-1)                                   # the model itself, T = 1
        self.surprise = (-log_probs.gather(-1, truth[..., None])[..., 0] / math.log(2)).cpu().numpy()  # (H, W) bits
        self.shown_pixel, self.shown_probs = None, None
        if rows < H:  # the most uncertain pixel of the first row to draw, given the true pixels before it
            probs = temperature(logits[rows]).softmax(-1)                    # (W, K)
            col = int(torch.special.entr(probs).sum(-1).argmax())
            self.shown_pixel, self.shown_probs = (rows, col), probs[col].cpu().numpy()
        self.chart.value = self._chart(truth.cpu().numpy(), rows)
        unknown_bits = float(self.surprise[rows:].sum())
        self.readout = (f"digit {self.index.value}, {rows} of {H} rows given, {temperature!r}: "
                        f"the true missing pixels cost {unknown_bits:.1f} bits"
                        + (f"; at pixel {self.shown_pixel}, the most uncertain of row {rows}: most likely level "
                           f"{int(self.shown_probs.argmax())} (p = {self.shown_probs.max():.3f}), "
                           f"true level {int(truth[self.shown_pixel])}" if rows < H else "; nothing left to draw"))
        show_readout(self.readout_box, self.readout)

    def _chart(self, truth: np.ndarray, rows: int) -> bytes:
        K, (H, W) = self.vocab_size, truth.shape
        given = np.where(np.arange(H)[:, None] < rows, truth, np.nan)
        gap = np.full((H, 1), np.nan)
        strip = np.concatenate([x for img in (truth, given, *self.completions) for x in (img, gap)][:-1], axis=1)
        fig = figure(11, 2.6)
        ax_img, ax_bits, ax_p = fig.subplots(1, 3, gridspec_kw={"width_ratios": [len(self.completions) + 2, 1, 2]})
        ax_img.imshow(strip, cmap="gray_r", vmin=0, vmax=K - 1)
        ax_img.axhline(rows - 0.5, color="tab:red", lw=1)
        ax_img.set_xticks([(W + 1) * i + W / 2 - 0.5 for i in range(len(self.completions) + 2)],
                          ["digit", "given", *(f"sample {i + 1}" for i in range(len(self.completions)))], fontsize=8)
        ax_img.set_yticks([])
        ax_bits.imshow(self.surprise, cmap="magma")
        ax_bits.set_title("bits per pixel", fontsize=9)
        ax_bits.set_axis_off()
        if self.shown_probs is not None:
            ax_p.bar(np.arange(K), self.shown_probs, color="tab:blue")
            ax_p.axvline(truth[self.shown_pixel], color="tab:red", ls=":", label="true level")
            ax_p.set_title(f"p(pixel {self.shown_pixel} | pixels before)", fontsize=9)
            ax_p.legend(fontsize=7)
        ax_p.set_xlabel("grey level")
        return png(fig)
