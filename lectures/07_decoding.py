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
# # Lecture 07 — Decoding: from a next-token distribution to text
#
# A trained autoregressive model gives, for every prefix, a distribution over the next token,
# $p_\theta(x_t \mid x_{<t})$. The chain rule turns these into a distribution over whole
# sequences, $p_\theta(x_{1:n}) = \prod_t p_\theta(x_t \mid x_{<t})$, and **decoding** is the
# choice of how to walk it:
#
# | strategy | next token | guarantee we check |
# |---|---|---|
# | ancestral sampling | $x_t \sim p_\theta(\cdot \mid x_{<t})$ | samples $p_\theta(x_{1:n})$ exactly |
# | greedy | $\arg\max_x p_\theta(x \mid x_{<t})$ | what temperature $\tau \to 0$ becomes |
# | temperature $\tau$ | $p_\tau \propto p_\theta^{1/\tau}$ | $\tau = 1$ is the model, $\tau \to 0$ greedy |
# | top-$k$ | renormalise over the $k$ most probable | keeps exactly $k$ tokens |
# | top-$p$ (nucleus) | renormalise over the smallest set with mass $\ge p$ | that set, no larger |
# | beam search | keep the $W$ best partial sequences by $\sum_t \log p$ | $\ge$ greedy here; exact when wide |
#
# Each is a small **logits processor** — a function from logits `(B, V)` to logits `(B, V)` —
# applied in a list before the token is chosen, as in Hugging Face's `generate()`. We build
# the sampler and temperature ourselves, check the library's processors against their
# definitions, compare beam search with an exhaustive search, and then measure what the
# strategies do to a trained character model: how likely its names are, against how varied.

# %% tags=["arcourse-setup", "remove-cell"]
# Colab / JupyterHub: installs the course when this kernel does not have it (nothing happens where it does).
try:
    import arcourse
except ImportError:
    print("arcourse is not installed here: installing v0.1.0 with pip, about a minute ...")
    get_ipython().run_line_magic("pip", "install -q 'arcourse[widgets] @ git+https://github.com/arcourse/arcourse@v0.1.0'")  # %pip install ...
    import arcourse

# %% tags=["browser"]
import itertools
import math
from collections import Counter

import matplotlib.pyplot as plt
import numpy as np
import scipy.stats
import torch

from arcourse import chi_square_test, evaluate, get_device, load_checkpoint, make_generator, seed_everything
from arcourse.data import CharTokenizer, NameBatches, load_names, split_dataset
from arcourse.decoding import (
    MinP,
    RepetitionPenalty,
    Temperature,
    TopK,
    TopP,
    apply_processors,
    beam_search,
    exhaustive_search,
    generate,
    length_normalised,
    next_token_logits,
    sample_tokens,
    sequence_log_probs,
)
from arcourse.models import BigramConfig, BigramLM, CharRNN, CharRNNConfig
from arcourse.widgets import DecodingPanel

device = get_device()
if device.type == "cpu":
    # small models: splitting each little product across CPU threads costs more in
    # synchronisation than it saves (as in lecture 03)
    torch.set_num_threads(1)
seed_everything(0)
print("device:", device)

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 1. A trained model to decode
# The character LSTM of lecture 03, trained on the 5,163 census first names by
# `scripts/make_decoding_checkpoint.py` (1,500 steps of AdamW, about a minute on a CPU: three
# times lecture 03's 500, so its loss, printed below on the validation names, is not lecture
# 03's test figure). A checkpoint is a
# plain dict (`asdict(config)` and `state_dict`), loaded with `weights_only=True`. Before
# decoding from it, check that it learned something: its validation loss must beat a bigram
# table counted from the same training names.

# %% tags=["browser"]
shipped = load_checkpoint("decoding_char_rnn")
checkpoint = shipped.extras  # what the script recorded: tokenizer, split seed, validation NLL
tok = CharTokenizer.from_state_dict(checkpoint["tokenizer"])
model = shipped.model.to(device)
V, BOUNDARY = tok.vocab_size, tok.boundary_id

names = load_names("first")
train_names, val_names, test_names = split_dataset(names, (0.8, 0.1, 0.1), seed=checkpoint["split_seed"])
val_nll = evaluate(model, NameBatches(val_names, tok, batch_size=512, shuffle=False))

bigram = BigramLM(BigramConfig(V, alpha=1.0)).fit(NameBatches(train_names, tok, batch_size=512, shuffle=False))
bigram_nll = evaluate(bigram, NameBatches(val_names, tok, batch_size=512, shuffle=False))  # add-one smoothed
print(f"validation NLL: LSTM {val_nll:.3f} nats/char, bigram {bigram_nll:.3f}, uniform {math.log(V):.3f}")
assert abs(val_nll - checkpoint["val_nll"]) < 1e-4, "the checkpoint is not the model its script measured"
assert val_nll < bigram_nll - 0.2, "the checkpoint should beat the bigram baseline clearly"

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 2. Ancestral sampling and greedy decoding, by hand
# Start from the boundary token `.`, ask the model for the next-token logits, choose a token,
# append it, repeat until the model emits the boundary again. Choosing is the only thing that
# differs between strategies: `torch.multinomial` on the softmax draws from the model,
# `argmax` takes its favourite.

# %%
def decode_by_hand(model, n, max_len, choose):
    """n names from the model; `choose(logits (n, V)) -> (n,)` picks each next token."""
    seq = torch.full((n, 1), BOUNDARY, dtype=torch.long, device=device)  # (n, 1)
    done = torch.zeros(n, dtype=torch.bool, device=device)
    with torch.no_grad():
        for _ in range(max_len):
            logits = model(seq)[:, -1]  # (n, V): recompute the whole prefix, simple and slow
            token = choose(logits).masked_fill(done, BOUNDARY)  # finished rows stay finished
            done |= token == BOUNDARY
            seq = torch.cat([seq, token[:, None]], dim=1)  # (n, t + 1)
            if done.all():
                break
    return seq


gen = make_generator(0, device)
by_hand = decode_by_hand(model, 8, 20, lambda logits: torch.multinomial(logits.softmax(-1), 1, generator=gen)[:, 0])
print("sampled:", [tok.decode(row.tolist()) for row in by_hand])
greedy_by_hand = decode_by_hand(model, 1, 20, lambda logits: logits.argmax(-1))
print("greedy: ", tok.decode(greedy_by_hand[0].tolist()))

# %% [markdown]
# The library's `generate` does the same, but reads the prompt once and then feeds one token
# at a time through the LSTM's state (`model.start` / `model.step`), so each step costs O(1)
# instead of O(t). Same seed, same names:

# %%
library = generate(model, torch.full((8, 1), BOUNDARY, device=device), 20, eos_id=BOUNDARY,
                   generator=make_generator(0, device))
assert torch.equal(library, by_hand)
assert torch.equal(generate(model, [BOUNDARY], 20, greedy=True, eos_id=BOUNDARY), greedy_by_hand[0])
print("generate() agrees with the loop above")

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Guarantee: ancestral sampling draws from $p_\theta$ exactly
# If each token is drawn from its conditional, a sequence appears with the probability the
# chain rule gives it. Whole names are too many to test directly (thousands of plausible
# names, each with a small probability), so we test the first two characters of 20,000 sampled names
# against $p_\theta(x_1)\,p_\theta(x_2 \mid x_1)$, computed for all $V^2$ pairs at once, with a
# chi-square test (fixed seed; pairs expected fewer than 5 times are pooled). The p-value
# must not be tiny.

# %%
N = 20_000
samples = generate(model, torch.full((N, 1), BOUNDARY, device=device), 2, eos_id=BOUNDARY,
                   generator=make_generator(1, device))  # (N, 3): the boundary and two tokens
with torch.no_grad():
    pairs_in = torch.stack([torch.full((V,), BOUNDARY), torch.arange(V)], dim=1).to(device)  # (V, 2)
    log_p = model(pairs_in).log_softmax(-1).cpu().double()  # (V, 2, V)
pair_p = (log_p[0, 0][:, None] + log_p[:, 1]).exp()  # (V, V): p(x1) p(x2 | x1)
pair_p[BOUNDARY] = 0.0  # a name that ends at once is padded with the boundary: p(eos) p(eos | eos) = p(eos)
pair_p[BOUNDARY, BOUNDARY] = log_p[0, 0, BOUNDARY].exp()
torch.testing.assert_close(pair_p.sum(), torch.tensor(1.0, dtype=torch.float64))
observed = torch.bincount(samples[:, 1] * V + samples[:, 2], minlength=V * V).cpu().double()
expected = N * pair_p.flatten()
big = expected >= 5
statistic, p_value = chi_square_test(observed, pair_p.flatten())  # pools the cells expected < 5 times
pooled_observed = torch.cat([observed[big], observed[~big].sum()[None]])
pooled_expected = torch.cat([expected[big], expected[~big].sum()[None]])
pooled_expected *= N / pooled_expected.sum()  # SciPy wants equal totals to 1e-8; pair_p sums to 1 within 1e-7
reference = scipy.stats.chisquare(pooled_observed.numpy(), pooled_expected.numpy())
assert math.isclose(p_value, reference.pvalue, rel_tol=1e-6, abs_tol=1e-12)  # SciPy agrees
print(f"chi-square over {int(big.sum())} pairs + the pooled rest: p = {p_value:.3f}")
assert p_value > 1e-3


# %%
top = expected.argsort(descending=True)[:15]  # chosen by the model, not by the sample
fig, ax = plt.subplots(figsize=(9, 3))
x = np.arange(len(top))
ax.bar(x - 0.2, observed[top] / N, width=0.4, label="frequency in 20,000 samples")
ax.bar(x + 0.2, pair_p.flatten()[top], width=0.4, label=r"$p_\theta(x_1)\,p_\theta(x_2 \mid x_1)$")
ax.set_xticks(x, [tok.decode([int(i) // V, int(i) % V]) or "⏎" for i in top])
ax.set_ylabel("probability")
ax.set_title("the first two letters of a name")
ax.legend()
plt.show()

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 3. Temperature
# Dividing the logits by $\tau$ raises every probability to the power $1/\tau$ before
# renormalising: $p_\tau(x) = p(x)^{1/\tau} / \sum_y p(y)^{1/\tau}$. $\tau = 1$ is the model,
# $\tau > 1$ flattens it towards uniform, $\tau < 1$ sharpens it towards its argmax.

# %%
def scale_logits(logits, tau):
    """Logits (B, V) for p ** (1 / tau), renormalised by the softmax that follows."""
    return logits / tau


first = next_token_logits(model, [BOUNDARY])[None]  # (1, V): the first letter of a name
p = first.softmax(-1)
for tau in (0.5, 2.0):
    by_power = p ** (1 / tau) / (p ** (1 / tau)).sum()
    torch.testing.assert_close(scale_logits(first, tau).softmax(-1), by_power)
    torch.testing.assert_close(Temperature(tau)(first), scale_logits(first, tau))

fig, ax = plt.subplots(figsize=(9, 3))
for tau, width, offset in ((0.5, 0.25, -0.25), (1.0, 0.25, 0.0), (2.0, 0.25, 0.25)):
    ax.bar(np.arange(V) + offset, scale_logits(first, tau).softmax(-1)[0].cpu(), width=width, label=f"τ = {tau}")
ax.set_xticks(np.arange(V), ["⏎" if i == BOUNDARY else tok.itos[i] for i in range(V)])
ax.set_xlabel("first letter (⏎ = empty name)")
ax.set_ylabel("probability")
ax.set_title("the first letter of a name at three temperatures")
ax.legend()
plt.show()

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Guarantee: $\tau \to 0$ is greedy decoding
# If the best token beats the runner-up by a logit gap $\delta$, the runner-up keeps at most
# $e^{-\delta/\tau}$ of the best one's probability, which vanishes as $\tau \to 0$. So a cold
# enough sampler *is* the greedy decoder. We start a name with each of the 26 letters, decode
# greedily, and sample at falling temperatures: the fraction of rows that match greedy climbs
# to 1.

# %% [markdown]
# *Predict before you run:* at $\tau = 1$, on how many of the 26 rows will a sample match the
# greedy name: most of them, or few? And at which temperature will all 26 match? The next
# cell prints the fraction per temperature and asserts the end point.

# %%
prompts = torch.tensor([[BOUNDARY, tok.stoi[c]] for c in "abcdefghijklmnopqrstuvwxyz"], device=device)
greedy = generate(model, prompts, 20, greedy=True, eos_id=BOUNDARY)
taus = [1.0, 0.5, 0.3, 0.2, 0.1, 0.05, 0.02, 0.01]
match = []
for tau in taus:
    cold = generate(model, prompts, 20, processors=[Temperature(tau)], eos_id=BOUNDARY,
                    generator=make_generator(2, device))
    same = [tok.decode(a.tolist()) == tok.decode(b.tolist()) for a, b in zip(cold, greedy)]  # up to eos padding
    match.append(float(np.mean(same)))
print(dict(zip(taus, match)))
assert match[-1] == 1.0, "at tau = 0.01 sampling must reproduce greedy decoding"


# %%
# the bound behind it, on each prompt's next token: 1 - p_tau(best) <= (V - 1) exp(-gap / tau)
logits = next_token_logits(model, prompts).cpu().double()  # (26, V)
best_two = logits.topk(2, dim=-1).values
gap = best_two[:, 0] - best_two[:, 1]
for tau in taus:
    miss = 1 - Temperature(tau)(logits).softmax(-1).max(-1).values
    assert (miss <= (V - 1) * torch.exp(-gap / tau) + 1e-12).all()
print(f"smallest gap between the two best logits: {gap.min():.2f}")

plt.figure(figsize=(5, 3))
plt.semilogx(taus, match, "o-")
plt.xlabel("temperature τ")
plt.ylabel("fraction of names = greedy")
plt.show()

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 4. Truncation: top-k, top-p, min-p
# Truncation removes the unreliable tail: each of the many unlikely tokens is rarely
# chosen, but together they are chosen often (the cell below prints how much mass the
# tokens below 2 % carry together), and one bad character spoils a name.
# * **top-k** keeps the $k$ largest logits. Ties with the $k$-th are broken towards the lower
#   token id, so it keeps *exactly* $k$ tokens (Hugging Face keeps every tied token instead).
# * **top-p** (nucleus, Holtzman et al. 2020) keeps the smallest set of most probable tokens
#   whose mass reaches $p$, so it keeps few tokens where the model is sure and many where it is not.
# * **min-p** keeps the tokens with at least $p$ times the probability of the best one.
#
# You implement top-k and top-p in the exercise; here we check the library's versions against
# their definitions on every next-token distribution of the validation names.

# %%
val_ids = [tok.encode(name, add_boundary=True) for name in val_names]
prefixes = [ids[:t] for ids in val_ids for t in range(1, len(ids))]
longest = max(len(p) for p in prefixes)
with torch.no_grad():
    padded = torch.tensor([p + [BOUNDARY] * (longest - len(p)) for p in prefixes], device=device)
    last = torch.tensor([len(p) - 1 for p in prefixes], device=device)
    ctx_logits = model(padded)[torch.arange(len(prefixes)), last].cpu()  # (P, V): every prefix's next token
probs = ctx_logits.double().softmax(-1)
tail_mass = (probs * (probs < 0.02)).sum(-1)                           # (P,) mass of the tokens below 2 %
print(f"{len(prefixes)} contexts; tokens below 2 % carry {tail_mass.mean():.1%} of the mass on average, "
      f"so 7 draws (a name and its end) hit at least one of them with probability {1 - (1 - tail_mass.mean()) ** 7:.0%}")


# %%
for k in (1, 3, 10):
    kept = TopK(k)(ctx_logits).isfinite()
    assert (kept.sum(-1) == k).all(), "top-k keeps exactly k"
    assert (probs[kept].view(-1, k).min(-1).values >= probs.masked_fill(kept, -1).max(-1).values).all()
ties = torch.tensor([[1.0, 3.0, 3.0, 3.0, 0.0]])
assert TopK(2)(ties).isfinite().tolist() == [[False, True, True, False, False]]  # even with ties

for p in (0.5, 0.9, 0.95):
    kept = TopP(p)(ctx_logits).isfinite()
    mass = (probs * kept).sum(-1)
    smallest_kept = probs.masked_fill(~kept, 2.0).min(-1).values
    assert (mass >= p - 1e-9).all(), "top-p keeps mass >= p"
    assert (mass - smallest_kept < p).all(), "and no more tokens than needed"
    print(f"top-p {p}: keeps {kept.sum(-1).float().mean():.1f} tokens on average "
          f"(from {kept.sum(-1).min()} to {kept.sum(-1).max()})")

kept = MinP(0.1)(ctx_logits).isfinite()
assert torch.equal(kept, probs >= 0.1 * probs.max(-1, keepdim=True).values)

# %%
fig, ax = plt.subplots(figsize=(7, 3))
sizes = TopP(0.9)(ctx_logits).isfinite().sum(-1)
ax.hist(sizes.numpy(), bins=np.arange(0.5, V + 1.5), label="top-p 0.9")
ax.axvline(10, color="k", ls="--", label="top-k 10 (always 10)")
ax.set_xlabel("tokens kept in a context")
ax.set_ylabel("contexts")
ax.set_title("the nucleus adapts to the model's confidence; top-k does not")
ax.legend()
plt.show()

# %% [markdown]
# Processors compose as a list, applied in order. A repetition penalty (Keskar et al. 2019)
# needs the tokens so far: it is called with the history as well (`apply_processors(...,
# history=)`; `generate` passes it), and lowers the logits of every token already in the
# sequence. After ".ann" the letters a and n become less likely, every other one more:

# %%
history = torch.tensor([[BOUNDARY, *tok.encode("ann")]], device=device)
logits = next_token_logits(model, history)  # (1, V)
plain = apply_processors(logits, [TopK(10)]).softmax(-1)[0]
penalised = apply_processors(logits, [RepetitionPenalty(2.0), TopK(10)], history=history).softmax(-1)[0]
seen = torch.zeros(V, dtype=torch.bool, device=device)
seen[history[0]] = True
print({tok.itos[i] if i else "⏎": (round(plain[i].item(), 3), round(penalised[i].item(), 3))
       for i in plain.argsort(descending=True)[:6].tolist()})
assert (penalised[seen] <= plain[seen]).all() and (penalised[~seen] >= plain[~seen]).all()

# %% [markdown]
# At the character level this penalty does harm: real names repeat letters all the time
# ("anna", "hannah", "emma"), and after ".ann" it lowers exactly the "a" that would complete
# "anna" (the first number in each pair above is without the penalty, the second with it).
# Repetition penalties were designed for word-level text, where a repeated word is usually
# a loop; here they push the model away from legitimate names.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 5. Beam search against greedy and the exact answer
# Greedy decoding takes the best *next* token, which need not lie on the best *sequence*.
# Beam search keeps the $B$ partial sequences with the highest $\sum_t \log p$ (the beam
# width; lecture 01's notation table), extends each by every token, and keeps the best $B$
# again. With an end-of-sequence token, hypotheses finish
# at different lengths; ranking them by $\log p / L^\alpha$ (length normalisation) stops the
# search from preferring short outputs just because they multiply fewer probabilities.
#
# On a small model we can find the most probable sequence by brute force: 5 tokens and 6
# steps give $5^6 = 15{,}625$ sequences. We draw 20 small random GRUs with peaked
# distributions (so that greedy decoding often misses) and compare.

# %% [markdown]
# *Predict before you run:* can beam search ever end *worse* than greedy decoding on these
# models, and can it ever beat the exhaustive search? The next cell asserts both answers.

# %%
def peaked_tiny_model(seed, vocab_size=5):
    torch.manual_seed(seed)
    tiny = CharRNN(CharRNNConfig.tiny(vocab_size=vocab_size, cell="gru")).eval()
    with torch.no_grad():
        tiny.head.weight.mul_(8)
    return tiny


# %%
widths, n_new = [1, 2, 3, 5, 10, 25], 6
gaps = np.zeros((20, len(widths)))
greedy_gaps = np.zeros(20)
for seed in range(20):
    tiny, prompt = peaked_tiny_model(seed), torch.tensor([seed % 5])
    exact = exhaustive_search(tiny, prompt, n_new, length_penalty=0.0)
    greedy_lp = sequence_log_probs(tiny, generate(tiny, prompt, n_new, greedy=True)[None], 1)[0].item()
    greedy_gaps[seed] = exact.log_prob.item() - greedy_lp
    for j, width in enumerate(widths):
        beam = beam_search(tiny, prompt, n_new, beam_width=width, length_penalty=0.0)
        gaps[seed, j] = exact.log_prob.item() - beam.log_prob.item()
    wide = beam_search(tiny, prompt, n_new, beam_width=5 ** (n_new - 1), length_penalty=0.0)
    assert torch.equal(wide.tokens, exact.tokens), "a beam as wide as all prefixes is exhaustive"

assert (gaps >= -1e-5).all(), "no search beats the exact optimum"
assert (gaps <= greedy_gaps[:, None] + 1e-5).all(), "on these models beam search never does worse than greedy"
assert np.allclose(gaps[:, 0], greedy_gaps, atol=1e-5), "without an end token, width 1 is greedy"
print(f"greedy misses the most probable sequence in {(greedy_gaps > 1e-5).sum()} of 20 models")
for width, col in zip(widths, gaps.T):
    print(f"width {width:3d}: finds it in {(col < 1e-5).sum():2d} of 20, mean gap {col.mean():.3f} nats")

# %% [markdown]
# Beam search is a heuristic: nothing forces a wider beam to do better (a wider beam can push
# the eventual winner's prefix out early), which is why the assert above is a measurement on
# these 20 models, not a theorem. What is guaranteed: without an end token, width 1 is
# greedy (asserted above), and a beam wide enough to hold every prefix ($5^5$) is exhaustive.

# %%
fig, ax = plt.subplots(1, 2, figsize=(10, 3))
ax[0].plot(widths, gaps.mean(0), "o-", label="beam search")
ax[0].axhline(greedy_gaps.mean(), color="k", ls="--", label="greedy")
ax[0].set_xscale("log")
ax[0].set_xlabel("beam width")
ax[0].set_ylabel("log p(best) − log p(found), nats")
ax[0].legend()
ax[1].plot(widths, (gaps < 1e-5).mean(0), "o-")
ax[1].set_xscale("log")
ax[1].set_xlabel("beam width")
ax[1].set_ylabel("fraction exact")
plt.show()

# %% [markdown]
# On the names model, the boundary token ends a name, so hypotheses finish at different
# lengths. With $\alpha = 0$ beam search ranks them by raw log-probability, where every extra
# character costs; with $\alpha = 1$ by the mean log-probability per character, which lets
# longer names win. Note also width 1 (`B=1`): it follows greedy's path, but it is *not*
# greedy's answer. At every step it also records the hypothesis that ends there (the path
# so far plus the end token), and returns the best finished one. Greedy never ends a name
# while another letter is likelier than the end token, so it runs on ("marianna"), while
# width 1 returns the likelier name that ended on the way ("mari"). The asserts check that
# it is never less probable than greedy's name.

# *Predict before you run:* at $\alpha = 0$, will a wider beam return a longer or a shorter
# name than a narrow one?

# %%
for alpha in (0.0, 1.0):
    row = []
    for width in (1, 4, 16):
        out = beam_search(model, [BOUNDARY], 15, beam_width=width, eos_id=BOUNDARY, length_penalty=alpha)
        row.append(f"B={width}: {tok.decode(out.tokens.tolist())!r} (log p {out.log_prob:.2f}, score {out.score:.2f})")
    print(f"alpha = {alpha}: " + ";  ".join(row))
greedy_name = generate(model, [BOUNDARY], 15, greedy=True, eos_id=BOUNDARY)
greedy_lp = sequence_log_probs(model, greedy_name[None], 1, eos_id=BOUNDARY)[0].item()
width_one = beam_search(model, [BOUNDARY], 15, beam_width=1, eos_id=BOUNDARY, length_penalty=0.0)
print(f"greedy: {tok.decode(greedy_name.tolist())!r} (log p {greedy_lp:.2f})")
assert width_one.log_prob >= greedy_lp - 1e-5
short = beam_search(model, [BOUNDARY], 15, beam_width=16, eos_id=BOUNDARY, length_penalty=0.0)
normal = beam_search(model, [BOUNDARY], 15, beam_width=16, eos_id=BOUNDARY, length_penalty=1.0)
assert short.length <= normal.length and short.log_prob >= normal.log_prob
assert length_normalised(normal.log_prob, normal.length, 1.0) >= length_normalised(short.log_prob, short.length, 1.0)

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 6. Likelihood against diversity on the trained model
# Every strategy trades how probable its names are against how varied. We generate 1,000
# names per setting and measure
# * **NLL per character** under the model itself ($\tau = 1$, no truncation), boundary included:
#   low means *likely under the model* — not typical (typical samples are the $\tau = 1$
#   ones, whose NLL matches the model's entropy) and not good: judging a decoder by the very
#   model it decodes is circular. So we add two independent measures:
# * **bigram NLL**: the same names scored by the bigram table of section 1, a different model;
# * **real held-out names**: the fraction of generated names that are real names the model
#   never saw (validation and test names not in the training set), counted per sample and
#   as distinct names — the first rewards repeating one safe name, the second does not;
# * **distinct-3**: distinct character trigrams / all trigrams in the 1,000 names;
# * **repetition rate**: the fraction of names that repeat an earlier name in the set
#   (greedy decoding repeats one name: $1 - 1/1000$).

# %%
def distinct_n(texts, n):
    grams = [t[i:i + n] for t in texts for i in range(len(t) - n + 1)]
    return len(set(grams)) / max(1, len(grams))


def repetition_rate(texts):
    return 1 - len(set(texts)) / len(texts)


unseen_real = set(val_names + test_names) - set(train_names)           # real names the model never saw


def bigram_score(texts):
    """NLL per character of `texts` under the bigram table of section 1 (boundary included)."""
    pairs = [(a, b) for t in texts for a, b in itertools.pairwise(tok.encode(t, add_boundary=True))]
    first, second = torch.tensor(pairs).T                                # (P,), (P,)
    return -float(bigram.table.detach().cpu()[first, second].mean())      # the fitted log-probabilities


# %%
def measure(processors, greedy=False, n=1000, seed=4):
    out = generate(model, torch.full((n, 1), BOUNDARY, device=device), 30, processors=processors,
                   greedy=greedy, eos_id=BOUNDARY, generator=make_generator(seed, device))
    log_prob, length = sequence_log_probs(model, out, 1, eos_id=BOUNDARY)
    texts = [tok.decode(row.tolist()) for row in out]
    return dict(nll=float(-log_prob.sum() / length.sum()), distinct=distinct_n(texts, 3),
                repetition=repetition_rate(texts), examples=texts[:6], bigram=bigram_score(texts),
                held_out=float(np.mean([t in unseen_real for t in texts])),
                held_out_distinct=len({t for t in texts} & unseen_real))


# %%
temperatures = [0.3, 0.5, 0.7, 0.85, 1.0, 1.2, 1.5, 2.0]
top_ps = [0.2, 0.4, 0.6, 0.8, 0.9, 0.95, 1.0]
by_tau = [measure([Temperature(t)]) for t in temperatures]
by_p = [measure([TopP(p)]) for p in top_ps]
greedy_point = measure([], greedy=True)
for t, m in zip(temperatures, by_tau):
    print(f"tau {t:4}: NLL {m['nll']:.2f}  bigram NLL {m['bigram']:.2f}  held-out real {m['held_out']:.3f} "
          f"({m['held_out_distinct']:3d} distinct)  "
          f"distinct-3 {m['distinct']:.2f}  repeats {m['repetition']:.2f}  {', '.join(m['examples'])}")

# %%
def increasing(values):
    return all(a < b for a, b in zip(values, values[1:]))


assert increasing([m["nll"] for m in by_tau]), "hotter samples are less likely under the model"
assert increasing([m["distinct"] for m in by_tau]), "and more varied"
assert increasing([m["nll"] for m in by_p]) and increasing([m["distinct"] for m in by_p])
assert greedy_point["repetition"] == 1 - 1 / 1000
assert by_tau[0]["repetition"] > by_tau[4]["repetition"] > by_tau[-1]["repetition"]
assert increasing([m["bigram"] for m in by_tau]), "an independent model agrees: hotter names are less name-like"
assert by_tau[4]["held_out"] > by_tau[-1]["held_out"]    # tau = 1 finds more real unseen names than tau = 2
best = max(zip(temperatures, by_tau), key=lambda pair: pair[1]["held_out_distinct"])
print(f"most distinct real held-out names: tau = {best[0]} ({best[1]['held_out_distinct']} names)")


# %%
fig, ax = plt.subplots(1, 2, figsize=(11, 3.5))
for label, rows, values in (("temperature", by_tau, temperatures), ("top-p", by_p, top_ps)):
    ax[0].plot([m["nll"] for m in rows], [m["distinct"] for m in rows], "o-", label=label)
    for m, v in zip(rows, values):   # temperature labels above, top-p below: no overlap
        ax[0].annotate(f"{v}", (m["nll"], m["distinct"]), fontsize=7, textcoords="offset points",
                       xytext=(-4, 6) if label == "temperature" else (2, -10))
    ax[1].plot([m["nll"] for m in rows], [m["repetition"] for m in rows], "o-", label=label)
ax[0].plot(greedy_point["nll"], greedy_point["distinct"], "k*", ms=12, label="greedy")
ax[0].set_xlabel("NLL of the samples under the model (nats/char)")
ax[0].set_ylabel("distinct-3")
ax[1].set_xlabel("NLL of the samples under the model (nats/char)")
ax[1].set_ylabel("repetition rate")
ax[0].legend()
ax[1].legend()
plt.show()

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 7. Try it: the decoding panel
# Move the sliders: the bars show the next-token distribution after the prompt, grey for the
# model and orange for what the processors keep (renormalised), and the names below are
# sampled with the same settings (a fixed seed, so a setting always shows the same names).

# %% tags=["browser"]
panel = DecodingPanel(model, tok, prompt="ma", n_samples=8, max_new_tokens=15, seed=0)
panel.widget

# %% [markdown]
# The panel's state is plain data, so the notebook (and its tests) can drive it too:

# %%
start_view, start_samples = panel.view, list(panel.samples)
panel.temperature.value = 0.3  # what dragging the slider does
assert panel.view.after.max() > start_view.after.max(), "colder: more peaked"
panel.top_k.value = 3
assert panel.view.kept.sum() == 3 and "kept 3 of" in panel.readout
panel.top_k.value, panel.top_p.value = 0, 0.5
assert panel.view.kept_mass >= 0.5
panel.temperature.value, panel.top_p.value = 1.0, 1.0
np.testing.assert_allclose(panel.view.after, start_view.after, rtol=1e-5)
assert panel.samples == start_samples, "the same settings give the same samples"
print(panel.readout)

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Summary
# * Decoding = a list of logits processors + a choice (argmax or a draw). Sampling at $\tau = 1$
#   without truncation draws from $p_\theta$ exactly (chi-square test above); $\tau \to 0$ is greedy.
# * Top-$k$ keeps exactly $k$ tokens; top-$p$ the smallest set with mass $\ge p$, which adapts
#   to the model's confidence; min-$p$ cuts relative to the best token.
# * Beam search approximates the most probable sequence; on small models it closes most of the
#   gap greedy leaves, and a wide enough beam is exact. Length normalisation decides how it
#   treats short hypotheses.
# * On a trained model, colder or more truncated decoding gives likelier, more repetitive
#   names; hotter gives more varied, less likely ones. No setting wins both. Judging by the
#   decoded model's own NLL is circular; an independent model (the bigram) and the rate of
#   real held-out names tell the same story here, and counting *distinct* real names shows
#   the trade-off's middle ground (the cell prints which temperature finds the most).
#
# **Exercise 07** (`exercises/ex07_decoding.py`): implement temperature, exact top-k, top-p
# and beam search; `arcourse grade` checks them on random logits and against brute force.
