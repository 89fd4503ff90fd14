# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown] slideshow={"slide_type": "slide"}
# # Lecture 01 — The chain rule and autoregressive factorisation
#
# A generative model of data $x = (x_1, \dots, x_n)$ has two jobs:
#
# * **density estimation** — given $x$, return $p(x)$;
# * **sampling** — return a new $x \sim p$.
#
# *Explicit* models (autoregressive models, normalising flows) do both; *implicit* ones
# (GANs) only sample. Autoregressive (AR) models rest on one identity of probability,
# the **chain rule**:
#
# $$p(x_1, \dots, x_n) \;=\; \prod_{i=1}^{n} p(x_i \mid x_{<i}), \qquad x_{<i} = (x_1, \dots, x_{i-1}).$$
#
# It is not an approximation: it holds for every distribution, in **every order** of the
# variables, and for **every partition** of them into blocks. An AR model learns each
# conditional $p_\theta(x_i \mid x_{<i})$ and so gets an exact, normalised likelihood
# $\log p_\theta(x) = \sum_i \log p_\theta(x_i \mid x_{<i})$, and a sampler: draw $x_1$,
# then $x_2$ given $x_1$, and so on (*ancestral sampling*).
#
# In this lecture we
# 1. factorise a joint table in all $n!$ orders and all partitions, and get it back each time;
# 2. count parameters: tables, AR tables, and neural conditionals that share weights;
# 3. build a small neural AR model over binary strings, check that its probabilities of all
#    $2^{10}$ strings sum to one, and that its samples follow it;
# 4. see that some orders are easier to learn than others;
# 5. meet the model that gave AR its name: the AR($p$) time series.

# %% tags=["arcourse-setup", "remove-cell"]
# Colab / JupyterHub: installs the course when this kernel does not have it (nothing happens where it does).
try:
    import arcourse
except ImportError:
    print("arcourse is not installed here: installing v0.1.0 with pip, about a minute ...")
    get_ipython().run_line_magic("pip", "install -q 'arcourse[widgets] @ git+https://github.com/arcourse/arcourse@v0.1.0'")  # %pip install ...
    import arcourse

# %%
import itertools
import math

import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from arcourse import get_device, make_generator, nll, seed_everything, train
from arcourse.data import MarkovChain, all_binary_strings, append_rule_bit
from arcourse.models import LinearAR, forecast
from arcourse.metrics import chi_square_test
from arcourse.plotting import draw_conditionals, draw_dependency_graph

device = get_device()
if device.type == "cpu":
    # our models are tiny: splitting each little matrix product across CPU threads costs far
    # more in synchronisation than it saves (measured here: 10x the time with 2 threads)
    torch.set_num_threads(1)
seed_everything(0)
print("device:", device)

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 1. A joint distribution as a table
#
# Four variables $x_1..x_4$, each taking $K = 3$ values: the joint is a $3 \times 3 \times 3 \times 3$
# table of 81 probabilities that sum to one. We draw one at random (a Dirichlet draw), so
# the variables depend on each other in no particular way. Axis $i$ of the tensor is the
# variable $x_{i+1}$. We work in float64 so that identities can be checked to $10^{-12}$.
#
# **Notation, fixed for the whole course** (later lectures refer back to this table):
#
# | symbol | meaning | symbol | meaning |
# |---|---|---|---|
# | $x = (x_1, \dots, x_n)$ | a data point, $n$ variables | $x_{<i}$ | the prefix $(x_1, \dots, x_{i-1})$ |
# | $p_\theta$, $p_{\text{data}}$, $\hat p$ | model, data, empirical distribution | $\log$ | natural (nats); $\log_2$ for bits |
# | $K$ | number of values (intensity levels) of one variable; the kernel size in lecture 05 | $V$ | vocabulary size, for tokens |
# | $Q$ | µ-law levels of an audio sample (lecture 05) | $R$ | receptive field, in samples |
# | $B$ | batch size in shapes; *beam width* in lecture 07 | $T$ | sequence length (time) |
# | $C$, $H$, $W$ | channels, height, width of an image | $N$ | attention heads; parameters in lecture 08 |
# | $d_{\text{model}}$ | width of a transformer layer | $D$ | width per attention head ($d_k$ in the papers) |
#
# Entropy $H(p)$ and the KL divergence $D_{KL}(p \Vert q)$ appear below as measurements
# before lecture 02 defines them: read $D_{KL}$ as "how far $q$ is from $p$, in nats, zero
# exactly when they are equal".

# %%
K, n = 3, 4
rng = np.random.default_rng(0)
joint = torch.from_numpy(rng.dirichlet(np.full(K**n, 0.5))).reshape((K,) * n)   # (3, 3, 3, 3)

print("shape", tuple(joint.shape), " sum", joint.sum().item(), " smallest entry", joint.min().item())
assert abs(joint.sum().item() - 1) < 1e-12 and (joint > 0).all()

# %% [markdown]
# **Marginals and conditionals.** Summing out variables gives a marginal, e.g.
# $p(x_1, x_2) = \sum_{x_3, x_4} p(x_1, x_2, x_3, x_4)$. A conditional is a ratio of
# marginals, $p(x_3 \mid x_1, x_2) = p(x_1, x_2, x_3) / p(x_1, x_2)$. Keeping the summed
# axes with size 1 (`keepdim=True`) lets every marginal broadcast against the full table,
# so a product of conditionals is again an $81$-entry table we can compare with the joint.

# %%
def marginal(table, keep):
    """p(x_keep), with the other axes summed out but kept with size 1 (broadcastable)."""
    summed = [axis for axis in range(table.ndim) if axis not in keep]
    return table.sum(dim=summed, keepdim=True) if summed else table


def chain_rule_product(table, blocks):
    """p(block_1) p(block_2 | block_1) p(block_3 | block_1, block_2) ... as a full table.

    blocks: a list of tuples of axes that together hold every axis exactly once
    (an order is the special case of one axis per block).
    """
    assert sorted(a for b in blocks for a in b) == list(range(table.ndim)), "blocks must partition the axes"
    product, seen = torch.ones_like(table), []
    for block in blocks:
        before = marginal(table, seen) if seen else torch.ones((), dtype=table.dtype)
        seen = seen + list(block)
        conditional = marginal(table, seen) / before   # p(block | earlier blocks)
        # a conditional is a distribution over the block, for every value of the earlier blocks
        sums = conditional.sum(dim=list(block))
        assert torch.allclose(sums, torch.ones_like(sums), rtol=0, atol=1e-12)
        product = product * conditional
    return product


# %%
p_forward = chain_rule_product(joint, [(0,), (1,), (2,), (3,)])
print("max |p(x1)p(x2|x1)p(x3|x1,x2)p(x4|x1..x3) - p(x)| =", (p_forward - joint).abs().max().item())
assert torch.allclose(p_forward, joint, rtol=0, atol=1e-12)

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 2. Every order, every partition
#
# Nothing above used the order $x_1, x_2, x_3, x_4$. With $n = 4$ variables there are
# $4! = 24$ orders, e.g. $p(x_3)\,p(x_1 \mid x_3)\,p(x_4 \mid x_1, x_3)\,p(x_2 \mid x_1, x_3, x_4)$.
# Every one of them must give back the joint.

# %% [markdown]
# *Predict before you run:* will every one of the 24 orders give back the joint exactly, or
# will some orders lose more to rounding than others? The next cell prints the largest
# error over all of them (and asserts it is at rounding level).

# %%
orders = list(itertools.permutations(range(n)))
errors = [(chain_rule_product(joint, [(axis,) for axis in order]) - joint).abs().max().item() for order in orders]
print(f"{len(orders)} orders, largest error {max(errors):.1e}")
assert len(orders) == math.factorial(n) and max(errors) < 1e-12

# each order draws its own dependency graph: every variable is conditioned on all before it
fig, axes = plt.subplots(1, 2, figsize=(10, 1.8))
for ax, order in zip(axes, [(0, 1, 2, 3), (2, 0, 3, 1)]):
    draw_dependency_graph(ax, order)
    ax.set_title("order " + ", ".join(f"x{v + 1}" for v in order), fontsize=9)
plt.show()

# %% [markdown]
# The variables need not come one at a time. Any *ordered partition* into blocks works,
# e.g. $p(x_1, x_2, x_3, x_4) = p(x_1, x_2)\, p(x_3, x_4 \mid x_1, x_2)$: a block is just a
# bigger variable. This is why an AR model's "$x_i$" may be a scalar, a vector, an image
# patch, or a whole scale of an image (next-*scale* prediction): the factorisation does not
# care. For four variables there are 75 ordered partitions (the 4th Fubini number); we try
# them all.

# %%
def ordered_partitions(items):
    """Every way to split `items` into non-empty blocks and put the blocks in an order."""
    if not items:
        yield []
        return
    for size in range(1, len(items) + 1):
        for first in itertools.combinations(items, size):
            rest = [item for item in items if item not in first]
            for tail in ordered_partitions(rest):
                yield [first, *tail]


partitions = list(ordered_partitions(list(range(n))))
errors = [(chain_rule_product(joint, blocks) - joint).abs().max().item() for blocks in partitions]
print(f"{len(partitions)} ordered partitions, largest error {max(errors):.1e}; e.g. {partitions[40]}")
assert len(partitions) == 75 and max(errors) < 1e-12

# %% [markdown]
# **Why it always works.** The conditional of a block is the ratio of the marginal up to and
# including the block to the marginal before it, so the product telescopes:
# $\frac{p(b_1)}{1}\cdot\frac{p(b_1, b_2)}{p(b_1)}\cdots\frac{p(b_1..b_m)}{p(b_1..b_{m-1})} = p(x)$.
# That is the whole proof of the chain rule, for any order and any partition.
#
# **Independence** is the special case in which every conditional equals its marginal,
# $p(x_i \mid x_{<i}) = p(x_i)$, so $p(x) = \prod_i p(x_i)$. Our random table is far from that:

# %%
independent = torch.ones_like(joint)
for axis in range(n):
    independent = independent * marginal(joint, [axis])                   # p(x1) p(x2) p(x3) p(x4)
gap = (joint * (joint / independent).log()).sum().item()                   # KL(p || product of marginals)
print(f"max |p(x) - prod_i p(x_i)| = {(joint - independent).abs().max().item():.3f},  "
      f"KL(p || prod p(x_i)) = {gap:.3f} nats")
assert gap > 0.1   # real dependence: the product of marginals is a different distribution

# in a joint that *is* the product of its marginals, every conditional equals a marginal
for axis in range(n):
    others = [a for a in range(n) if a != axis]
    conditional = independent / marginal(independent, others)             # p(x_axis | all others)
    torch.testing.assert_close(conditional, marginal(independent, [axis]).expand_as(conditional))

# %% [markdown]
# Real data is dependent — that is what makes it interesting — so a generative model must
# model the conditionals (AR models) or introduce latent variables (VAEs, diffusion).
#
# ## 3. Counting parameters
#
# A table over $n$ variables with $K$ values needs $K^n - 1$ numbers (the last one is fixed by
# normalisation). Writing it as AR conditional *tables* does not help: $p(x_i \mid x_{<i})$ is
# a table of $K^{i-1}$ rows with $K - 1$ free numbers each, and
#
# $$\sum_{i=1}^{n} K^{i-1}(K-1) \;=\; K^n - 1 .$$
#
# The saving comes from **parameterising every conditional with a network** and **sharing**:
# one network's architecture, weights and computation serve all positions. A masked MLP
# (MADE, below) needs $O(n\,H)$ weights for $H$ hidden units; a recurrent network (lecture 03)
# needs a number of weights that does not depend on $n$ at all. Sharing is an *inductive
# bias*: the model can no longer represent every table, only those its network can express.
#
# *Predict before you run:* for $n = 5$ variables, how many networks does the left design
# below need, and how many does the right one?

# %%
fig, axes = plt.subplots(1, 2, figsize=(11, 2.4))
draw_conditionals(axes[0], 5, shared=False)
axes[0].set_title("five networks: one per conditional, each its own weights", fontsize=9)
draw_conditionals(axes[1], 5, shared=True)
axes[1].set_title("one network shared by all positions (MADE, RNN, CNN, transformer)", fontsize=9)
plt.show()

# %%
def table_params(n_vars, n_values):
    return n_values**n_vars - 1


def ar_table_params(n_vars, n_values):
    return sum(n_values ** (i - 1) * (n_values - 1) for i in range(1, n_vars + 1))


for n_vars in range(1, 40):
    for n_values in (2, 3, 256):
        assert table_params(n_vars, n_values) == ar_table_params(n_vars, n_values)   # exact integers
print("K = 256 (bytes), n = 8:", f"{table_params(8, 256):.2e}", "numbers for a full table")

# %% [markdown]
# Now the networks. We count the weights PyTorch actually stores, for binary strings
# ($K = 2$) and $H = 32$ hidden units: an MLP from the $n$ bits to $n$ conditionals (two
# logits each, the shape of the masked MLP we build next), and a GRU that reads one bit at a
# time and predicts the next (the shape of lecture 03's models).

# %%
def n_weights(*modules):
    return sum(p.numel() for m in modules for p in m.parameters())


H, lengths = 32, list(range(1, 31))
tables = [table_params(length, 2) for length in lengths]
mlp = [n_weights(nn.Linear(length, H), nn.Linear(H, 2 * length)) for length in lengths]
rnn = [n_weights(nn.Embedding(2, H), nn.GRU(H, H), nn.Linear(H, 2)) for _ in lengths]

assert len(set(np.diff(mlp, n=2))) == 1 and np.diff(mlp, n=2)[0] == 0   # linear in n: 3H + 2 per bit
assert len(set(rnn)) == 1                                                 # independent of n

plt.figure(figsize=(6, 3.5))
plt.semilogy(lengths, tables, "o-", ms=3, label="full table = AR tables  $2^n - 1$")
plt.semilogy(lengths, mlp, "s-", ms=3, label=f"masked MLP, H={H}  (linear in n)")
plt.semilogy(lengths, rnn, "^-", ms=3, label=f"GRU, H={H}  (constant)")
plt.xlabel("number of binary variables n"); plt.ylabel("parameters")
plt.title("Parameters of p(x_1..x_n)"); plt.legend(fontsize=8); plt.grid(alpha=0.3)
plt.show()
crossing = next(length for length, t, m in zip(lengths, tables, mlp) if t > m)
print(f"the table is bigger than the MLP from n = {crossing} on; at n = 30: {tables[-1]:.1e} vs {mlp[-1]}")

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 4. A neural AR model over binary strings
#
# **MADE** (Germain et al., 2015) computes all $n$ conditionals in *one* forward pass of an
# MLP whose weight matrices are masked. Give input bit $i$ the *degree* $i$ and every hidden
# unit a degree $d \in \{1, \dots, n-1\}$. A hidden unit of degree $d$ may see inputs of
# degree $\le d$; the output for bit $i$ may see hidden units of degree $< i$. Then the
# output for bit $i$ depends on $x_1, \dots, x_{i-1}$ only, exactly what $p(x_i \mid x_{<i})$
# may depend on. Following the course contract, the model returns logits with the category
# axis last: $(B, n, 2)$.

# %% [markdown]
# *Predict before you run:* arrange the dependence of each output bit on each input bit as
# an $n \times n$ matrix (row: output, column: input). Which of its entries must be zero?
# The cell that builds MADE below computes the matrix from the masks and asserts your answer.

# %%
class MaskedLinear(nn.Linear):
    """A linear layer whose weight is multiplied by a fixed 0/1 mask of shape (out, in)."""

    def __init__(self, mask):
        super().__init__(mask.shape[1], mask.shape[0])
        self.register_buffer("mask", mask.float())

    def forward(self, x):
        return F.linear(x, self.weight * self.mask, self.bias)


# %%
class TinyMADE(nn.Module):
    """p(x_i | x_<i) for all bits of a binary string from one masked MLP."""

    def __init__(self, n_bits, hidden, seed=0):
        super().__init__()
        gen = torch.Generator().manual_seed(seed)
        d_in = torch.arange(1, n_bits + 1)                                   # (n,)
        d_hidden = torch.randint(1, n_bits, (hidden,), generator=gen)        # (H,)
        d_out = d_in.repeat_interleave(2)                                    # (2n,) two logits per bit
        self.n_bits = n_bits
        self.hidden = MaskedLinear(d_hidden[:, None] >= d_in[None, :])      # mask (H, n)
        self.out = MaskedLinear(d_out[:, None] > d_hidden[None, :])         # mask (2n, H)

    def forward(self, x):                                                    # (B, n) 0/1
        h = torch.relu(self.hidden(x.float()))                               # (B, H)
        return self.out(h).view(x.shape[0], self.n_bits, 2)                  # (B, n, 2)


n_bits = 10
made = TinyMADE(n_bits, hidden=64).to(device)
connected = (made.out.mask @ made.hidden.mask).view(n_bits, 2, n_bits)[:, 0] > 0  # (n, n): output i sees input j
print(connected.int().cpu())
assert not torch.triu(connected).any()   # bit i sees only bits j < i: strictly lower triangular

# %% [markdown]
# The masks say the model is autoregressive; let us also *check* it the way the course
# always will: change a bit $x_j$ and see which outputs move. Outputs $1..j$ must not.

# %%
gen = make_generator(1, device)
x = torch.randint(0, 2, (256, n_bits), device=device, generator=gen)
with torch.no_grad():
    base = made(x)
    for j in range(n_bits):
        flipped = x.clone()
        flipped[:, j] = 1 - flipped[:, j]
        moved = (made(flipped) - base).abs().amax(dim=(0, 2))                # (n,) change per output
        assert (moved[: j + 1] == 0).all(), f"output <= {j} depends on input {j}"
        assert j == n_bits - 1 or moved[j + 1:].max() > 0                     # later outputs do see it
print("outputs never depend on the current or a later bit")

# %% [markdown]
# **Exact likelihood.** $\log p_\theta(x) = \sum_i \log p_\theta(x_i \mid x_{<i})$, each term a
# log-softmax over the two logits. We check our sum against the course's `nll`, then list
# all $2^{10} = 1024$ strings and add up their probabilities. The result is one for *any*
# weights: every conditional is normalised, so the product is too. A network that scores
# whole strings (an energy-based model) would need that sum over all $2^n$ strings just to
# turn its scores into probabilities.

# %%
def log_prob_bits(model, x):
    """log p(x) of each row of x (B, n): the sum of the n conditional log-probabilities.

    Computed in float64 on the CPU (exact enumeration wants the digits; MPS has no float64).
    """
    logp = model(x.to(device)).cpu().double().log_softmax(dim=-1)            # (B, n, 2)
    return logp.gather(-1, x.cpu()[..., None]).squeeze(-1).sum(dim=-1)        # (B,)


with torch.no_grad():
    torch.testing.assert_close(log_prob_bits(made, x).float(), -nll(made(x), x, reduction="none").sum(-1).cpu())
    strings = all_binary_strings(n_bits)                                    # (1024, 10)
    total = log_prob_bits(made, strings).exp().sum().item()
print(f"untrained model: sum over all 1024 strings of p(x) = {total:.15f}")
assert abs(total - 1) < 1e-12

# %% [markdown]
# **Fitting it to data.** Our data: strings of 10 bits from a "sticky" two-state Markov
# chain (`arcourse.data.MarkovChain`): a bit repeats the previous one with probability 0.9
# (after a 0) or 0.7 (after a 1), so the strings come in runs. Because we know the source,
# we know its exact probability of every string,
# $p(x) = \pi(x_1) \prod_{t>1} P(x_{t-1}, x_t)$, and can measure how close the model gets.
# Training minimises the average $-\log p_\theta(x)$ over the data (lecture 02 explains why
# that is the right loss); `arcourse.train` runs the loop.

# %%
source = MarkovChain([[0.9, 0.1], [0.3, 0.7]])
train_strings = source.sample(5000, n_bits, seed=1)                          # (5000, 10)
test_strings = source.sample(2000, n_bits, seed=2)


def source_log_prob(chain, x):
    """Exact log p(x) of each row of x (B, T) under a Markov chain started at stationarity."""
    P = torch.as_tensor(chain.transition).log()                              # (K, K)
    pi = torch.as_tensor(chain.stationary()).log()                           # (K,)
    return pi[x[:, 0]] + P[x[:, :-1], x[:, 1:]].sum(dim=1)                  # (B,)


p_source = source_log_prob(source, strings).exp()                           # (1024,)
assert abs(p_source.sum().item() - 1) < 1e-12
print("a few training strings:\n", train_strings[:4])


# %%
def string_batches(data, batch_size, seed):
    """A function returning a random batch (inputs, targets) of rows of data; targets = inputs."""
    gen = torch.Generator().manual_seed(seed)

    def batch():
        rows = data[torch.randint(len(data), (batch_size,), generator=gen)]
        return rows, rows

    return batch


torch.manual_seed(0)
made = TinyMADE(n_bits, hidden=64).to(device)
history = train(made, string_batches(train_strings, 256, seed=0), steps=600, lr=1e-2,
                description="MADE on Markov strings")

# %% [markdown]
# How good is it? Baselines: the uniform model ($10$ bits per string) and the best model
# that treats the bits as independent (each bit's own frequency). The source's own entropy
# is the floor. We also compute the *exact* KL divergence from the source to the model by
# enumerating all strings.

# %%
def bits(nats):
    return nats / math.log(2)


with torch.no_grad():
    model_nll = -log_prob_bits(made, test_strings).mean().item()
    freq = train_strings.double().mean(0)                                   # (n,) P(x_i = 1), independent model
    test = test_strings.double()
    independent_nll = -(test * freq.log() + (1 - test) * (1 - freq).log()).sum(1).mean().item()
    log_p_model = log_prob_bits(made, strings)                              # (1024,)
    entropy_source = -(p_source * p_source.log()).sum().item()
    kl = (p_source * (p_source.log() - log_p_model)).sum().item()
    total = log_p_model.exp().sum().item()

print(f"test NLL per string: uniform {n_bits:.3f} bits | independent bits {bits(independent_nll):.3f} "
      f"| MADE {bits(model_nll):.3f} | source entropy {bits(entropy_source):.3f}")
print(f"exact KL(source || MADE) = {bits(kl):.4f} bits;  sum of p(x) after training = {total:.15f}")
assert abs(total - 1) < 1e-12
assert bits(model_nll) < bits(independent_nll) - 1.0    # it learned the dependence between bits
assert 0 <= kl < 0.1 * math.log(2)   # within 0.1 bits of the source, from 5000 strings for 1024 possible ones


# %%
plt.figure(figsize=(5, 3))
plt.plot(history.steps, [bits(loss) * n_bits for loss in history.train_loss], lw=0.8, label="MADE (training batches)")
plt.axhline(bits(independent_nll), color="C1", ls="--", label="independent bits")
plt.axhline(bits(entropy_source), color="k", ls=":", label="source entropy")
plt.xlabel("step"); plt.ylabel("bits per string"); plt.legend(fontsize=8); plt.show()

# %% [markdown]
# **Ancestral sampling.** To draw a string, sample $x_1$ from $p(x_1)$, put it in, run the
# network again, sample $x_2$ from $p(x_2 \mid x_1)$, and so on: $n$ sequential network calls
# (training took one call per batch — teacher forcing, lecture 03). Bits not yet drawn are
# zeros, which the masks keep the network from seeing. If the sampler is right, its samples
# follow the model's own exact distribution; we check the per-bit marginals
# $P(x_i = 1)$ (each within 4 standard errors) and, more strongly, the frequencies of all
# 1024 strings with a $\chi^2$ test.

# %%
def sample_bits(model, n_samples, n_bits, generator):
    x = torch.zeros(n_samples, n_bits, dtype=torch.long, device=generator.device)
    for i in range(n_bits):
        probs = model(x)[:, i].softmax(dim=-1)                               # (B, 2)
        x[:, i] = torch.multinomial(probs, 1, generator=generator).squeeze(-1)
    return x


gen = make_generator(7, device)
n_samples = 40_000
with torch.no_grad():
    samples = sample_bits(made, n_samples, n_bits, gen).cpu()               # (40000, 10)

p_model = log_p_model.exp()                                                  # (1024,) exact model probabilities
exact_marginals = p_model @ strings.double()                                 # (n,) P(x_i = 1) under the model
sample_marginals = samples.double().mean(0)
z = (sample_marginals - exact_marginals) / (exact_marginals * (1 - exact_marginals) / n_samples).sqrt()
print("P(x_i = 1) exact  ", exact_marginals.numpy().round(4))
print("P(x_i = 1) samples", sample_marginals.numpy().round(4))
print("z-scores          ", z.numpy().round(2))
assert z.abs().max() < 4

# %%
# chi-square over all strings; strings expected fewer than 5 times are pooled into one cell
index = samples @ (2 ** torch.arange(n_bits - 1, -1, -1))                  # (B,) row of each sample
counts = torch.bincount(index, minlength=2**n_bits)                         # (1024,)
expected = n_samples * p_model
small = expected < 5
observed = torch.cat([counts[~small].double(), counts[small].sum()[None].double()])
expected = torch.cat([expected[~small], expected[small].sum()[None]])
chi2 = ((observed - expected) ** 2 / expected).sum().item()
dof = len(expected) - 1
# p-value: P(chi-square with dof degrees of freedom > chi2), a regularised incomplete gamma function
p_value = torch.special.gammaincc(torch.tensor(dof / 2.0), torch.tensor(chi2 / 2.0)).item()
print(f"chi-square {chi2:.1f} on {dof} degrees of freedom, p-value {p_value:.3f}")
assert np.allclose((chi2, p_value), chi_square_test(counts, p_model))   # the course's test agrees
assert p_value > 1e-3

# %%
top = p_model.argsort(descending=True)[:16]
labels = ["".join(map(str, s)) for s in strings[top].tolist()]
positions = np.arange(len(top))
plt.figure(figsize=(8, 3))
plt.bar(positions - 0.27, p_source[top], width=0.27, label="source")
plt.bar(positions, p_model[top], width=0.27, label="MADE (exact)")
plt.bar(positions + 0.27, counts[top] / n_samples, width=0.27, label="MADE samples")
plt.xticks(positions, labels, rotation=70, fontsize=7, family="monospace")
plt.ylabel("probability"); plt.title("The 16 most likely strings"); plt.legend(fontsize=8)
plt.tight_layout(); plt.show()

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 5. All orders are equal, but some are easier to learn
#
# The chain rule holds in every order, so with unlimited capacity and data the order would
# not matter. With a small network and a few hundred steps it does. Data: nine fair coin
# flips $x_1..x_9$ followed by their **majority** $x_{10}$ (a bit that is a function of the
# others, `append_rule_bit`). All 512 strings are equally likely, so the entropy is exactly
# 9 bits, and we can train on the exact data distribution: the batch is all 512 strings, and
# the loss *is* the cross-entropy, without sampling noise.
#
# * **Easy order** $x_1, \dots, x_{10}$: nine conditionals are fair coins and the last is a
#   threshold on the sum, $x_{10} = [\sum_{i \le 9} x_i \ge 5]$ — one layer of ReLUs does it.
# * **Hard order** $x_{10}, x_9, \dots, x_1$: first the majority, then bits that must stay
#   consistent with it. $x_1$ given everything else is forced only when *exactly* four of
#   $x_2..x_9$ are ones — an "exactly" test, not a threshold.
#
# Same model class, same seed, same steps; only the columns are reversed.

# %%
def exact_bits_per_position(table, order):
    """H(x_order[i] | x_order[<i]) in bits for each i, from a joint table: H(prefix+1) - H(prefix)."""
    def H(axes):
        m = marginal(table, list(axes)) if axes else torch.ones((), dtype=table.dtype)
        return bits(-torch.special.xlogy(m, m).sum().item())
    return [H(order[: i + 1]) - H(order[:i]) for i in range(len(order))]


# %%
majority_data = append_rule_bit(all_binary_strings(9), "majority")          # (512, 10)
majority_table = torch.zeros((2,) * n_bits, dtype=torch.float64)
majority_table[tuple(majority_data.T)] = 1 / len(majority_data)            # the exact data distribution

orders = {"easy: x1..x10": list(range(n_bits)), "hard: x10..x1": list(range(n_bits))[::-1]}
results = {}
for name, order in orders.items():
    data = majority_data[:, order].to(device)                               # columns in this order
    torch.manual_seed(0)
    model = TinyMADE(n_bits, hidden=32).to(device)
    run = train(model, lambda: (data, data), steps=800, lr=1e-2, description=name)
    with torch.no_grad():
        per_position = bits(nll(model(data), data, reduction="none").mean(0)).cpu().numpy()  # (n,)
    results[name] = (run, per_position, exact_bits_per_position(majority_table, order))
    print(f"{name}: {per_position.sum():.4f} bits per string (entropy 9)")

easy, hard = (results[name][1].sum() for name in orders)
assert all(abs(sum(results[name][2]) - 9) < 1e-9 for name in orders)   # the chain rule: same total either way
assert easy < 9.02 and hard > easy + 0.03

# %%
fig, axes = plt.subplots(1, 3, figsize=(13, 3.2))
for (name, (run, per_position, exact)), color in zip(results.items(), ("C0", "C3")):
    places = range(1, n_bits + 1)
    axes[0].plot(run.steps, [bits(loss) * n_bits for loss in run.train_loss], color=color, label=name)
    axes[1].plot(places, exact, "o-", color=color, label=name)
    axes[2].plot(places, per_position - np.array(exact), "o-", color=color, label=name)
axes[0].axhline(9, color="k", ls=":", label="entropy (9 bits)")
axes[0].set(xlabel="step", ylabel="bits per string", ylim=(8.8, 10.5), title="Cross-entropy during training")
axes[1].set(xlabel="position in the order", ylabel="bits", title="Exact H(x_i | x_<i) in each order")
axes[2].set(xlabel="position in the order", ylabel="bits", title="Model's excess over the exact")
for ax in axes:
    ax.legend(fontsize=8)
plt.tight_layout(); plt.show()

# %% [markdown]
# The middle panel shows the price of each conditional for a perfect model: in the easy
# order nine bits of one each and a free last bit; in the hard order the information is
# spread differently, but the total is 9 bits either way — the chain rule again. The right
# panel shows where the small model falls short: in the easy order nowhere, in the hard
# order on the late positions, where it has to learn the "exactly four" rule. Orders encode prior knowledge: left-to-right for words, raster
# scan for pixels, coarse-to-fine scales for images, even the reverse-time chain of a
# diffusion model. Choose the order in which the conditionals are simple.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 6. Where the name comes from: AR($p$) time series
#
# Long before neural networks, statisticians modelled a time series by regressing it on its
# own past (Yule, 1927; Walker, 1931):
#
# $$x_t = \sum_{j=1}^{p} \phi_j\, x_{t-j} + \varepsilon_t, \qquad \varepsilon_t \sim \mathcal N(0, \sigma^2).$$
#
# That is the chain rule with a linear-Gaussian conditional,
# $p(x_t \mid x_{<t}) = \mathcal N\big(\sum_j \phi_j x_{t-j}, \sigma^2\big)$, so maximum
# likelihood is least squares. And it is *auto*-regressive in the sense the whole course
# uses: to generate, the model feeds its own outputs back as inputs. (Training need not
# be sequential: all the regressions are fitted at once — teacher forcing, lecture 03.)

# %%
rng = np.random.default_rng(3)
phi, sigma, T, p = np.array([0.75, -0.5]), 1.0, 2000, 2
series = np.zeros(T)
for t in range(p, T):
    series[t] = phi @ series[t - p:t][::-1] + sigma * rng.standard_normal()

# least squares: regress x_t on (x_{t-1}, x_{t-2}, 1), all t at once
design = np.stack([series[p - j:T - j] for j in range(1, p + 1)] + [np.ones(T - p)], axis=1)  # (T-p, p+1)
solution, *_ = np.linalg.lstsq(design, series[p:], rcond=None)
phi_hat, residual_var = solution[:p], np.mean((series[p:] - design @ solution) ** 2)


def gaussian_nll(residuals, var):
    return 0.5 * np.mean(np.log(2 * np.pi * var) + residuals**2 / var)


nll_ar = gaussian_nll(series[p:] - design @ solution, residual_var)
nll_iid = gaussian_nll(series[p:] - series.mean(), series.var())             # baseline: ignore the past
print(f"phi = {phi}, least squares phi_hat = {phi_hat.round(3)}, residual variance {residual_var:.3f}")
print(f"NLL per step: AR({p}) {nll_ar:.3f} nats, independent Gaussian {nll_iid:.3f} nats")
assert np.abs(phi_hat - phi).max() < 0.06 and abs(residual_var - sigma**2) < 0.1
assert nll_ar < nll_iid - 0.1


# %%
# the course's version (lecture 08 builds on it) fits the same coefficients
linear_ar = LinearAR.fit(torch.from_numpy(series), order=p)
torch.testing.assert_close(linear_ar.coef.double(), torch.from_numpy(phi_hat), rtol=0, atol=1e-5)
assert abs(linear_ar.scale.item() ** 2 - residual_var) < 1e-5

# %%
history_len, horizon = 100, 60
gen = make_generator(4)
paths = forecast(linear_ar, torch.from_numpy(series).float(), horizon, n_paths=3, generator=gen)  # (3, 60)
assert paths.shape == (3, horizon) and torch.isfinite(paths).all()

plt.figure(figsize=(8, 3))
plt.plot(range(history_len), series[-history_len:], color="k", lw=1, label="observed")
future = range(history_len, history_len + horizon)
for k, path in enumerate(paths):
    plt.plot(future, path, lw=1, label="sampled: each value fed back as an input" if k == 0 else None)
plt.axvline(history_len - 0.5, color="gray", ls=":")
plt.xlabel("time step t (the last 100 observed, then 60 sampled)"); plt.ylabel("$x_t$")
plt.title(f"AR({p}): three continuations sampled from the fitted model"); plt.legend(fontsize=8); plt.show()

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 7. Universality, in one line
#
# **Claim.** With enough capacity, an AR model represents *any* distribution over finite
# sequences exactly.
# **Proof.** By the chain rule $p(x) = \prod_i p(x_i \mid x_{<i})$, and each conditional is
# just a distribution over $x_i$ for each prefix — a table of them (section 2) or a network
# large enough to output them reproduces $p$ exactly. $\square$
#
# The catch is in "enough": the tables grow like $K^n$ (section 3). Sharing weights makes
# the model small and lets it generalise, at the price of representing only some
# distributions, and of making some orders easier than others (section 5).
#
# ## Summary
# * The chain rule $p(x) = \prod_i p(x_i \mid x_{<i})$ is an identity: it held to $10^{-12}$
#   for all 24 orders and all 75 ordered partitions of a 4-variable table.
# * Tables cost $K^n - 1$ numbers whether joint or conditional; networks that share weights
#   across positions cost $O(n)$ (masked MLP) or $O(1)$ (RNN) in $n$.
# * A neural AR model gives an exact likelihood: MADE's probabilities of all 1024 strings
#   summed to 1 to 12 digits, before and after training, and its ancestral samples passed
#   per-bit and $\chi^2$ checks against its own exact distribution.
# * Some orders are easier to learn: the same small model learned "majority last" to the
#   entropy, and "majority first" not in the same budget.
# * AR($p$) — linear regression on the past, fitted by least squares — is the ancestor.
#
# **Exercises:** `exercises/ex01_chain_rule.py` — factorise a table in any order and
# rebuild it, count AR parameters, and write an ancestral sampler.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## In class: the chain rule in any order
#
# Pick an order of three variables (2, 3 and 4 values): the panel lists the conditionals the
# chain rule needs in that order, with their tables and free parameters, and the joint their
# product rebuilds, identical to the original for all six orders, always with
# $2 \cdot 3 \cdot 4 - 1 = 23$ parameters. Lower the context slider to condition each variable on
# fewer previous ones (a Markov assumption): the product becomes an approximation, the
# parameter count drops, and now the order matters.

# %%
from arcourse.widgets import ChainRulePanel

chain_panel = ChainRulePanel()
chain_panel.order.value = (2, 0, 1)  # what choosing "x3 → x1 → x2" in the menu does
chain_panel.update()
assert chain_panel.max_error < 1e-12 and chain_panel.n_parameters == 23
chain_panel.widget
