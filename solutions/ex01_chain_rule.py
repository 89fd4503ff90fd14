# ---
# jupyter:
#   arcourse:
#     exercise: ex01
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
# # Exercise 01 — The chain rule and autoregressive factorisation
#
# *Grading runs your imports, functions, classes and simple constants (such as `LN2 = math.log(2)`), not the other cells; its report lists what it skipped.*
#
# Lecture 01 showed that $p(x_1, \dots, x_n) = \prod_i p(x_i \mid x_{<i})$ holds in every order,
# by multiplying broadcastable marginals. Here you write the pieces of an AR model of a table
# yourself, in three tiers:
#
# * **warm-up** — the conditional tables of a joint in a given order, and the joint rebuilt
#   from them (then you check the chain rule in all six orders of three variables);
# * **core** — parameter counts for variables of *different* sizes with a *limited* context
#   (a Markov model), and an ancestral sampler;
# * **stretch (an experiment)** — fit the tables from samples by counting and measure how fast
#   the fitted model approaches the truth as the sample grows.
#
# Two written questions (a proof that AR models are universal, and an interpretation of your
# experiment) are marked by a person. Replace each `raise NotImplementedError(...)` with your
# code; the cell after each part checks a small case. `arcourse grade ex01_chain_rule.py`
# checks many more: its sampler checks compare your samples with the exact distribution
# (a $\chi^2$ test, a different joint each time).
#
# Conventions: a joint over $n$ variables with $K$ values each is a float64 tensor of shape
# $(K,) \times n$ whose axis $v$ is the variable $x_v$ (counting from 0). An *order* is a
# permutation of $0..n-1$.

# %% tags=["arcourse-setup", "remove-cell"]
# Colab / JupyterHub: installs the course when this kernel does not have it (nothing happens where it does).
try:
    import arcourse
except ImportError:
    print("arcourse is not installed here: installing v0.1.0 with pip, about a minute ...")
    get_ipython().run_line_magic("pip", "install -q 'arcourse[grader] @ git+https://github.com/arcourse/arcourse@v0.1.0'")  # %pip install ...
    import arcourse

# %%
import itertools
import math

import matplotlib.pyplot as plt
import torch

from arcourse.metrics import chi_square_test

# %% [markdown]
# ## 1. Warm-up: conditional tables in a given order
#
# For an order $o = (o_0, \dots, o_{n-1})$, table $i$ holds
# $p(x_{o_i} \mid x_{o_0}, \dots, x_{o_{i-1}})$ as a tensor of shape $(K,) \times (i+1)$ whose
# axes are $x_{o_0}, \dots, x_{o_i}$ in that order: the last axis is the variable being
# predicted, the others are its conditioning prefix. Where the prefix has probability zero
# the conditional is undefined; use the uniform distribution $1/K$ there.
#
# Hint: first bring the axes into the order (one tensor method does it); then the table of
# step $i$ is the marginal of the first $i + 1$ axes divided by the marginal of the first $i$,
# and the second is the first summed over its last axis. Mind the division by zero.

# %%
def conditional_tables(joint, order):
    """The chain-rule factors of `joint` in `order`.

    Args:
        joint: (K,) * n float64 tensor of probabilities summing to 1; axis v is x_v.
        order: a sequence holding each of 0..n-1 once.
    Returns:
        a list of n tensors; entry i has shape (K,) * (i + 1) and holds
        p(x_{order[i]} | x_{order[0]}, ..., x_{order[i-1]}), axes in the order's order,
        1/K wherever the prefix has probability 0.
    """
    ### BEGIN SOLUTION
    # HINT: permute the axes into the order; table i is a ratio of two marginals (sums over the later axes)
    n, K = joint.ndim, joint.shape[0]
    permuted = joint.permute(*order)                                   # axis i is x_{order[i]}
    tables = []
    for i in range(n):
        upto = permuted.sum(dim=tuple(range(i + 1, n))) if i + 1 < n else permuted   # p(x_o0..x_oi)
        prefix = upto.sum(dim=-1, keepdim=True)                        # p(x_o0..x_o(i-1))
        safe = torch.where(prefix > 0, prefix, torch.ones_like(prefix))
        tables.append(torch.where(prefix > 0, upto / safe, torch.full_like(upto, 1 / K)))
    return tables
    ### END SOLUTION


# %%
joint2 = torch.tensor([[0.1, 0.2], [0.3, 0.4]], dtype=torch.float64)   # p(x0, x1)
first, second = conditional_tables(joint2, [0, 1])
torch.testing.assert_close(first, torch.tensor([0.3, 0.7], dtype=torch.float64))           # p(x0)
torch.testing.assert_close(second, torch.tensor([[1 / 3, 2 / 3], [3 / 7, 4 / 7]], dtype=torch.float64))  # p(x1 | x0)
first, second = conditional_tables(joint2, [1, 0])
torch.testing.assert_close(first, torch.tensor([0.4, 0.6], dtype=torch.float64))           # p(x1)
torch.testing.assert_close(second, torch.tensor([[0.25, 0.75], [1 / 3, 2 / 3]], dtype=torch.float64))  # p(x0 | x1)
print("conditional_tables: the 2 x 2 case is right")

# %% [markdown]
# ## 2. Warm-up: rebuild the joint
#
# Multiply the tables back together and undo the permutation, so that axis $v$ is $x_v$
# again. For every joint and every order,
# `joint_from_conditionals(conditional_tables(joint, order), order)` must give back `joint`.
#
# Hint: table $i$ has one axis more than the product of the tables before it; give that
# product a new last axis of size 1 and broadcasting does the rest. At the end, axis $v$ of
# the result must come from the position at which $v$ stands in `order`: that is the
# *inverse* permutation, not `order` itself (try a 3-cycle on paper).

# %%
def joint_from_conditionals(tables, order):
    """The joint p(x) = prod_i p(x_{order[i]} | x_{order[<i]}), axis v holding x_v.

    Args:
        tables: n tensors as returned by `conditional_tables` (entry i of shape (K,) * (i + 1)).
        order: the order the tables were made in.
    Returns:
        (K,) * n tensor.
    """
    ### BEGIN SOLUTION
    # HINT: broadcast each table against the running product (one new last axis), then apply the inverse permutation
    product = tables[0]
    for table in tables[1:]:
        product = product[..., None] * table                           # (K,) * (i + 1)
    back = sorted(range(len(order)), key=lambda v: order[v])           # axis v comes from position order.index(v)
    return product.permute(*back)
    ### END SOLUTION


# %%
for order in ([0, 1], [1, 0]):
    torch.testing.assert_close(joint_from_conditionals(conditional_tables(joint2, order), order), joint2)
joint3 = torch.arange(1, 9, dtype=torch.float64).reshape(2, 2, 2) / 36
torch.testing.assert_close(joint_from_conditionals(conditional_tables(joint3, [2, 0, 1]), [2, 0, 1]), joint3)
print("joint_from_conditionals: round trips are exact")

# %% [markdown]
# **The chain rule in every order.** With both functions in hand, factorise a joint of three
# variables with $K = 3$ values in all $3! = 6$ orders and rebuild it each time. The cell
# prints the largest error of each order; all six are at rounding level, and the tables of
# different orders really are different (the first table is a different marginal each time).

# %%
gen = torch.Generator().manual_seed(0)
joint_abc = torch.rand(3, 3, 3, generator=gen, dtype=torch.float64)
joint_abc /= joint_abc.sum()                                           # (3, 3, 3)
for order in itertools.permutations(range(3)):
    tables = conditional_tables(joint_abc, list(order))
    error = (joint_from_conditionals(tables, list(order)) - joint_abc).abs().max().item()
    print(f"order {order}: first table p(x{order[0]}) = {tables[0].numpy().round(3)}, largest error {error:.1e}")
    assert error < 1e-12

# %% [markdown]
# ### A written question: AR models are universal
#
# Prove that for **every** distribution $p$ over $\{0, \dots, K-1\}^n$ there are conditional
# tables whose product is exactly $p$ — so an AR model with tables for conditionals loses
# nothing. Your proof must say what happens at prefixes of probability zero (where the ratio
# of marginals is $0/0$), and it must count the free parameters of the tables you build and
# compare them with those of the joint table.

# %% [markdown]
# **Answer (written: universality, 3 points):**
# ### BEGIN SOLUTION
# Fix an order, say $1, \dots, n$, and let $m_i(x_{\le i}) = \sum_{x_{>i}} p(x)$ be the
# marginal of the first $i$ variables ($m_0 = 1$, $m_n = p$). Define the table
# $q_i(x_i \mid x_{<i}) = m_i(x_{\le i}) / m_{i-1}(x_{<i})$ where $m_{i-1}(x_{<i}) > 0$, and
# any distribution (say uniform) where $m_{i-1}(x_{<i}) = 0$. Each row is a distribution:
# it is non-negative and sums to $m_{i-1}/m_{i-1} = 1$, since summing $m_i$ over $x_i$ gives
# $m_{i-1}$. Take any $x$. If $p(x) > 0$, every prefix marginal of $x$ is $\ge p(x) > 0$ and
# the product telescopes: $\prod_i m_i / m_{i-1} = m_n / m_0 = p(x)$. If $p(x) = 0$, let $j$ be
# the first step with $m_j(x_{\le j}) = 0$; then $m_{j-1}(x_{<j}) > 0$, so the factor
# $q_j = 0 / m_{j-1} = 0$ is a real zero and the product is $0 = p(x)$, whatever the
# arbitrary rows after it hold. So the AR model equals $p$ exactly. Parameters: step $i$ has
# $K^{i-1}$ rows of $K - 1$ free numbers, $\sum_i K^{i-1}(K-1) = K^n - 1$, exactly the free
# numbers of the joint table: nothing is lost and nothing is saved — savings come only from
# sharing a network across conditionals, which gives up universality.
# ### END SOLUTION

# %% [markdown]
# ## 3. Core: parameters of a Markov AR model with mixed sizes
#
# Lecture 01 counted the free parameters of AR tables when every variable has the same
# number $K$ of values and conditions on its whole prefix. Real models mix sizes (a pixel's
# 256 levels after a 10-class label) and cut the context (a bigram model sees one previous
# token). Variable $x_i$ has $K_i$ values (`sizes[i]`) and its table conditions on the at most
# `context` variables right before it, $x_{\max(0, i - c)}, \dots, x_{i-1}$; `context=None`
# means the whole prefix. A table has one row per value of its context and $K_i - 1$ free
# numbers per row. Return the total as a Python `int` (it gets large: integer arithmetic
# only), and raise `ValueError` for a size below 1 or a negative context.
#
# Hint: the number of rows of table $i$ is a product of the sizes in its context window (the
# empty product is 1; `math` has a function for products). Check yourself: with the whole
# prefix the sum must telescope to $\prod_i K_i - 1$; with `context=0` it is $\sum_i (K_i - 1)$.

# %%
def ar_param_count(sizes, context=None):
    """Free parameters of the AR conditional tables of variables with `sizes` values each.

    Args:
        sizes: a sequence of ints K_0, ..., K_{n-1} >= 1, the number of values of each variable.
        context: how many previous variables each table conditions on (None: all of them).
    Returns:
        sum_i (K_i - 1) * prod(K_j for j in the context window of i), as an int.
    """
    ### BEGIN SOLUTION
    # HINT: rows of table i = product of the sizes in its window (at most `context` variables before i)
    if context is not None and context < 0:
        raise ValueError(f"ar_param_count needs context >= 0 or None, got context={context}")
    if any(size < 1 for size in sizes):
        raise ValueError(f"ar_param_count needs every size >= 1, got sizes={list(sizes)}")
    total = 0
    for i, size in enumerate(sizes):
        start = 0 if context is None else max(0, i - context)
        total += math.prod(sizes[start:i]) * (size - 1)               # rows * free numbers per row
    return total
    ### END SOLUTION


# %%
assert ar_param_count([2, 3, 4]) == 2 * 3 * 4 - 1 == 23          # the lecture's panel: the whole prefix
assert ar_param_count([2, 3, 4], context=1) == 1 + 2 * 2 + 3 * 3  # a bigram-style chain
assert ar_param_count([2, 3, 4], context=0) == 1 + 2 + 3          # independent variables
assert ar_param_count([256] * 10) == 256**10 - 1 and isinstance(ar_param_count([256] * 10), int)
print("full table of 10 bytes:", ar_param_count([256] * 10), "| bigram over them:", ar_param_count([256] * 10, 1))

# %% [markdown]
# ## 4. Core: ancestral sampling
#
# Given the tables of the natural order $0, 1, \dots, n-1$, draw $x_0$ from table 0, then
# $x_1$ from the row of table 1 picked by $x_0$, and so on, for `n_samples` strings at once.
# Make one `torch.Generator` seeded with `seed` and use it for every draw, so that the same
# seed gives the same samples. The lecture's sampler ran a network at each step; here the
# conditional is looked up in a table.
#
# Hint: at step $i$, index table $i$ with the columns drawn so far (a tuple of index tensors
# picks one row per sample) to get a $(B, K)$ batch of distributions; `torch.multinomial`
# draws one value from each row. Table 0 has no prefix: expand it to $(B, K)$.

# %%
def ancestral_sample(tables, n_samples, seed):
    """Draw n_samples strings from the AR model given by conditional tables in natural order.

    Args:
        tables: n tensors; tables[i] of shape (K,) * (i + 1) holds p(x_i | x_0..x_{i-1}).
        n_samples: number of strings B.
        seed: seed of the torch.Generator used for every draw.
    Returns:
        (B, n) int64 tensor of values in 0..K-1.
    """
    ### BEGIN SOLUTION
    # HINT: one seeded generator for all steps; at step i pick each sample's row of table i, then draw from it
    gen = torch.Generator().manual_seed(seed)
    K = tables[0].shape[0]
    x = torch.zeros(n_samples, len(tables), dtype=torch.long)
    for i, table in enumerate(tables):
        probs = table[tuple(x[:, j] for j in range(i))] if i else table.expand(n_samples, K)   # (B, K)
        x[:, i] = torch.multinomial(probs, 1, generator=gen).squeeze(1)
    return x
    ### END SOLUTION


# %% [markdown]
# The check below compares the frequencies of all $K^n$ strings with the joint by Pearson's
# $\chi^2$ test (`arcourse.metrics.chi_square_test`): a p-value far below $10^{-3}$ means the
# samples do not follow the joint. A sampler that always picks the most likely value, or
# draws every column from the same random numbers, fails it.

# %%
tables = conditional_tables(joint_abc, [0, 1, 2])
samples = ancestral_sample(tables, 20_000, seed=0)                   # (20000, 3)
assert samples.shape == (20_000, 3) and samples.dtype == torch.int64
counts = torch.bincount(samples @ torch.tensor([9, 3, 1]), minlength=27)   # (27,) how often each string came
statistic, p_value = chi_square_test(counts, joint_abc.reshape(-1))
print(f"chi-square {statistic:.1f} over 27 strings, p-value {p_value:.3f}")
assert p_value > 1e-3
assert torch.equal(samples, ancestral_sample(tables, 20_000, seed=0))   # same seed, same samples

# %% [markdown]
# ## 5. Stretch (an experiment): learning the tables from samples
#
# An AR model of tables is *fitted* by counting. From $N$ strings $x^{(1..N)}$, the maximum
# likelihood table of step $i$ is the count of each prefix-and-value divided by the count of
# the prefix. Add-$\alpha$ smoothing adds $\alpha$ to every count of a value, so that
#
# $$\hat q_i(v \mid x_{<i}) = \frac{c(x_{<i}, v) + \alpha}{c(x_{<i}) + K \alpha},$$
#
# and a prefix never seen with $\alpha = 0$ gets the uniform row $1/K$ (as in part 1).
#
# Hint: with $\alpha = 0$ this is exactly part 1 applied to the table of counts, so first
# count every string into a $(K,) \times n$ table (`torch.bincount` on a flat index); the
# counts of a prefix are sums over the later axes, as the marginals were.

# %%
def fit_tables(samples, n_values, alpha):
    """Add-alpha estimates of the natural-order conditional tables from samples.

    Args:
        samples: (B, n) int64 tensor of values in 0..n_values-1.
        n_values: K, the number of values of each variable.
        alpha: the smoothing count added to every value (>= 0).
    Returns:
        a list of n float64 tensors; entry i of shape (K,) * (i + 1) holds
        (c(x_<i, x_i) + alpha) / (c(x_<i) + K alpha), 1/K where that is 0/0.
    """
    ### BEGIN SOLUTION
    # HINT: count strings into a (K,)*n table first; table i is a ratio of smoothed counts, summed over the later axes
    B, n = samples.shape
    K = n_values
    flat = samples @ (K ** torch.arange(n - 1, -1, -1))               # (B,) row of each string
    counts = torch.bincount(flat, minlength=K**n).double().reshape((K,) * n)
    tables = []
    for i in range(n):
        upto = counts.sum(dim=tuple(range(i + 1, n))) if i + 1 < n else counts      # c(x_<i, x_i)
        total = upto.sum(dim=-1, keepdim=True) + K * alpha             # c(x_<i) + K alpha
        safe = torch.where(total > 0, total, torch.ones_like(total))
        tables.append(torch.where(total > 0, (upto + alpha) / safe, torch.full_like(upto, 1 / K)))
    return tables
    ### END SOLUTION


# %%
toy = torch.tensor([[0, 1], [0, 1], [0, 0], [1, 1]])                # four strings over K = 2
first, second = fit_tables(toy, 2, alpha=0)
torch.testing.assert_close(first, torch.tensor([0.75, 0.25], dtype=torch.float64))
torch.testing.assert_close(second, torch.tensor([[1 / 3, 2 / 3], [0.0, 1.0]], dtype=torch.float64))
first, second = fit_tables(toy, 2, alpha=1)
torch.testing.assert_close(second, torch.tensor([[0.4, 0.6], [1 / 3, 2 / 3]], dtype=torch.float64))
print("fit_tables: the four-string case is right")

# %% [markdown]
# ### A written question: predict, then run the experiment
#
# Answer before you run the experiment below, then compare with its table and plot.
# (a) Predict by what factor the KL of a table fitted to $N$ samples falls when $N$ grows
# tenfold (for large $N$), and explain in two or three sentences why it should be close to
# $d / 2N$: what does each of the $d$ free parameters contribute? (b) With $\alpha = 0$ the KL
# can be infinite for small $N$. Say exactly which event makes it infinite, and what the same
# event does to the test-set negative log-likelihood of a language model fitted by counting.

# %% [markdown]
# **Answer (written: kl_rate, 2 points):**
# ### BEGIN SOLUTION
# (a) Tenfold more data divides the KL by about ten: it falls like $1/N$, on the line $d/2N$.
# Each of the $d$ free numbers is estimated from the data with an error of variance of order
# $1/N$; to second order the KL is a quadratic form in those errors (weighted by the Fisher
# information), $D_{KL} \approx \tfrac12 \delta^\top I \delta$, and $N \delta^\top I \delta$ is
# asymptotically $\chi^2_d$, whose mean is $d$ — so each parameter adds $1/(2N)$ nats.
# (b) It is infinite as soon as some string with $p(x) > 0$ never appears in the sample: its
# count, hence its maximum-likelihood probability $\hat q(x)$, is 0, and $p(x)\log(p(x)/0) = \infty$.
# A counting language model meets the same event as an unseen n-gram in the test set: its
# log-probability is $-\infty$, so the test NLL (and perplexity) is infinite; smoothing
# ($\alpha > 0$) gives every value a little probability and keeps the loss finite.
# ### END SOLUTION

# %% [markdown]
# **The experiment.** How far is the fitted model from the truth after $N$ samples? Write
# `kl_by_sample_size`: for each size $N$ in `sizes` (the $j$-th with seed `seed + j`), draw
# $N$ strings **from the joint itself** (for a table this small you can sample the flattened
# joint directly: `torch.multinomial` with replacement, then turn flat indices back into
# strings with `torch.unravel_index`), fit the natural-order tables with `fit_tables`, rebuild
# the fitted joint $\hat q$ with `joint_from_conditionals`, and return
# $D_{KL}(p \,\Vert\, \hat q) = \sum_x p(x) \log \frac{p(x)}{\hat q(x)}$ in nats as a list of
# floats (lecture 02 studies it; here it is a number that is 0 exactly when $\hat q = p$).
# Cells with $p(x) = 0$ contribute 0 (`torch.special.xlogy` handles $0 \log 0$).
#
# The grader calls it with $\alpha = 0.5$ on joints of its own: on a $3 \times 3 \times 3$ joint
# with $N$ from $200$ to $200\,000$ it checks that the KL falls at every step and, from
# $N = 2000$ on, lies within a factor of three of $d / 2N$, with $d = K^n - 1$ the number of
# free parameters; on a $2 \times 2$ joint ($d = 3$) it repeats $N = 5000$ twenty times and
# checks that the mean is near $d / 2N$ there too. On log-log axes your points follow that
# line (the plot below).

# %%
def kl_by_sample_size(joint, sizes, alpha, seed):
    """KL(joint || model fitted by fit_tables to N samples of the joint), for each N in sizes.

    Args:
        joint: (K,) * n float64 tensor of probabilities summing to 1.
        sizes: a sequence of sample sizes N.
        alpha: the smoothing count passed to fit_tables.
        seed: the j-th size draws its samples with a torch.Generator seeded with seed + j.
    Returns:
        a list of len(sizes) floats, the KL divergences in nats.
    """
    ### BEGIN SOLUTION
    # HINT: per size: sample flat indices of the joint, unravel them into (N, n) strings, fit, rebuild, KL
    n, K = joint.ndim, joint.shape[0]
    natural = list(range(n))
    kls = []
    for j, size in enumerate(sizes):
        gen = torch.Generator().manual_seed(seed + j)
        flat = torch.multinomial(joint.reshape(-1), size, replacement=True, generator=gen)   # (N,)
        samples = torch.stack(torch.unravel_index(flat, joint.shape), dim=1)                 # (N, n)
        fitted = joint_from_conditionals(fit_tables(samples, K, alpha), natural)             # (K,) * n
        kls.append(float((torch.special.xlogy(joint, joint) - torch.special.xlogy(joint, fitted)).sum()))
    return kls
    ### END SOLUTION


# %%
sizes = [30, 100, 300, 1000, 3000, 10_000, 30_000, 100_000]
d = joint_abc.numel() - 1                                            # free parameters of the joint table
kls = kl_by_sample_size(joint_abc, sizes, alpha=0.5, seed=0)
kls_mle = kl_by_sample_size(joint_abc, sizes, alpha=0.0, seed=0)
for size, kl, kl_mle in zip(sizes, kls, kls_mle):
    print(f"N = {size:>6}: KL {kl:.2e} nats (alpha = 0.5), {kl_mle:.2e} (alpha = 0), d/2N = {d / (2 * size):.2e}")
assert all(a > b for a, b in zip(kls, kls[1:]))                   # more data, closer to the truth
assert 1 / 3 < kls[-1] * 2 * sizes[-1] / d < 3

plt.figure(figsize=(5, 3.2))
plt.loglog(sizes, kls, "o-", label="fitted, alpha = 0.5")
plt.loglog(sizes, kls_mle, "s--", label="fitted, alpha = 0 (inf not drawn)")
plt.loglog(sizes, [d / (2 * size) for size in sizes], "k:", label="d / 2N")
plt.xlabel("number of samples N"); plt.ylabel("KL(p || fitted), nats"); plt.legend(fontsize=8)
plt.title(f"Learning a table of {d + 1} cells by counting"); plt.show()

# %% [markdown]
# ## Summary
# * The chain-rule tables of a joint, in any order, rebuild it exactly: you checked all six
#   orders of three variables, and the proof shows why it works for every distribution.
# * Cutting the context (a Markov model) is where tables save parameters — and where the
#   order starts to matter.
# * Ancestral sampling draws one variable at a time from its conditional; its samples
#   passed a $\chi^2$ test against the exact joint.
# * A table fitted by counting approaches the truth like $d / 2N$ nats: the cost of a free
#   parameter is data.
