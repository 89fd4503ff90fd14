"""GPT: a decoder-only transformer (Radford et al., 2018, after Vaswani et al., 2017).

Each position mixes information from the positions before it by causal self-attention,
softmax(Q K^T / sqrt(D) + M) V with M = -inf above the diagonal, so the output at step t
depends only on tokens <= t and one forward pass gives every conditional p(x_t | x_<t).
Attention alone ignores order, so position embeddings (learned, or Vaswani's fixed
sinusoids) are added to the token embeddings; pre-LayerNorm blocks of attention and an MLP
with residual connections are stacked, and the output layer shares the token embedding
matrix. Generation keeps each layer's keys and values (the KV cache), so a new token costs
one attention row, O(T), instead of recomputing the whole prefix, O(T^2).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
import torch.nn as nn
import torch.nn.functional as F

from arcourse._checks import check_ids, check_int, check_number

_POSITIONAL = ("learned", "sinusoidal", "none")
_INIT_STD = 0.02  # GPT-2's initial scale of weights and embeddings


@dataclass(frozen=True)
class GPTConfig:
    """Sizes and switches of a GPT.

    Args:
        vocab_size: number of token ids V.
        context_len: the longest sequence the model reads (learned position embeddings
            exist for positions 0..context_len-1).
        n_layers: number of transformer blocks.
        n_heads: attention heads N per block; d_model must be divisible by it (D = d_model / N).
        d_model: width of the residual stream.
        dropout: dropout probability on embeddings, attention weights and residual branches.
        positional: "learned" (GPT), "sinusoidal" (Vaswani et al.'s fixed codes, scaled to
            the token embeddings' initial size) or "none".
        bias: whether the linear layers and LayerNorms have biases.
        mlp_ratio: hidden width of the MLP as a multiple of d_model.
    """

    vocab_size: int = 27
    context_len: int = 32
    n_layers: int = 2
    n_heads: int = 2
    d_model: int = 64
    dropout: float = 0.0
    positional: str = "learned"
    bias: bool = True
    mlp_ratio: int = 4

    def __post_init__(self):
        for name in ("vocab_size", "context_len", "n_layers", "n_heads", "d_model", "mlp_ratio"):
            check_int(name, getattr(self, name), 1, who="GPTConfig")
        if self.d_model % self.n_heads:
            raise ValueError(f"GPTConfig needs d_model divisible by n_heads, got d_model={self.d_model}, "
                             f"n_heads={self.n_heads}")
        check_number("dropout", self.dropout, 0, 1, high_open=True, who="GPTConfig")
        if self.positional not in _POSITIONAL:
            raise ValueError(f"GPTConfig needs positional in {_POSITIONAL}, got positional={self.positional!r}")
        if self.positional == "sinusoidal" and self.d_model % 2:
            raise ValueError(f"sinusoidal positions need an even d_model, got d_model={self.d_model}")
        if not isinstance(self.bias, bool):
            raise TypeError(f"GPTConfig needs bias True or False, got bias={self.bias!r}")

    @property
    def d_head(self) -> int:
        """Width per head D = d_model / n_heads."""
        return self.d_model // self.n_heads

    @classmethod
    def tiny(cls, vocab_size: int = 27, context_len: int = 32, **changes) -> "GPTConfig":
        """2 layers, 2 heads, width 64: trains on the names in seconds on a CPU."""
        return cls(**{**dict(vocab_size=vocab_size, context_len=context_len, n_layers=2, n_heads=2,
                             d_model=64), **changes})

    @classmethod
    def small(cls, vocab_size: int = 65, context_len: int = 64, **changes) -> "GPTConfig":
        """4 layers, 4 heads, width 128: nanoGPT's CPU recipe for Shakespeare."""
        return cls(**{**dict(vocab_size=vocab_size, context_len=context_len, n_layers=4, n_heads=4,
                             d_model=128), **changes})

    @classmethod
    def medium(cls, vocab_size: int = 65, context_len: int = 256, **changes) -> "GPTConfig":
        """6 layers, 6 heads, width 384: nanoGPT's Shakespeare-char model (GPU-sized)."""
        return cls(**{**dict(vocab_size=vocab_size, context_len=context_len, n_layers=6, n_heads=6,
                             d_model=384), **changes})


def sinusoidal_positions(length: int, d_model: int) -> torch.Tensor:
    """Vaswani et al.'s fixed position codes.

    PE[pos, 2i] = sin(pos / 10000^(2i / d_model)), PE[pos, 2i + 1] = cos(pos / 10000^(2i / d_model)).

    Returns:
        (length, d_model) float32.
    """
    if length < 1 or d_model < 2 or d_model % 2:
        raise ValueError(f"sinusoidal_positions needs length >= 1 and an even d_model >= 2, "
                         f"got length={length}, d_model={d_model}")
    pos = torch.arange(length, dtype=torch.float64)[:, None]                      # (T, 1)
    freq = 10000.0 ** (-torch.arange(0, d_model, 2, dtype=torch.float64) / d_model)  # (d_model / 2,)
    table = torch.empty(length, d_model, dtype=torch.float64)
    table[:, 0::2] = torch.sin(pos * freq)
    table[:, 1::2] = torch.cos(pos * freq)
    return table.float()


class CausalSelfAttention(nn.Module):
    """Multi-head self-attention in which step t attends only to steps <= t."""

    def __init__(self, config: GPTConfig):
        super().__init__()
        self.n_heads, self.d_head, self.dropout = config.n_heads, config.d_head, config.dropout
        self.qkv = nn.Linear(config.d_model, 3 * config.d_model, bias=config.bias)
        self.proj = nn.Linear(config.d_model, config.d_model, bias=config.bias)
        self.resid_dropout = nn.Dropout(config.dropout)

    def _heads(self, x: torch.Tensor) -> torch.Tensor:
        """Queries, keys and values of x (B, T, C), stacked: (3, B, N, T, D), views of one
        projection."""
        B, T, _ = x.shape
        return self.qkv(x).view(B, T, 3, self.n_heads, self.d_head).permute(2, 0, 3, 1, 4)  # (3, B, N, T, D)

    def forward(self, x: torch.Tensor, store: torch.Tensor | None = None, start: int = 0, last_only: bool = False
                ) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        """Attend from the T new positions to the `start` earlier ones and to themselves.

        Args:
            x: (B, T, C) the new positions.
            store: None (nothing earlier: training, or a module on its own), or one layer's
                keys and values in a KV cache, (2, B, N, P, D) with P >= start + T:
                positions < start hold the earlier keys and values, and the new ones are
                written at start..start + T - 1 (in place: a step copies nothing old).
            start: the number S of earlier positions in `store`.
            last_only: output the last position only (T' = 1; all T keys and values are
                still made): the top layer when only the next token's logits are wanted.
        Returns:
            output (B, T', C), and the keys and values of all S + T positions, each
            (B, N, S + T, D) (views of `store` when given).
        """
        B, T, C = x.shape
        S = start
        qkv = self._heads(x)                                                    # (3, B, N, T, D)
        q, k, v = qkv.unbind(0)  # one unbind, one stack in backward                  # (B, N, T, D)
        if store is not None:
            store.narrow(3, S, T).copy_(qkv[1:])
            k, v = store.narrow(3, 0, S + T).unbind(0)                          # (B, N, S + T, D)
        if last_only:  # the last query sees every key: no mask
            q, T = q[:, :, -1:], 1                                              # (B, N, 1, D)
        mask, causal = None, S == 0 and T > 1
        if S > 0 and T > 1:  # new query i sees every past key and the new keys j <= i
            mask = torch.ones(T, S + T, dtype=torch.bool, device=x.device).tril(S)
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, is_causal=causal,
                                           dropout_p=self.dropout if self.training else 0.0)  # (B, N, T, D)
        y = y.transpose(1, 2).reshape(B, T, C)                                  # (B, T, C)
        return self.resid_dropout(self.proj(y)), (k, v)

    def weights(self, x: torch.Tensor) -> torch.Tensor:
        """The attention weights softmax(Q K^T / sqrt(D) + M), written out (for plots).

        Args:
            x: (B, T, C).
        Returns:
            (B, N, T, T): row t is the distribution over the positions step t reads from.
        """
        q, k, _ = self._heads(x)
        T = x.shape[1]
        scores = q @ k.transpose(-2, -1) / math.sqrt(self.d_head)               # (B, N, T, T)
        ahead = torch.ones(T, T, dtype=torch.bool, device=x.device).triu(1)
        return scores.masked_fill(ahead, float("-inf")).softmax(dim=-1)


class MLP(nn.Module):
    """Position-wise feed-forward network: Linear, GELU, Linear."""

    def __init__(self, config: GPTConfig):
        super().__init__()
        hidden = config.mlp_ratio * config.d_model
        self.fc = nn.Linear(config.d_model, hidden, bias=config.bias)
        self.proj = nn.Linear(hidden, config.d_model, bias=config.bias)
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.dropout(self.proj(F.gelu(self.fc(x))))


class Block(nn.Module):
    """Pre-LayerNorm transformer block: x + attn(ln(x)), then x + mlp(ln(x))."""

    def __init__(self, config: GPTConfig):
        super().__init__()
        self.ln1 = nn.LayerNorm(config.d_model, bias=config.bias)
        self.attn = CausalSelfAttention(config)
        self.ln2 = nn.LayerNorm(config.d_model, bias=config.bias)
        self.mlp = MLP(config)

    def forward(self, x: torch.Tensor, store: torch.Tensor | None = None, start: int = 0, last_only: bool = False
                ) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        """x (B, T, C) -> (B, T, C) (or (B, 1, C), the last position, when last_only), and the
        layer's keys and values (see CausalSelfAttention)."""
        update, kv = self.attn(self.ln1(x), store, start, last_only)
        if last_only:
            x = x[:, -1:]                                                       # (B, 1, C)
        x = x + update
        return x + self.mlp(self.ln2(x)), kv


class _KVStore:
    """Storage for every layer's keys and values and for the tokens, shared by the caches
    grown from one prompt; positions < `filled` are written.

    kv: (L, 2, B, N, P, D) for P = context_len positions (kv[l, 0] layer l's keys, kv[l, 1]
    its values); tokens: (B, P); layers[l] is kv[l], (2, B, N, P, D).
    """

    def __init__(self, kv: torch.Tensor, tokens: torch.Tensor, filled: int = 0):
        self.kv, self.tokens, self.filled = kv, tokens, filled
        self.layers = list(kv)

    @classmethod
    def empty(cls, config: GPTConfig, batch: int, like: torch.Tensor) -> "_KVStore":
        """Unwritten storage (empty, not zeros: a cache shows only written positions) with
        the dtype and device of `like`."""
        kv = torch.empty(config.n_layers, 2, batch, config.n_heads, config.context_len, config.d_head,
                         dtype=like.dtype, device=like.device)
        return cls(kv, torch.empty(batch, config.context_len, dtype=torch.long, device=like.device))

    def copy(self, length: int) -> "_KVStore":
        """Fresh storage holding the first `length` positions of this one."""
        fresh = _KVStore(torch.empty_like(self.kv), torch.empty_like(self.tokens), length)
        fresh.kv[..., :length, :] = self.kv[..., :length, :]
        fresh.tokens[:, :length] = self.tokens[:, :length]
        return fresh


@dataclass(frozen=True)
class KVCache:
    """What `GPT.step` needs to continue: every layer's keys and values, and the tokens read.

    keys, values: (L, B, N, S, D) for the S positions read so far (keys[l] is layer l's);
    tokens: (B, S). They are views of storage that the caches grown from one prompt share
    (read them, never write to them). A cache never changes once made: a step from the
    cache that has written the most positions of its storage writes the new position in
    place, where no other cache looks; a step from any other (an older cache, a second
    branch from one cache, a cropped one) copies the cache's positions to fresh storage first.
    """

    store: _KVStore = field(repr=False)
    length: int

    @property
    def keys(self) -> torch.Tensor:
        return self.store.kv[:, 0, :, :, :self.length]                           # (L, B, N, S, D)

    @property
    def values(self) -> torch.Tensor:
        return self.store.kv[:, 1, :, :, :self.length]                           # (L, B, N, S, D)

    @property
    def tokens(self) -> torch.Tensor:
        return self.store.tokens[:, :self.length]                               # (B, S)

    @property
    def batch_size(self) -> int:
        return self.store.tokens.shape[0]

    def crop(self, length: int) -> "KVCache":
        """The cache of the first `length` positions only: forget what came after (for
        speculative decoding, which rolls back rejected draft tokens). No copy until it is
        stepped from.

        Args:
            length: 0 < length <= self.length.
        """
        check_int("length", length, 1, self.length, who="crop")
        return KVCache(self.store, length)

    def _writable(self) -> _KVStore:
        """Storage into which positions after this cache's may be written without changing
        any cache: its own when no cache has written beyond `length` (and its tensors may be
        written here: inference tensors only in inference mode), else a copy."""
        store = self.store
        if store.filled == self.length and (torch.is_inference_mode_enabled() or not store.kv.is_inference()):
            return store
        return store.copy(self.length)


class GPT(nn.Module):
    """A decoder-only transformer language model.

    model(idx (B, T)) -> logits (B, T, V), where logits[:, t] scores token t + 1 given
    idx[:, :t + 1]. For generation, `start` and `step` reuse cached keys and values.
    """

    def __init__(self, config: GPTConfig):
        super().__init__()
        if not isinstance(config, GPTConfig):
            raise TypeError(f"GPT needs a GPTConfig, got {type(config).__name__}")
        self.config = config
        self.context_len = config.context_len
        self.tok_emb = nn.Embedding(config.vocab_size, config.d_model)
        if config.positional == "learned":
            self.pos_emb = nn.Embedding(config.context_len, config.d_model)
        elif config.positional == "sinusoidal":
            # scaled to the size of the token embeddings at initialisation (RMS _INIT_STD per
            # coordinate; a sinusoid's RMS is 1/sqrt(2)), so that neither signal drowns the other
            table = sinusoidal_positions(config.context_len, config.d_model) * (_INIT_STD * math.sqrt(2))
            self.register_buffer("pos_table", table, persistent=False)
        self.emb_dropout = nn.Dropout(config.dropout)
        self.blocks = nn.ModuleList(Block(config) for _ in range(config.n_layers))
        self.ln_f = nn.LayerNorm(config.d_model, bias=config.bias)
        self.head = nn.Linear(config.d_model, config.vocab_size, bias=False)
        self.head.weight = self.tok_emb.weight  # weight tying: one matrix reads and writes tokens
        self.apply(self._init_weights)
        for block in self.blocks:  # GPT-2: residual branches scaled so depth does not blow up
            for proj in (block.attn.proj, block.mlp.proj):
                nn.init.normal_(proj.weight, std=_INIT_STD / math.sqrt(2 * config.n_layers))

    @staticmethod
    def _init_weights(module: nn.Module) -> None:
        if isinstance(module, (nn.Linear, nn.Embedding)):
            nn.init.normal_(module.weight, std=_INIT_STD)
        if isinstance(module, nn.Linear) and module.bias is not None:
            nn.init.zeros_(module.bias)

    def num_parameters(self, *, embeddings: bool = True) -> int:
        """Number of trainable parameters (the tied matrix once); embeddings=False leaves
        out the token and position embeddings, as scaling laws count."""
        total = sum(p.numel() for p in self.parameters())
        if not embeddings:
            total -= self.tok_emb.weight.numel()
            if self.config.positional == "learned":
                total -= self.pos_emb.weight.numel()
        return total

    def _check_idx(self, idx: torch.Tensor, name: str = "idx") -> None:
        check_ids(name, idx, ndim=2)
        if idx.shape[1] < 1:
            raise ValueError(f"{name} must hold at least one position, got shape {tuple(idx.shape)}")

    def _embed(self, idx: torch.Tensor, offset: int) -> torch.Tensor:
        """Token plus position embeddings of idx (B, T) at positions offset..offset + T - 1."""
        x = self.tok_emb(idx)                                                   # (B, T, C)
        T = idx.shape[1]
        if self.config.positional == "learned":
            x = x + self.pos_emb.weight[offset:offset + T]                      # rows of the table: no index tensor
        elif self.config.positional == "sinusoidal":
            x = x + self.pos_table[offset:offset + T]
        return self.emb_dropout(x)

    def _run(self, idx: torch.Tensor, cache: KVCache | None, last_only: bool = False
             ) -> tuple[torch.Tensor, KVCache]:
        """Read idx (B, T) after the S cached positions (none for cache=None), S + T <= context_len.

        Args:
            last_only: the top layer computes the last position only, when just the next
                token's logits are wanted (every layer's keys and values are still cached).
        Returns:
            the final hidden states (B, T, C) ((B, 1, C) when last_only; after ln_f, before
            the head), and the cache of all S + T positions.
        """
        S = 0 if cache is None else cache.length
        T = idx.shape[1]
        store = _KVStore.empty(self.config, idx.shape[0], self.tok_emb.weight) if cache is None else cache._writable()
        store.tokens[:, S:S + T] = idx
        x = self._embed(idx, S)
        top = len(self.blocks) - 1
        for i, (block, layer) in enumerate(zip(self.blocks, store.layers)):
            x, _ = block(x, layer, S, last_only and i == top)
        store.filled = S + T
        return self.ln_f(x), KVCache(store, S + T)                              # (B, T, C)

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        """Next-token logits at every position.

        Args:
            idx: (B, T) int64 token ids, 1 <= T <= context_len.
        Returns:
            (B, T, V) logits; position t depends only on idx[:, :t + 1].
        """
        self._check_idx(idx)
        if idx.shape[1] > self.context_len:
            raise ValueError(f"sequence of length {idx.shape[1]} exceeds context_len={self.context_len}; "
                             f"crop it to the last {self.context_len} tokens")
        x = self._embed(idx, 0)
        for block in self.blocks:
            x, _ = block(x)
        return self.head(self.ln_f(x))                                          # (B, T, V)

    @torch.no_grad()
    def attention_maps(self, idx: torch.Tensor) -> list[torch.Tensor]:
        """Every layer's attention weights on `idx`.

        Returns:
            a list of n_layers tensors (B, N, T, T); row t sums to 1 over positions <= t.
        """
        self._check_idx(idx)
        if idx.shape[1] > self.context_len:
            raise ValueError(f"sequence of length {idx.shape[1]} exceeds context_len={self.context_len}")
        maps = []
        x = self._embed(idx, 0)
        for block in self.blocks:
            maps.append(block.attn.weights(block.ln1(x)))
            x, _ = block(x)
        return maps

    @torch.no_grad()
    def start(self, prompt: torch.Tensor) -> tuple[torch.Tensor, KVCache]:
        """Read a prompt and fill the cache (the `generate` fast path).

        Args:
            prompt: (B, T) int64, T >= 1; only the last context_len tokens are read.
        Returns:
            logits for the next token (B, V), and the cache.
        """
        self._check_idx(prompt, "prompt")
        hidden, cache = self._run(prompt[:, -self.context_len:], None, last_only=True)
        return self.head(hidden[:, -1]), cache                                  # (B, V)

    @torch.no_grad()
    def extend(self, tokens: torch.Tensor, cache: KVCache | None) -> tuple[torch.Tensor, KVCache]:
        """Read T new tokens after the cached ones in one pass: the logits at every new
        position, as `forward` on the whole sequence gives them, for O(T (S + T)) work
        instead of O((S + T)^2). Speculative decoding verifies its drafts this way.

        Args:
            tokens: (B, T) int64, T >= 1, the tokens after the cached positions.
            cache: from `start`, `step` or `extend` (not modified), or None to start afresh.
        Returns:
            logits (B, T, V) and the cache of all S + T positions.
        Raises:
            ValueError if S + T > context_len: positions are absolute, so a window that
            slides must be read afresh (`start` on its last context_len tokens).
        """
        self._check_idx(tokens, "tokens")
        if cache is not None and not isinstance(cache, KVCache):
            raise TypeError(f"cache must be a KVCache or None, got {type(cache).__name__}")
        length = 0 if cache is None else cache.length
        if cache is not None and tokens.shape[0] != cache.batch_size:
            raise ValueError(f"tokens must have the cache's batch size {cache.batch_size}, got shape "
                             f"{tuple(tokens.shape)}")
        if length + tokens.shape[1] > self.context_len:
            raise ValueError(f"extend: {length} cached + {tokens.shape[1]} new positions exceed "
                             f"context_len={self.context_len}")
        hidden, cache = self._run(tokens, cache)
        return self.head(hidden), cache                                         # (B, T, V)

    @torch.no_grad()
    def step(self, tokens: torch.Tensor, cache: KVCache) -> tuple[torch.Tensor, KVCache]:
        """Append one token per row and return the next-token logits.

        Each step attends from the new position to the S cached keys: O(S) work. Once the
        cache holds context_len positions the window slides: position embeddings are
        absolute, so the last context_len tokens are read afresh, exactly as a full
        recompute of that window would (and at its O(T^2) cost).

        Args:
            tokens: (B,) int64, the token chosen at the last step.
            cache: from `start` or an earlier `step`; it is not modified.
        Returns:
            logits (B, V) and the new cache.
        """
        if not isinstance(cache, KVCache):
            raise TypeError(f"cache must be the KVCache from start() or step(), got {type(cache).__name__}")
        B = cache.batch_size
        check_ids("tokens", tokens, ndim=1)
        if tuple(tokens.shape) != (B,):
            raise ValueError(f"tokens must have shape (B,) = ({B},), got {tuple(tokens.shape)}")
        if cache.length >= self.context_len:
            return self.start(torch.cat([cache.tokens, tokens[:, None]], dim=1))
        if self.training and self.config.dropout > 0:  # dropout on, as the modules apply it
            hidden, cache = self._run(tokens[:, None], cache)
            hidden = hidden[:, -1]                                              # (B, C)
        else:
            hidden, cache = self._read_one(tokens, cache)                       # (B, C)
        return self.head(hidden), cache                                         # (B, V)

    def _read_one(self, tokens: torch.Tensor, cache: KVCache) -> tuple[torch.Tensor, KVCache]:
        """`_run` for one new token per row, without dropout, in bare tensor ops on the
        layers' weights: the same arithmetic on (B, C) rows (the tests check it against a
        full recompute). A module call and the reshapes of (B, T, C) cost a few microseconds
        each, and one token of a small model runs about 50 of them: more time than its
        matrix products. oneDNN, which runs torch's CPU GELU, is switched off meanwhile: it
        sets up each call (about 9 us for 512 values, the native kernel 1.5 us), which pays
        on a training batch, not on one row. At nanoGPT's CPU recipe a step takes about two
        thirds of `_run`'s time.

        Args:
            tokens: (B,) the new token of each row.
        Returns:
            the final hidden state (B, C) (after ln_f), and the cache of all S + 1 positions.
        """
        S, B = cache.length, len(tokens)
        C, N = self.config.d_model, self.config.n_heads
        store = cache._writable()
        store.tokens[:, S] = tokens
        x = self._embed(tokens[:, None], S)[:, 0]                               # (B, C)
        onednn = torch.backends.mkldnn.enabled
        torch.backends.mkldnn.enabled = False
        try:
            for block, layer in zip(self.blocks, store.layers):
                attn, mlp, ln1, ln2 = block.attn, block.mlp, block.ln1, block.ln2
                h = F.layer_norm(x, ln1.normalized_shape, ln1.weight, ln1.bias, ln1.eps)
                qkv = F.linear(h, attn.qkv.weight, attn.qkv.bias).view(B, 3, N, 1, -1)  # (B, 3, N, 1, D)
                layer.narrow(3, S, 1).copy_(qkv[:, 1:].transpose(0, 1))         # layer (2, B, N, P, D)
                k, v = layer.narrow(3, 0, S + 1).unbind(0)                      # (B, N, S + 1, D)
                y = F.scaled_dot_product_attention(qkv[:, 0], k, v).view(B, C)  # the query sees every key
                x = x + F.linear(y, attn.proj.weight, attn.proj.bias)
                h = F.layer_norm(x, ln2.normalized_shape, ln2.weight, ln2.bias, ln2.eps)
                x = x + F.linear(F.gelu(F.linear(h, mlp.fc.weight, mlp.fc.bias)), mlp.proj.weight, mlp.proj.bias)
        finally:
            torch.backends.mkldnn.enabled = onednn
        store.filled = S + 1
        return self.ln_f(x), KVCache(store, S + 1)                              # (B, C)
