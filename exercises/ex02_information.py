# ---
# jupyter:
#   arcourse:
#     exercise: ex02
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
# # Exercise 02 — Entropy, cross-entropy and the losses built on them
#
# *Grading runs your imports, functions, classes and simple constants (such as `LN2 = math.log(2)`), not the other cells; its report lists what it skipped.*
#
# Lecture 02 wrote entropy, cross-entropy, KL, perplexity and a stable log-softmax for one
# clean case. Real training code needs the variants: a log-sum-exp over any axis that copes
# with $-\infty$ (masked) entries, a cross-entropy that skips padding and smooths its labels,
# a perplexity over a padded batch, and entropy *estimated* from counts. In three tiers:
#
# * **warm-up** — the plug-in entropy of a histogram of counts;
# * **core** — `logsumexp` over a chosen axis, a masked and label-smoothed cross-entropy, the
#   perplexity of a padded batch;
# * **stretch** — the Miller–Madow correction, and an experiment: measure the bias of the
#   plug-in entropy estimator against the sample size on sources whose entropy you know.
#
# Three written questions (derive $H(p, q) = H(p) + D_{KL}$ and prove $D_{KL} \ge 0$; convert
# perplexities across tokenisations; explain the estimator's bias) are marked by a person.
# Everything is in nats, for torch tensors whose **last axis holds the categories** unless
# an argument says otherwise. Replace each `raise NotImplementedError(...)` with your code;
# the cell after each part checks a small case, and `arcourse grade ex02_information.py`
# checks many random ones.

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

import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F

from arcourse import metrics

# %% [markdown]
# ## 1. Warm-up: the plug-in entropy of counts
#
# Given how often each outcome was seen, the *plug-in* estimate of the entropy is the
# entropy of the observed frequencies, $\hat H = H(c / \sum_x c_x)$, with $0 \log 0 = 0$.
# `counts` may be an integer or a float tensor, with any batch axes before the last; every
# row has at least one positive count.
#
# Hint: normalise each row by its own total (keep the summed axis so that it broadcasts);
# then mind the cells with count zero — in floating point $0 \cdot \log 0$ is `nan`, so the
# log must never see a zero. Compare with `arcourse.metrics.entropy` on the frequencies.

# %%
def plugin_entropy(counts):
    """The entropy of the frequencies of each row of counts, in nats.

    Args:
        counts: (..., V) non-negative counts (int or float), each row with a positive total.
    Returns:
        (...) float64 tensor.
    """
    # YOUR CODE HERE
    raise NotImplementedError("frequencies = counts over each row's total (broadcast); skip the zero cells inside the log")


# %%
counts = torch.tensor([[5, 5, 0, 0], [4, 2, 1, 1], [7, 0, 0, 0]])   # (3, 4)
torch.testing.assert_close(plugin_entropy(counts) / math.log(2), torch.tensor([1.0, 1.75, 0.0], dtype=torch.float64))
torch.testing.assert_close(plugin_entropy(counts), metrics.entropy(counts.double() / counts.sum(-1, keepdim=True)))
print("plug-in entropy (bits):", (plugin_entropy(counts) / math.log(2)).tolist())

# %% [markdown]
# ### A written question: cross-entropy = entropy + KL, and KL ≥ 0
#
# (a) Derive $H(p, q) = H(p) + D_{KL}(p \Vert q)$ from the definitions, saying what happens to
# the outcomes with $p(x) = 0$. (b) Prove $D_{KL}(p \Vert q) \ge 0$, with equality exactly
# when $q = p$ (Jensen's inequality for $\log$, or $\log t \le t - 1$). (c) Conclude in one
# sentence what minimising the cross-entropy loss over $q$ does, and why the loss cannot go
# below $H(p)$.

# %% [markdown]
# **Answer (written: ce_decomposition, 2 points):**
# YOUR ANSWER HERE

# %% [markdown]
# ## 2. Core: log-sum-exp over any axis, with masked entries
#
# $\mathrm{LSE}(x) = \log \sum_j e^{x_j}$ along axis `dim`. The lecture shifted by the row
# maximum inside a log-softmax over the last axis of finite logits. Here the axis is any
# axis, and entries may be $-\infty$ — that is how a mask removes a category — so that a
# row may even be **all** $-\infty$ (everything masked): its LSE is $\log 0 = -\infty$, not
# `nan`. Finite inputs of any size (`1e4` in float32) must give finite results. Write it
# with `max`, `exp`, `sum` and `log`; `torch.logsumexp` is what the grader compares with,
# and your code may not call it.
#
# Hint: shift by the maximum along `dim`; where that maximum is $-\infty$, shift by 0
# instead (otherwise $-\infty - (-\infty)$ is `nan`), and add the maximum back at the end.

# %%
def logsumexp(x, dim=-1, keepdim=False):
    """log(sum(exp(x))) along `dim`, stable for large entries and for -inf entries.

    Args:
        x: floating-point tensor; entries may be -inf.
        dim: the axis to reduce.
        keepdim: keep the reduced axis with size 1.
    Returns:
        x's shape without `dim` (or with size 1 there if keepdim); -inf where every entry is -inf.
    """
    # YOUR CODE HERE
    raise NotImplementedError('shift by the max along dim (0 where the max is -inf), reduce, take the log, add the shift back')


# %%
x = torch.tensor([[0.0, -120.0, 5.0], [1e4, 0.0, -1e4], [-math.inf, -math.inf, -math.inf]])   # (3, 3)
torch.testing.assert_close(logsumexp(x, dim=1), torch.logsumexp(x, dim=1))
torch.testing.assert_close(logsumexp(x, dim=0, keepdim=True), torch.logsumexp(x, dim=0, keepdim=True))
assert logsumexp(x, dim=1)[2] == -math.inf and torch.isfinite(logsumexp(x, dim=1)[:2]).all()
print("logsumexp over rows:", logsumexp(x, dim=1).tolist())

# %% [markdown]
# ## 3. Core: a masked, label-smoothed cross-entropy
#
# A batch of sequences `(B, T, V)` of logits and `(B, T)` of targets. Positions whose target
# is `ignore_index` are padding: they count neither in the sum nor in the number of tokens,
# and whatever their logits hold must not matter. With *label smoothing* $\varepsilon$ the
# target of a counted position is not the one-hot $e_y$ but
# $(1 - \varepsilon)\, e_y + \varepsilon / V$ (the uniform distribution mixed in), so its loss
# is the cross-entropy $H\big((1-\varepsilon) e_y + \varepsilon/V,\ \mathrm{softmax}(z)\big)$.
# Return the mean over the counted positions; raise `ValueError` unless $0 \le \varepsilon \le 1$.
# Your result must equal `F.cross_entropy(..., ignore_index=..., label_smoothing=...)`, which
# the grader compares with and you may not call.
#
# Hint: $\log \mathrm{softmax}(z) = z - \mathrm{LSE}(z)$ (part 2). Expand the smoothed
# cross-entropy into two terms: one that picks the target's log-probability and one that
# averages the log-probabilities over all $V$ values. A padding target (e.g. $-100$) is not a
# valid index: replace it before you pick.

# %%
def smoothed_cross_entropy(logits, targets, ignore_index=-100, label_smoothing=0.0):
    """Mean label-smoothed cross-entropy over the positions whose target is not ignore_index.

    Args:
        logits: (B, T, V) floating-point tensor.
        targets: (B, T) int64 tensor of values in 0..V-1, or ignore_index.
        ignore_index: the target value that marks padding.
        label_smoothing: epsilon in [0, 1].
    Returns:
        a 0-d tensor, in nats.
    """
    # YOUR CODE HERE
    raise NotImplementedError('log-probabilities from your logsumexp; the smoothed target splits the loss into a picked term and a mean term')


# %%
gen = torch.Generator().manual_seed(0)
logits = torch.randn(2, 5, 7, generator=gen)                           # (B, T, V)
targets = torch.randint(0, 7, (2, 5), generator=gen)                   # (B, T)
targets[1, 3:] = -100                                                  # the second sequence is shorter
for eps in (0.0, 0.1):
    want = F.cross_entropy(logits.reshape(-1, 7), targets.reshape(-1), ignore_index=-100, label_smoothing=eps)
    torch.testing.assert_close(smoothed_cross_entropy(logits, targets, label_smoothing=eps), want)
    print(f"label smoothing {eps}: {smoothed_cross_entropy(logits, targets, label_smoothing=eps):.4f} nats")

# %% [markdown]
# ## 4. Core: the perplexity of a padded batch
#
# Sequence $b$ of a batch is `lengths[b]` tokens long; positions at or past its length are
# padding, and their logits and targets may hold anything — even `nan` logits or a target of
# $-100$. The perplexity of the batch is that of the *corpus*: $\exp$ of the total NLL of the
# real tokens divided by their number. It is **not** the mean of the sequences' perplexities
# (a short sequence would weigh as much as a long one).
#
# Hint: build a `(B, T)` boolean mask from the lengths by comparing a `torch.arange(T)` with
# them (broadcast); per-token NLL from part 2's LSE; keep the padding out with a selection, not
# a multiplication (what is `nan * 0`?).

# %%
def padded_perplexity(logits, targets, lengths):
    """exp(total NLL of the real tokens / their number) of a padded batch.

    Args:
        logits: (B, T, V) floating-point tensor; positions t >= lengths[b] are padding.
        targets: (B, T) int64 tensor, valid (0..V-1) where t < lengths[b].
        lengths: (B,) int64 tensor, each in 1..T.
    Returns:
        a 0-d tensor.
    """
    # YOUR CODE HERE
    raise NotImplementedError('a (B, T) mask of real tokens from the lengths; per-token NLL from your logsumexp; keep padding out by selection')


# %%
uniform = torch.zeros(2, 4, 27)                                        # (B, T, V): a uniform model over 27 characters
uniform[1, 2:] = math.nan                                              # padding may hold anything
tokens = torch.tensor([[1, 2, 3, 4], [5, 6, -100, -100]])
torch.testing.assert_close(padded_perplexity(uniform, tokens, torch.tensor([4, 2])), torch.tensor(27.0))
torch.testing.assert_close(padded_perplexity(logits, targets.clamp(min=0), torch.tensor([5, 3])),
                           smoothed_cross_entropy(logits, targets).exp())   # the same tokens, counted the same way
print("padded_perplexity: a uniform model over 27 characters has perplexity 27")

# %% [markdown]
# ### A written question: perplexity across tokenisations
#
# A BPE model reports a test perplexity of 20 per token on a text that it cuts into
# 1000 tokens; the text has 4200 characters. A character model reports 1.15 bits per
# character on the same text. (a) Derive the general formula that turns a per-token
# perplexity into bits per character (the total NLL of the text is what both share).
# (b) Which model assigns the text the higher probability, and by how many bits in total?
# (c) Why is comparing the two perplexities directly (20 against $2^{1.15}$) meaningless?

# %% [markdown]
# **Answer (written: tokenisation, 2 points):**
# YOUR ANSWER HERE

# %% [markdown]
# ## 5. Stretch: the Miller–Madow correction
#
# The plug-in estimate of part 1 is biased low: for $N$ samples of a source with $m$
# outcomes of positive probability, $\mathbb{E}[\hat H] \approx H - \frac{m - 1}{2N}$.
# Miller and Madow (1955) add the correction back, with the number of outcomes actually
# *seen*, $\hat m$ (the nonzero counts), in place of the unknown $m$:
# $\hat H_{MM} = \hat H + \frac{\hat m - 1}{2N}$, with $N$ the row's total count.
#
# Hint: three numbers of the histogram — its total, how many of its cells are nonzero, and
# its plug-in estimate from part 1.

# %%
def miller_madow_entropy(counts):
    """The plug-in entropy of a histogram plus (number of nonzero counts - 1) / (2 N), in nats.

    Args:
        counts: (V,) non-negative counts with a positive total N.
    Returns:
        0-d float64 tensor.
    """
    # YOUR CODE HERE
    raise NotImplementedError('plug-in estimate + (nonzero cells - 1) / (2 * total count)')


# %%
torch.testing.assert_close(miller_madow_entropy(torch.tensor([5, 5, 0, 0])), torch.tensor(math.log(2) + 1 / 20, dtype=torch.float64))
torch.testing.assert_close(miller_madow_entropy(torch.tensor([3, 0])), torch.tensor(0.0, dtype=torch.float64))
print("miller_madow_entropy: the hand cases are right")

# %% [markdown]
# ### A written question: why the plug-in estimate is biased low
#
# Prove that $\mathbb{E}[\hat H] \le H(p)$ for every $N$ (the frequencies $\hat p$ average to
# $p$, and the entropy is a concave function of the distribution). Then predict, before you
# run the experiment below, how the bias should change when $N$ grows fourfold, and why a
# source with 12 possible outcomes out of 20 behaves like one of 12, not 20.

# %% [markdown]
# **Answer (written: plugin_bias, 2 points):**
# YOUR ANSWER HERE

# %% [markdown]
# ## 6. Stretch (an experiment): measure the bias
#
# Write `entropy_bias`: with one `torch.Generator` seeded with `seed`, for each $N$ in `sizes`
# draw `n_repeats` independent samples of $N$ outcomes from `probs`, estimate the entropy of
# each sample with your `plugin_entropy` (one call per sample, on that sample's counts), and
# return the mean estimate minus the true $H(\text{probs})$ — one bias per $N$, in nats.
#
# The grader runs it on two sources of its own (12 of 20 outcomes possible; uniform over 4)
# with 200 repeats per size, and checks that every bias is negative, that it shrinks as $N$
# grows fourfold, and that from $N = 10m$ on it lies within $[0.6, 1.5]$ times $-(m-1)/2N$.
# The plot below shows the same on log-log axes.
#
# Hint: `torch.multinomial` draws with replacement from `probs`; `torch.bincount` with
# `minlength` turns a sample into counts; $H(\text{probs})$ is the plug-in entropy of `probs`
# itself (a distribution is a histogram too).

# %%
def entropy_bias(probs, sizes, n_repeats, seed):
    """Mean plug-in entropy of n_repeats samples of size N from probs, minus H(probs), per N.

    Args:
        probs: (V,) float64 distribution.
        sizes: a sequence of sample sizes N.
        n_repeats: samples drawn per size.
        seed: seed of the torch.Generator used for every draw.
    Returns:
        a list of len(sizes) floats, in nats (negative: the estimator is biased low).
    """
    # YOUR CODE HERE
    raise NotImplementedError('per N: draw n_repeats * N outcomes, split them into samples, count each, average the estimates, subtract H')


# %%
support = torch.tensor([0, 1, 2, 3, 5, 6, 8, 9, 11, 13, 16, 19])
source = torch.zeros(20, dtype=torch.float64).index_fill(0, support, 1 / 12)   # (20,) 12 outcomes possible
sizes = [15, 30, 60, 120, 240, 480, 960]
biases = entropy_bias(source, sizes, n_repeats=200, seed=0)
for size, bias in zip(sizes, biases):
    print(f"N = {size:>4}: bias {bias:+.4f} nats, -(m - 1)/2N = {-11 / (2 * size):+.4f}")
assert all(b < 0 for b in biases) and all(abs(a) > abs(b) for a, b in zip(biases, biases[1:]))

plt.figure(figsize=(5, 3.2))
plt.loglog(sizes, [-b for b in biases], "o-", label="measured: H - mean plug-in estimate")
plt.loglog(sizes, [11 / (2 * size) for size in sizes], "k:", label="(m - 1) / 2N, m = 12")
plt.loglog(sizes, [19 / (2 * size) for size in sizes], "C3:", label="(V - 1) / 2N, V = 20")
plt.xlabel("sample size N"); plt.ylabel("bias (nats, absolute)"); plt.legend(fontsize=8)
plt.title("The plug-in entropy estimator is biased low"); plt.show()

# %% [markdown]
# ## Summary
# * The plug-in entropy is the entropy of the frequencies; it underestimates $H$ by about
#   $(m - 1)/2N$, and the Miller–Madow correction adds that back.
# * Log-sum-exp over any axis needs the maximum shift, and a guard for rows that are all
#   $-\infty$ (a fully masked row).
# * A training loss skips padding by selection, and label smoothing is a cross-entropy
#   against a target mixed with the uniform distribution.
# * Perplexity is per prediction: over a padded batch count the real tokens; across
#   tokenisations compare bits per character.
