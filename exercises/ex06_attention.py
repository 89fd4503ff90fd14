# ---
# jupyter:
#   arcourse:
#     exercise: ex06
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Exercise 06 — causal attention, several heads, and one KV-cache step
#
# *Grading runs your imports, functions, classes and simple constants (such as `LN2 = math.log(2)`), not the other cells; its report lists what it skipped.*
#
# You will write the heart of a GPT from plain tensor operations:
#
# 1. `causal_attention(q, k, v)`: softmax(Q Kᵀ / √D + M) V, where M hides the future
#    (M_ij = 0 for j ≤ i, −∞ for j > i);
# 2. `multi_head_attention(x, w_qkv, w_out, n_heads)`: project to queries, keys and values,
#    split the width into heads, attend causally in each head, merge, project back;
# 3. `attention_step(q, k, v, k_cache, v_cache)`: one decoding step with a KV cache — the
#    new position attends to every cached key and to itself, and the cache grows by one.
#
# Shapes: B batch, N heads, T time, D width per head, C = N·D model width.
#
# **Bad input.** Each function must check the shapes it is given and raise `ValueError`
# (with a message naming the argument and the shape it got) when they do not fit together:
# for example `q`, `k` and `v` of different shapes, a width C that `n_heads` does not
# divide, or a cache whose batch, heads or width differ from the new key's. The grader
# tests this.
#
# Use only `torch` tensor operations here (no `torch.nn.functional.scaled_dot_product_attention`
# or `torch.nn.MultiheadAttention`; the grader compares you with them).

# %% tags=["arcourse-setup", "remove-cell"]
# Colab / JupyterHub: installs the course when this kernel does not have it (nothing happens where it does).
try:
    import arcourse
except ImportError:
    print("arcourse is not installed here: installing v0.1.0 with pip, about a minute ...")
    get_ipython().run_line_magic("pip", "install -q 'arcourse[grader] @ git+https://github.com/arcourse/arcourse@v0.1.0'")  # %pip install ...
    import arcourse

# %%
import math

import torch

# %% [markdown]
# ## 1. Causal scaled dot-product attention
#
# Scores `q @ kᵀ / √D` have shape (B, N, T, T): row i holds how much step i wants to read
# each step j. Fill the entries with j > i with −∞ *before* the softmax, so they get a
# weight of exactly zero, then mix the values with the weights.

# %%
def causal_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Attention in which step t reads only steps <= t.

    Args:
        q, k, v: (B, N, T, D) queries, keys and values, all of the same shape.
    Returns:
        output (B, N, T, D) and the attention weights (B, N, T, T); each row of the
        weights sums to 1 and is exactly 0 above the diagonal.
    Raises:
        ValueError: if q, k, v are not 4-D tensors of one shape.
    """
    # YOUR CODE HERE
    raise NotImplementedError('check q.ndim == 4 and q.shape == k.shape == v.shape; scores = q @ k.transpose(-2, -1) / sqrt(D); masked_fill the upper triangle (triu(1)) with -inf; softmax(dim=-1); weights @ v')


# %% [markdown]
# Check: with T = 3 and all scores equal, row i spreads its weight evenly over steps 0..i.

# %%
q = torch.zeros(1, 1, 3, 2)
v = torch.tensor([[[[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]]])
out, w = causal_attention(q, q, v)
torch.testing.assert_close(w[0, 0], torch.tensor([[1, 0, 0], [1 / 2, 1 / 2, 0], [1 / 3, 1 / 3, 1 / 3]]))
torch.testing.assert_close(out[0, 0], torch.tensor([[1.0, 0.0], [0.5, 0.5], [2 / 3, 2 / 3]]))
try:
    causal_attention(q, q, v[..., :1])
    raise AssertionError("mismatched shapes must raise ValueError")
except ValueError as err:
    print("ValueError:", err)

# %% [markdown]
# ## 2. Multi-head attention
#
# With `x` of shape (B, T, C): `x @ w_qkv` gives (B, T, 3C), cut into q, k, v of (B, T, C).
# Split C into N heads of width D = C / N and move the heads before time:
# (B, T, C) → (B, T, N, D) → (B, N, T, D). Attend, move the heads back, merge them into
# (B, T, C) and multiply by `w_out`.

# %%
def multi_head_attention(x: torch.Tensor, w_qkv: torch.Tensor, w_out: torch.Tensor, n_heads: int) -> torch.Tensor:
    """Causal multi-head self-attention (no biases).

    Args:
        x: (B, T, C) inputs.
        w_qkv: (C, 3C) projection to queries, keys and values (in that order).
        w_out: (C, C) output projection applied to the merged heads.
        n_heads: number of heads N; C must be divisible by it.
    Returns:
        (B, T, C).
    Raises:
        ValueError: if x is not 3-D, n_heads does not divide C, or a weight has the wrong shape.
    """
    # YOUR CODE HERE
    raise NotImplementedError('q, k, v = (x @ w_qkv).split(C, dim=-1); each .view(B, T, n_heads, C // n_heads).transpose(1, 2); after causal_attention, .transpose(1, 2).reshape(B, T, C) @ w_out')


# %% [markdown]
# Check: with one head and identity weights, a single position reads only itself, so the
# output of a length-1 sequence is its input.

# %%
x = torch.tensor([[[0.5, -1.0]]])
eye = torch.eye(2)
torch.testing.assert_close(multi_head_attention(x, torch.cat([eye, eye, eye], dim=1), eye, 1), x)
assert multi_head_attention(torch.randn(2, 5, 6), torch.randn(6, 18), torch.randn(6, 6), 3).shape == (2, 5, 6)

# %% [markdown]
# ## 3. One decoding step with a KV cache
#
# When generating, the keys and values of earlier steps never change (causality!), so we
# keep them. A new token brings one query, key and value per head, each (B, N, 1, D):
# append the key and value to the caches (B, N, S, D) → (B, N, S + 1, D), and let the
# query attend to all S + 1 positions — no mask is needed, every cached step is in the past.

# %%
def attention_step(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, k_cache: torch.Tensor,
                   v_cache: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Attention output of one new position, reusing the cached keys and values.

    Args:
        q, k, v: (B, N, 1, D) the new position's query, key and value.
        k_cache, v_cache: (B, N, S, D) keys and values of the S earlier positions (S may be 0).
    Returns:
        output (B, N, 1, D), and the grown caches (B, N, S + 1, D) (new tensors; the
        caches passed in are left unchanged).
    Raises:
        ValueError: if q, k, v are not (B, N, 1, D) of one shape, or the caches do not
            match them in B, N and D or each other in S.
    """
    # YOUR CODE HERE
    raise NotImplementedError('check shapes; k_cache = torch.cat([k_cache, k], dim=2) (same for v); weights = softmax(q @ k_cache^T / sqrt(D)); output = weights @ v_cache')


# %% [markdown]
# Check: stepping through a sequence one position at a time, starting from empty caches,
# gives the last rows of full causal attention.

# %%
torch.manual_seed(0)
q, k, v = torch.randn(3, 1, 2, 4, 3).unbind(0)                      # each (1, 2, 4, 3)
full, _ = causal_attention(q, k, v)
k_cache = v_cache = torch.zeros(1, 2, 0, 3)
for t in range(4):
    out, k_cache, v_cache = attention_step(q[:, :, t:t + 1], k[:, :, t:t + 1], v[:, :, t:t + 1], k_cache, v_cache)
    torch.testing.assert_close(out, full[:, :, t:t + 1])
assert k_cache.shape == (1, 2, 4, 3)

# %% [markdown]
# Grade your work with `arcourse grade ex06_attention.ipynb` (or the `.py`): the grader
# compares your functions with PyTorch's own attention on random shapes, perturbs future
# tokens to test causality, checks that masked weights are exactly zero, runs cached steps
# against a full recompute, and feeds in mismatched shapes.
