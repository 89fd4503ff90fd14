"""Lecture 08's panel: speculative decoding, measured live.

Choose a draft model (from a poor one to the target itself) and how many tokens k it
drafts per round. The panel generates with `speculative_generate` and reports what it
measured: the acceptance rate, new tokens per target call, and the time against plain
sampling from the target. Beside it is the acceptance rate the theory predicts for this
draft, the mean over the generated positions of sum_x min(p(x), q(x)) = 1 - TV(p, q), so a
class sees that a closer draft is accepted more often and that larger k pays only then.
"""
from __future__ import annotations

import time

import numpy as np
import torch

from arcourse._checks import as_prompt, check_int, eval_mode, model_device
from arcourse.checkpoint import load_checkpoint
from arcourse.data import CharTokenizer
from arcourse.decoding import SpeculativeStats, generate, speculative_generate
from arcourse.device import make_generator
from arcourse.widgets._common import figure, import_widgets, observe_all, png, readout_box, show_readout, slider_style


class SpeculativePanel:
    """Draft and k controls beside measured acceptance, tokens per target call and time.

    Args:
        target: the model whose samples we want (a sequence model of `arcourse.decoding`).
        drafts: {label: draft model}, sharing the target's vocabulary; the target itself
            may be one of them (every draft is then accepted).
        prompt: token ids to continue (T,).
        k: starting tokens drafted per round, 1 <= k <= 8.
        n_tokens: new tokens per measurement; seed: of the generator each run starts from.

    State: `stats` (the run's SpeculativeStats), `predicted_acceptance` (mean 1 - TV between
    target and draft over the generated positions), `speculative_seconds`, `plain_seconds`,
    `tokens` (the generated ids), `readout`.
    """

    def __init__(self, target: torch.nn.Module, drafts: dict[str, torch.nn.Module], prompt, *, k: int = 4,
                 n_tokens: int = 48, seed: int = 0, draft: str | None = None):
        widgets = import_widgets()  # lazily: the rest of arcourse works without it

        if not isinstance(drafts, dict) or not drafts:
            raise TypeError("SpeculativePanel needs drafts as a non-empty dict {label: model}")
        check_int("k", k, 1, 8, who="SpeculativePanel")
        check_int("n_tokens", n_tokens, 1, 500, who="SpeculativePanel")
        draft = next(iter(drafts)) if draft is None else draft
        if draft not in drafts:
            raise ValueError(f"SpeculativePanel: draft must be one of {sorted(drafts)}, got draft={draft!r}")
        self.prompt = as_prompt(prompt, torch.device("cpu"), batch=1)[0][0]    # (T,)
        context = getattr(target, "context_len", None)
        if context is not None and len(self.prompt) + n_tokens > context:
            raise ValueError(f"SpeculativePanel: prompt + n_tokens = {len(self.prompt) + n_tokens} exceeds the "
                             f"target's context_len={context}")
        self.target, self.drafts, self.n_tokens, self.seed = target, drafts, n_tokens, seed
        self.draft = widgets.Dropdown(options=list(drafts), value=draft, description="draft")
        self.k = widgets.IntSlider(value=k, min=1, max=8, description="k (drafted per round)", **slider_style())
        self.chart = widgets.Image(format="png")
        self.readout_box = readout_box(widgets)
        observe_all([self.draft, self.k], self.update)
        self.widget = widgets.VBox([widgets.HBox([self.draft, self.k]), self.chart, self.readout_box]
                                   ).add_class("arcourse-speculative-panel")
        self.history: dict[tuple[str, int], SpeculativeStats] = {}
        self.readout = ""
        self.update()

    @classmethod
    def from_checkpoint(cls, target: str = "gpt 4x64", **kwargs) -> "SpeculativePanel":
        """The panel on lecture 08's shipped GPTs: the target, and as drafts every smaller
        GPT from the worst validation loss to the best, then the target itself."""
        shipped = load_checkpoint("lecture08_models")
        models, val_nll = shipped.models, {n: e["validation_nll"] for n, e in shipped.model_extras.items()}
        gpts = sorted((n for n in models if n.startswith("gpt") and n != target), key=lambda n: -val_nll[n])
        drafts = {f"{n} (val {val_nll[n]:.2f})": models[n] for n in gpts}
        drafts[f"the target itself ({target})"] = models[target]
        tokenizer = CharTokenizer.from_state_dict(shipped.extras["tokenizer"])
        return cls(models[target], drafts, [tokenizer.boundary_id], **kwargs)

    @torch.no_grad()
    def update(self, change=None) -> None:
        """Generate speculatively with the chosen draft and k, and plainly; measure both."""
        draft, k = self.drafts[self.draft.value], self.k.value
        device = model_device(self.target)
        prompt = self.prompt.to(device)
        start = time.perf_counter()
        self.tokens, self.stats = speculative_generate(self.target, draft, prompt, self.n_tokens, k=k,
                                                       generator=make_generator(self.seed, device))
        self.speculative_seconds = time.perf_counter() - start
        start = time.perf_counter()
        generate(self.target, prompt[None], self.n_tokens, generator=make_generator(self.seed, device))
        self.plain_seconds = time.perf_counter() - start
        self.predicted_acceptance = self._overlap(draft)
        self.history[(self.draft.value, k)] = self.stats
        self.chart.value = self._chart()
        s = self.stats
        self.readout = (f"draft {self.draft.value}, k = {k}: accepted {s.accepted} of {s.drafted} drafted tokens "
                        f"(acceptance {s.acceptance_rate:.3f}; 1 − TV predicts {self.predicted_acceptance:.3f}); "
                        f"{s.new_tokens} tokens in {s.target_calls} target calls = {s.tokens_per_target_call:.2f} "
                        f"per call; {self.speculative_seconds * 1e3:.0f} ms speculative vs "
                        f"{self.plain_seconds * 1e3:.0f} ms plain")
        show_readout(self.readout_box, self.readout)

    def _overlap(self, draft: torch.nn.Module) -> float:
        """Mean over the generated positions of sum_x min(p, q): the chance a drafted token is kept."""
        seq = self.tokens[None, :-1]                                            # (1, T - 1)
        with eval_mode(self.target, draft):
            p = self.target(seq)[0, len(self.prompt) - 1:].float().softmax(-1)  # (n, V)
            q = draft(seq)[0, len(self.prompt) - 1:].float().softmax(-1)
        return float(torch.minimum(p, q).sum(-1).mean())

    def _chart(self) -> bytes:
        fig = figure(8, 2.6)
        ax = fig.subplots()
        labels = [f"{d}\nk={k}" for d, k in self.history]
        x = np.arange(len(labels))
        ax.bar(x, [s.tokens_per_target_call for s in self.history.values()], color="tab:green")
        ax.axhline(1.0, color="k", lw=1, ls=":", label="plain sampling")
        ax.set_xticks(x, labels, fontsize=7)
        ax.set(ylabel="tokens per target call", title="settings tried so far")
        ax.legend(fontsize=8)
        return png(fig)
