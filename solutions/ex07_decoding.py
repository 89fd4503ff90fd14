# ---
# jupyter:
#   arcourse:
#     exercise: ex07
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
# # Exercise 07 — decoding: processors, a sampler, beam search with an end token, and what temperature does
#
# *Grading runs your imports, functions, classes and simple constants (such as `LN2 = math.log(2)`), not the other cells; its report lists what it skipped.*
#
# Lecture 07 turned a model's next-token logits into text with small processors, each a
# function from logits `(B, V)` to logits `(B, V)` that returns a new tensor and leaves its
# input alone, and compared beam search with an exhaustive search. Here you build the
# pieces yourself, in three tiers:
#
# * **warm-up** — `apply_temperature` and `top_k_filter` (exactly $k$ tokens, ties to the lowest ids);
# * **core** — variants the lecture did not write out: `top_p_filter` with a
#   `min_tokens_to_keep` floor; `sample_continuations`, a sampler that composes your
#   processors and must draw from exactly the distribution they define; and `beam_search`
#   **with an end-of-sequence token and length normalisation**, as section 5 of the lecture
#   described it;
# * **stretch** — an experiment: `entropy_sweep` measures, by sampling, how the entropy of
#   the decoded distribution grows with the temperature.
#
# Two written questions (marked by a person) ask you to analyse the cost of each decoding
# strategy from a table you measure, and to interpret your temperature plot.
#
# Check your work with `arcourse grade exercises/ex07_decoding.py`. The grader tries random
# logits, ties, $-\infty$ and huge values; compares your samples with the exact distribution
# of small random models by a chi-square test (a different model per case); compares your
# beam search with a brute-force search over every sequence; and compares your measured
# entropies with the exact ones.

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
import time

import matplotlib.pyplot as plt
import torch

from arcourse import chi_square_test
from arcourse.decoding import Temperature, TopK, exhaustive_search, generate
from arcourse.models import CharRNN, CharRNNConfig

torch.set_num_threads(1)  # tiny models: threads cost more than they save


def peaked_tiny_model(seed: int, vocab_size: int = 4, cell: str = "gru") -> CharRNN:
    """A small random character RNN whose next-token distributions are far from uniform."""
    torch.manual_seed(seed)
    model = CharRNN(CharRNNConfig.tiny(vocab_size=vocab_size, cell=cell)).eval()
    with torch.no_grad():
        model.head.weight.mul_(8)
    return model


def exact_continuation_probs(model, prompt, n_new, temperature=1.0, top_k=None):
    """Every continuation of n_new tokens, and its probability when each token is drawn from
    softmax(top_k(logits / temperature)): the distribution a correct sampler draws from.
    Written with the library's processors, to test yours against. ((V ** n, n), (V ** n,))"""
    V = model.config.vocab_size
    new = torch.tensor(list(itertools.product(range(V), repeat=n_new)))        # (M, n)
    seqs = torch.cat([prompt.expand(len(new), -1), new], dim=1)                 # (M, T + n)
    with torch.no_grad():
        logits = model(seqs[:, :-1])[:, len(prompt) - 1:]                       # (M, n, V)
    logits = Temperature(temperature)(logits.reshape(-1, V))
    if top_k is not None:
        logits = TopK(top_k)(logits)
    log_q = logits.double().log_softmax(-1).view(len(new), n_new, V)            # (M, n, V)
    return new, log_q.gather(-1, new[..., None])[..., 0].sum(-1).exp()          # (M, n), (M,)


# %% [markdown]
# ## 1. Warm-up: temperature
# Dividing the logits by $\tau$ gives $p_\tau \propto p^{1/\tau}$. Raise `ValueError`
# (naming the argument) when `temperature <= 0`: neither zero nor a negative number gives a
# distribution that flattens or sharpens the model's.

# %%
def apply_temperature(logits: torch.Tensor, temperature: float) -> torch.Tensor:
    """Logits (B, V) divided by `temperature` > 0, as a new tensor."""
    ### BEGIN SOLUTION
    # HINT: validate first (ValueError naming the argument); then one arithmetic operation
    if not temperature > 0:
        raise ValueError(f"temperature must be > 0, got temperature={temperature}")
    return logits / temperature
    ### END SOLUTION


# %%
logits = torch.tensor([[2.0, 1.0, 0.0]])
torch.testing.assert_close(apply_temperature(logits, 0.5), torch.tensor([[4.0, 2.0, 0.0]]))
print(apply_temperature(logits, 2.0).softmax(-1))  # flatter than logits.softmax(-1)


# %% [markdown]
# ## 2. Warm-up: top-k, exactly k
# Keep the $k$ largest logits of each row and give the others $-\infty$. When several tokens
# tie with the $k$-th, keep the ones with the lowest ids, so that exactly $\min(k, V)$
# tokens survive (Hugging Face keeps every tied token instead). A *stable* sort keeps tied
# values in the order of their ids; `Tensor.scatter` writes a decision made in sorted order
# back to the original positions.

# %%
def top_k_filter(logits: torch.Tensor, k: int) -> torch.Tensor:
    """Keep the k largest logits of each row of (B, V) (ties: lowest ids), set the rest to -inf.
    k >= V keeps everything."""
    ### BEGIN SOLUTION
    # HINT: order each row with a stable descending sort; the first k positions of that order are kept
    k = min(k, logits.shape[-1])
    order = logits.argsort(dim=-1, descending=True, stable=True)  # (B, V)
    keep = torch.zeros_like(logits, dtype=torch.bool).scatter(-1, order[:, :k], True)
    return logits.masked_fill(~keep, float("-inf"))
    ### END SOLUTION


# %%
logits = torch.tensor([[1.0, 3.0, 3.0, 3.0, 0.0]])
assert torch.equal(top_k_filter(logits, 2), torch.tensor([[-torch.inf, 3.0, 3.0, -torch.inf, -torch.inf]]))
assert torch.equal(top_k_filter(logits, 9), logits)


# %% [markdown]
# ## 3. Core: top-p with a floor, `min_tokens_to_keep`
# Top-p keeps the smallest set of most probable tokens whose mass is $\ge p$: in order of
# decreasing probability (ties: lower id first), token $i$ is kept exactly when the mass of
# the tokens *before* it is $< p$. Where the model is very sure, that set is a single token,
# and a sampler can then only repeat the model's favourite. Hugging Face's
# `TopPLogitsWarper` therefore takes a floor, `min_tokens_to_keep`: the
# `min_tokens_to_keep` most probable tokens are kept whatever their mass (all of them when
# the row has fewer). `p = 1` keeps every token, even when rounding makes the running mass
# reach 1 before the last one.
#
# Which rank does each token have in its row, and what mass comes before it? Compute both
# in sorted order, decide there, and map the decision back.

# %%
def top_p_filter(logits: torch.Tensor, p: float, min_tokens_to_keep: int = 1) -> torch.Tensor:
    """Keep, in each row of (B, V), the smallest set of most probable tokens with mass >= p
    (0 < p <= 1), and at least the `min_tokens_to_keep` most probable ones; set the rest to -inf."""
    ### BEGIN SOLUTION
    # HINT: a token's rank and the mass before it, both in sorted order; kept if either rule keeps it; map back
    sorted_logits, order = logits.sort(dim=-1, descending=True, stable=True)  # (B, V)
    probs = sorted_logits.double().softmax(dim=-1)
    mass_before = probs.cumsum(dim=-1) - probs
    rank = torch.arange(logits.shape[-1], device=logits.device)  # (V,)
    drop_sorted = (mass_before >= p) & (p < 1)  # p = 1 keeps everything, even a rounded-off tail
    drop_sorted &= rank >= min_tokens_to_keep
    drop = torch.zeros_like(drop_sorted).scatter(-1, order, drop_sorted)
    return logits.masked_fill(drop, float("-inf"))
    ### END SOLUTION


# %%
probs = torch.tensor([[0.5, 0.3, 0.15, 0.05]])
assert top_p_filter(probs.log(), 0.5).isfinite().tolist() == [[True, False, False, False]]
assert top_p_filter(probs.log(), 0.51).isfinite().tolist() == [[True, True, False, False]]
assert top_p_filter(probs.log(), 0.9).isfinite().tolist() == [[True, True, True, False]]
sure = torch.tensor([[0.97, 0.005, 0.015, 0.01]]).log()
assert top_p_filter(sure, 0.9).isfinite().sum() == 1
assert top_p_filter(sure, 0.9, min_tokens_to_keep=3).isfinite().tolist() == [[True, False, True, True]]


# %% [markdown]
# ## 4. Core: a sampler that draws from exactly what the processors define
# `sample_continuations` draws `n_samples` continuations of `n_new` tokens after `prompt`:
# at each step, the model's last-position logits go through **your** `apply_temperature` and,
# when `top_k` is given, **your** `top_k_filter`, and the next token is a categorical draw
# from the softmax of the result. Every random draw uses one `torch.Generator` seeded with
# `seed`, so the same seed gives the same samples and another seed other ones. Call the
# model under `torch.no_grad()`; all `n_samples` rows go through it as one batch.
#
# The grader enumerates every continuation of small random models, computes its exact
# probability under the processed conditionals (as `exact_continuation_probs` in the setup
# cell does), and runs a chi-square test on your samples: a sampler that ignores the model,
# the temperature or the filter, or takes the argmax, fails.

# %%
def sample_continuations(model: torch.nn.Module, prompt: torch.Tensor, n_new: int, n_samples: int,
                         temperature: float = 1.0, top_k: int | None = None, seed: int = 0) -> torch.Tensor:
    """Draw n_samples continuations of n_new tokens after prompt.

    Args:
        model: model(idx (B, T)) -> logits (B, T, V).
        prompt: (T,) int64 token ids.
        temperature, top_k: the processors applied to each step's logits (top_k None: no filter).
        seed: seeds the one torch.Generator used for every draw.
    Returns:
        (n_samples, n_new) int64, the new tokens only.
    """
    ### BEGIN SOLUTION
    # HINT: one generator for all draws; per step: last position's logits, your processors, torch.multinomial
    gen = torch.Generator().manual_seed(seed)
    seqs = prompt.expand(n_samples, -1).clone()  # (N, T)
    with torch.no_grad():
        for _ in range(n_new):
            logits = apply_temperature(model(seqs)[:, -1], temperature)  # (N, V)
            if top_k is not None:
                logits = top_k_filter(logits, top_k)
            token = torch.multinomial(logits.softmax(dim=-1), 1, generator=gen)  # (N, 1)
            seqs = torch.cat([seqs, token], dim=1)  # (N, T + s + 1)
    return seqs[:, len(prompt):]
    ### END SOLUTION


# %% [markdown]
# A chi-square test of 4,000 samples of three tokens (4³ = 64 possible continuations) at
# $\tau = 0.8$ with top-2 on a random model; the p-value must not be tiny, and the
# same seed must give the same samples:

# %%
model = peaked_tiny_model(1, vocab_size=4, cell="lstm")
prompt = torch.tensor([2])
draws = sample_continuations(model, prompt, 3, 4000, temperature=0.8, top_k=2, seed=0)  # (4000, 3)
assert draws.shape == (4000, 3)
assert torch.equal(draws, sample_continuations(model, prompt, 3, 4000, temperature=0.8, top_k=2, seed=0))
new, exact_q = exact_continuation_probs(model, prompt, 3, temperature=0.8, top_k=2)  # (64, 3), (64,)
counts = torch.bincount((draws * 4 ** torch.arange(2, -1, -1)).sum(1), minlength=64)
_, p_value = chi_square_test(counts, exact_q)
print(f"chi-square p-value {p_value:.3f}; {int((exact_q > 0).sum())} of 64 continuations are possible")
assert p_value > 1e-3


# %% [markdown]
# ## 5. Core: beam search with an end token and length normalisation
# As the lecture described it (section 5): keep `beam_width` **live** partial sequences with
# their summed log-probabilities. At each step, score every live beam × every token. An
# extension ending in `eos_id` is a **finished** hypothesis (its length $L$ counts the end
# token); of the other extensions, the `beam_width` best by summed log-probability stay
# live. After `max_new_tokens` steps the live beams finish too. Among all finished
# hypotheses return the one with the highest score $\log p / L^{\alpha}$, $\alpha$ =
# `length_penalty` ($\alpha = 0$: raw log-probability). With `eos_id=None` there are no
# end tokens and every continuation has exactly `max_new_tokens` tokens.
#
# Return the prompt followed by the best continuation (up to and including its end token,
# no padding) and that continuation's log-probability as a float. Call the model under
# `torch.no_grad()`. A beam wide enough to hold every live prefix is an exhaustive search:
# the check below compares yours with `arcourse.decoding.exhaustive_search`.

# %%
def beam_search(model: torch.nn.Module, prompt: torch.Tensor, max_new_tokens: int, beam_width: int,
                eos_id: int | None = None, length_penalty: float = 0.0) -> tuple[torch.Tensor, float]:
    """The best finished hypothesis a beam of `beam_width` finds.

    Args:
        model: model(idx (B, T)) -> logits (B, T, V).
        prompt: (T,) int64 token ids.
        eos_id: the end-of-sequence id, or None for continuations of exactly max_new_tokens.
        length_penalty: alpha in the score log p / L ** alpha, L the number of new tokens.
    Returns:
        (tokens (T + L,) int64, the sum of log p(token | tokens before) over the L new tokens).
    """
    ### BEGIN SOLUTION
    # HINT: two lists, live and finished; end-token extensions go to finished, the best of the rest stay live; rank finished by the score
    live = [(prompt.tolist(), 0.0)]  # (tokens, summed log p)
    finished = []
    with torch.no_grad():
        for step in range(max_new_tokens):
            seqs = torch.tensor([tokens for tokens, _ in live])  # (W, T + step)
            log_probs = model(seqs)[:, -1].log_softmax(dim=-1)  # (W, V)
            total = torch.tensor([lp for _, lp in live])[:, None] + log_probs  # (W, V)
            V = total.shape[1]
            if eos_id is not None:
                finished += [(tokens + [eos_id], float(total[w, eos_id])) for w, (tokens, _) in enumerate(live)]
                total[:, eos_id] = float("-inf")  # finished, not live
            n_keep = min(beam_width, total.shape[0] * (V - (eos_id is not None)))
            if n_keep == 0:
                break
            best = total.flatten().topk(n_keep)
            live = [(live[i // V][0] + [i % V], value) for value, i in zip(best.values.tolist(), best.indices.tolist())]
    finished += live
    n_prompt = len(prompt)
    tokens, log_prob = max(finished, key=lambda h: h[1] / (len(h[0]) - n_prompt) ** length_penalty)
    return torch.tensor(tokens), log_prob
    ### END SOLUTION


# %% [markdown]
# A check on a small random model with 4 tokens, token 0 the end token: with
# $\alpha = 1$ (the mean log-probability per token) a beam of $3^3 = 27$ holds every live
# prefix of a 4-token search, so it is exhaustive; width 1 is not, on this model.

# %%
model = peaked_tiny_model(0)
prompt = torch.tensor([1])
for alpha in (0.0, 1.0):
    exact = exhaustive_search(model, prompt, 4, length_penalty=alpha, eos_id=0)
    tokens, log_prob = beam_search(model, prompt, 4, 27, eos_id=0, length_penalty=alpha)
    assert torch.equal(tokens, exact.tokens[: len(prompt) + int(exact.length)])
    assert abs(log_prob - exact.log_prob.item()) < 1e-4
    for width in (1, 2, 27):
        tokens, log_prob = beam_search(model, prompt, 4, width, eos_id=0, length_penalty=alpha)
        print(f"alpha {alpha}, width {width:2d}: {tokens.tolist()}, log p {log_prob:.3f}, "
              f"score {log_prob / (len(tokens) - 1) ** alpha:.3f}  (exact score {exact.score.item():.3f})")
assert torch.equal(beam_search(model, prompt, 5, 1)[0], generate(model, prompt, 5, greedy=True))

# %% [markdown]
# ## 6. What each strategy costs
# A decoder's cost is, to first order, how many positions the model has to process. The
# cell below wraps a model so that it counts its calls and the rows × positions it is
# given, and runs greedy decoding, sampling 100 continuations, your beam search at three
# widths and the exhaustive search, for 5 new tokens on a 4-token model without an end
# token. (All of them re-run the model on the whole prefix at each step, as your functions
# do; `generate` uses the RNN's state instead and processes one position per row per step.)
# The times depend on the machine; the counts do not.

# %%
class CountingModel(torch.nn.Module):
    """Wraps a model; counts forward calls and the rows x positions they process."""

    def __init__(self, model):
        super().__init__()
        self.model, self.config = model, model.config
        self.calls = self.positions = 0

    def forward(self, idx):                          # (B, T) -> (B, T, V)
        self.calls += 1
        self.positions += idx.numel()
        return self.model(idx)

    def start(self, prompt):                         # the RNN's cached path, used by generate
        self.calls += 1
        self.positions += prompt.numel()
        return self.model.start(prompt)

    def step(self, token, state):
        self.calls += 1
        self.positions += token.numel()
        return self.model.step(token, state)


def cost(run):
    counted = CountingModel(peaked_tiny_model(0))
    t0 = time.perf_counter()
    run(counted)
    return counted.calls, counted.positions, 1000 * (time.perf_counter() - t0)


prompt, n_new = torch.tensor([1]), 5
strategies = {
    "greedy (generate)": lambda m: generate(m, prompt, n_new, greedy=True),
    "100 samples (yours)": lambda m: sample_continuations(m, prompt, n_new, 100, seed=0),
    "beam, width 1": lambda m: beam_search(m, prompt, n_new, 1),
    "beam, width 4": lambda m: beam_search(m, prompt, n_new, 4),
    "beam, width 16": lambda m: beam_search(m, prompt, n_new, 16),
    "exhaustive (4^5)": lambda m: exhaustive_search(m, prompt, n_new, length_penalty=0.0),
}
print(f"{'strategy':22s} {'calls':>6s} {'positions':>10s} {'ms':>8s}")
costs = {}
for name, run in strategies.items():
    costs[name] = cost(run)
    print(f"{name:22s} {costs[name][0]:6d} {costs[name][1]:10d} {costs[name][2]:8.1f}")
assert costs["beam, width 1"][1] < costs["beam, width 4"][1] < costs["beam, width 16"][1]
assert costs["exhaustive (4^5)"][1] > costs["beam, width 16"][1]

# %% [markdown]
# ### A written question: the cost of decoding
#
# From the table above and your code, give the number of positions the model processes
# for greedy decoding, for sampling $N$ continuations, for beam search of width $W$ and for
# the exhaustive search, as functions of the prompt length $T$, the number of new tokens
# $n$, the vocabulary size $V$, $W$ and $N$ (re-running the whole prefix at every step, as
# here). Check two of your formulas against the printed counts. Then say which of these
# costs a cache of the model's state (the RNN's `step`, or a transformer's KV cache) changes,
# and which it cannot change.

# %% [markdown]
# **Answer (written: decoding_cost, 3 points):**
# ### BEGIN SOLUTION
# Re-running the prefix, step $s$ ($s = 0, \dots, n-1$) processes $T + s$ positions per row,
# so one row costs $\sum_{s<n}(T+s) = nT + n(n-1)/2$ positions. Sampling $N$ continuations
# is $N$ such rows: $N\,(nT + n(n-1)/2)$, here $100 \cdot 15 = 1500$. Beam search has
# $\min(W, V^s)$ live rows at step $s$, so it costs $\sum_s \min(W, V^s)(T+s) \le
# W\,(nT + n(n-1)/2)$, linear in $W$: width 4 gives $1 + 4(2+3+4+5) = 57$, width 16
# $1 + 4 \cdot 2 + 16(3+4+5) = 201$, as printed. Greedy decoding is the width-1 case,
# 15 positions without a cache; `generate` uses the RNN's state and processes $T + n - 1 = 5$.
# The exhaustive search scores all $V^n$ sequences of $T + n - 1$ positions,
# $4^5 \cdot 5 = 5120$ (plus two one-position calls that read the vocabulary size):
# exponential in $n$, hopeless beyond toy sizes. A cache (the RNN's state, a transformer's
# KV cache) removes the re-computation of the prefix: each row then costs one new position
# per step, $T + n - 1$ instead of quadratic in $n$, for greedy decoding, sampling and beam
# search alike (beam search must copy or reorder the cached states of the beams it keeps).
# It cannot change the number of rows: $N$ for sampling, up to $W$ for beam search, and
# the $V^n$ hypotheses of the exhaustive search, whose cost grows with the number of
# hypotheses, not with the cost per hypothesis.
# ### END SOLUTION

# %% [markdown]
# ## 7. Stretch, an experiment: entropy against temperature
# How random is the decoded distribution? Its entropy per token,
# $H_\tau = -\tfrac1n\,\mathbb E_{x \sim q_\tau}\big[\log q_\tau(x_{1:n})\big]$, where
# $q_\tau(x_{1:n}) = \prod_t \mathrm{softmax}(\ell_t/\tau)[x_t]$ is the distribution your sampler
# draws from at temperature $\tau$ (no filter), can be *measured* without enumerating anything:
# draw `n_samples` continuations with your sampler and average $-\log q_\tau$ of each under
# the tempered conditionals (one batched forward pass over the samples gives every
# position's logits). Return one measurement per temperature, in nats per token.
#
# The grader checks your measurements against the exact entropies of a small model
# (enumerated) within a few standard errors, and that they rise with the temperature.

# %% [markdown]
# ### A written question: reading the temperature plot
#
# Predict first, then check against the plot that your `entropy_sweep` draws below (come
# back to this cell when it is there). Why does the entropy rise with $\tau$; what are its
# limits as $\tau \to 0$ and as $\tau \to \infty$ (and why is the second $\log V$, the
# dashed line of the right panel)? Relate the curve to the left panel: what happens to the
# samples at both ends? Finally, the measured points are averages of $-\log q_\tau$ over
# 2,000 samples: how would you put an error bar on each, and why is the error bar of a
# Monte-Carlo entropy estimate zero at $\tau \to 0$?

# %% [markdown]
# **Answer (written: temperature_plot, 2 points):**
# ### BEGIN SOLUTION
# Dividing the logits by $\tau$ raises every probability to the power $1/\tau$ before
# renormalising: $\tau < 1$ moves mass towards each step's most probable token, $\tau > 1$
# spreads it out, and the entropy of each conditional grows with $\tau$ (for a single
# softmax, $dH/d\tau = \mathrm{Var}_{p_\tau}[\ell]/\tau^3 \ge 0$). As $\tau \to 0$ each
# conditional becomes a point mass on its argmax, so the continuation is the greedy one and
# the entropy tends to 0 (the left panel: at τ = 0.5 almost all samples are a few top
# continuations). As $\tau \to \infty$ all logits divided by $\tau$ tend to 0, each
# conditional tends to the uniform distribution, and the entropy per token tends to its
# maximum $\log V$ (the left panel at τ = 4: the frequencies are almost flat and no longer
# follow the model's ranking — the samples ignore the model). An error bar: the sample
# standard deviation of $-\log q_\tau(x)/n$ over the $N$ samples divided by $\sqrt N$ (the
# grader uses the exact variance); at $\tau \to 0$ every sample is the same sequence with
# $q_\tau = 1$, so $-\log q_\tau = 0$ for every sample and the variance vanishes.
# ### END SOLUTION

# %%
def entropy_sweep(model: torch.nn.Module, prompt: torch.Tensor, n_new: int, temperatures: list[float],
                  n_samples: int, seed: int = 0) -> list[float]:
    """The measured entropy of the tempered continuation distribution, per temperature.

    Args:
        model: model(idx (B, T)) -> logits (B, T, V).
        prompt: (T,) int64 token ids.
        temperatures: the temperatures to measure at.
        n_samples: continuations sampled per temperature (with `sample_continuations`, seed `seed`).
    Returns:
        one float per temperature: mean over the samples of -log q_tau(continuation) / n_new.
    """
    ### BEGIN SOLUTION
    # HINT: sample at tau; one forward pass over prompt + samples; the logits that predicted each new token, tempered, log_softmax, gather
    entropies = []
    for tau in temperatures:
        new = sample_continuations(model, prompt, n_new, n_samples, temperature=tau, seed=seed)  # (N, n)
        seqs = torch.cat([prompt.expand(n_samples, -1), new], dim=1)  # (N, T + n)
        with torch.no_grad():
            logits = model(seqs[:, :-1])[:, len(prompt) - 1:]  # (N, n, V): the logits that predicted each new token
        log_q = apply_temperature(logits, tau).log_softmax(dim=-1)  # (N, n, V)
        picked = log_q.gather(-1, new[..., None])[..., 0]  # (N, n)
        entropies.append(float(-picked.sum(dim=1).mean() / n_new))
    return entropies
    ### END SOLUTION


# %% [markdown]
# The sweep on a random 4-token model, three new tokens, 2,000 samples per temperature,
# against the exact entropies (enumerated over all 64 continuations). The left panel shows
# what the samples look like: the frequency of each continuation at three temperatures,
# continuations sorted by their probability at $\tau = 1$.

# %%
model = peaked_tiny_model(2)
prompt = torch.tensor([3])
taus = [0.25, 0.5, 1.0, 2.0, 4.0]
measured = entropy_sweep(model, prompt, 3, taus, 2000, seed=0)
exact_h = []
for tau in taus:
    _, q = exact_continuation_probs(model, prompt, 3, temperature=tau)
    q = q[q > 0]
    exact_h.append(float(-(q * q.log()).sum() / 3))
for tau, m, e in zip(taus, measured, exact_h):
    print(f"tau {tau:4}: measured {m:.3f} nats/token, exact {e:.3f}")
assert all(abs(m - e) < 0.05 for m, e in zip(measured, exact_h))
assert all(a < b for a, b in zip(measured, measured[1:])), "entropy should rise with the temperature"

new, q_one = exact_continuation_probs(model, prompt, 3)
by_prob = q_one.argsort(descending=True)
index = {tuple(row): i for i, row in enumerate(new.tolist())}
fig, ax = plt.subplots(1, 2, figsize=(11, 3.5))
for tau in (0.5, 1.0, 4.0):
    draws = sample_continuations(model, prompt, 3, 2000, temperature=tau, seed=1)
    freq = torch.bincount(torch.tensor([index[tuple(r)] for r in draws.tolist()]), minlength=len(new)) / 2000
    ax[0].plot(freq[by_prob].numpy(), ".-", label=f"τ = {tau}")
ax[0].set_xlabel("continuation, most probable at τ = 1 first")
ax[0].set_ylabel("frequency in 2,000 samples")
ax[0].legend()
ax[1].semilogx(taus, measured, "o", label="measured (your sweep)")
ax[1].semilogx(taus, exact_h, "-", label="exact")
ax[1].axhline(math.log(4), color="k", ls="--", label="log V (uniform)")
ax[1].set_xlabel("temperature τ")
ax[1].set_ylabel("entropy, nats per token")
ax[1].legend()
plt.show()

# %% [markdown]
# ## Summary
# You wrote the processors the lecture used (temperature, exact top-k), a top-p with a
# floor, a sampler whose samples the chi-square test ties to the exact distribution, a beam
# search with an end token and length normalisation that matches the exhaustive search
# when it is wide enough, and measured how temperature sets the entropy of what is decoded.
