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
# # Exercise 02 — Entropy, cross-entropy, KL, perplexity
#
# *Grading runs your imports, functions, classes and simple constants (such as `LN2 = math.log(2)`), not the other cells; its report lists what it skipped.*
#
# Write the yardsticks of lecture 02 yourself, for torch tensors whose **last axis holds the
# categories** (other axes are batch axes), in nats. Replace each
# `raise NotImplementedError(...)` with your code; the cell after each exercise compares
# your function with `arcourse.metrics` on small cases, and
# `arcourse grade ex02_information.py` checks many random ones.

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

from arcourse import metrics

# %% [markdown]
# ## 1. Entropy
#
# $H(p) = -\sum_x p(x) \log p(x)$, with $0 \log 0 = 0$: an outcome of probability zero
# contributes nothing. Careful: `0 * log(0)` is `0 * -inf = nan` in floating point.

# %%
def entropy(p):
    """H(p) in nats along the last axis.

    Args:
        p: (..., V) probabilities, each row summing to 1.
    Returns:
        (...) tensor.
    """
    # YOUR CODE HERE
    raise NotImplementedError('-(p * log p).sum(-1), but replace the terms where p == 0 by 0 (torch.where)')


# %%
p = torch.tensor([[0.5, 0.5, 0.0, 0.0], [0.5, 0.25, 0.125, 0.125], [1.0, 0.0, 0.0, 0.0]], dtype=torch.float64)
torch.testing.assert_close(entropy(p), metrics.entropy(p))
torch.testing.assert_close(entropy(p) / math.log(2), torch.tensor([1.0, 1.75, 0.0], dtype=torch.float64))
print("entropy (bits):", (entropy(p) / math.log(2)).tolist())

# %% [markdown]
# ## 2. Cross-entropy and KL divergence
#
# $H(p, q) = -\sum_x p(x) \log q(x)$ and $D_{KL}(p \Vert q) = \sum_x p(x) \log \frac{p(x)}{q(x)}$,
# again with terms where $p(x) = 0$ counting as zero. Check the identity
# $H(p, q) = H(p) + D_{KL}(p \Vert q)$ on your functions.

# %%
def cross_entropy(p, q):
    """H(p, q) in nats along the last axis.

    Args:
        p, q: (..., V) distributions of the same shape.
    Returns:
        (...) tensor; infinite where q is 0 and p is not.
    """
    # YOUR CODE HERE
    raise NotImplementedError('like entropy, with log q in place of log p (still zero where p == 0)')


def kl_divergence(p, q):
    """KL(p || q) in nats along the last axis.

    Args:
        p, q: (..., V) distributions of the same shape.
    Returns:
        (...) tensor, >= 0, zero where p == q.
    """
    # YOUR CODE HERE
    raise NotImplementedError('the cross-entropy minus the entropy, or sum p log(p / q) over the outcomes with p > 0')


# %%
q = torch.tensor([[0.25, 0.25, 0.25, 0.25], [0.1, 0.2, 0.3, 0.4], [0.7, 0.1, 0.1, 0.1]], dtype=torch.float64)
torch.testing.assert_close(cross_entropy(p, q), metrics.cross_entropy(p, q))
torch.testing.assert_close(kl_divergence(p, q), metrics.kl_divergence(p, q))
torch.testing.assert_close(cross_entropy(p, q), entropy(p) + kl_divergence(p, q))
assert (kl_divergence(p, q) > 0).all() and kl_divergence(q, q).abs().max() < 1e-12
print("H(p, q):", cross_entropy(p, q).tolist(), "\nKL(p||q):", kl_divergence(p, q).tolist())

# %% [markdown]
# ## 3. Perplexity and bits per dimension
#
# Both take a negative log-likelihood in nats **summed** over many predictions, and the
# number of predictions it covers: perplexity $\exp(\mathrm{NLL}/T)$ over $T$ tokens, bits
# per dimension $\mathrm{NLL}/(D \ln 2)$ over $D$ sub-pixels. They work for Python floats and
# for tensors alike.

# %%
def perplexity_from_nll(total_nll, n_tokens):
    """exp(total_nll / n_tokens): the effective number of choices per token."""
    # YOUR CODE HERE
    raise NotImplementedError('exp of the mean NLL per token (torch.exp for tensors, math.exp for floats)')


def bits_per_dim(total_nll, n_dims):
    """total_nll / (n_dims ln 2): the NLL in bits per dimension (sub-pixel)."""
    # YOUR CODE HERE
    raise NotImplementedError('divide by the number of dimensions, then convert nats to bits')


# %%
assert abs(perplexity_from_nll(100 * math.log(27), 100) - 27) < 1e-9     # uniform over 27 characters
assert perplexity_from_nll(0.0, 5) == 1.0                                 # a perfect model
assert abs(bits_per_dim(3 * 32 * 32 * math.log(256), 3 * 32 * 32) - 8) < 1e-12   # uniform 8-bit image model
nlls = torch.tensor([10.0, 250.0, 1234.5], dtype=torch.float64)
torch.testing.assert_close(perplexity_from_nll(nlls, 100), metrics.perplexity(nlls, 100))
torch.testing.assert_close(bits_per_dim(nlls, 64), metrics.bits_per_dim(nlls, 64))
print("perplexity and bits per dimension agree with arcourse.metrics")

# %% [markdown]
# ## 4. A stable log-softmax
#
# $\log \mathrm{softmax}(z)_k = z_k - \log \sum_j e^{z_j}$ along the last axis. Computing
# `torch.log(torch.softmax(z, -1))` underflows to $-\infty$, and `exp(z)` alone overflows for
# large logits. Subtract the row maximum first (the log-sum-exp trick). Use only `max`,
# `exp`, `sum` and `log` — not `torch.log_softmax` or `torch.logsumexp`, which do it for you.

# %%
def log_softmax(logits):
    """log softmax(logits) along the last axis, finite for any finite logits.

    Args:
        logits: (..., V) floating-point tensor.
    Returns:
        (..., V) tensor of log-probabilities.
    """
    # YOUR CODE HERE
    raise NotImplementedError('shift each row by its maximum (keepdim=True) so that every exponent is <= 0, then use the formula')


# %%
z = torch.tensor([[0.0, -120.0, 5.0], [1000.0, 0.0, -1000.0], [1.0, 2.0, 3.0]])
torch.testing.assert_close(log_softmax(z), torch.log_softmax(z, dim=-1))
assert torch.isfinite(log_softmax(z)).all()
print(log_softmax(z))
