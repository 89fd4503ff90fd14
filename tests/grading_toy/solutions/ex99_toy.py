# ---
# jupyter:
#   arcourse:
#     exercise: ex99
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
# # A toy exercise for testing the grader
# Four small questions: a torch function, a numpy function with input validation, a
# function returning a dict, and a class with state.

# %%
import numpy as np
import torch

SCALE = 1.0

# %% [markdown]
# ## 1. Softmax along the last axis

# %%
def softmax(x):
    """Probabilities along the last axis of a tensor x (..., V)."""
    ### BEGIN SOLUTION
    # HINT: subtract the row maximum, exponentiate, then normalise
    z = x - x.max(dim=-1, keepdim=True).values
    e = z.exp()
    return e / e.sum(dim=-1, keepdim=True)
    ### END SOLUTION


# %%
assert torch.allclose(softmax(torch.zeros(2, 3)), torch.full((2, 3), 1 / 3))

# %% [markdown]
# ## 2. Running mean

# %%
def running_mean(xs):
    """The mean of xs[:t+1] for every t; rejects an empty array with ValueError."""
    ### BEGIN SOLUTION
    # HINT: a cumulative sum divided by the counts 1, 2, ...
    xs = np.asarray(xs, dtype=float)
    if xs.size == 0:
        raise ValueError("running_mean needs at least one value, got an empty array")
    return np.cumsum(xs) / np.arange(1, xs.size + 1) * SCALE
    ### END SOLUTION


# %%
print(running_mean([1.0, 3.0]))

# %% [markdown]
# ## 3. Bigram counts

# %%
def bigram_counts(text):
    """A dict (a, b) -> how often character b follows character a in text."""
    ### BEGIN SOLUTION
    counts = {}
    for a, b in zip(text, text[1:]):
        counts[(a, b)] = counts.get((a, b), 0) + 1
    return counts
    ### END SOLUTION


# %% [markdown]
# ## 4. Running statistics

# %%
class RunningStats:
    """Count and mean of the values seen so far."""

    def __init__(self):
        self.count = 0
        self.total = 0.0

    def update(self, value):
        ### BEGIN SOLUTION
        # HINT: add to the count and to the total
        self.count += 1
        self.total += value
        ### END SOLUTION

    def mean(self):
        ### BEGIN SOLUTION
        return self.total / self.count
        ### END SOLUTION


# %%
stats = RunningStats()
stats.update(2.0)
assert stats.mean() == 2.0
