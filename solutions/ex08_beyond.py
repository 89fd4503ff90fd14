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
# # Exercise 08 — beyond tokens: a Gaussian head, speculative decoding, and a density model of daily returns
#
# *Grading runs your imports, functions, classes and simple constants (such as `LN2 = math.log(2)`), not the other cells; its report lists what it skipped.*
#
# Two ideas from lecture 08, each exact, and one model of your own, in three tiers:
#
# * **warm-up — a Gaussian output head.** For a real-valued $x_t$ an AR model outputs a
#   density instead of a softmax. A network's two raw numbers per step become a mean µ and a
#   standard deviation σ > 0, and the loss is the exact negative log-density
#   $$-\log \mathcal N(x; \mu, \sigma^2) = \tfrac12\big(\log 2\pi + \log \sigma^2 + (x-\mu)^2/\sigma^2\big).$$
# * **core — the speculative-decoding accept/reject step.** A draft model q proposed a token
#   x. Keep it with probability $a(x) = \min(1, p(x)/q(x))$; otherwise emit a draw from the
#   residual $r = \max(0, p - q) / \sum \max(0, p - q)$. Given the draft x, the step emits y
#   with probability $M(x, y) = a(x)\,1\{y = x\} + (1 - a(x))\,r(y)$, and whatever q is,
#   $\sum_x q(x) M(x, y) = p(y)$. The grader checks $M$ itself, draft by draft, not only its
#   average: a step that never accepts and always draws from p has the right average and
#   is still wrong (a written question asks why).
# * **core and stretch — an AR density model of daily returns.** The lecture fitted AR(p)
#   by least squares (one constant variance) and a neural AR model. Here you write a
#   different one: a linear model of the mean *and* of the scale, from the last p returns
#   and their absolute values, trained by maximum likelihood with your own head and loss on
#   the GARCH series of `arcourse.data`, and measured on held-out days against a Gaussian
#   baseline.
# * **stretch — exposure bias, measured.** On a Markov source whose truth is known, how much
#   worse is a model on its own generated prefixes than on true ones? You measure it by
#   sampling; the grader knows the exact answer.
#
# Two written questions (marked by a person) sit in parts 2 and 4.
#
# Fill in every `raise NotImplementedError`, run the checks below each function, then grade
# with `arcourse grade ex08_beyond.ipynb` (or the `.py`). The grader checks your functions on
# random inputs against PyTorch, by exact enumeration and by sampling, and trains your
# returns model on a fresh series.

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

from arcourse.data import GarchProcess

# %% [markdown]
# ## 1. Warm-up: a Gaussian output head
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
    ### BEGIN SOLUTION
    # HINT: two slices of the last axis; the second goes through softplus, then the floor
    return raw[..., 0], F.softplus(raw[..., 1]) + min_scale
    ### END SOLUTION


def normal_nll(x, mu, sigma):
    """-log N(x; mu, sigma^2) per element, in nats.

    Args:
        x, mu, sigma: broadcastable tensors.
    Returns:
        the broadcast shape.
    Raises:
        ValueError if any sigma <= 0 (name the argument in the message).
    """
    ### BEGIN SOLUTION
    # HINT: validate sigma first; then the formula above, term by term, with broadcasting
    if not bool((sigma > 0).all()):
        raise ValueError(f"normal_nll needs sigma > 0, got min sigma = {float(sigma.min())}")
    z = (x - mu) / sigma
    return 0.5 * (math.log(2 * math.pi) + torch.log(sigma**2) + z**2)
    ### END SOLUTION


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
# ## 2. Core: the accept/reject step of speculative decoding
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
    ### BEGIN SOLUTION
    # HINT: a ratio that must not divide by zero where q == 0; cap it at 1
    safe_q = torch.where(q > 0, q, torch.ones_like(q))
    return torch.where(q > 0, (p / safe_q).clamp(max=1.0), torch.ones_like(p))
    ### END SOLUTION


def residual_probs(p, q):
    """max(0, p - q) normalised to sum to 1 over the last axis; rows where that mass is
    zero (p == q, so no rejection can happen) return p.

    Args:
        p, q: (..., V).
    Returns:
        (..., V), rows summing to 1.
    """
    ### BEGIN SOLUTION
    # HINT: the positive part of p - q, normalised per row; rows with no excess fall back to p
    excess = (p - q).clamp(min=0)
    total = excess.sum(dim=-1, keepdim=True)
    return torch.where(total > 0, excess / torch.where(total > 0, total, torch.ones_like(total)), p)
    ### END SOLUTION


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
    ### BEGIN SOLUTION
    # HINT: one uniform per row against a(draft); a residual draw for the rows that reject; both with the generator
    a = accept_probability(p, q).gather(-1, draft[:, None])[:, 0]  # (B,)
    accepted = torch.rand(draft.shape, generator=generator, dtype=p.dtype) < a
    resampled = torch.multinomial(residual_probs(p, q), 1, generator=generator)[:, 0]  # (B,)
    return torch.where(accepted, draft, resampled), accepted
    ### END SOLUTION


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
# The step, draft by draft: row x of $M$ is the distribution of the emitted token when the
# draft was x. An accepted draft is emitted as it is, so $M(x, x) \ge a(x)$, and the rows
# average (weighted by q) to p:

# %%
M = torch.diag(a) + (1 - a)[:, None] * r[None, :]  # (V, V): M[x, y] = P(emit y | draft x)
torch.testing.assert_close(M.sum(-1), torch.ones(4))
torch.testing.assert_close(q @ M, p)
print(M)

# %% [markdown]
# With every token accepted or replaced this way, a whole draft of k tokens can be checked
# by one forward pass of the big model: `arcourse.decoding.speculative_generate`.
#
# ### A written question: why this acceptance rule
#
# (a) Prove $\sum_x q(x)\,M(x, y) = p(y)$ for the $a$ and $r$ above (split into the tokens
# with $p(y) \ge q(y)$ and the others; what is $1 - \sum_x q(x) a(x)$?). (b) The step "never
# accept, always draw y from p" ($a = 0$, $r = p$) also emits tokens distributed as p. Why
# is it still wrong as a speculative step — which property of $M$ does it break, and what
# does it cost in tokens per call of the big model? (c) Show that no rule that emits p can
# accept the draft more often than $\sum_x \min(p(x), q(x))$.

# %% [markdown]
# **Answer (written: speculative_step, 3 points):**
# ### BEGIN SOLUTION
# (a) $q(y)a(y) = \min(q(y), p(y))$. The probability of a rejection is
# $1 - \sum_x \min(p(x), q(x)) = \sum_x (p(x) - \min(p(x), q(x))) = \sum_x \max(0, p(x) - q(x))$,
# which is exactly the normaliser of r. So
# $\sum_x q(x) M(x, y) = \min(p(y), q(y)) + \max(0, p(y) - q(y)) = p(y)$ for every y
# (if $p(y) \ge q(y)$ the two terms are $q(y)$ and $p(y) - q(y)$; otherwise $p(y)$ and 0).
# (b) Its marginal is p, but it never emits the draft because it is the draft: $M(x, y) =
# p(y)$ whatever x was, so the accepted set is empty and the draft's work is thrown away.
# Speculative decoding gains only from accepted drafts: each target call then yields
# exactly one token, as plain decoding does (plus the draft's cost), so it is slower than
# not speculating. In a k-token draft, acceptance also decides whether the later draft
# tokens can be used at all. (c) The step emits the draft x and keeps it with probability
# $P(\text{accept}, x) \le P(\text{draft} = x) = q(x)$ and, as the emitted token is x,
# $\le P(\text{emit } x) = p(x)$; summing $\min(p(x), q(x))$ over x bounds the acceptance
# rate, and the rule above reaches it.
# ### END SOLUTION

# %% [markdown]
# ## 3. Core: an AR density model of daily returns
#
# The GARCH(1,1) series of lecture 08 behaves like daily returns in percent: the mean is
# nearly unpredictable, but the *size* of a return is not — calm and wild weeks cluster. A
# model of $p(x_t \mid x_{<t})$ that gets this right predicts a scale $\sigma_t$ from the
# recent past. Yours is linear in the window of the last $p$ returns
# $w_t = (x_{t-p}, \dots, x_{t-1})$ (oldest first) and their absolute values:
# $$\text{features}_t = (w_t,\ |w_t|,\ 1) \in \mathbb R^{2p+1}, \qquad
# \text{raw}_t = \text{features}_t\, W,\quad W \in \mathbb R^{(2p+1) \times 2},\qquad
# (\mu_t, \sigma_t) = \texttt{gaussian\_head}(\text{raw}_t).$$
# `forecast_returns` gives $(\mu_t, \sigma_t)$ for every step $t = p, \dots, T-1$ of a series,
# each from the $p$ values before it only. `Tensor.unfold` makes every window at once.

# %%
def forecast_returns(series, weights, p):
    """The Gaussian predictive density of each step of `series` from the p steps before it.

    Args:
        series: (T,) float returns.
        weights: (2p + 1, 2) the linear map from (window, |window|, 1) to the head's two raw numbers.
        p: the window length.
    Returns:
        (mu, sigma): two (T - p,) tensors; entry i is the density of series[p + i].
    """
    ### BEGIN SOLUTION
    # HINT: windows of length p that end just before each target (unfold, then drop the one that ends at the last value); the head does the rest
    windows = series.unfold(0, p, 1)[:-1]  # (T - p, p): windows[i] = series[i : i + p]
    features = torch.cat([windows, windows.abs(), torch.ones(len(windows), 1, dtype=series.dtype)], dim=1)
    return gaussian_head(features @ weights)  # (T - p,), (T - p,)
    ### END SOLUTION


# %%
gen = torch.Generator().manual_seed(0)
series, weights = torch.randn(12, generator=gen), torch.randn(7, 2, generator=gen)
mu, sigma = forecast_returns(series, weights, 3)  # (9,), (9,)
assert mu.shape == sigma.shape == (9,) and bool((sigma > 0).all())
# the density of series[7] reads series[4], series[5], series[6]
raw = torch.cat([series[4:7], series[4:7].abs(), torch.ones(1)]) @ weights  # (2,)
torch.testing.assert_close(mu[4], raw[0])
nudged = series.clone()
nudged[7] += 5.0  # the future of step 7 may not change its forecast
assert torch.equal(forecast_returns(nudged, weights, 3)[0][:5], mu[:5])

# %% [markdown]
# ## 4. Stretch, an experiment: fit it by maximum likelihood, beat the Gaussian
#
# `fit_returns_model` trains $W$ on a training series by minimising the mean of your
# `normal_nll` over its steps, with a `torch.optim` optimiser of your choice (full batch: a
# few thousand steps of a linear model are one small matrix). Seed the initialisation with
# `seed`. The grader trains yours on 5,000 days, evaluates the mean NLL of 5,000 *other*
# days with your `forecast_returns`, and requires it to beat the best single Gaussian (the
# training mean and standard deviation) by at least 0.03 nats per day, within a budget of
# CPU time a slow laptop meets easily (the solution needs a few seconds). Start $W$ near
# zero: large initial weights on $|w|$ give huge first σ's.

# %% [markdown]
# ### A written question: what the density model learned
#
# Answer from the table and the plot that the cells after `fit_returns_model` print and draw
# (come back once they are there). Where does your model's advantage over the single Gaussian
# come from — the mean part of $W$ or the scale part? (Look at the fitted weights: print
# `weights[:, 0]` and `weights[:, 1]`.) How would you expect the gap to the true process to
# split between the window of $p$ days (GARCH's variance depends on the whole past) and the
# Gaussian shape (the true innovations are Student-t with 5 degrees of freedom), and which
# single change to your model would you try first?

# %% [markdown]
# **Answer (written: returns_density, 2 points):**
# ### BEGIN SOLUTION
# Almost all of it comes from the scale: GARCH returns have a constant conditional mean
# (0), so the mean weights stay near zero and the mean part cannot help, while the weights
# of the scale on the recent $|x_{t-j}|$ are all positive, largest for the last days — a
# large move yesterday predicts a large σ today. The single Gaussian's σ is too large in calm weeks
# and too small in wild ones; the plot shows your σ_t following the true volatility. The
# rest of the gap: the window truncates GARCH's geometrically decaying memory
# (persistence α + β = 0.97, so bursts last tens of days: p = 10 misses part of it, and a
# longer window or a recurrent variance term would recover it), and the Gaussian shape
# misprices the heavy tails — large returns get too little density and moderate ones too
# much. The lecture measured the second effect: a Student-t head beat a Gaussian head by
# a few hundredths of a nat. I would try the Student-t head first (one extra raw number
# for ν), since its gain does not depend on the window.
# ### END SOLUTION


# %%
def fit_returns_model(train_series, p, seed=0):
    """Maximum-likelihood weights of the model above on one training series.

    Args:
        train_series: (T,) float returns.
        p: the window length.
        seed: seeds the initial weights.
    Returns:
        (2p + 1, 2) weights, detached.
    """
    ### BEGIN SOLUTION
    # HINT: small random initial weights that require grad; a few hundred full-batch Adam steps on the mean of normal_nll over the series' steps p..T-1
    torch.manual_seed(seed)
    weights = (0.01 * torch.randn(2 * p + 1, 2)).requires_grad_()
    optimiser = torch.optim.Adam([weights], lr=0.05)
    for _ in range(300):
        mu, sigma = forecast_returns(train_series, weights, p)
        loss = normal_nll(train_series[p:], mu, sigma).mean()
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    return weights.detach()
    ### END SOLUTION


# %% [markdown]
# Train on 5,000 days, test on 5,000 others; compare with the best single Gaussian, with
# the lecture's constant-variance view, and with the true process (the best any model can do):

# %%
process = GarchProcess()  # omega=0.05, alpha=0.08, beta=0.89, df=5
train_days, test_days = process.sample(5000, seed=0), process.sample(5000, seed=1)
P = 10
weights = fit_returns_model(train_days.values, P, seed=0)
mu, sigma = forecast_returns(test_days.values, weights, P)
target = torch.as_tensor(test_days.values[P:])  # (4990,): the days with a full window
table = {
    "one Gaussian (training mean and std)": float(normal_nll(target, train_days.values.mean(),
                                                             train_days.values.std()).mean()),
    f"yours: linear mean and scale from {P} days": float(normal_nll(target, mu, sigma).mean()),
    "true process (GARCH, Student-t)": float(process.conditional_nll(test_days)[P:].mean()),
}
for name, value in table.items():
    print(f"{value:.4f} nats/day  {name}")
baseline, yours, true = table.values()
assert yours < baseline - 0.03 and true < yours

fig, ax = plt.subplots(figsize=(10, 3))
days = slice(0, 800)
ax.plot(target[days].abs(), lw=0.5, color="0.7", label="|x_t|")
ax.plot(test_days.volatility[P:][days], "r", lw=1, label="true σ_t")
ax.plot(sigma[days].detach(), "b", lw=1, label="your σ_t")
ax.axhline(float(train_days.values.std()), color="k", ls="--", label="one Gaussian's σ")
ax.set(xlabel="held-out day", ylabel="return (%)", title="predicted scale against the true volatility")
ax.legend(fontsize=8)
plt.show()

# %% [markdown]
# ## 5. Stretch, an experiment: exposure bias on a source whose truth is known
#
# A model trained with teacher forcing is only ever scored on *true* prefixes; when it
# generates, it conditions on its *own* earlier tokens, which come from a different
# distribution. On a Markov chain we can measure the difference exactly. Take a true
# source, transition matrix $P$ (row $i$: the distribution of the next state after $i$),
# a model $Q$ of it, and a start distribution. The model's error at state $i$ is
# $\mathrm{KL}(P(\cdot \mid i)\,\|\,Q(\cdot \mid i))$. Its expected error at step $t$ is
# that KL averaged over the state before step $t$ — the state reached by the *true* chain
# (teacher forcing) or by the *model's* chain (free running):
# $$e_{\text{TF}}(t) = \mathbb E_{x_{t-1} \sim \text{start}\,P^{t-1}}\,\mathrm{KL}_{x_{t-1}}, \qquad
#   e_{\text{FR}}(t) = \mathbb E_{x_{t-1} \sim \text{start}\,Q^{t-1}}\,\mathrm{KL}_{x_{t-1}}.$$
# `exposure_bias` *measures* both by sampling: run `n_samples` chains of each kind from
# the start distribution with one seeded generator and average the per-state KL over them
# at each step $t = 1, \dots, n$ (the KL of each state you may compute from the matrices).
# The grader compares your curves with the exact ones (matrix powers) within five
# standard errors, on two sources and models the notebook does not use.

# %%
def exposure_bias(P, Q, start, n_steps, n_samples, seed=0):
    """Measured expected KL(P || Q) per step on the true chain's and on the model's states.

    Args:
        P, Q: (V, V) row-stochastic transition matrices of the source and of the model (Q > 0).
        start: (V,) the distribution of the first state x_0.
        n_steps: the steps t = 1..n_steps measured.
        n_samples: chains of each kind.
        seed: seeds the one torch.Generator for every draw.
    Returns:
        (teacher_forced, free_running): two (n_steps,) tensors.
    """
    ### BEGIN SOLUTION
    # HINT: the per-state KL is a (V,) vector (mind 0 log 0 = 0); walk each kind of chain step by step, averaging that vector at the current states
    gen = torch.Generator().manual_seed(seed)
    kl = torch.where(P > 0, P * (P.clamp(min=1e-300).log() - Q.log()), torch.zeros_like(P)).sum(-1)  # (V,)
    curves = []
    for chain in (P, Q):
        x = torch.multinomial(start, n_samples, replacement=True, generator=gen)  # (N,) states x_0
        errors = []
        for _ in range(n_steps):
            errors.append(kl[x].mean())
            x = torch.multinomial(chain[x], 1, generator=gen)[:, 0]  # (N,) the next states
        curves.append(torch.stack(errors))
    return curves[0], curves[1]
    ### END SOLUTION


# %% [markdown]
# A source with four states and a model that got one row wrong: after state 3 it prefers
# to stay at 3, where its error is largest. On true prefixes the model rarely visits state
# 3; generating on its own it drifts there. The exact curves come from matrix powers.

# %%
P_true = torch.tensor([[0.1, 0.6, 0.2, 0.1],
                       [0.3, 0.1, 0.5, 0.1],
                       [0.4, 0.3, 0.1, 0.2],
                       [0.5, 0.2, 0.2, 0.1]], dtype=torch.float64)
Q_model = P_true.clone()
Q_model[3] = torch.tensor([0.15, 0.1, 0.1, 0.65], dtype=torch.float64)  # sticky where it errs
start = torch.tensor([1.0, 0.0, 0.0, 0.0], dtype=torch.float64)
teacher, free = exposure_bias(P_true, Q_model, start, 12, 4000, seed=0)  # (12,), (12,)
kl_state = (P_true * (P_true.log() - Q_model.log())).sum(-1)  # (4,): every P > 0 here
exact = {"teacher forcing": [], "free running": []}
for name, chain in (("teacher forcing", P_true), ("free running", Q_model)):
    state = start.clone()
    for _ in range(12):
        exact[name].append(float(state @ kl_state))
        state = state @ chain
assert torch.allclose(teacher, torch.tensor(exact["teacher forcing"], dtype=teacher.dtype), atol=0.03)
assert torch.allclose(free, torch.tensor(exact["free running"], dtype=free.dtype), atol=0.03)
print(f"step 12: teacher-forced error {teacher[-1]:.3f} nats, free-running {free[-1]:.3f} nats "
      f"(exact {exact['teacher forcing'][-1]:.3f}, {exact['free running'][-1]:.3f})")

fig, ax = plt.subplots(figsize=(6, 3))
steps = range(1, 13)
for name, measured in (("teacher forcing", teacher), ("free running", free)):
    ax.plot(steps, measured, "o", label=f"{name}, measured")
    ax.plot(steps, exact[name], "-", color="0.4")
ax.set(xlabel="step t", ylabel="E KL(P || Q) at step t (nats)", title="exposure bias on a known Markov source")
ax.legend(fontsize=8)
plt.show()
