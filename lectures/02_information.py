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
# # Lecture 02 — Entropy, cross-entropy, KL divergence, perplexity
#
# Lecture 01 gave us models with an exact likelihood. This lecture gives us the yardsticks
# to judge them, all built from one quantity, the **surprise** $-\log q(x)$ of an outcome
# $x$ under a distribution $q$:
#
# | quantity | formula | meaning |
# |---|---|---|
# | entropy | $H(p) = -\sum_x p(x) \log p(x)$ | average surprise of a source under itself |
# | cross-entropy | $H(p, q) = -\sum_x p(x) \log q(x)$ | average surprise under the model $q$ of data from $p$ |
# | KL divergence | $D_{KL}(p \Vert q) = \sum_x p(x) \log \frac{p(x)}{q(x)} \ge 0$ | the extra surprise for using $q$ instead of $p$ |
# | perplexity | $PP = \exp(\mathrm{NLL} / T)$ | the effective number of equally likely choices per token |
# | bits per token / dim | $\mathrm{NLL} / (T \ln 2)$, $\mathrm{NLL} / (D \ln 2)$ | the same in bits, per token or per sub-pixel |
#
# and tied together by the identity
#
# $$H(p, q) \;=\; H(p) + D_{KL}(p \Vert q).$$
#
# Since $H(p)$ does not depend on the model, **minimising the cross-entropy (the training
# loss of every model in this course) is minimising the KL divergence to the data, and it
# is maximum likelihood.** Logs are natural (nats) unless a quantity says bits.

# %% tags=["arcourse-setup", "remove-cell"]
# Colab / JupyterHub: installs the course when this kernel does not have it (nothing happens where it does).
try:
    import arcourse
except ImportError:
    print("arcourse is not installed here: installing v0.1.0 with pip, about a minute ...")
    get_ipython().run_line_magic("pip", "install -q 'arcourse[widgets] @ git+https://github.com/arcourse/arcourse@v0.1.0'")  # %pip install ...
    import arcourse

# %%
import math

import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn as nn
from tqdm.auto import tqdm

from arcourse import (bits_per_dim, bits_per_token, cross_entropy, entropy, get_device, kl_divergence,
                      make_generator, nll, perplexity, seed_everything, train)
from arcourse.data import MarkovChain, load_digits, split_images, text_batches

device = get_device()
if device.type == "cpu":
    # our models are tiny: splitting each little matrix product across CPU threads costs far
    # more in synchronisation than it saves (measured here: 10x the time with 2 threads)
    torch.set_num_threads(1)
seed_everything(0)
print("device:", device)

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 1. Entropy
#
# $H(p) = -\sum_x p(x)\log p(x) = \mathbb E_{x\sim p}[-\log p(x)]$: how surprised you are, on
# average, by a draw from $p$; equivalently, how many nats (or bits, with $\log_2$) an
# ideal code needs per draw. Outcomes of probability zero contribute nothing
# ($0 \log 0 = 0$, the limit of $t \log t$). We write it by hand, then compare with
# `arcourse.entropy`.

# %%
def entropy_by_hand(p):
    """H(p) in nats of one distribution (1-D tensor)."""
    p = torch.as_tensor(p, dtype=torch.float64)
    seen = p > 0                                       # 0 log 0 = 0: skip impossible outcomes
    return -(p[seen] * p[seen].log()).sum()


examples = {
    "fair coin": [0.5, 0.5],
    "biased coin (0.9)": [0.9, 0.1],
    "fair die": [1 / 6] * 6,
    "certain outcome": [1.0, 0.0, 0.0],
    "dyadic [1/2, 1/4, 1/8, 1/8]": [0.5, 0.25, 0.125, 0.125],
}
for name, p in examples.items():
    mine = entropy_by_hand(p)
    library = entropy(torch.tensor(p, dtype=torch.float64), unit="bits")
    torch.testing.assert_close(mine / math.log(2), library)
    print(f"{name:30s} H = {mine.item() + 0.0:.4f} nats = {library.item() + 0.0:.4f} bits")  # + 0.0: no "-0"

assert abs(entropy([0.5, 0.5], unit="bits") - 1) < 1e-12                  # a fair coin is one bit
assert abs(entropy([1 / 6] * 6) - math.log(6)) < 1e-12                     # uniform over V: log V
assert abs(entropy([0.5, 0.25, 0.125, 0.125], unit="bits") - 1.75) < 1e-12  # 1/2*1 + 1/4*2 + 2*(1/8*3)

# %% [markdown]
# The uniform distribution has the largest entropy, $\log V$; a certain outcome has zero.
# Below: the entropy of a coin against its bias, and a check over a thousand random
# distributions on six outcomes that none exceeds $\log 6$. Finally, entropy *is* an average
# surprise: the mean of $-\log p(x)$ over samples converges to it.

# %% [markdown]
# *Predict before you run:* at which bias is a coin's entropy largest, and how many bits is
# it there? The next cell finds the maximum on a grid of 201 biases and asserts both.

# %%
bias = torch.linspace(0, 1, 201, dtype=torch.float64)
coin = entropy(torch.stack([bias, 1 - bias], dim=1), unit="bits")           # (201,)
assert coin.argmax().item() == 100 and abs(coin.max().item() - 1) < 1e-12
assert torch.allclose(coin, coin.flip(0))                                   # H(b) = H(1 - b)

gen = make_generator(0)
def random_distributions(n, V, generator):
    """n distributions over V outcomes, uniformly spread over the simplex (Dirichlet(1))."""
    e = -torch.rand(n, V, dtype=torch.float64, generator=generator).log()   # exponential draws
    return e / e.sum(dim=1, keepdim=True)                                    # (n, V)


random_p = random_distributions(1000, 6, gen)
assert (entropy(random_p) <= math.log(6) + 1e-12).all()

p = torch.tensor([0.5, 0.25, 0.125, 0.125], dtype=torch.float64)
draws = torch.multinomial(p, 100_000, replacement=True, generator=gen)      # (N,)
surprise = -p.log()[draws]                                                   # (N,) -log p(x) per draw
standard_error = surprise.std() / math.sqrt(len(draws))
print(f"mean surprise {surprise.mean():.4f} ± {standard_error:.4f} nats;  H(p) = {entropy(p):.4f} nats")
assert abs(surprise.mean() - entropy(p)) < 4 * standard_error


# %%
plt.figure(figsize=(4.5, 3))
plt.plot(bias, coin)
plt.xlabel("P(heads)"); plt.ylabel("H (bits)"); plt.title("Entropy of a coin"); plt.grid(alpha=0.3)
plt.show()

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 2. Cross-entropy and KL divergence
#
# A model $q$ of a source $p$ is judged by the average surprise *under $q$* of data *from
# $p$*: the cross-entropy $H(p, q) = -\sum_x p(x) \log q(x)$. It is never below $H(p)$, and
# the excess is the KL divergence:
#
# $$H(p, q) - H(p) = \sum_x p(x)\log\frac{p(x)}{q(x)} = D_{KL}(p\Vert q) \;\ge\; 0,$$
#
# with equality iff $q = p$ (Gibbs' inequality; it follows from $\log t \le t - 1$).

# %% [markdown]
# *Predict before you run:* for the $p$ and $q$ below, is $D_{KL}(p\Vert q)$ the same as
# $D_{KL}(q\Vert p)$? The next cell prints both (and asserts whether they differ).

# %%
def cross_entropy_by_hand(p, q):
    p, q = torch.as_tensor(p, dtype=torch.float64), torch.as_tensor(q, dtype=torch.float64)
    seen = p > 0
    return -(p[seen] * q[seen].log()).sum()


def kl_by_hand(p, q):
    p, q = torch.as_tensor(p, dtype=torch.float64), torch.as_tensor(q, dtype=torch.float64)
    seen = p > 0
    return (p[seen] * (p[seen] / q[seen]).log()).sum()


p = torch.tensor([0.5, 0.25, 0.125, 0.125], dtype=torch.float64)
q = torch.tensor([0.1, 0.2, 0.3, 0.4], dtype=torch.float64)
print(f"H(p) = {entropy_by_hand(p):.4f}, H(p, q) = {cross_entropy_by_hand(p, q):.4f}, "
      f"KL(p||q) = {kl_by_hand(p, q):.4f}, KL(q||p) = {kl_by_hand(q, p):.4f} nats")
torch.testing.assert_close(cross_entropy_by_hand(p, q), cross_entropy(p, q))
torch.testing.assert_close(kl_by_hand(p, q), kl_divergence(p, q))
assert kl_by_hand(p, q) != kl_by_hand(q, p)        # not symmetric: KL is not a distance


# %%
# the identity and the inequality, for 2000 random pairs of distributions over 10 outcomes
gen = make_generator(1)
P, Q = random_distributions(2000, 10, gen), random_distributions(2000, 10, gen)
gap = cross_entropy(P, Q) - (entropy(P) + kl_divergence(P, Q))
print(f"max |H(p,q) - H(p) - KL(p||q)| over 2000 pairs: {gap.abs().max():.1e}")
assert gap.abs().max() < 1e-12
assert (kl_divergence(P, Q) > 0).all() and kl_divergence(P, P).abs().max() < 1e-15
assert (cross_entropy(P, Q) >= entropy(P)).all()

# a model that gives zero probability to something the source produces: infinite surprise
print("H(p, q) with q missing an outcome:", cross_entropy([0.5, 0.5], [1.0, 0.0]))
assert math.isinf(cross_entropy([0.5, 0.5], [1.0, 0.0]))

# %% [markdown]
# **From data.** We never know $p$; we have samples $x_1..x_N \sim p$. The cross-entropy is
# an expectation under $p$, so the average surprise of the samples under the model,
# $-\frac1N\sum_t \log q(x_t)$, estimates it — that is the test loss of every model in this
# course. For a sequence model, $q(w_t \mid w_{<t})$ takes the place of $q(x_t)$.

# %%
gen = make_generator(2)
samples = torch.multinomial(p, 50_000, replacement=True, generator=gen)     # x_t ~ p
surprise = -q.log()[samples]                                                 # -log q(x_t)
standard_error = surprise.std() / math.sqrt(len(samples))
print(f"-1/N sum log q(x_t) = {surprise.mean():.4f} ± {standard_error:.4f};  H(p, q) = {cross_entropy(p, q):.4f}")
assert abs(surprise.mean() - cross_entropy(p, q)) < 4 * standard_error

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 3. Maximum likelihood = cross-entropy minimisation
#
# Given samples, the *empirical distribution* $\hat p$ puts mass $1/N$ on each. The average
# negative log-likelihood of the samples is exactly $H(\hat p, q_\theta)$, so
#
# $$\arg\max_\theta \tfrac1N \textstyle\sum_t \log q_\theta(x_t) = \arg\min_\theta H(\hat p, q_\theta) = \arg\min_\theta D_{KL}(\hat p \Vert q_\theta).$$
#
# For a categorical $q_\theta = \mathrm{softmax}(\theta)$ the minimiser is known in closed
# form: the relative counts. We let gradient descent find it.

# %%
V = 6
p_true = torch.tensor([0.30, 0.25, 0.20, 0.12, 0.08, 0.05], dtype=torch.float64)
gen = make_generator(3)
data = torch.multinomial(p_true, 400, replacement=True, generator=gen)      # (N,) the samples
p_hat = torch.bincount(data, minlength=V).double() / len(data)              # the count estimate

theta = torch.zeros(V, dtype=torch.float64, requires_grad=True)             # start at uniform
optimizer = torch.optim.SGD([theta], lr=2.0)
losses = []
for step in range(400):
    loss = nll(theta.expand(len(data), V), data)                             # mean -log q(x_t)
    optimizer.zero_grad(); loss.backward(); optimizer.step()
    losses.append(loss.item())

q_fit = theta.detach().softmax(dim=0)
with torch.no_grad():   # the loss on the samples is the cross-entropy from the empirical distribution
    torch.testing.assert_close(nll(theta.expand(len(data), V), data), cross_entropy(p_hat, q_fit))
print("count estimate p_hat", p_hat.numpy().round(4))
print("gradient descent    ", q_fit.numpy().round(4))
print(f"final loss {losses[-1]:.6f} = H(p_hat) {entropy(p_hat):.6f} "
      f"+ KL(p_hat||q) {kl_divergence(p_hat, q_fit):.1e} (zero up to rounding)")
assert (q_fit - p_hat).abs().max() < 1e-6
assert abs(kl_divergence(p_hat, q_fit)) < 1e-10


# %%
plt.figure(figsize=(4.5, 3))
plt.semilogy(np.maximum(np.array(losses) - entropy(p_hat).item(), 1e-16))   # floor: float64 rounding
plt.xlabel("gradient step"); plt.ylabel("nats")
plt.title("loss - H(p_hat) = KL(p_hat || q)", fontsize=10); plt.show()

# %% [markdown]
# The fit reaches the entropy of the *samples*, $H(\hat p)$, not of the source: maximum
# likelihood fits the data it is given. The gap to the truth, $D_{KL}(p \Vert \hat p)$,
# shrinks as $N$ grows; on held-out data it shows up as a test loss above the training loss.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 4. Perplexity and bits per token
#
# Language models report the per-token cross-entropy on test text in two other currencies:
#
# * **perplexity** $PP = \exp(\mathrm{NLL}/T)$, the *effective branching factor*: a model with
#   perplexity 20 is as uncertain, on average, as one choosing uniformly among 20 tokens.
#   Uniform over $V$ tokens gives exactly $V$; a perfect model, which gives every actual
#   token probability 1, gives 1.
# * **bits per token** $BPT = \mathrm{NLL}/(T \ln 2)$, so that $PP = 2^{BPT}$.
#
# `arcourse.perplexity(total_nll, n_tokens)` and `arcourse.bits_per_token` take a summed
# NLL in nats and the number of tokens it covers.

# %%
T = 1000
for V in (2, 27, 50_257):
    uniform_nll = T * math.log(V)                              # every token costs log V nats
    assert abs(perplexity(uniform_nll, T) - V) < 1e-9 * V
assert perplexity(0.0, T) == 1.0                               # perfect model: NLL = 0

gen = make_generator(4)
total_nlls = torch.rand(100, dtype=torch.float64, generator=gen) * 5000   # arbitrary NLLs over T tokens
torch.testing.assert_close(perplexity(total_nlls, T), 2 ** bits_per_token(total_nlls, T))

# effective branching factor of a non-uniform distribution: exp(H(p)) equally likely choices
p = torch.tensor([0.5, 0.25, 0.125, 0.125], dtype=torch.float64)
print(f"H = {entropy(p, unit='bits'):.2f} bits -> perplexity 2^1.75 = {perplexity(entropy(p)):.3f}: "
      f"like a fair die with {perplexity(entropy(p)):.2f} sides")
assert abs(perplexity(entropy(p)) - 2**1.75) < 1e-12

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 5. Bits per dimension for images
#
# An image model's NLL is divided by the number of sub-pixels $D = C \cdot H \cdot W$ and
# reported in bits: $\mathrm{bpd} = \mathrm{NLL}/(D \ln 2)$. A model that knows nothing about
# 8-bit images gives each of the 256 intensities probability $1/256$: exactly 8 bits per
# dimension, whatever the image — the ceiling any real model must beat (the PixelCNN papers
# report about three bits per dimension on CIFAR-10).
#
# A small real example: scikit-learn's 8×8 handwritten digits have 17 intensity levels. The
# uniform model costs $\log_2 17$ bpd; a model that learns each pixel's own histogram (still
# independent pixels — no autoregression yet) does much better. We use the split of lecture
# 04, whose PixelCNNs have to beat this very number.

# %%
D = 3 * 32 * 32
image_nll = D * math.log(256)                                  # uniform over 256 levels, every sub-pixel
assert abs(bits_per_dim(image_nll, D) - 8) < 1e-12

digits = load_digits()                                                       # scikit-learn's, (1797, 1, 8, 8)
train_set, _, test_set = split_images(digits, (0.8, 0.1, 0.1), seed=0)      # lecture 04's split
train_digits, test_digits = train_set.images.flatten(1), test_set.images.flatten(1)  # (N, 64), values 0..16
K = digits.levels
counts = torch.stack([torch.bincount(column, minlength=K) for column in train_digits.T])  # (64, K)
pixel_probs = (counts + 1).double() / (counts + 1).sum(dim=1, keepdim=True)  # add-one: no zero probabilities
test_nll = -pixel_probs.log()[torch.arange(64), test_digits].sum().item()   # sum over test images and pixels
bpd_histogram = bits_per_dim(test_nll, test_digits.numel())
print(f"digits, test set: uniform {math.log2(K):.3f} bpd, per-pixel histograms {bpd_histogram:.3f} bpd")
assert bpd_histogram < math.log2(K) - 1

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 6. Work in log space: log-softmax, never log(softmax)
#
# A model outputs logits $z$; the loss needs $\log \mathrm{softmax}(z)_k = z_k - \log\sum_j e^{z_j}$.
# Computing the softmax first and then its log fails as soon as a probability underflows:
# in float32, $e^{-104}$ is already below the smallest positive number, so a confidently
# wrong model gets $\log 0 = -\infty$ and the gradient becomes NaN. The log-sum-exp trick
# subtracts the largest logit first, so that every exponent is $\le 0$ and at least one is
# exactly 0:
#
# $$\log \mathrm{softmax}(z)_k = (z_k - m) - \log \textstyle\sum_j e^{z_j - m}, \qquad m = \max_j z_j .$$

# %%
def log_softmax_by_hand(z):
    m = z.max(dim=-1, keepdim=True).values
    return (z - m) - (z - m).exp().sum(dim=-1, keepdim=True).log()


z = torch.tensor([[0.0, -120.0, 5.0], [1000.0, 0.0, -1000.0]])            # float32 logits
naive = torch.log(torch.exp(z) / torch.exp(z).sum(dim=-1, keepdim=True))   # softmax by the formula, then log
via_softmax = torch.log(torch.softmax(z, dim=-1))                          # a stable softmax, then log
stable = log_softmax_by_hand(z)
print("naive log(exp/sum):\n", naive)
print("log(softmax):\n", via_softmax)
print("log-softmax:\n", stable)
assert torch.isnan(naive[1]).any()                     # exp(1000) overflows: inf / inf
assert torch.isinf(via_softmax).any()                  # p underflows to 0: log 0 = -inf
assert torch.isfinite(stable).all()
torch.testing.assert_close(stable, torch.log_softmax(z, dim=-1))

# the loss of a confidently wrong model: about 2125 nats, not infinity (arcourse.nll uses log-softmax)
targets = torch.tensor([1, 2])
print("NLL via log(softmax):", -via_softmax[torch.arange(2), targets].sum().item(),
      "| via log-softmax:", nll(z, targets, reduction="sum").item())
torch.testing.assert_close(nll(z, targets, reduction="sum"), -stable[torch.arange(2), targets].sum())

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 7. Watching a model approach the entropy rate
#
# For a sequence source we measure entropy *per symbol*: the **entropy rate**
# $H = \lim_T \frac1T H(w_1, \dots, w_T)$. For a stationary Markov chain with transition matrix
# $P$ and stationary distribution $\pi$ it is $H = \sum_i \pi_i H(P_{i\cdot})$, and no model
# can have a lower per-token cross-entropy on its output. `arcourse.data.MarkovChain` gives
# us such a source with 8 symbols. Three reference levels:
#
# * uniform over 8 symbols: $\ln 8$;
# * the best *unigram* model (ignores context, predicts with $\pi$): $H(\pi)$;
# * the entropy rate $H$: the floor.
#
# A model $q(w_t \mid w_{t-1})$ that looks at the previous symbol can reach the floor. Its
# exact expected cross-entropy on the chain is
#
# $$\sum_i \pi_i\, H(P_{i\cdot}, Q_{i\cdot}) = H + \sum_i \pi_i\, D_{KL}(P_{i\cdot} \Vert Q_{i\cdot}),$$
#
# the entropy rate plus a KL gap that training shrinks. We can compute it exactly from the
# model's table $Q$, and compare it with the test loss measured on held-out samples.

# %%
chain = MarkovChain.random(8, concentration=0.3, seed=1)
V = chain.n_states
pi, P = torch.from_numpy(chain.stationary()), torch.from_numpy(chain.transition)
H_rate, H_unigram = chain.entropy_rate(), entropy(pi).item()
print(f"uniform ln V = {math.log(V):.4f}, unigram H(pi) = {H_unigram:.4f}, entropy rate H = {H_rate:.4f} nats")
print(f"perplexities: {V}, {math.exp(H_unigram):.2f}, {math.exp(H_rate):.2f}")
assert H_rate < H_unigram < math.log(V)

train_stream = chain.sample(1, 200_000, seed=1)[0]                          # (N,) one long sequence
test_sequences = chain.sample(200, 251, seed=2)                             # (200, 251) independent ones
test_batches = [(test_sequences[:, :-1], test_sequences[:, 1:])]

# the unigram baseline, fitted by counting on the training stream
unigram = torch.bincount(train_stream, minlength=V).double() / len(train_stream)
unigram_test = -unigram.log()[test_sequences[:, 1:]].mean().item()
print(f"unigram counts on the test set: {unigram_test:.4f} nats per symbol")

# %% [markdown]
# **The model.** The simplest neural next-symbol model: embed the previous symbol, map the
# embedding to logits over the next one. It follows the course's sequence contract,
# `model(idx (B, T)) -> logits (B, T, V)`, and trains with `arcourse.train` on random
# windows of the training stream (`text_batches`: targets are the inputs shifted by one).
# We train in chunks so that after each we can compute the exact expected cross-entropy
# from the model's transition table $Q$.

# %%
def exact_cross_entropy(model):
    """sum_i pi_i H(P_i, Q_i): the model's expected test loss per symbol on the chain."""
    with torch.no_grad():
        Q = model(torch.arange(V, device=device)[None])[0].cpu().double().softmax(dim=-1)   # (V, V)
    return (pi * cross_entropy(P, Q)).sum().item(), Q


torch.manual_seed(0)
model = nn.Sequential(nn.Embedding(V, 16), nn.Linear(16, V)).to(device)   # (B, T) -> (B, T, V)
batches = text_batches(train_stream, context_len=64, batch_size=32, seed=0)
optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
history, exact_steps, exact = None, [0], [exact_cross_entropy(model)[0]]
tables = {}                                               # step -> the model's table Q, for section 8
for chunk in tqdm(range(30), desc="bigram model"):
    history = train(model, batches, steps=20, optimizer=optimizer, history=history,
                    eval_batches=lambda: test_batches, progress=False)
    exact_steps.append(history.steps[-1] + 1)
    exact.append(exact_cross_entropy(model)[0])
    tables[exact_steps[-1]] = exact_cross_entropy(model)[1]

final_exact, Q = exact_cross_entropy(model)
kl_gap = (pi * kl_divergence(P, Q)).sum().item()
test_loss = history.eval_loss[-1]

# %%
with torch.no_grad():   # standard error of the test loss, from 200 independent test sequences
    inputs, targets = (t.to(device) for t in test_batches[0])
    per_sequence = nll(model(inputs), targets, reduction="none").mean(dim=1).cpu().double()   # (200,)
standard_error = per_sequence.std().item() / math.sqrt(len(per_sequence))

print(f"test loss {test_loss:.4f} ± {standard_error:.4f} | exact expected loss {final_exact:.4f} "
      f"| entropy rate {H_rate:.4f} | exact KL gap {kl_gap:.4f} nats per symbol")
print(f"perplexity: model {perplexity(test_loss):.3f}, source {math.exp(H_rate):.3f}, unigram {math.exp(unigram_test):.3f}")
print(f"exact expected loss: {exact[0]:.4f} untrained, {final_exact:.4f} trained, {kl_gap:.4f} nats above the entropy rate")
assert abs(final_exact - (H_rate + kl_gap)) < 1e-9        # the gap above the entropy rate is the KL
assert 0 <= kl_gap < 0.01                                 # training closed it to within 0.01 nats
assert abs(perplexity(test_loss) - math.exp(H_rate)) < 0.1  # the model's branching factor is the source's
assert abs(test_loss - final_exact) < 4 * standard_error  # the measured test loss estimates it
assert test_loss < unigram_test - 0.5                     # context helps: far below the unigram baseline


# %%
fig, (left, right) = plt.subplots(1, 2, figsize=(11, 3.5))
left.plot(history.eval_steps, history.eval_loss, "o", ms=3, label="test loss (held-out samples)")
left.plot(exact_steps, exact, "-", label="exact expected loss H + KL")
for level, name, style in ((math.log(V), "uniform  ln 8", "--"), (H_unigram, "unigram  H(π)", "-."),
                           (H_rate, "entropy rate  H", ":")):
    left.axhline(level, color="k", ls=style, lw=1)
    left.text(exact_steps[-1], level + 0.02, name, ha="right", fontsize=8)
left.set(xlabel="training step", ylabel="nats per symbol", ylim=(H_rate - 0.1, math.log(V) + 0.3),
         title="Cross-entropy falls to the entropy rate")
left.legend(fontsize=8, loc="center right")
right.semilogy(exact_steps, np.array(exact) - H_rate)
right.set(xlabel="training step", ylabel="nats per symbol", title="The gap: sum_i pi_i KL(P_i || Q_i)")
plt.tight_layout(); plt.show()

# %% [markdown]
# The test loss (dots) scatters around the exact expected loss (line) by its standard
# error, and both settle just above the entropy rate. The remaining gap is the KL
# divergence from the source to the model, computed here exactly because we know the
# source; for real data we never can, which is why a model's loss is always reported
# against baselines. The model's perplexity (printed above, next to the source's) says how
# many equally likely symbols it hesitates between after seeing one: about as many as the
# chain itself (asserted to within 0.1).

# %% [markdown]
# ## 8. When the model feeds on itself: errors along its own samples
#
# Training scores every conditional on a *true* prefix. Generation conditions on the model's
# *own* earlier draws, whose distribution drifts away from the data's: the **exposure bias**
# of lecture 03. With a known source we can measure it exactly, with no sampling noise. Start
# both chains from the stationary distribution; after $t$ steps the data's state distribution
# is $\pi P^t = \pi$ and the model's own is $\pi Q^t$. Two questions, by position $t$:
#
# * how far has the model's marginal drifted? $D_{KL}(\pi P^t \Vert \pi Q^t)$;
# * how wrong is its next step, on average over the prefixes it actually sees?
#   $\sum_i (\pi Q^t)_i\, D_{KL}(P_{i\cdot} \Vert Q_{i\cdot})$ along its own samples, against
#   $\sum_i \pi_i\, D_{KL}(P_{i\cdot} \Vert Q_{i\cdot})$ along data prefixes (the KL gap above).
#
# *Predict before you run:* does the per-step error along the model's own samples keep
# growing with $t$?

# %%
def kl_by_position(P, Q, start, T):
    """Per position t: drift KL(start P^t || start Q^t), and the per-step KL along data / own prefixes."""
    row_kl = kl_divergence(P, Q)                                  # (V,) KL(P_i || Q_i) per state
    data, own, rows = start.clone(), start.clone(), []
    for t in range(T):
        rows.append((kl_divergence(data, own).item(), (data * row_kl).sum().item(), (own * row_kl).sum().item()))
        data, own = data @ P, own @ Q                             # one more step of each chain
    return np.array(rows)                                         # (T, 3)


early = min(tables)                                               # the model after 20 steps
for step in (early, 60, exact_steps[-1]):
    drift, on_data, on_own = kl_by_position(P, tables[step], pi, 30).T
    print(f"model after {step:3d} steps: per-step KL on data prefixes {on_data[0]:.4f}, on its own samples "
          f"{on_own[1]:.4f} (t=1) -> {on_own[-1]:.4f} (t=29); drift of the marginal {drift[1]:.4f} -> {drift[-1]:.4f}")
    assert drift[0] == 0 and drift[1] < drift[5] <= drift[-1] + 1e-12   # the drift grows from zero, then settles
    assert abs(on_own[-1] - on_own[-2]) < 1e-6                         # the per-step error stops changing
    assert np.allclose(on_data, on_data[0])                            # data prefixes: the same at every t

# %% [markdown]
# The same measurement by sampling, as one would for a real model whose truth is unknown only
# in part: draw sequences from the early model itself, and average the exact per-step KL of
# the state each one is in. It agrees with the exact curve within its standard error.

# %%
gen = make_generator(5)
Q_early, row_kl = tables[early], kl_divergence(P, tables[early])  # (V, V), (V,)
state = torch.multinomial(pi, 4000, replacement=True, generator=gen)         # (B,) x_0 from the data
per_step = []
for t in range(30):
    per_step.append(row_kl[state])                                           # (B,) KL of the next step
    state = torch.multinomial(Q_early[state], 1, generator=gen)[:, 0]        # the model's own draw
per_step = torch.stack(per_step, dim=1)                                      # (B, T)
sampled, sampled_se = per_step.mean(0).numpy(), (per_step.std(0) / math.sqrt(len(per_step))).numpy()
drift, on_data, on_own = kl_by_position(P, Q_early, pi, 30).T
assert (np.abs(sampled - on_own) < 4 * sampled_se + 1e-9).all()

fig, (left, right) = plt.subplots(1, 2, figsize=(11, 3.4))
left.plot(on_data, "k--", label="along data prefixes")
left.plot(on_own, "-", label="along its own samples (exact)")
left.errorbar(np.arange(30), sampled, 2 * sampled_se, fmt="o", ms=3, label="along its own samples (4000 draws)")
left.set(xlabel="position t", ylabel="nats", title=f"per-step KL(P || Q), model after {early} steps")
left.legend(fontsize=8)
right.plot(drift, "o-", ms=3)
right.set(xlabel="position t", ylabel="nats", title="drift of the marginal: KL(πP^t || πQ^t)")
plt.tight_layout(); plt.show()

# %% [markdown]
# What the cells above print and assert: the marginal of the model's own samples drifts away
# from the data's, starting at zero and growing over the first few positions, then settling
# at the distance between the two stationary distributions. The per-step error along its own
# samples differs from the teacher-forced one only by how the states are weighted — it can be
# larger or smaller (compare the three printed models) — and it stops changing after a few
# steps. A first-order model cannot compound errors beyond that: it forgets its mistakes as
# fast as the chain mixes. What does add up is the sequence-level divergence,
# $D_{KL}(p(x_{1:T}) \Vert q(x_{1:T})) = T$ times the per-step KL on data prefixes, linear in $T$.
#
# **Continuous values compound.** An AR($p$) model forecasting $k$ steps ahead feeds its own
# predictions back in place of the unseen values. Each step adds the noise it could not
# predict, so the forecast error grows with $k$ until it reaches the series' own variance.
# For a known AR(2) the $k$-step error variance is $\sigma^2 \sum_{j<k} \psi_j^2$, with
# $\psi_0 = 1$, $\psi_j = \phi_1 \psi_{j-1} + \phi_2 \psi_{j-2}$; we fit the model by least
# squares (as in lecture 01) and measure the error on a held-out stretch.

# %%
phi, sigma = np.array([0.75, -0.5]), 1.0
rng = np.random.default_rng(6)
series = np.zeros(6000)
for t in range(2, len(series)):
    series[t] = phi @ series[t - 2:t][::-1] + sigma * rng.standard_normal()
fit_part, held_out = series[:3000], series[3000:]
design = np.stack([fit_part[1:-1], fit_part[:-2]], axis=1)                  # (x_{t-1}, x_{t-2})
phi_hat = np.linalg.lstsq(design, fit_part[2:], rcond=None)[0]

# %%
K_AHEAD = 10
past = np.stack([held_out[1:-K_AHEAD], held_out[:-K_AHEAD - 1]], axis=1)  # (N, 2) the last two true values
errors = []
for k in range(1, K_AHEAD + 1):
    forecast = past @ phi_hat                                                # (N,) one more step, fed back
    errors.append(np.mean((held_out[1 + k:len(held_out) - K_AHEAD + k] - forecast) ** 2))
    past = np.stack([forecast, past[:, 0]], axis=1)
psi = [1.0, phi[0]]
for j in range(2, K_AHEAD):
    psi.append(phi[0] * psi[-1] + phi[1] * psi[-2])
theory = sigma**2 * np.cumsum(np.square(psi))
print("k-step forecast MSE:", np.round(errors, 3))
print("theory (true phi):  ", np.round(theory, 3), f"| stationary variance {held_out.var():.3f}")
assert errors[0] < errors[1] < errors[-1] and errors[-1] > 1.3 * errors[0]  # the error grows with k
assert np.allclose(errors, theory, rtol=0.15)                               # as the formula says

# %% [markdown]
# ## Summary
# * Entropy $H(p)$ is the average surprise of a source; cross-entropy $H(p, q)$ the average
#   surprise of a model on it; the difference is $D_{KL}(p \Vert q) \ge 0$. The identity
#   $H(p,q) = H(p) + D_{KL}$ held to rounding error on 2000 random pairs (the cell prints the
#   largest deviation; the assert bounds it by $10^{-12}$).
# * Training loss = cross-entropy from the empirical distribution, so minimising it is
#   maximum likelihood: gradient descent on a categorical reached the count estimate.
# * Perplexity $e^{\mathrm{NLL}/T} = 2^{BPT}$ is an effective number of choices: $V$ for the
#   uniform model, 1 for a perfect one. Images are scored in bits per dimension: 8 for the
#   uniform 8-bit model.
# * Compute log-probabilities with log-softmax (log-sum-exp), never log(softmax).
# * On a Markov chain a small model's test loss fell from $\ln 8$ to within 0.01 nat of the
#   entropy rate (asserted; the cell prints the gap), far below the unigram baseline; the gap
#   is exactly the KL.
# * Along the model's own samples the marginal drifts from the data's and the per-step error is
#   reweighted; a first-order model stops there, while an AR($p$) forecast fed its own
#   predictions accumulates error with every step ahead.
#
# **Exercises:** `exercises/ex02_information.py` — write entropy, cross-entropy, KL,
# perplexity, bits per dimension and a stable log-softmax yourself.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## In class: cross-entropy = entropy + KL, live
#
# One slider per outcome sets the model q (the weights, normalised) against a fixed
# $p = (1/2, 1/4, 1/8, 1/8)$. The readout recomputes $H(p)$, $H(p, q)$ and $D_{KL}(p \| q)$,
# checks $H(p, q) = H(p) + D_{KL}$ at every setting, and gives the perplexity $2^{H(p,q)}$;
# move q onto p and the KL goes to 0, the cross-entropy down to the entropy.

# %%
from arcourse.widgets import InformationPanel

info_panel = InformationPanel()
info_panel.update()
assert info_panel.identity_gap < 1e-12 and abs(info_panel.perplexity - 2 ** info_panel.h_pq) < 1e-12
info_panel.widget
