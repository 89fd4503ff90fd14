"""WaveNet (van den Oord et al., 2016), with fast generation by cached queues (Paine et al., 2016).

WaveNet writes raw audio as p(x) = prod_t p(x_t | x_<t), each conditional a softmax over
the 256 µ-law levels of a sample, computed by a stack of causal convolutions whose dilation
doubles from layer to layer (1, 2, 4, ..., 512), so the receptive field
1 + (K - 1) * sum(dilations) grows exponentially with depth while training stays parallel
over time. Each layer is a gated unit tanh(W_f * x) * sigmoid(W_g * x) with a residual
connection to the next layer and a skip connection to the output, optionally shifted by a
global condition (an instrument, a speaker). Sampling is sequential, and caching each
layer's last (K - 1) * dilation inputs in a queue makes every new sample O(layers) work
instead of a pass over the whole receptive field.

The inputs are integer ids of any categorical sequence (µ-law levels, or characters with
`vocab_size` = the number of characters); `forward` returns logits (B, T, Q) where position t
predicts x_{t+1}, and `start`/`step` give the fast path of `arcourse.decoding.generate`
(`generate(model, prompt, n, use_cache=False)` is the naive path: the whole receptive
field re-run for every new sample).
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F

from arcourse._checks import check_condition, check_int, model_device


@dataclass(frozen=True)
class WaveNetConfig:
    """Sizes of a WaveNet. Dilations run 1, 2, ..., 2^(layers_per_stack - 1), n_stacks times."""

    vocab_size: int = 256         # Q: µ-law levels for audio, or the vocabulary size V for text
    residual_channels: int = 32  # C: width of the residual stream between layers
    skip_channels: int = 64      # width of the skip connections summed into the output head
    kernel_size: int = 2         # K: taps of every dilated convolution
    layers_per_stack: int = 8
    n_stacks: int = 2
    n_conditions: int = 0        # classes of the global condition (0: unconditional)

    def __post_init__(self):
        for name, low in (("vocab_size", 2), ("residual_channels", 1), ("skip_channels", 1), ("kernel_size", 2),
                          ("layers_per_stack", 1), ("n_stacks", 1), ("n_conditions", 0)):
            check_int(name, getattr(self, name), low, who="WaveNetConfig")

    @property
    def dilations(self) -> tuple[int, ...]:
        return tuple(2**i for i in range(self.layers_per_stack)) * self.n_stacks

    @property
    def receptive_field(self) -> int:
        return receptive_field(self.kernel_size, self.dilations)

    @classmethod
    def tiny(cls, **overrides) -> "WaveNetConfig":
        """For tests: 16 classes, 2 stacks of dilations 1, 2, 4 (receptive field 15)."""
        return cls(**{"vocab_size": 16, "residual_channels": 8, "skip_channels": 8, "layers_per_stack": 3,
                      **overrides})

    @classmethod
    def small(cls, **overrides) -> "WaveNetConfig":
        """The lecture's audio model: dilations 1..128 once (receptive field 256, 32 ms at
        8 kHz), 32 residual and 64 skip channels: trains on a CPU in seconds."""
        return cls(**{"residual_channels": 32, "skip_channels": 64, "layers_per_stack": 8, "n_stacks": 1,
                      **overrides})

    @classmethod
    def long_context(cls, **overrides) -> "WaveNetConfig":
        """Dilations 1..512 once: the paper's receptive field of 1,024 samples in 10 layers,
        64 residual and 128 skip channels (the benchmark's model)."""
        return cls(**{"residual_channels": 64, "skip_channels": 128, "layers_per_stack": 10, "n_stacks": 1,
                      **overrides})


def receptive_field(kernel_size: int, dilations: Sequence[int]) -> int:
    """How many past inputs (the current one included) one output of a stack of causal
    convolutions can see: 1 + (K - 1) * sum(dilations).

    Each layer with dilation d reaches (K - 1) * d steps further back than its input did.
    """
    check_int("kernel_size", kernel_size, 1)
    for d in dilations:
        check_int("dilation", d, 1)
    return 1 + (kernel_size - 1) * sum(dilations)


class CausalConv1d(nn.Conv1d):
    """y_t = b + sum_k W_k x_{t - d (K - 1 - k)}: a dilated convolution padded on the left
    only, so y_t never sees x_{t+1}, x_{t+2}, ...; the output is as long as the input."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, dilation: int = 1):
        super().__init__(in_channels, out_channels, kernel_size, dilation=dilation)
        self.queue_len = (kernel_size - 1) * dilation  # how far back the kernel reaches

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, C_in, T) -> (B, C_out, T)
        return super().forward(F.pad(x, (self.queue_len, 0)))

    def step(self, queue: torch.Tensor, x: torch.Tensor, t: int) -> torch.Tensor:
        """The output at time t only, from a queue of the layer's earlier inputs.

        The queue is a ring buffer: input x_s sits in slot s % L, L = (K - 1) * dilation, so
        pushing x_t overwrites x_{t-L}, which no later output needs, in place. Nothing is
        shifted, so a step costs the same whatever the dilation.

        Args:
            queue: (B, C_in, L) the inputs at times t - L .. t - 1 (zeros before the start);
                updated in place to hold t - L + 1 .. t.
            x: (B, C_in) the input at time t.
            t: the time step (how many inputs came before x).
        Returns:
            y: (B, C_out) the output at time t.
        """
        L, d = self.queue_len, self.dilation[0]
        past = [queue[:, :, (t + j * d) % L] for j in range(self.kernel_size[0] - 1)]  # x_{t-(K-1)d}..x_{t-d}
        taps = torch.stack([*past, x], dim=-1)  # (B, C_in, K)
        queue[:, :, t % L] = x  # after reading the taps: x_t replaces x_{t-L}
        # one output is a matrix-vector product; F.conv1d would spend far longer setting up
        return F.linear(taps.flatten(1), self.weight.flatten(1), self.bias)  # (B, C_out)


class ResidualLayer(nn.Module):
    """A dilated causal convolution into a gated unit, with a residual and a skip output.

    Attributes (public: lecture 05 builds its own sampler from them):
        dilation: d, the gap between the kernel's taps.
        conv: the CausalConv1d, C -> 2C (filter and gate at once); `conv.queue_len` is
            (K - 1) d, how many past inputs fast generation keeps for this layer.
        condition: an Embedding of the global condition into 2C shifts, or None.
        residual, skip: the 1x1 convolutions C -> C and C -> S.
    `gate(x, z, condition_bias)` and `condition_bias(condition)` are the pieces of `forward`.
    """

    def __init__(self, config: WaveNetConfig, dilation: int):
        super().__init__()
        C = config.residual_channels
        self.dilation = dilation
        self.conv = CausalConv1d(C, 2 * C, config.kernel_size, dilation)  # filter and gate at once
        self.condition = nn.Embedding(config.n_conditions, 2 * C) if config.n_conditions else None
        self.residual = nn.Conv1d(C, C, 1)
        self.skip = nn.Conv1d(C, config.skip_channels, 1)

    def condition_bias(self, condition: torch.Tensor | None) -> torch.Tensor | None:
        """The global condition's shift of the filter and gate, (B, 2C, 1); None if unconditioned."""
        return None if self.condition is None else self.condition(condition)[:, :, None]

    @staticmethod
    def _activation(z: torch.Tensor, condition_bias: torch.Tensor | None) -> torch.Tensor:
        if condition_bias is not None:
            z = z + condition_bias  # the same shift at every time step
        filt, gate = z.chunk(2, dim=1)
        return torch.tanh(filt) * torch.sigmoid(gate)  # (B, C, ...)

    def gate(self, x: torch.Tensor, z: torch.Tensor, condition_bias: torch.Tensor | None
             ) -> tuple[torch.Tensor, torch.Tensor]:
        """tanh(filter) * sigmoid(gate) from the convolution's output z, then both outputs.

        Args:
            x: (B, C, T) the layer's input; z: (B, 2C, T) its convolution;
            condition_bias: (B, 2C, 1) from `condition_bias`, or None.
        Returns:
            (x + residual (B, C, T), skip (B, S, T)).
        """
        a = self._activation(z, condition_bias)  # (B, C, T)
        return x + self.residual(a), self.skip(a)

    def forward(self, x: torch.Tensor, condition: torch.Tensor | None = None
                ) -> tuple[torch.Tensor, torch.Tensor]:  # (B, C, T) -> (B, C, T), (B, S, T)
        return self.gate(x, self.conv(x), self.condition_bias(condition))

    def step(self, queue: torch.Tensor, x: torch.Tensor, t: int, condition_bias: torch.Tensor | None
             ) -> tuple[torch.Tensor, torch.Tensor]:
        """The layer at time t alone, for fast generation (see `CausalConv1d.step`).

        Args:
            queue: (B, C, (K - 1) * dilation) ring buffer of earlier inputs, updated in place.
            x: (B, C) the input at time t; condition_bias: (B, 2C, 1) or None.
        Returns:
            (x + residual (B, C), the gated activation a (B, C)). The skip output is
            `self.skip` applied to a (`WaveNet.step` applies it).
        """
        bias = None if condition_bias is None else condition_bias[:, :, 0]
        a = self._activation(self.conv.step(queue, x, t), bias)  # (B, C)
        # the 1x1 convolution on one time step is a plain linear map
        return x + F.linear(a, self.residual.weight[:, :, 0], self.residual.bias), a


class OutputHead(nn.Module):
    """ReLU -> 1x1 conv -> ReLU -> 1x1 conv: from the sum of skips to logits over classes."""

    def __init__(self, skip_channels: int, vocab_size: int):
        super().__init__()
        self.hidden = nn.Conv1d(skip_channels, skip_channels, 1)
        self.out = nn.Conv1d(skip_channels, vocab_size, 1)

    def forward(self, skips: torch.Tensor) -> torch.Tensor:  # (B, S, T) -> (B, T, Q)
        return self.out(F.relu(self.hidden(F.relu(skips)))).transpose(1, 2)

    def step(self, skips: torch.Tensor) -> torch.Tensor:  # (B, S) -> (B, Q)
        """`forward` at one time step, as linear maps (a 1x1 convolution on one step is one)."""
        hidden = F.linear(F.relu(skips), self.hidden.weight[:, :, 0], self.hidden.bias)
        return F.linear(F.relu(hidden), self.out.weight[:, :, 0], self.out.bias)


@dataclass(frozen=True)
class WaveNetState:
    """What fast generation carries between steps; `step` returns the next one.

    The queues are ring buffers shared by successive states (the past is never copied or
    shifted): `step` writes the newest input into them, so continue only from the newest
    state. Nothing is kept on the module.
    """

    queues: list[torch.Tensor]                       # layer i: (B, C, (K - 1) d_i); x_s in slot s % L_i
    condition_biases: list[torch.Tensor | None]      # layer i: (B, 2C, 1) shift of its gate, or None
    time: int                                        # how many samples have been fed in so far


class WaveNet(nn.Module):
    """A WaveNet over integer sequences (µ-law audio levels or text tokens).

    Call `model(x)` with x (B, T) int64 ids in [0, vocab_size), or (B, T, vocab_size) float
    weights over the classes (one-hot for ids; soft inputs let you differentiate with
    respect to the input), plus `condition` (B,) when `n_conditions` > 0. It returns logits
    (B, T, Q) in which position t predicts x_{t+1} from x_{t - receptive_field + 1 .. t}.
    """

    def __init__(self, config: WaveNetConfig):
        super().__init__()
        if not isinstance(config, WaveNetConfig):
            raise TypeError(f"config must be a WaveNetConfig, got {type(config).__name__}")
        self.config = config
        self.embedding = nn.Embedding(config.vocab_size, config.residual_channels)  # = 1x1 conv of one-hots
        self.layers = nn.ModuleList(ResidualLayer(config, d) for d in config.dilations)
        self.head = OutputHead(config.skip_channels, config.vocab_size)

    @property
    def receptive_field(self) -> int:
        return self.config.receptive_field

    @property
    def context_len(self) -> int:
        """Inputs further back than this cannot change the next prediction, so
        `decoding.generate` without the cache re-runs the model on this many samples."""
        return self.config.receptive_field

    def _check_condition(self, condition: torch.Tensor | None, batch: int) -> None:
        check_condition(condition, self.config.n_conditions, batch)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """Ids (B, T) or class weights (B, T, Q) -> the residual stream's input (B, C, T)."""
        Q = self.config.vocab_size
        if x.is_floating_point():
            if x.ndim != 3 or x.shape[-1] != Q:
                raise ValueError(f"float inputs must have shape (B, T, {Q}), got {tuple(x.shape)}")
            return (x @ self.embedding.weight).transpose(1, 2)  # (B, C, T)
        if x.ndim != 2 or x.shape[1] < 1:
            raise ValueError(f"inputs must be (B, T) integer ids with T >= 1, got shape {tuple(x.shape)}")
        if int(x.min()) < 0 or int(x.max()) >= Q:
            raise ValueError(f"input ids must lie in [0, {Q}), got values from {int(x.min())} to {int(x.max())}")
        return self.embedding(x).transpose(1, 2)  # (B, C, T)

    def _trunk(self, h: torch.Tensor, condition: torch.Tensor | None
               ) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """Run the layers: (sum of skips (B, S, T), each layer's input (B, C, T))."""
        inputs, skips = [], 0
        for layer in self.layers:
            inputs.append(h)
            h, skip = layer(h, condition)
            skips = skips + skip
        return skips, inputs

    def forward(self, x: torch.Tensor, condition: torch.Tensor | None = None) -> torch.Tensor:
        self._check_condition(condition, x.shape[0])
        skips, _ = self._trunk(self.embed(x), condition)
        return self.head(skips)  # (B, T, Q)

    def start(self, prompt: torch.Tensor, condition: torch.Tensor | None = None
              ) -> tuple[torch.Tensor, WaveNetState]:
        """Read a prompt in one parallel pass and fill every layer's queue.

        Args:
            prompt: (B, T) ids, T >= 1.
            condition: (B,) ids when the model is conditioned.
        Returns:
            (logits (B, Q) for the next sample, the state for `step`).
        """
        self._check_condition(condition, prompt.shape[0])
        skips, inputs = self._trunk(self.embed(prompt), condition)
        T = prompt.shape[1]
        queues = []
        for h, layer in zip(inputs, self.layers):  # a layer needs its last L = (K - 1) d inputs
            L = layer.conv.queue_len
            last = F.pad(h, (L, 0))[..., -L:]  # times T - L .. T - 1 (the zero padding before 0)
            queues.append(last.roll(T % L, dims=-1))  # time s goes to ring slot s % L
        biases = [layer.condition_bias(condition) for layer in self.layers]
        return self.head(skips[..., -1:])[:, -1], WaveNetState(queues, biases, T)

    def step(self, tokens: torch.Tensor, state: WaveNetState) -> tuple[torch.Tensor, WaveNetState]:
        """Feed one new sample per row: O(layers) work, whatever the receptive field.

        Args:
            tokens: (B,) ids of the newest samples.
            state: from `start` or the previous `step` (its ring buffers are written).
        Returns:
            (logits (B, Q) for the sample after, the new state).
        """
        if not isinstance(state, WaveNetState):
            raise TypeError(f"state must be the WaveNetState from start() or step(), got {type(state).__name__}")
        if tokens.shape != (state.queues[0].shape[0],):
            raise ValueError(f"tokens must have shape (B,) = ({state.queues[0].shape[0]},), got {tuple(tokens.shape)}")
        h = self.embedding(tokens)  # (B, C)
        skips = 0
        for layer, queue, bias in zip(self.layers, state.queues, state.condition_biases):
            h, a = layer.step(queue, h, state.time, bias)  # (B, C), (B, C)
            # the skip's 1x1 convolution on one time step is a plain linear map
            skips = skips + F.linear(a, layer.skip.weight[:, :, 0], layer.skip.bias)  # (B, S)
        return self.head.step(skips), dataclasses.replace(state, time=state.time + 1)


def input_gradient(model: WaveNet, length: int, *, position: int = -1, condition: torch.Tensor | None = None,
                   n_sequences: int = 4, seed: int = 0) -> torch.Tensor:
    """How much output `position` depends on each input: the gradient of its summed logits
    with respect to one-hot inputs, in absolute value, summed over classes and over
    `n_sequences` random sequences (so one sequence whose ReLUs in the head happen to be
    inactive cannot hide a dependency).

    Non-zero exactly on the receptive field, the `receptive_field` inputs ending at
    `position`, and zero at every later input (causality).

    Args:
        condition: (1,) id for a conditioned model (used for every sequence).
    Returns:
        (length,) float tensor on the model's device.
    """
    check_int("length", length, 1)
    if not -length <= position < length:
        raise ValueError(f"position must lie in [-{length}, {length}), got position={position}")
    device = model_device(model)
    gen = torch.Generator(device=device).manual_seed(seed)
    ids = torch.randint(model.config.vocab_size, (n_sequences, length), generator=gen, device=device)
    x = F.one_hot(ids, model.config.vocab_size).to(model.embedding.weight.dtype).requires_grad_(True)  # (B, T, Q)
    if condition is not None:
        condition = condition.expand(n_sequences)
    out = model(x, condition)[:, position].sum()
    (grad,) = torch.autograd.grad(out, x)  # leaves the parameters' .grad alone
    return grad.abs().sum(dim=(0, 2))  # (T,)
