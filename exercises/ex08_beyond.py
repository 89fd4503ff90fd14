# ---
# jupyter:
#   arcourse:
#     exercise: ex08
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
# # Exercise 08 — beyond tokens: a Gaussian head and speculative decoding
#
# *Grading runs your imports, functions, classes and simple constants (such as `LN2 = math.log(2)`), not the other cells; its report lists what it skipped.*
#
# Two pieces from lecture 08, each small and each exact.
#
# 1. **A Gaussian output head.** For a real-valued x_t an AR model outputs a density instead
#    of a softmax. A network's two raw numbers per step become a mean µ and a standard
#    deviation σ > 0, and the loss is the exact negative log-density
#    $$-\log \mathcal N(x; \mu, \sigma^2) = \tfrac12\big(\log 2\pi + \log \sigma^2 + (x-\mu)^2/\sigma^2\big).$$
# 2. **The speculative-decoding accept/reject step.** A draft model q proposed a token x.
#    Keep it with probability $\min(1, p(x)/q(x))$; otherwise emit a draw from the residual
#    $r = \max(0, p - q) / \sum \max(0, p - q)$. Whatever q is, the emitted token is
#    distributed exactly as p:
#    $$q(y)\min\!\big(1, \tfrac{p(y)}{q(y)}\big) + \Big(1 - \sum_x \min(p(x), q(x))\Big)\, r(y) = p(y).$$
#
# Fill in every `raise NotImplementedError`, run the checks below each function, then grade
# with `arcourse grade ex08_beyond.ipynb` (or the `.py`). The grader checks your functions on
# random inputs against PyTorch, by exact enumeration and by sampling.

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
import torch.nn.functional as F

# %% [markdown]
# ## 1. A Gaussian output head
#
# The raw output is unconstrained; σ must be positive. `softplus(s) = log(1 + e^s)` maps any
# real number to a positive one smoothly and, unlike `exp`, grows only linearly for large s;
# a small floor keeps σ away from 0, so the NLL stays finite.

# %%
def gaussian_head(raw, min_scale=1e-3):
    """Turn raw network outputs into the parameters of a Gaussian.

    Args:
        raw: (..., 2) tensor; raw[..., 0] is the mean, raw[..., 1] the unconstrained scale.
        min_scale: floor added to the standard deviation.
    Returns:
        (mu, sigma): two (...) tensors, mu = raw[..., 0], sigma = softplus(raw[..., 1]) + min_scale.
    """
    # YOUR CODE HERE
    raise NotImplementedError('split the last axis; F.softplus makes the second number positive')


def normal_nll(x, mu, sigma):
    """-log N(x; mu, sigma^2) per element, in nats.

    Args:
        x, mu, sigma: broadcastable tensors.
    Returns:
        the broadcast shape.
    Raises:
        ValueError if any sigma <= 0 (name the argument in the message).
    """
    # YOUR CODE HERE
    raise NotImplementedError('check sigma first, then 0.5 * (log(2 pi) + log(sigma^2) + ((x - mu) / sigma)^2)')


# %%
# Checks with numbers you can verify by hand: at x = mu, sigma = 1 the NLL is 0.5 log(2 pi).
mu, sigma = gaussian_head(torch.tensor([[0.0, 0.0], [1.0, 30.0]]))
assert mu.tolist() == [0.0, 1.0] and abs(float(sigma[0]) - (math.log(2) + 1e-3)) < 1e-6
x = torch.tensor([0.0, 1.0, -2.0])
got = normal_nll(x, torch.zeros(3), torch.tensor([1.0, 1.0, 2.0]))
assert abs(float(got[0]) - 0.5 * math.log(2 * math.pi)) < 1e-6
torch.testing.assert_close(got, -torch.distributions.Normal(0.0, torch.tensor([1.0, 1.0, 2.0])).log_prob(x))
try:
    normal_nll(x, torch.zeros(3), torch.tensor([1.0, 0.0, 1.0]))
    raise AssertionError("sigma = 0 should raise ValueError")
except ValueError as err:
    print("sigma = 0 is refused:", err)

# %% [markdown]
# ## 2. The accept/reject step of speculative decoding
#
# Three small functions. `p` and `q` are probability vectors over the vocabulary (last
# axis); rows of a batch are independent. A token the draft never proposes (q = 0) can be
# given acceptance probability 1: it never comes up.

# %%
def accept_probability(p, q):
    """min(1, p / q) per token, and 1 where q == 0.

    Args:
        p, q: (..., V) target and draft probabilities.
    Returns:
        (..., V).
    """
    # YOUR CODE HERE
    raise NotImplementedError('divide where q > 0 (torch.where), clamp at 1')


def residual_probs(p, q):
    """max(0, p - q) normalised to sum to 1 over the last axis; rows where that mass is
    zero (p == q, so no rejection can happen) return p.

    Args:
        p, q: (..., V).
    Returns:
        (..., V), rows summing to 1.
    """
    # YOUR CODE HERE
    raise NotImplementedError('(p - q).clamp(min=0), divide by its row sum; torch.where for rows summing to 0')


def accept_or_resample(p, q, draft, generator=None):
    """One speculative step for B independent rows.

    Args:
        p: (B, V) target probabilities; q: (B, V) draft probabilities.
        draft: (B,) int64 tokens drawn from q.
        generator: a torch.Generator for every random draw.
    Returns:
        (tokens (B,) int64, accepted (B,) bool): the draft token where accepted, else a
        draw from the residual.
    """
    # YOUR CODE HERE
    raise NotImplementedError('u = torch.rand(B, generator=generator); accept where u < min(1, p(x)/q(x)); torch.multinomial on the residual for the others')


# %%
# By enumeration: the emitted distribution is exactly p.
p = torch.tensor([0.5, 0.3, 0.2, 0.0])
q = torch.tensor([0.25, 0.25, 0.25, 0.25])
a, r = accept_probability(p, q), residual_probs(p, q)
torch.testing.assert_close(a, torch.tensor([1.0, 1.0, 0.8, 0.0]))
torch.testing.assert_close(r, torch.tensor([0.5 / 0.6, 0.1 / 0.6, 0.0, 0.0]))
emitted = q * a + (q * (1 - a)).sum() * r
torch.testing.assert_close(emitted, p)
print("acceptance rate sum_x min(p, q) =", float(torch.minimum(p, q).sum()))

# %%
# By sampling: 20,000 rows, the token frequencies match p.
gen = torch.Generator().manual_seed(0)
B = 20_000
draft = torch.multinomial(q, B, replacement=True, generator=gen)
tokens, accepted = accept_or_resample(p.expand(B, -1), q.expand(B, -1), draft, gen)
freq = torch.bincount(tokens, minlength=4) / B
print("frequencies", [round(f, 3) for f in freq.tolist()], "target", p.tolist(),
      "accepted", round(float(accepted.float().mean()), 3))
assert (freq - p).abs().max() < 0.02 and bool((tokens[accepted] == draft[accepted]).all())

# %% [markdown]
# With every token accepted or replaced this way, a whole draft of k tokens can be checked
# by one forward pass of the big model: `arcourse.decoding.speculative_generate`.
