"""Lecture 06's panel: where a trained GPT looks, and what its KV cache holds.

Type a string and choose a layer and a head: the panel shows that head's attention weights
(row t: the distribution over the positions <= t that step t reads from; the upper
triangle is zero, causality) and the cache a generation keeps after reading the string:
every layer's keys and values, (N heads, S positions, D) each, which is why the next token
costs O(S) instead of a full recompute. It checks that the cached step gives the same
logits as recomputing the whole string.
"""
from __future__ import annotations

import numpy as np
import torch

from arcourse._checks import check_int, eval_mode, model_device
from arcourse.checkpoint import load_checkpoint
from arcourse.data import CharTokenizer
from arcourse.models import GPT
from arcourse.widgets._common import (figure, import_widgets, observe_all, png, readout_box, show_readout, slider_style,
                                      token_labels)


class AttentionPanel:
    """A string box and layer/head sliders beside the head's attention weights and the KV cache.

    Args:
        model: a trained GPT.
        tokenizer: its `CharTokenizer`; the model reads the boundary token, then the string
            (the boundary character may appear inside it, between names).
        text, layer, head: starting values.

    State: `weights` ((T, T) numpy, the chosen head's attention), `cache_shape` ((layers, 2,
    N, S, D)), `cache_floats`, `cache_error` (max |cached - recomputed| next-token logit),
    `labels` (the tokens read), `readout`.
    """

    def __init__(self, model: GPT, tokenizer, *, text: str = "emma.olivia", layer: int = 0, head: int = 0):
        widgets = import_widgets()  # lazily: the rest of arcourse works without it

        if not isinstance(model, GPT):
            raise TypeError(f"AttentionPanel needs a GPT, got {type(model).__name__}")
        cfg = model.config
        check_int("layer", layer, 0, cfg.n_layers - 1, who="AttentionPanel")
        check_int("head", head, 0, cfg.n_heads - 1, who="AttentionPanel")
        self.model, self.tokenizer = model, tokenizer
        self.text = widgets.Text(value=text, description="string", placeholder="names, '.' between them")
        self.layer = widgets.IntSlider(value=layer, min=0, max=cfg.n_layers - 1, description="layer", **slider_style())
        self.head = widgets.IntSlider(value=head, min=0, max=cfg.n_heads - 1, description="head", **slider_style())
        self.chart = widgets.Image(format="png")
        self.readout_box = readout_box(widgets)
        observe_all([self.text, self.layer, self.head], self.update)
        self.widget = widgets.VBox([widgets.HBox([self.text, self.layer, self.head]), self.chart, self.readout_box]
                                   ).add_class("arcourse-attention-panel")
        self.weights, self.readout = None, ""
        self.update()

    @classmethod
    def from_checkpoint(cls, name: str = "gpt", **kwargs) -> "AttentionPanel":
        """The panel on a GPT of lecture 08's shipped checkpoint (names; "gpt" has 2 layers of 4 heads)."""
        shipped = load_checkpoint("lecture08_models")
        return cls(shipped.models[name], CharTokenizer.from_state_dict(shipped.extras["tokenizer"]), **kwargs)

    @torch.no_grad()
    def update(self, change=None) -> None:
        """Recompute the attention maps and the cache for the string."""
        text = self.text.value.strip().lower()
        try:
            ids = [self.tokenizer.boundary_id, *self.tokenizer.encode(text)]
        except ValueError as err:
            self.weights, self.readout = None, f"cannot read the string: {err}"
            show_readout(self.readout_box, self.readout)
            return
        ids = ids[-self.model.context_len:]
        device = model_device(self.model)
        x = torch.tensor([ids], device=device)                                  # (1, T)
        with eval_mode(self.model):  # the trained model's attention, dropout off
            maps = self.model.attention_maps(x)                                 # layers x (1, N, T, T)
            _, cache = self.model.start(x)
            self.cache_error = self._cache_error(x)
        self.weights = maps[self.layer.value][0, self.head.value].cpu().numpy()  # (T, T)
        self.labels = token_labels(self.tokenizer, ids)
        self.cache_shape = (len(cache.keys), 2, *cache.keys[0].shape[1:])       # (layers, k/v, N, S, D)
        self.cache_floats = int(np.prod(self.cache_shape))
        keys = cache.keys[self.layer.value][0, self.head.value].cpu().numpy()   # (S, D)
        self.chart.value = self._chart(keys)
        L, _, N, S, D = self.cache_shape
        self.readout = (f"layer {self.layer.value}, head {self.head.value}, {len(ids)} tokens: the last token "
                        f"attends most to position {int(self.weights[-1].argmax())} "
                        f"('{self.labels[int(self.weights[-1].argmax())]}', weight {self.weights[-1].max():.3f}); "
                        f"the KV cache holds {L} layers × (keys, values) × {N} heads × {S} positions × {D} = "
                        f"{self.cache_floats} numbers; cached step vs recompute: max |Δ logit| = {self.cache_error:.1e}")
        show_readout(self.readout_box, self.readout)

    def _cache_error(self, x: torch.Tensor) -> float:
        """The next-token logits from start(all but the last) + step(last) against a full forward pass."""
        if x.shape[1] < 2:
            return 0.0
        _, cache = self.model.start(x[:, :-1])
        stepped, _ = self.model.step(x[:, -1], cache)
        full = self.model(x)[:, -1]
        return float((stepped - full).abs().max())

    def _chart(self, keys: np.ndarray) -> bytes:
        fig = figure(10, 3.6)
        ax_w, ax_k = fig.subplots(1, 2, gridspec_kw={"width_ratios": [3, 2]})
        T = len(self.labels)
        ax_w.imshow(self.weights, cmap="viridis", vmin=0, vmax=1)
        ax_w.set_xticks(range(T), self.labels, fontsize=7)
        ax_w.set_yticks(range(T), self.labels, fontsize=7)
        ax_w.set(title=f"attention, layer {self.layer.value} head {self.head.value}", xlabel="reads position",
                 ylabel="at step")
        ax_k.imshow(keys, cmap="coolwarm", aspect="auto")
        ax_k.set_yticks(range(T), self.labels, fontsize=7)
        ax_k.set(title="its cached keys (S × D)", xlabel="dimension")
        return png(fig)
