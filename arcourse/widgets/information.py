"""Lecture 02's panel: cross-entropy = entropy + KL, live.

A fixed data distribution p and a model q set by one slider per outcome (q is the
sliders' weights, normalised). The panel shows H(p), H(p, q), KL(p || q) and checks the
identity H(p, q) = H(p) + KL(p || q) at every setting; the perplexity 2^H(p, q) is the
number of equally likely outcomes the model is as unsure as. Moving q onto p drives KL to
0 and H(p, q) down to H(p), the floor no model can beat.
"""
from __future__ import annotations

import numpy as np

from arcourse.metrics import cross_entropy, entropy, kl_divergence
from arcourse.widgets._common import figure, import_widgets, observe_all, png, readout_box, show_readout, slider_style

DEFAULT_P = (0.5, 0.25, 0.125, 0.125)  # H(p) = 1.75 bits


class InformationPanel:
    """Sliders on a model q against a fixed p; H(p), H(p, q), KL and perplexity, in bits.

    Args:
        p: the data distribution, 2 to 10 probabilities summing to 1, all > 0.
        q: the model's starting distribution (default: uniform), all > 0.

    State: `q` (the normalised model), `h_p`, `h_pq`, `kl`, `identity_gap`
    (|H(p, q) - H(p) - KL|), `perplexity` (2^H(p, q)), `readout`.
    """

    def __init__(self, p=DEFAULT_P, *, q=None):
        widgets = import_widgets()  # lazily: the rest of arcourse works without it

        self.p = self._distribution("p", p)
        q = np.full(len(self.p), 1 / len(self.p)) if q is None else self._distribution("q", q)
        if len(q) != len(self.p):
            raise ValueError(f"InformationPanel needs q with {len(self.p)} outcomes like p, got {len(q)}")
        self.weights = [widgets.FloatSlider(value=float(w), min=0.01, max=1.0, step=0.01, readout_format=".2f",
                                            description=f"q weight {i}", orientation="vertical", **slider_style())
                        for i, w in enumerate(q / q.max())]
        self.chart = widgets.Image(format="png")
        self.readout_box = readout_box(widgets)
        observe_all(self.weights, self.update)
        self.widget = widgets.VBox([widgets.HBox(self.weights), self.chart, self.readout_box]
                                   ).add_class("arcourse-information-panel")
        self.readout = ""
        self.update()

    @staticmethod
    def _distribution(name: str, values) -> np.ndarray:
        try:
            x = np.asarray(values, dtype=np.float64)
        except (TypeError, ValueError):
            raise TypeError(f"InformationPanel needs {name} as a sequence of numbers, got {values!r}") from None
        if x.ndim != 1 or not 2 <= len(x) <= 10:
            raise ValueError(f"InformationPanel needs {name} with 2 to 10 outcomes, got shape {x.shape}")
        if not np.all(np.isfinite(x)) or x.min() <= 0 or abs(x.sum() - 1) > 1e-9:
            raise ValueError(f"InformationPanel needs {name} of probabilities > 0 summing to 1, got {name}={values!r}")
        return x

    def update(self, change=None) -> None:
        """Renormalise q from the sliders and recompute the measures."""
        w = np.array([s.value for s in self.weights])
        self.q = w / w.sum()
        self.h_p = float(entropy(self.p, unit="bits"))
        self.h_pq = float(cross_entropy(self.p, self.q, unit="bits"))
        self.kl = float(kl_divergence(self.p, self.q, unit="bits"))
        self.identity_gap = abs(self.h_pq - self.h_p - self.kl)
        self.perplexity = 2.0 ** self.h_pq
        self.chart.value = self._chart()
        self.readout = (f"H(p) = {self.h_p:.4f} bits, H(p, q) = {self.h_pq:.4f} bits, KL(p ‖ q) = {self.kl:.4f} bits; "
                        f"H(p) + KL − H(p, q) = {self.h_p + self.kl - self.h_pq:+.1e}; "
                        f"perplexity 2^H(p, q) = {self.perplexity:.3f} (best possible 2^H(p) = {2 ** self.h_p:.3f}); "
                        "q = [" + ", ".join(f"{x:.3f}" for x in self.q) + "]")
        show_readout(self.readout_box, self.readout)

    def _chart(self) -> bytes:
        fig = figure(6, 2.6)
        ax = fig.subplots()
        x = np.arange(len(self.p))
        ax.bar(x - 0.2, self.p, width=0.4, color="0.6", label="p (data)")
        ax.bar(x + 0.2, self.q, width=0.4, color="tab:blue", label="q (model)")
        ax.set_xticks(x)
        ax.set_ylim(0, 1)
        ax.set_ylabel("probability")
        ax.set_title(f"H(p, q) = {self.h_pq:.3f} = H(p) {self.h_p:.3f} + KL {self.kl:.3f} bits")
        ax.legend(fontsize=8)
        return png(fig)
