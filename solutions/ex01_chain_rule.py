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
# Lecture 01 showed that $p(x_1, \dots, x_n) = \prod_i p(x_i \mid x_{<i})$ holds in every order.
# Here you write the pieces yourself: the conditional tables of a joint in a given order,
# the joint rebuilt from them, the number of parameters the tables hold, and an ancestral
# sampler. Replace each `raise NotImplementedError(...)` with your code; the cell after each
# exercise checks a small case. `arcourse grade ex01_chain_rule.py` checks many more.
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
import math

import torch

# %% [markdown]
# ## 1. Conditional tables in a given order
#
# For an order $o = (o_0, \dots, o_{n-1})$, table $i$ holds
# $p(x_{o_i} \mid x_{o_0}, \dots, x_{o_{i-1}})$ as a tensor of shape $(K,) \times (i+1)$ whose
# axes are $x_{o_0}, \dots, x_{o_i}$ in that order: the last axis is the variable being
# predicted, the others are its conditioning prefix. Where the prefix has probability zero
# the conditional is undefined; use the uniform distribution $1/K$ there.
#
# Hint: `joint.permute(*order)` puts the variables in the order; a marginal is a sum over
# the axes you drop; a conditional is a ratio of two marginals.

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
    # HINT: permute the joint into the order, then for each i divide p(x_o0..x_oi) by p(x_o0..x_o(i-1))
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
# ## 2. Rebuild the joint
#
# Multiply the tables back together — table $i$ broadcasts against the product of the
# tables before it once you give that product a new last axis — and undo the permutation,
# so that axis $v$ is $x_v$ again. For every joint and every order,
# `joint_from_conditionals(conditional_tables(joint, order), order)` must give back `joint`.

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
    # HINT: product = tables[0]; then product = product[..., None] * tables[i]; finally permute back
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
# ## 3. Counting parameters
#
# $p(x_i \mid x_{<i})$ as a table has $K^{i-1}$ rows (one per prefix) of $K - 1$ free numbers
# each (the last is fixed by normalisation). Return the total over $i = 1..n$ as a Python
# `int` (it gets large: use integer arithmetic, not floats). Compare your answer with
# $K^n - 1$, the size of the full table.

# %%
def ar_param_count(n_vars, n_values):
    """Free parameters of the AR conditional tables of n_vars variables with n_values values each.

    Returns:
        sum_{i=1..n_vars} n_values**(i-1) * (n_values - 1), as an int.
    """
    ### BEGIN SOLUTION
    # HINT: table i has one row per prefix and n_values - 1 free numbers per row; add up with ints
    return sum(n_values ** (i - 1) * (n_values - 1) for i in range(1, n_vars + 1))
    ### END SOLUTION


# %%
assert ar_param_count(1, 2) == 1 and ar_param_count(3, 2) == 1 + 2 + 4
assert ar_param_count(2, 3) == 2 + 6
assert ar_param_count(10, 256) == 256**10 - 1
print("ar_param_count: agrees with K^n - 1")

# %% [markdown]
# ## 4. Ancestral sampling
#
# Given the tables of the natural order $0, 1, \dots, n-1$, draw $x_0$ from table 0, then
# $x_1$ from the row of table 1 picked by $x_0$, and so on. Do it for `n_samples` strings at
# once: at step $i$, index table $i$ with the columns drawn so far to get one distribution
# per sample, shape $(B, K)$, and draw from each with `torch.multinomial`. Make a
# `torch.Generator` seeded with `seed`, so that the same seed gives the same samples.

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
    # HINT: x = zeros(B, n); for each i: probs = tables[i][x[:, 0], ..., x[:, i-1]] (expand table 0 to (B, K))
    gen = torch.Generator().manual_seed(seed)
    K = tables[0].shape[0]
    x = torch.zeros(n_samples, len(tables), dtype=torch.long)
    for i, table in enumerate(tables):
        probs = table[tuple(x[:, j] for j in range(i))] if i else table.expand(n_samples, K)   # (B, K)
        x[:, i] = torch.multinomial(probs, 1, generator=gen).squeeze(1)
    return x
    ### END SOLUTION


# %%
tables = conditional_tables(joint2, [0, 1])
samples = ancestral_sample(tables, 20_000, seed=0)
assert samples.shape == (20_000, 2) and samples.dtype == torch.int64
frequencies = torch.bincount(samples[:, 0] * 2 + samples[:, 1], minlength=4).double().reshape(2, 2) / 20_000
print("sample frequencies\n", frequencies.numpy().round(3), "\njoint\n", joint2.numpy())
assert (frequencies - joint2).abs().max() < 0.015   # about 4 standard errors
assert torch.equal(samples, ancestral_sample(tables, 20_000, seed=0))   # same seed, same samples
