"""Lecture 03's panel: what a trained character model's hidden state predicts.

Type a prefix: the recurrent network reads it one character at a time, and its last hidden
state is all it keeps of it. The panel shows that state's trajectory (every unit at every
step), the next-character distribution it gives at a temperature, and continuations
sampled from it, so a class sees a name's statistics appear as the prefix grows.
"""
from __future__ import annotations

import html

import numpy as np
import torch

from arcourse._checks import check_int, eval_mode, model_device
from arcourse.checkpoint import load_checkpoint
from arcourse.data import CharTokenizer
from arcourse.decoding import Temperature, generate
from arcourse.device import make_generator
from arcourse.widgets._common import (figure, import_widgets, observe_all, png, readout_box, show_readout, slider_style,
                                      token_labels)
from arcourse.widgets.decoding import next_token_view


class CharModelPanel:
    """A prefix box and a temperature slider beside a trained CharRNN's hidden states,
    its next-character distribution and sampled continuations.

    Args:
        model: a trained `CharRNN` (its `embed` and `rnn` give the hidden states).
        tokenizer: a `CharTokenizer` with a boundary token; the model reads the boundary
            token followed by the prefix.
        prefix, temperature: starting values (temperature > 0).
        n_samples, max_new_tokens, seed: continuations shown, their longest length, and the
            seed of the fresh generator each update samples with.

    State: `view` (a NextTokenView: `before` is the model's distribution, `after` the one at
    the temperature), `hidden` ((T, d_hidden) states after each token read), `samples`, `readout`.
    """

    def __init__(self, model: torch.nn.Module, tokenizer, *, prefix: str = "ma", temperature: float = 1.0,
                 n_samples: int = 6, max_new_tokens: int = 16, seed: int = 0):
        widgets = import_widgets()  # lazily: the rest of arcourse works without it

        Temperature(temperature)  # validates it
        check_int("n_samples", n_samples, 1, 64, who="CharModelPanel")
        check_int("max_new_tokens", max_new_tokens, 1, 200, who="CharModelPanel")
        if not (hasattr(model, "embed") and hasattr(model, "rnn")):
            raise TypeError(f"CharModelPanel needs a CharRNN (with .embed and .rnn), got {type(model).__name__}")
        self.model, self.tokenizer = model, tokenizer
        self.n_samples, self.max_new_tokens, self.seed = n_samples, max_new_tokens, seed
        self.labels = token_labels(tokenizer)
        self.prefix = widgets.Text(value=prefix, description="prefix", placeholder="start of a name")
        self.temperature = widgets.FloatLogSlider(value=temperature, base=10, min=-1.3, max=0.7, step=0.05,
                                                  description="temperature", readout_format=".2f", **slider_style())
        self.chart = widgets.Image(format="png")
        self.readout_box = readout_box(widgets)
        self.samples_box = widgets.HTML().add_class("arcourse-samples")
        observe_all([self.prefix, self.temperature], self.update)
        self.widget = widgets.VBox([widgets.HBox([self.prefix, self.temperature]), self.chart, self.readout_box,
                                    self.samples_box]).add_class("arcourse-char-model-panel")
        self.view, self.hidden, self.samples, self.readout = None, None, [], ""
        self.update()

    @classmethod
    def from_checkpoint(cls, **kwargs) -> "CharModelPanel":
        """The panel on lecture 07's shipped LSTM of first names (decoding_char_rnn.pt)."""
        shipped = load_checkpoint("decoding_char_rnn")
        return cls(shipped.model, CharTokenizer.from_state_dict(shipped.extras["tokenizer"]), **kwargs)

    @torch.no_grad()
    def update(self, change=None) -> None:
        """Read the prefix; recompute the states, the distribution, the samples and the chart."""
        try:
            ids = [self.tokenizer.boundary_id, *self.tokenizer.encode(self.prefix.value.strip().lower())]
        except ValueError as err:
            self.view, self.hidden, self.samples = None, None, []
            self.readout = f"cannot read the prefix: {err}"
            self.samples_box.value = ""
            show_readout(self.readout_box, self.readout)
            return
        device = model_device(self.model)
        x = torch.tensor([ids], device=device)
        with eval_mode(self.model):  # the states of the trained model, dropout off
            self.hidden = self.model.rnn(self.model.embed(x))[0][0].cpu().numpy()  # (T, d_hidden)
        temperature = Temperature(self.temperature.value)
        self.view = next_token_view(self.model, ids, [temperature])
        out = generate(self.model, x.expand(self.n_samples, -1), self.max_new_tokens, processors=[temperature],
                       generator=make_generator(self.seed, device), eos_id=self.tokenizer.boundary_id)
        self.samples = [self.tokenizer.decode(row.tolist()) for row in out]
        top = np.argsort(-self.view.after, kind="stable")[:5]
        self.chart.value = self._chart(ids)
        self.samples_box.value = "samples: " + ", ".join(f"<code>{html.escape(s)}</code>" for s in self.samples)
        self.readout = (f"after '{self.prefix.value.strip().lower()}' at {temperature!r}: most probable next "
                        + ", ".join(f"{self.labels[i]} {self.view.after[i]:.3f}" for i in top)
                        + f"; hidden state of {self.hidden.shape[1]} units, |h| = {np.linalg.norm(self.hidden[-1]):.2f}")
        show_readout(self.readout_box, self.readout)

    def _chart(self, ids: list[int]) -> bytes:
        fig = figure(10, 3)
        ax_h, ax_p = fig.subplots(1, 2, gridspec_kw={"width_ratios": [1, 2]})
        ax_h.imshow(self.hidden.T, aspect="auto", cmap="coolwarm", vmin=-1, vmax=1, interpolation="nearest")
        ax_h.set_xticks(range(len(ids)), [self.labels[i] for i in ids])
        ax_h.set(title="hidden state after each character", ylabel="unit")
        x = np.arange(len(self.labels))
        ax_p.bar(x - 0.2, self.view.before, width=0.4, color="0.7", label="model (T = 1)")
        ax_p.bar(x + 0.2, self.view.after, width=0.4, color="tab:orange", label="at the temperature")
        ax_p.set_xticks(x, self.labels)
        ax_p.set(title="next character", ylabel="probability", ylim=(0, 1))
        ax_p.legend(fontsize=8)
        return png(fig)
