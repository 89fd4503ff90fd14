"""Scheduled sampling (Bengio, Vinyals, Jaitly and Shazeer, 2015): train on some of the
model's own choices, so that generation is less of a surprise.

Teacher forcing feeds the true token x_{t-1} at every step, yet generation feeds the model's
own sample; the states reached from its own (possibly wrong) prefixes are never trained in
(exposure bias). Scheduled sampling flips a coin at every step: with probability p the input
is a token sampled from the model's prediction at the step before, otherwise the true one,
and the target is always the true next token. p starts at 0 (plain teacher forcing, while
the model's samples are still noise) and grows over training. The sampled token is treated
as a constant: no gradient flows through the draw, as in the paper.

Steps run one at a time, so the model needs `unroll(idx (B, T), state) -> (logits, state)`
with gradients (`CharRNN` has it).
"""
from __future__ import annotations

import torch

from arcourse.metrics import IGNORE_INDEX, nll

Batch = tuple[torch.Tensor, ...]


class ScheduledSampling:
    """A `loss_fn` for `arcourse.train` that mixes the model's own samples into its inputs.

    The sampling probability rises linearly from 0 to `probability` over the first
    `ramp_steps` training calls and stays there (ramp_steps=0: `probability` from the start).
    In eval mode (`arcourse.evaluate`) it scores plain teacher-forced NLL, so evaluation
    numbers stay comparable with every other model.

    Args:
        probability: the final chance, per position, that the input is the model's sample;
            0 <= probability <= 1.
        ramp_steps: training calls over which the chance rises from 0; int >= 0.
        seed: seeds the coin flips and the samples (a private generator on the batch's device).
    """

    def __init__(self, probability: float, *, ramp_steps: int = 0, seed: int = 0):
        if isinstance(probability, bool) or not isinstance(probability, (int, float)) or not 0 <= probability <= 1:
            raise ValueError(f"ScheduledSampling needs 0 <= probability <= 1, got probability={probability!r}")
        if isinstance(ramp_steps, bool) or not isinstance(ramp_steps, int) or ramp_steps < 0:
            raise ValueError(f"ScheduledSampling needs an int ramp_steps >= 0, got ramp_steps={ramp_steps!r}")
        self.probability, self.ramp_steps, self.seed = float(probability), ramp_steps, seed
        self.calls = 0  # training calls so far: the position on the schedule
        self._generator: torch.Generator | None = None

    def probability_at(self, call: int) -> float:
        """The sampling probability used at training call number `call` (0-based)."""
        if self.ramp_steps == 0:
            return self.probability
        return self.probability * min(1.0, call / self.ramp_steps)

    def _generator_on(self, device: torch.device) -> torch.Generator:
        if self._generator is None or self._generator.device != device:
            self._generator = torch.Generator(device=device).manual_seed(self.seed)
        return self._generator

    def __call__(self, model: torch.nn.Module, batch: Batch) -> tuple[torch.Tensor, torch.Tensor]:
        """Summed NLL of the true targets and their count, inputs mixed with model samples.

        Args:
            model: a sequence model with `unroll(idx (B, T), state) -> (logits (B, T, V), state)`.
            batch: (inputs (B, T), targets (B, T)); targets equal to IGNORE_INDEX are skipped.
        Returns:
            (sum of NLL in nats, number of counted targets), scalar tensors.
        """
        inputs, targets = batch[0], batch[1]
        if not hasattr(model, "unroll"):
            raise TypeError(f"ScheduledSampling needs a model with unroll(idx, state), got {type(model).__name__}")
        count = (targets != IGNORE_INDEX).sum()
        if not model.training:
            return nll(model(inputs), targets, reduction="sum"), count
        p = self.probability_at(self.calls)
        self.calls += 1
        gen = self._generator_on(inputs.device)
        B, T = inputs.shape
        use_sample = torch.rand(B, T, generator=gen, device=inputs.device) < p  # (B, T); column 0 unused
        state, token, steps = None, inputs[:, 0], []
        for t in range(T):
            logits, state = model.unroll(token[:, None], state)  # (B, 1, V)
            steps.append(logits)
            if t + 1 < T:
                sample = torch.multinomial(logits[:, 0].detach().float().softmax(dim=-1), 1, generator=gen)[:, 0]
                token = torch.where(use_sample[:, t + 1], sample, inputs[:, t + 1])  # (B,)
        return nll(torch.cat(steps, dim=1), targets, reduction="sum"), count  # logits (B, T, V)
