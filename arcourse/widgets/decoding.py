"""Lecture 07's panel: decoding a trained model (ipywidgets is imported only when it is built).

`DecodingPanel` puts sliders for temperature, top-k and top-p and a prompt box next to what
they do to a trained model: the next-token distribution before and after the processors
(kept tokens highlighted, with their renormalised probabilities) and a few sampled
continuations. All state lives in plain attributes (`view`, `samples`, `readout`), updated
by `update()`, which every control calls when it changes; so tests and notebooks can drive
the panel by setting `panel.temperature.value = 0.5` and read what it now shows, with no
browser.
"""
from __future__ import annotations

import html
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch

from arcourse._checks import as_prompt, check_int, model_device
from arcourse.decoding import Processor, apply_processors, generate, next_token_logits, processors_for
from arcourse.device import make_generator
from arcourse.widgets._common import figure, import_widgets, png, readout_box, show_readout, slider_style, token_labels


@dataclass(frozen=True)
class NextTokenView:
    """The next-token distribution before and after a list of processors.

    before: (V,) the model's probabilities.
    after: (V,) the probabilities after the processors, renormalised over the kept tokens.
    kept: (V,) bool, the tokens the processors left a nonzero probability.
    kept_mass: the model's probability mass on the kept tokens (before renormalising).
    """

    before: np.ndarray
    after: np.ndarray
    kept: np.ndarray
    kept_mass: float


def next_token_view(model: torch.nn.Module, prompt: torch.Tensor | Sequence[int],
                    processors: Sequence[Processor]) -> NextTokenView:
    """What `processors` do to the model's next-token distribution after `prompt`, (T,) or (1, T) ids."""
    ids, _ = as_prompt(prompt, model_device(model), batch=1)                # (1, T)
    logits = next_token_logits(model, ids).float()                          # (1, V)
    after = apply_processors(logits, processors, history=ids).softmax(dim=-1)[0]
    before = logits.softmax(dim=-1)[0]
    kept = after > 0
    return NextTokenView(before=before.cpu().numpy(), after=after.cpu().numpy(), kept=kept.cpu().numpy(),
                         kept_mass=float(before[kept].sum()))


def _bar_chart_png(view: NextTokenView, labels: list[str], n_bars: int) -> bytes:
    order = np.argsort(-view.before, kind="stable")[:n_bars]
    x = np.arange(len(order))
    fig = figure(8, 3.2)
    ax = fig.subplots()
    ax.bar(x - 0.2, view.before[order], width=0.4, color="0.75", label="model")
    colors = np.where(view.kept[order], "tab:orange", "0.9")
    ax.bar(x + 0.2, view.after[order], width=0.4, color=colors, edgecolor="tab:orange",
           label="after processors (kept, renormalised)")
    ax.set_xticks(x, [labels[i] for i in order])
    ax.set_ylabel("probability")
    ax.set_ylim(0, 1)
    ax.set_title(f"next token: {int(view.kept.sum())} kept, {view.kept_mass:.1%} of the model's mass")
    ax.legend(loc="upper right", fontsize=8)
    return png(fig)


class DecodingPanel:
    """Sliders for temperature, top-k and top-p, a prompt box, the next-token distribution
    before and after them, and continuations sampled with them.

    Args:
        model: a trained sequence model (the `arcourse.decoding` protocol).
        tokenizer: a `CharTokenizer` with a boundary token; the prompt box holds text, the
            model sees the boundary token followed by it.
        temperature, top_k, top_p: starting values (top_k = 0 and top_p = 1 mean off).
        n_samples: continuations shown; max_new_tokens: their longest length.
        seed: samples are drawn with a fresh generator seeded with it at every update, so a
            setting always shows the same samples.
        n_bars: how many of the most probable tokens the chart shows.

    Show it with `panel.widget`; read what it shows in `view`, `samples` and `readout`.
    """

    def __init__(self, model: torch.nn.Module, tokenizer, *, prompt: str = "", temperature: float = 1.0,
                 top_k: int = 0, top_p: float = 1.0, n_samples: int = 8, max_new_tokens: int = 20,
                 seed: int = 0, n_bars: int = 30):
        widgets = import_widgets()  # lazily: the rest of arcourse works without it

        processors_for(temperature, top_k, top_p)  # validates the starting values
        for name, value in (("n_samples", n_samples), ("max_new_tokens", max_new_tokens), ("n_bars", n_bars)):
            check_int(name, value, 1, who="DecodingPanel")
        self.model, self.tokenizer = model, tokenizer
        self.n_samples, self.max_new_tokens, self.seed, self.n_bars = n_samples, max_new_tokens, seed, n_bars
        vocab = tokenizer.vocab_size
        self.labels = token_labels(tokenizer)
        slider = slider_style()
        self.temperature = widgets.FloatLogSlider(value=temperature, base=10, min=-1.5, max=0.7, step=0.05,
                                                  description="temperature", readout_format=".2f", **slider)
        self.top_k = widgets.IntSlider(value=top_k, min=0, max=vocab, description="top-k (0 = off)", **slider)
        self.top_p = widgets.FloatSlider(value=top_p, min=0.05, max=1.0, step=0.01, description="top-p",
                                         readout_format=".2f", **slider)
        self.prompt = widgets.Text(value=prompt, description="prompt", placeholder="start of a name")
        self.chart = widgets.Image(format="png")
        self.readout_box = readout_box(widgets)
        self.samples_box = widgets.HTML().add_class("arcourse-samples")
        for control in (self.temperature, self.top_k, self.top_p, self.prompt):
            control.observe(self.update, names="value")
        self.widget = widgets.VBox([
            widgets.HBox([self.temperature, self.top_k, self.top_p]), self.prompt,
            self.chart, self.readout_box, self.samples_box,
        ]).add_class("arcourse-decoding-panel")
        self.view: NextTokenView | None = None
        self.samples: list[str] = []
        self.readout = ""
        self.update()

    def processors(self) -> list[Processor]:
        """The processors the sliders set now."""
        return processors_for(self.temperature.value, self.top_k.value, self.top_p.value)

    def prompt_ids(self) -> list[int]:
        """The boundary token followed by the prompt box's text (ValueError on unknown characters)."""
        return [self.tokenizer.boundary_id, *self.tokenizer.encode(self.prompt.value.strip().lower())]

    def update(self, change=None) -> None:
        """Recompute the distribution, the chart, the readout and the samples."""
        try:
            ids = self.prompt_ids()
        except ValueError as err:
            self.view, self.samples = None, []
            self.readout = f"cannot read the prompt: {err}"
            show_readout(self.readout_box, self.readout)
            self.samples_box.value = ""
            return
        procs = self.processors()
        self.view = next_token_view(self.model, ids, procs)
        device = model_device(self.model)
        prompt = torch.tensor(ids, device=device).expand(self.n_samples, -1)
        out = generate(self.model, prompt, self.max_new_tokens, processors=procs,
                       generator=make_generator(self.seed, device), eos_id=self.tokenizer.boundary_id)
        self.samples = [self.tokenizer.decode(row.tolist()) for row in out]
        top = np.argsort(-self.view.after, kind="stable")[: min(5, int(self.view.kept.sum()))]
        settings = " · ".join(repr(p) for p in procs)
        self.readout = (f"{settings}: kept {int(self.view.kept.sum())} of {len(self.labels)} tokens, "
                        f"{self.view.kept_mass:.1%} of the model's mass; most probable after: "
                        + ", ".join(f"{self.labels[i]} {self.view.after[i]:.3f}" for i in top))
        # the readout goes last: when it changes, the chart and the samples already have
        self.chart.value = _bar_chart_png(self.view, self.labels, self.n_bars)
        self.samples_box.value = "samples: " + ", ".join(f"<code>{html.escape(s)}</code>" for s in self.samples)
        show_readout(self.readout_box, self.readout)
