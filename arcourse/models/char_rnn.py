"""A character-level recurrent language model: vanilla RNN, LSTM or GRU.

Elman (1990) fed a network's hidden state back as an input, so one set of weights reads a
sequence of any length; Hochreiter & Schmidhuber (1997) added the LSTM's gated, additive cell
state so gradients survive long time lags, and Cho et al. (2014) simplified the gating into
the GRU. Karpathy's char-rnn (2015) trains such a network to predict the next character from
the hidden state, h_t = f(h_{t-1}, x_t) and p(x_{t+1} | x_<=t) = softmax(W h_t + b), so the
chain rule gives the exact probability of a whole string.

Generation is O(1) per token: `start` reads a prompt once and returns the recurrent state,
`step` advances that state by one token (the fast path of `arcourse.decoding.generate`).
`unroll` does the same with gradients, for training step by step (scheduled sampling).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from arcourse._checks import check_ids, check_int, check_number

State = torch.Tensor | tuple[torch.Tensor, torch.Tensor]

_CELLS = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}


@dataclass(frozen=True)
class CharRNNConfig:
    """Sizes of a CharRNN.

    Args:
        vocab_size: number of token ids V (including the boundary token).
        cell: "rnn" (tanh Elman cell), "lstm" or "gru".
        d_embed: width of the token embedding fed to the first layer.
        d_hidden: width of the hidden state of every layer.
        n_layers: stacked recurrent layers (layer l reads the hidden states of layer l - 1).
        dropout: dropout on the embeddings, between layers and before the output head.
    """

    vocab_size: int
    cell: str = "lstm"
    d_embed: int = 32
    d_hidden: int = 128
    n_layers: int = 1
    dropout: float = 0.0

    def __post_init__(self):
        check_int("vocab_size", self.vocab_size, 2, who="CharRNNConfig")
        for name in ("d_embed", "d_hidden", "n_layers"):
            check_int(name, getattr(self, name), 1, who="CharRNNConfig")
        if self.cell not in _CELLS:
            raise ValueError(f"CharRNNConfig needs cell in {sorted(_CELLS)}, got cell={self.cell!r}")
        check_number("dropout", self.dropout, 0, 1, high_open=True, who="CharRNNConfig")

    @classmethod
    def tiny(cls, **overrides) -> "CharRNNConfig":
        """A few thousand parameters: for tests and exercises (trains in seconds). Give
        vocab_size (and any other field) as a keyword."""
        return cls(**{"d_embed": 8, "d_hidden": 16, "n_layers": 1, **overrides})

    @classmethod
    def small(cls, **overrides) -> "CharRNNConfig":
        """The lecture's model for the census first names (tens of thousands of parameters)."""
        return cls(**{"d_embed": 24, "d_hidden": 96, "n_layers": 1, **overrides})

    @classmethod
    def large(cls, **overrides) -> "CharRNNConfig":
        """One layer of 256 with light dropout (hundreds of thousands of parameters): the
        benchmark's model for makemore's 32K names (bench/bench_rnn.py)."""
        return cls(**{"d_embed": 64, "d_hidden": 256, "n_layers": 1, "dropout": 0.1, **overrides})


class CharRNN(nn.Module):
    """Embedding -> stacked recurrent layers -> linear head to next-token logits.

    Args:
        config: a CharRNNConfig.
    """

    def __init__(self, config: CharRNNConfig):
        super().__init__()
        if not isinstance(config, CharRNNConfig):
            raise TypeError(f"CharRNN needs a CharRNNConfig, got {type(config).__name__}")
        self.config = config
        self.embed = nn.Embedding(config.vocab_size, config.d_embed)
        self.rnn = _CELLS[config.cell](
            config.d_embed, config.d_hidden, num_layers=config.n_layers, batch_first=True,
            dropout=config.dropout if config.n_layers > 1 else 0.0,
        )
        self.drop = nn.Dropout(config.dropout)
        self.head = nn.Linear(config.d_hidden, config.vocab_size)
        if config.cell == "lstm":
            self._open_forget_gates()

    def _open_forget_gates(self) -> None:
        """Start every forget gate near 1 (bias +1), so the cell state remembers at first
        (Gers et al., 2000; Jozefowicz et al., 2015). torch orders the gates i, f, g, o."""
        H = self.config.d_hidden
        with torch.no_grad():
            for name, param in self.rnn.named_parameters():
                if name.startswith("bias_ih"):
                    param[H:2 * H].fill_(1.0)
                elif name.startswith("bias_hh"):
                    param[H:2 * H].zero_()

    def init_state(self, batch_size: int, device: torch.device | str | None = None) -> State:
        """The all-zero state for `batch_size` sequences: (n_layers, B, d_hidden), a pair
        (h, c) for the LSTM. `device` defaults to the model's."""
        check_int("batch_size", batch_size, 1, who="init_state")
        weight = self.head.weight
        h = torch.zeros(self.config.n_layers, batch_size, self.config.d_hidden,
                        device=device if device is not None else weight.device, dtype=weight.dtype)
        return (h, h.clone()) if self.config.cell == "lstm" else h

    def _check_ids(self, idx: torch.Tensor, ndim: int, what: str) -> None:
        check_ids(what, idx, self.config.vocab_size, ndim=ndim)
        if idx.numel() == 0:
            raise ValueError(f"{what} must be non-empty, got shape {tuple(idx.shape)}")

    def unroll(self, idx: torch.Tensor, state: State | None = None) -> tuple[torch.Tensor, State]:
        """Read `idx` from `state` and return the logits and the state after it, with
        gradients: for training step by step (scheduled sampling, truncated backpropagation
        through time), where `forward` would restart from zeros.

        Args:
            idx: (B, T) int64 token ids.
            state: the state to start from (default: zeros, see `init_state`).
        Returns:
            logits (B, T, V) and the state after the last token.
        """
        self._check_ids(idx, 2, "idx")
        return self._unroll(idx, state)

    def _unroll(self, idx: torch.Tensor, state: State | None) -> tuple[torch.Tensor, State]:
        x = self.drop(self.embed(idx))                       # (B, T, d_embed)
        out, state = self.rnn(x, state)                      # (B, T, d_hidden)
        return self.head(self.drop(out)), state              # (B, T, V)

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        """Next-token logits at every position, teacher forced, from the zero state.

        Args:
            idx: (B, T) int64 token ids.
        Returns:
            (B, T, V) logits; position t depends only on idx[:, :t + 1].
        """
        return self.unroll(idx)[0]

    @torch.no_grad()
    def start(self, prompt: torch.Tensor) -> tuple[torch.Tensor, State]:
        """Read a whole prompt; return the next-token logits (B, V) and the state after it."""
        self._check_ids(prompt, 2, "prompt")
        logits, state = self._unroll(prompt, None)
        return logits[:, -1], state                          # (B, V)

    @torch.no_grad()
    def step(self, tokens: torch.Tensor, state: State) -> tuple[torch.Tensor, State]:
        """Advance `state` by one token per row: O(1) in the length read so far.

        Args:
            tokens: (B,) int64 ids, the latest token of each row.
            state: what `start` or the previous `step` returned.
        Returns:
            next-token logits (B, V) and the new state.
        """
        self._check_ids(tokens, 1, "tokens")
        logits, state = self._unroll(tokens[:, None], state)  # (B, 1, V)
        return logits[:, 0], state                           # (B, V)
