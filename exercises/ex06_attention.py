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
# # Exercise 06 — attention with other masks, a KV cache, and what the cache saves
#
# *Grading runs your imports, functions, classes and simple constants (such as `LN2 = math.log(2)`), not the other cells; its report lists what it skipped.*
#
# Lecture 06 built causal self-attention and timed the library's KV cache. Here you write
# the pieces from plain tensor operations, and then the masks the lecture did not show:
#
# | tier | part | what you do |
# |---|---|---|
# | warm-up | 1. `causal_attention` | the lecture's causal attention, returning its weights |
# | core | 2. `sliding_window_attention` | step $t$ reads only the last `window` steps |
# | core | 3. `multi_head_attention` | several heads, and a batch of **left-padded** sequences |
# | core | 4. `attention_step` | one decoding step with a KV cache |
# | stretch | 5. `decode_attention` | an experiment: count the work of decoding with and without the cache |
#
# Two written questions are marked by a person: why the scores are divided by $\sqrt D$
# (after part 1) and the cost of decoding (part 5).
#
# Shapes: B batch, N heads, T time, D width per head, C = N·D model width.
#
# Use only `torch` tensor operations (no `torch.nn.functional.scaled_dot_product_attention`
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
import time

import torch

from arcourse import make_generator

# %% [markdown]
# ## 1. Causal scaled dot-product attention (warm-up)
#
# Scores `q @ kᵀ / √D` have shape (B, N, T, T): row i holds how much step i wants to read
# each step j. Hide the entries with j > i *before* the softmax so that they get a weight
# of exactly zero, then mix the values with the weights.

# %%
def causal_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Attention in which step t reads only steps <= t.

    Args:
        q, k, v: (B, N, T, D) queries, keys and values, all of the same shape.
    Returns:
        output (B, N, T, D) and the attention weights (B, N, T, T); each row of the
        weights sums to 1 and is exactly 0 above the diagonal.
    """
    # YOUR CODE HERE
    raise NotImplementedError('scores are the queries against the transposed keys, scaled by one over the square root of the head width; set the strict upper triangle to minus infinity (an additive -1e9 is not exactly zero), softmax over the key axis, then weight the values')


# %% [markdown]
# Check: with T = 3 and all scores equal, row i spreads its weight evenly over steps 0..i.

# %%
q = torch.zeros(1, 1, 3, 2)
v = torch.tensor([[[[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]]])
out, w = causal_attention(q, q, v)
torch.testing.assert_close(w[0, 0], torch.tensor([[1, 0, 0], [1 / 2, 1 / 2, 0], [1 / 3, 1 / 3, 1 / 3]]))
torch.testing.assert_close(out[0, 0], torch.tensor([[1.0, 0.0], [0.5, 0.5], [2 / 3, 2 / 3]]))

# %% [markdown]
# ### A written question: the scale
#
# Lecture 06 showed that $q \cdot k$ has variance $D$ for unit-variance entries. Go one step
# further. Suppose you forget the $1/\sqrt D$ in a head of width $D = 256$ with $T = 16$
# keys. (a) Predict what the attention weights of a freshly initialised layer look like.
# (b) The Jacobian of the softmax is $\partial p_i / \partial s_j = p_i(\delta_{ij} - p_j)$:
# use it to explain why such a layer barely learns. (c) Why $\sqrt D$ and not $D$?

# %% [markdown]
# **Answer (written: scale, 2 points):**
# YOUR ANSWER HERE

# %% [markdown]
# ## 2. Sliding-window causal attention (core)
#
# Long sequences make the $T \times T$ scores expensive. **Sliding-window** attention
# (Longformer, Mistral) lets step $t$ read only the `window` most recent steps, itself
# included: steps $s$ with $t - \text{window} < s \le t$. With `window` $\ge T$ it is
# causal attention; with `window` $= 1$ each step reads only itself.
#
# *Hint:* the mask is a band; build it by comparing a column of query positions with a row
# of key positions (broadcasting), in two conditions.

# %%
def sliding_window_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor,
                             window: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Causal attention in which step t reads only steps t - window + 1 .. t.

    Args:
        q, k, v: (B, N, T, D).
        window: >= 1, how many steps each position reads (itself included).
    Returns:
        output (B, N, T, D) and weights (B, N, T, T), exactly 0 outside the window.
    """
    # YOUR CODE HERE
    raise NotImplementedError('key position s is visible from query position t when s is not after t and t - s is less than the window; hide everything else with minus infinity before the softmax')


# %% [markdown]
# Check: with equal scores and a window of 2, each step averages itself and the step before.

# %%
q = torch.zeros(1, 1, 4, 1)
v = torch.arange(4.0).view(1, 1, 4, 1)
out, w = sliding_window_attention(q, q, v, window=2)
print(w[0, 0])
torch.testing.assert_close(out[0, 0, :, 0], torch.tensor([0.0, 0.5, 1.5, 2.5]))
torch.testing.assert_close(sliding_window_attention(q, q, v, window=9)[0], causal_attention(q, q, v)[0])

# %% [markdown]
# ## 3. Multi-head attention over a left-padded batch (core)
#
# With `x` of shape (B, T, C): `x @ w_qkv` gives (B, T, 3C), cut into q, k, v of (B, T, C)
# (in that order). Split C into N heads of width D = C / N and move the heads before time,
# (B, T, C) → (B, N, T, D); attend causally; move the heads back, merge them into (B, T, C)
# and multiply by `w_out`.
#
# To generate from several prompts of different lengths at once, the prompts are
# **left-padded** to one length: sequence $b$ starts with `n_pad[b]` padding positions,
# then its real tokens. Its real positions must not read the padding (whatever it holds),
# so that each sequence's outputs equal those it would get alone; the outputs at padding
# positions are defined to be 0. (A padding query has no visible key at all: what does the
# softmax of a row of $-\infty$ give?)

# %%
def multi_head_attention(x: torch.Tensor, w_qkv: torch.Tensor, w_out: torch.Tensor, n_heads: int,
                         n_pad: torch.Tensor | None = None) -> torch.Tensor:
    """Causal multi-head self-attention (no biases) that ignores left padding.

    Args:
        x: (B, T, C) inputs.
        w_qkv: (C, 3C) projection to queries, keys and values (in that order).
        w_out: (C, C) output projection applied to the merged heads.
        n_heads: number of heads N; C must be divisible by it.
        n_pad: (B,) int, the padding positions at the start of each sequence (None: none).
    Returns:
        (B, T, C), 0 at padding positions.
    Raises:
        ValueError: if n_heads does not divide C, or a weight has the wrong shape.
    """
    # YOUR CODE HERE
    raise NotImplementedError('validate first; split the projection into three, each into heads, then one boolean (B, 1, T, T) mask of allowed (query, key) pairs: causal and the key not padding; rows with no allowed key get weight 0')


# %% [markdown]
# Check: with one head and identity weights a single position reads only itself; and a
# sequence padded on the left by two positions gets the outputs it gets alone, with zeros
# where the padding is.

# %%
x = torch.tensor([[[0.5, -1.0]]])
eye = torch.eye(2)
torch.testing.assert_close(multi_head_attention(x, torch.cat([eye, eye, eye], dim=1), eye, 1), x)
gen = make_generator(0)
x, w_qkv, w_out = torch.randn(1, 4, 6, generator=gen), torch.randn(6, 18, generator=gen), torch.randn(6, 6, generator=gen)
padded = torch.cat([torch.randn(1, 2, 6, generator=gen), x], dim=1)              # (1, 6, 6)
out = multi_head_attention(padded, w_qkv, w_out, 3, n_pad=torch.tensor([2]))
torch.testing.assert_close(out[:, 2:], multi_head_attention(x, w_qkv, w_out, 3))
assert (out[:, :2] == 0).all()

# %% [markdown]
# ## 4. One decoding step with a KV cache (core)
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
        ValueError: if the caches do not match the new key in B, N and D or each other in S.
    """
    # YOUR CODE HERE
    raise NotImplementedError("check the caches' shapes; grow each cache by the new key or value along the time axis (a new tensor, not in place); the new query reads every position of the grown cache")


# %% [markdown]
# Check: stepping through a sequence one position at a time, starting from empty caches,
# gives the rows of full causal attention.

# %%
q, k, v = torch.randn(3, 1, 2, 4, 3, generator=make_generator(1)).unbind(0)   # each (1, 2, 4, 3)
full, _ = causal_attention(q, k, v)
k_cache = v_cache = torch.zeros(1, 2, 0, 3)
for t in range(4):
    out, k_cache, v_cache = attention_step(q[:, :, t:t + 1], k[:, :, t:t + 1], v[:, :, t:t + 1], k_cache, v_cache)
    torch.testing.assert_close(out, full[:, :, t:t + 1])
assert k_cache.shape == (1, 2, 4, 3)

# %% [markdown]
# ## 5. An experiment: what the cache saves (stretch)
#
# Decoding produces the outputs one step at a time: at step $t$ the new query needs the
# keys and values of steps $0..t$. **Without a cache** a model recomputes attention over the
# whole prefix at every step (it has no memory of the previous step's work) and keeps only
# the last row; **with the cache** it computes only the new row.
#
# Write `decode_attention(q, k, v, use_cache)` that produces the $T$ outputs step by step
# either way, doing every matrix product of the attention (scores and value mixing) through
# the counter below, and returns the outputs and the counter's total of multiply-adds. The
# grader checks that both ways give causal attention's outputs and that the counts grow the
# way the cost analysis says, with wide margins. The cell after it also times both.

# %% [markdown]
# ### A written question: the cost of decoding
#
# For one head of width $D$ and a sequence of $T$ steps:
#
# 1. Derive the exact number of multiply-adds that `decode_attention` counts with the cache
#    and without it, as sums over the steps and in closed form, and their ratio for large
#    $T$. Check your formulas against the counts printed after you write it.
# 2. Training (teacher forcing) computes all $T$ rows in one masked product. How many
#    multiply-adds does that take, and why can generation not do the same?
# 3. Compare how the printed times grow with how the counts grow. Where do they differ,
#    and why?

# %% [markdown]
# **Answer (written: decoding_cost, 3 points):**
# YOUR ANSWER HERE

# %%
class MatmulCounter:
    """`counter(a, b)` is `a @ b`, and adds its multiply-adds to `counter.total`."""

    def __init__(self):
        self.total = 0

    def __call__(self, a, b):
        out = a @ b                                                  # (..., n, m) from (..., n, k) @ (..., k, m)
        self.total += out.numel() * a.shape[-1]
        return out


def decode_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor,
                     use_cache: bool) -> tuple[torch.Tensor, int]:
    """Causal attention's outputs produced one step at a time, with or without a KV cache.

    Args:
        q, k, v: (B, N, T, D).
        use_cache: True: step t computes only row t; False: step t recomputes causal
            attention over steps 0..t and keeps its last row.
    Returns:
        the outputs (B, N, T, D) and the multiply-adds of every attention product (int).
    """
    # YOUR CODE HERE
    raise NotImplementedError("one loop over t; with the cache, one query row against the first t + 1 keys; without it, the whole prefix's scores (masked causally) and keep the last row; both scores and value mixing go through the counter")


# %% [markdown]
# The measurement: counts for growing $T$ (one head of width 16), and the time of each
# decoding (the best of three runs: the times depend on the machine, the counts do not).

# %%
def best_seconds(fn, repeats=3):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


for T in (16, 64, 256):
    q, k, v = torch.randn(3, 1, 1, T, 16, generator=make_generator(T)).unbind(0)   # each (1, 1, T, 16)
    (cached, n_cached), (uncached, n_uncached) = (decode_attention(q, k, v, flag) for flag in (True, False))
    torch.testing.assert_close(cached, causal_attention(q, k, v)[0])
    torch.testing.assert_close(uncached, cached)
    seconds = [best_seconds(lambda: decode_attention(q, k, v, flag)) for flag in (True, False)]
    print(f"T = {T:3d}: multiply-adds cached {n_cached:>10,d}, uncached {n_uncached:>12,d} "
          f"(ratio {n_uncached / n_cached:5.1f}); seconds cached {seconds[0]:.4f}, uncached {seconds[1]:.4f}")

# %% [markdown]
# Grade your work with `arcourse grade ex06_attention.ipynb` (or the `.py`): the grader
# compares your functions with PyTorch's own attention on random shapes, perturbs inputs
# outside each window to test what each step reads, checks that masked weights are exactly
# zero, compares each padded sequence with the same sequence alone, runs cached steps
# against a full recompute, and counts the work of your decoding loops.
