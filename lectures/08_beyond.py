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
# # Lecture 08 — the families side by side, and beyond
#
# Every model of this course is one factorisation, $p(x) = \prod_t p(x_t \mid x_{<t})$, with
# a different network computing the conditionals. This lecture measures what the textbooks
# recite, and then pushes the recipe in two directions: generating faster without changing
# the distribution, and modelling real numbers instead of tokens.
#
# **Outline**
# 1. **Same data, three families** — an LSTM, a WaveNet-style causal CNN and a GPT trained on
#    the same characters: NLL, training and generation speed, memory, effective context.
# 2. **Scaling** — test loss against parameter count for a family of GPT sizes, with a
#    power-law fit.
# 3. **Exposure bias, mitigated?** — scheduled sampling against plain teacher forcing.
# 4. **Faster generation** — speculative decoding: a cheap draft proposes, the GPT of
#    section 1 verifies; the samples keep exactly its distribution.
# 5. **Continuous outputs** — Gaussian and Student-t heads on a heavy-tailed series, exact
#    NLL against a classical AR(p) fit, forecasts with uncertainty bands.
# 6. Summary — the measured table.
#
# Sections 1–3 reuse the models of lectures 03–06.

# %% tags=["arcourse-setup", "remove-cell"]
# Colab / JupyterHub: installs the course when this kernel does not have it (nothing happens where it does).
try:
    import arcourse
except ImportError:
    print("arcourse is not installed here: installing v0.1.0 with pip, about a minute ...")
    get_ipython().run_line_magic("pip", "install -q 'arcourse[widgets] @ git+https://github.com/arcourse/arcourse@v0.1.0'")  # %pip install ...
    import arcourse

# %%
import dataclasses
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import torch

import arcourse
from arcourse import evaluate, get_device, load_checkpoint, make_generator, nll, seed_everything, train
from arcourse.data import CharTokenizer, GarchProcess, NameBatches, load_names, series_batches, split_dataset, text_batches
from arcourse.decoding import generate
from arcourse.metrics.evaluation import exposure_bias
from arcourse.models import (GPT, BigramConfig, BigramLM, CharRNN, CharRNNConfig, ContinuousAR, ContinuousARConfig,
                             GPTConfig, KVCache, LinearAR, WaveNet, WaveNetConfig, forecast, gaussian_nll)
from arcourse.training import ScheduledSampling
from arcourse.decoding import SpeculativeStats, acceptance_probability, residual_distribution, speculative_generate
from arcourse.metrics import chi_square_test
from arcourse.training import default_loss

FULL_RUN = os.environ.get("ARCOURSE_FULL_RUN") == "1"  # retrain sections 1-2 here, with larger GPTs (minutes)
device = get_device()
torch.set_num_threads(1)  # tiny models, token-by-token loops: a second CPU thread costs more than it helps
seed_everything(0)
print("device:", device)

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 1. Same data, three families
#
# The census first names again, but joined into one stream, each name closed by the boundary
# token (`emma.olivia.ava.…`), and cut into windows of 64 characters. Why a stream and not
# one name per row: in a window that starts anywhere in the stream, position t is a prediction
# made with exactly t + 1 characters of context, whatever letter of which name it falls on.
# With one name per row, position t would also mean "the t-th letter of a name", and letters
# differ in difficulty (the first is the hardest, endings are easy), so a loss-by-position
# curve would mix how much context a model uses with what it is asked to predict.
#
# Three ways to compute $p(x_t \mid x_{<t})$ over the same windows, of similar sizes (their
# parameter counts are printed below):
# - **LSTM** (lecture 03): a state of fixed size carried from step to step;
# - **WaveNet-style causal CNN** (lecture 05) over characters: dilations 1, 2, …, 32, so its
#   receptive field is exactly the window, 1 + (2 − 1)(1 + 2 + ⋯ + 32) = 64;
# - **GPT** (lecture 06): causal self-attention over all 64 positions.
#
# A small transformer needs more than a thousand steps to get off the bigram plateau here,
# more than this notebook's CPU budget, so `scripts/make_lecture08_checkpoints.py` trained
# all of them with one recipe (1,500 steps of 16 windows, AdamW, lr 0.01 with a cosine
# schedule, the weights of the best validation loss kept). With `ARCOURSE_FULL_RUN=1` this
# notebook runs that script itself (minutes on a CPU, faster on a GPU) and uses what it
# trains. Speeds are measured below, on this machine.

# %%
names = load_names()
tokenizer = CharTokenizer.from_texts(names)
V = tokenizer.vocab_size
train_names, val_names, test_names = split_dataset(names, (0.8, 0.1, 0.1), seed=0)


def name_stream(some_names):
    """One stream of token ids: every name followed by the boundary token."""
    return torch.tensor([i for n in some_names for i in tokenizer.encode(n, add_boundary=True)[1:]])


train_ids, test_ids = name_stream(train_names), name_stream(test_names)
checkpoint_path = Path(arcourse.__file__).parent / "checkpoints" / "lecture08_models.pt"
if FULL_RUN:  # retrain everything with the script's recipe, plus two larger GPTs for section 2
    checkpoint_path = Path(tempfile.mkdtemp()) / "lecture08_models.pt"
    script = Path(arcourse.__file__).parents[1] / "scripts" / "make_lecture08_checkpoints.py"
    subprocess.run([sys.executable, str(script), "--larger", "--out", str(checkpoint_path)], check=True)
shipped = load_checkpoint(checkpoint_path)
assert shipped.extras["tokenizer"] == tokenizer.state_dict()
recipe = shipped.extras["recipe"]
WINDOW = recipe["window"]
windows = test_ids.unfold(0, WINDOW + 1, 1)  # (N, 65): every window of the test stream
test_batches = [(w[:, :-1], w[:, 1:]) for w in windows.split(512)]  # each character once at every position
print(f"{len(train_ids):,} training and {len(test_ids):,} test characters; recipe {recipe}")


# %%
bigram = BigramLM(BigramConfig(V)).to(device).fit([(train_ids[None, :-1], train_ids[None, 1:])])


def trained_model(name):
    """A model of the checkpoint, with its trained weights, on our device."""
    return shipped.models[name].to(device)


KEYS = {"LSTM": "lstm", "WaveNet": "wavenet", "GPT": "gpt"}
families = {label: trained_model(key) for label, key in KEYS.items()}
params = {label: sum(p.numel() for p in model.parameters()) for label, model in families.items()}
print("parameters:", params, "| best validation loss at step:",
      {label: shipped.model_extras[key]["best_step"] for label, key in KEYS.items()})
assert max(params.values()) < 1.3 * min(params.values())  # comparable sizes

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Likelihood and speed
#
# Test NLL per character on the same windows for all three (and the count bigram), computed
# position by position (the effective-context curves below come from the same pass). Training
# speed: 20 steps of the recipe on a fresh copy, in characters per second. Generation speed:
# 63 new characters after the boundary token (filling the GPT's context), each family with
# its fast path — the LSTM's state, the WaveNet's queues, the GPT's KV cache — and, for
# contrast, without it (the model re-reads the whole prefix for every character).

# %%
def training_speed(model):
    """Characters per second of 20 training steps of the recipe on a fresh copy of `model`."""
    fresh = type(model)(model.config).to(device)
    history = train(fresh, text_batches(train_ids, WINDOW, recipe["batch_size"], seed=0), 20, lr=recipe["lr"],
                    progress=False)
    return history.tokens_per_second


def generation_speed(model, use_cache, new_tokens=WINDOW - 1, repeats=2):
    """Characters per second of generating `new_tokens` after '.', best of `repeats`."""
    best = math.inf
    for seed in range(repeats):
        start = time.perf_counter()
        generate(model, [0], new_tokens, use_cache=use_cache, generator=make_generator(seed, device))
        best = min(best, time.perf_counter() - start)
    return new_tokens / best


@torch.no_grad()
def loss_by_position(model):
    """Mean test NLL at each position of the windows, (WINDOW,): every window counts once."""
    total = sum(nll(model(x.to(device)), y.to(device), reduction="none").sum(0) for x, y in test_batches)
    return (total / len(windows)).cpu()


# %%
by_position = {label: loss_by_position(model) for label, model in {"bigram": bigram, **families}.items()}
# every window has WINDOW targets, so the mean over positions is the test NLL per character
assert abs(float(by_position["bigram"].mean()) - evaluate(bigram, test_batches)) < 1e-4
table = {"bigram": dict(params=V * V, nll=float(by_position["bigram"].mean()))}
for label, model in families.items():
    table[label] = dict(params=params[label], nll=float(by_position[label].mean()), train=training_speed(model),
                        gen=generation_speed(model, True), gen_uncached=generation_speed(model, False))
print(f"{'':8s} {'params':>7s} {'test NLL':>9s} {'train chars/s':>14s} {'gen chars/s':>12s} {'uncached':>9s}")
for label, row in table.items():
    speeds = "".join(f" {row[key]:{w},.0f}" if key in row else f" {'':>{w}s}" for key, w in
                     (("train", 14), ("gen", 12), ("gen_uncached", 9)))
    print(f"{label:8s} {row['params']:7,d} {row['nll']:9.3f}{speeds}")
for label in families:  # every family learns far more than letter pairs
    assert table[label]["nll"] < table["bigram"]["nll"] - 0.2, label

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Memory of the generation state
#
# What each family must keep to produce the next character, as a function of how much has
# been read: we measure the bytes of the tensors in the state that `start` returns after
# prompts of 16 to 1,024 characters. The LSTM keeps (h, c): 2 × layers × d_hidden numbers,
# whatever the length. The WaveNet keeps one queue per layer, (K − 1) × dilation past inputs
# of C channels: a constant too, set by the receptive field. The GPT keeps keys and values of
# every position in every layer: 2 × layers × d_model numbers per character (plus the token
# ids, 8 bytes each, which it keeps to slide its window). The state does not depend on the
# weights, so the GPT is measured with the same shape and a context of 1,024.

# %% [markdown]
# *Predict before you run:* as the generated text gets longer, which of the three states
# grows, and how fast? The next cell measures the bytes at several lengths and asserts the
# formula for each model.

# %%
def state_bytes(state):
    """Bytes of every tensor inside a generation state (tensors, tuples, lists, dataclasses)."""
    if isinstance(state, torch.Tensor):
        return state.numel() * state.element_size()
    if dataclasses.is_dataclass(state):
        return sum(state_bytes(getattr(state, f.name)) for f in dataclasses.fields(state))
    if isinstance(state, (tuple, list)):
        return sum(state_bytes(s) for s in state)
    return 0


# %%
lengths = [16, 32, 64, 128, 256, 512, 1024]
long_gpt = GPT(dataclasses.replace(families["GPT"].config, context_len=max(lengths))).to(device).eval()
state_models = {"LSTM": families["LSTM"], "WaveNet": families["WaveNet"], "GPT": long_gpt}
memory = {label: [] for label in state_models}
with torch.no_grad():
    for T in lengths:
        prompt = torch.randint(V, (1, T), generator=make_generator(0, device), device=device)
        for label, model in state_models.items():
            state = model.start(prompt)[1]
            if isinstance(state, KVCache):  # the positions read so far (its storage is reserved up to the context)
                state = (state.keys, state.values, state.tokens)
            memory[label].append(state_bytes(state))
lstm_config, wave_config, gpt_config = (families[k].config for k in ("LSTM", "WaveNet", "GPT"))
assert memory["LSTM"] == [2 * lstm_config.n_layers * lstm_config.d_hidden * 4] * len(lengths)
assert memory["WaveNet"] == [wave_config.residual_channels * (wave_config.kernel_size - 1)
                             * sum(wave_config.dilations) * 4] * len(lengths)
per_token = 2 * gpt_config.n_layers * gpt_config.d_model * 4 + 8  # keys + values (float32), token id (int64)
assert memory["GPT"] == [per_token * T for T in lengths]
print({label: bytes_[-1] for label, bytes_ in memory.items()}, f"bytes after {lengths[-1]} characters; "
      f"GPT: {per_token} bytes per character, {per_token * gpt_config.context_len:,} bytes at its context "
      f"of {gpt_config.context_len}")
# the same formula for a 7B-parameter model (32 layers, width 4096), keys and values in 2-byte floats
per_token_7b = 2 * 32 * 4096 * 2
print(f"a 7B model in 16-bit floats: {per_token_7b / 2**20:.2f} MiB per token "
      f"({2 * per_token_7b / 2**20:.2f} MiB in float32)")

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Effective context
#
# How much of the past does each model use? The mean test loss at each position of the
# windows: at position t the model has read t + 1 characters. The windows start at every
# offset of the test stream, so every position scores the same characters. Position 0 is
# what a bigram knows; a curve that is still falling at position t means the model profits from the t-th
# character back.

# %% [markdown]
# *Predict before you run:* will the loss at position 0 be higher or lower than the mean
# loss from position 16 on, and by how much? The next cell draws the curves and asserts,
# for each model, that the later positions are predicted far better than the first.

# %%
for label, curve in by_position.items():
    print(f"{label:8s}", " ".join(f"{float(curve[t]):.2f}" for t in (0, 1, 2, 4, 8, 16, 32, 63)), "(positions 0, 1, 2, 4, 8, 16, 32, 63)")
for label in families:
    curve = by_position[label]
    assert curve[16:].mean() < curve[0] - 0.3, label  # later positions are predicted far better than the first
    share = float((curve[0] - curve[4]) / (curve[0] - curve[16:].mean()))
    print(f"{label}: {share:.0%} of the gain from context comes with the first 5 characters")
    assert share > 0.8, label  # names are short: most of the useful context is the current name

# %%
labels, x = list(families), np.arange(len(families))
colors = {"bigram": "gray", "LSTM": "C0", "WaveNet": "C1", "GPT": "C2"}
fig, axes = plt.subplots(1, 4, figsize=(17, 3.6))
axes[0].bar(x, [table[label]["nll"] for label in labels], color=[colors[label] for label in labels])
axes[0].axhline(table["bigram"]["nll"], color="k", ls=":", label="bigram")
axes[0].set(xticks=x, xticklabels=labels, ylim=(1.8, 2.45), ylabel="nats/char", title="test NLL")
axes[0].legend(fontsize=8)
speed_bars = [("train", "training", "C4"), ("gen", "generation, fast path", "C6"), ("gen_uncached", "generation, no cache", "C7")]
for offset, (key, what, color) in zip((-0.27, 0, 0.27), speed_bars):
    axes[1].bar(x + offset, [table[label][key] for label in labels], width=0.27, label=what, color=color)
axes[1].set(xticks=x, xticklabels=labels, yscale="log", ylabel="characters / second", title="speed on this machine")
axes[1].legend(fontsize=8)
for label in labels:
    axes[2].loglog(lengths, memory[label], "o-", color=colors[label], label=label)
axes[2].set(xlabel="characters read", ylabel="bytes", title="generation state")
axes[2].legend(fontsize=8)
for label, curve in by_position.items():
    axes[3].semilogx(np.arange(1, WINDOW + 1), curve, color=colors[label], ls=":" if label == "bigram" else "-", label=label)
axes[3].set(xlabel="characters of context (position + 1)", ylabel="test NLL", title="effective context")
axes[3].legend(fontsize=8)
plt.show()

# %% [markdown]
# What the measurements say (the table and plots above; speeds are this machine's):
# - **Likelihood.** At similar parameter counts (the table) all three families end far
#   below the bigram (asserted); compare their test NLLs in the table. These are NLLs per
#   character of a *stream* of names cut into windows, by models smaller than lecture 03's,
#   so the LSTM's figure here is not comparable with the per-name test NLLs of lectures 03,
#   06 and 07 (each lecture says which run and split it reports). The best validation
#   step of each (printed when the checkpoints were loaded) shows which family stopped
#   improving first on so few training characters.
# - **Training speed.** The textbook says recurrence cannot be parallelised over time, and
#   it cannot — yet on one CPU thread, at this width, PyTorch's fused LSTM kernel can keep up
#   with or beat the parallel families: compare the printed characters per second. Parallel
#   training pays where the hardware is wide (a GPU) and the models and sequences are long;
#   the GPT and the CNN fill it, the recurrence does not.
# - **Generation.** Without its fast path the LSTM re-reads the whole prefix for each
#   character and the WaveNet re-runs every layer over its window; their state and queues
#   make a step O(1) and O(layers). For a small GPT within a short context, a cached step and
#   a full recomputation can cost about the same: fixed costs per operation dominate until
#   contexts are long and models wide (lecture 06 measures that). Compare the two printed
#   generation speeds. Its cached step also reads every cached key, so it slows down as the
#   context fills.
# - **Memory.** Exactly as predicted (asserted byte for byte): the LSTM carries the same few
#   hundred bytes whatever it has read, the WaveNet a fixed set of queues (its receptive
#   field), the GPT a fixed number of bytes per character (printed), growing without bound.
#   For a 7B-parameter model with 16-bit keys and values the same formula gives the figure
#   printed above per token (twice that in float32).
# - **Effective context.** All three gain most from the first four or five characters —
#   about one name. Names in the stream are shuffled and nearly independent, so the earlier
#   names add little; the LSTM could in principle reach further back, the WaveNet and the
#   GPT cannot see beyond 64 by construction.


# %% [markdown] slideshow={"slide_type": "slide"}
# ## 2. Scaling: loss against model size
#
# Kaplan et al. (2020) found that a transformer's test loss falls as a power law in its
# number of (non-embedding) parameters N, $L(N) = (N_c / N)^{\alpha_N}$, as long as data and
# training steps are not the bottleneck. Their law has no floor; later fits add an
# irreducible loss (Henighan et al., 2020; Hoffmann et al., 2022, "Chinchilla"), and on our
# tiny data set we need one too: $L(N) \approx L_\infty + a N^{-b}$. We train a family of GPTs from about a thousand
# to two hundred thousand parameters with the same recipe on the same training characters (the
# GPT of section 1 is one of them; `ARCOURSE_FULL_RUN=1` adds two larger sizes) and fit the
# three numbers: for each candidate floor $L_\infty$ below the smallest loss, a straight
# line through $\log(L - L_\infty)$ against $\log N$ by least squares; the floor with the
# smallest squared error in L wins. To keep the lecture quick, each GPT is scored on every
# second test window (every test character still counts, at half of the positions), so the
# section-1 GPT's figure here can differ from the table's in the third decimal.

# %%
scaling_batches = [(w[:, :-1], w[:, 1:]) for w in windows[::2].split(512)]  # every second window
scaling = {}
for name, entry in shipped.models.items():
    if isinstance(entry, GPT):
        model = families["GPT"] if name == "gpt" else trained_model(name)
        scaling[model.num_parameters(embeddings=False)] = evaluate(model, scaling_batches)
sizes = np.array(sorted(scaling), dtype=float)
losses = np.array([scaling[n] for n in sorted(scaling)])


# %%
def fit_power_law(n, loss):
    """(L_inf, a, b) of loss ≈ L_inf + a n^-b: a log-log line for every floor on a grid."""
    best = None
    for floor in np.linspace(0, loss.min() - 1e-3, 2000):
        slope, intercept = np.polyfit(np.log(n), np.log(loss - floor), 1)
        error = ((floor + np.exp(intercept) * n**slope - loss) ** 2).sum()
        if best is None or error < best[0]:
            best = (error, floor, math.exp(intercept), -slope)
    return best[1:]


floor, a, b = fit_power_law(sizes, losses)
fitted = floor + a * sizes**-b
print(" ".join(f"N={int(n):,}: {loss:.3f}" for n, loss in zip(sizes, losses)))
print(f"fit: L(N) = {floor:.3f} + {a:.1f} N^-{b:.2f}; residuals {np.round(losses - fitted, 3)}")
assert np.all(np.diff(losses[:4]) < 0) and losses[3] < losses[0] - 0.15  # up to ~25k parameters size helps, a lot
assert np.ptp(losses[3:]) < 0.06  # from there on the loss levels off: larger models scatter around a floor
assert b > 0 and np.abs(losses - fitted).max() < 0.05

# %%
grid = np.logspace(np.log10(sizes[0]), np.log10(sizes[-1]), 100)         # the fit, only where there is data
fig, axes = plt.subplots(1, 2, figsize=(11, 3.5))
axes[0].semilogx(sizes, losses, "o", label="GPTs, test NLL")
axes[0].semilogx(grid, floor + a * grid**-b, "k-", lw=1, label=f"{floor:.2f} + {a:.1f} N^-{b:.2f}")
axes[0].axhline(table["bigram"]["nll"], color="gray", ls=":", label="bigram")
axes[0].set(xlabel="non-embedding parameters N", ylabel="nats/char", title="test loss vs. model size")
axes[0].legend(fontsize=8)
axes[1].loglog(sizes, losses - floor, "o")
axes[1].loglog(grid, a * grid**-b, "k-", lw=1)
axes[1].set(xlabel="N", ylabel="L - L_inf", title="minus the fitted floor: the line, and where it fails")
plt.show()

# %% [markdown]
# What the fit says: up to a few tens of thousands of parameters, each doubling of the model
# removes a fixed fraction of the loss left above the floor $L_\infty$; beyond that the
# floor dominates, and the larger models scatter around it by a few hundredths of a nat —
# which of two large models ends better is decided by training noise (the seed, the step
# where early stopping caught it), not by size. What it does not say: with six points
# (eight with the flag) and three free numbers the fit is loose, and $L_\infty$ and b trade
# off against each other. The floor is not the entropy of names; it is mostly the **data**:
# the few tens of thousands of training characters (printed in section 1) are memorised by
# a few tens of thousands of parameters (the
# recipe keeps the weights of the best validation loss), so bigger models stop helping
# early — Kaplan's law assumes data is plentiful. The steps are fixed, not compute-optimal:
# Hoffmann et al. (2022, "Chinchilla") showed that for a given compute budget, parameters
# and training tokens should grow together (about 20 tokens per parameter), so each point
# here is over- or under-trained. And extrapolating the line beyond the largest model
# measured is a guess, not a measurement.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 3. Exposure bias, mitigated? Scheduled sampling
#
# Lecture 03 measured exposure bias: a model trained only on true prefixes (teacher forcing)
# generates from its own, and its samples contain character trigrams never seen in training
# more often than real held-out names do (the **gap** of `arcourse.metrics.evaluation.exposure_bias`).
# Scheduled sampling (Bengio et al., 2015) trains on some of the model's own choices: at each
# step a coin with probability p decides whether the input is the true previous character or
# one sampled from the model's own prediction; the target stays the true next character.
# p rises from 0 (the samples of an untrained model are noise) over the first half of
# training. `arcourse.training.ScheduledSampling` is this loss for `train`; it
# needs the step-by-step `CharRNN.unroll`. First the idea in a few lines, checked against it.

# %%
def mixed_inputs(model, inputs, p, generator):
    """Teacher forcing, but each input after the first is, with probability p, a sample
    from the model's prediction at the step before. Returns the logits (B, T, V)."""
    state, token, steps = None, inputs[:, 0], []
    coins = torch.rand(inputs.shape, generator=generator, device=inputs.device) < p  # (B, T)
    for t in range(inputs.shape[1]):
        logits, state = model.unroll(token[:, None], state)  # (B, 1, V)
        steps.append(logits)
        if t + 1 < inputs.shape[1]:
            sample = torch.multinomial(logits[:, 0].detach().softmax(-1), 1, generator=generator)[:, 0]
            token = torch.where(coins[:, t + 1], sample, inputs[:, t + 1])
    return torch.cat(steps, dim=1)


seed_everything(0)
rnn = CharRNN(CharRNNConfig.small(vocab_size=V)).to(device).train()
inputs, targets = next(iter(NameBatches(train_names, tokenizer, 32, seed=0)))
inputs, targets = inputs.to(device), targets.to(device)
ours = nll(mixed_inputs(rnn, inputs, 0.3, make_generator(5, device)), targets, reduction="sum")
library, count = ScheduledSampling(0.3, seed=5)(rnn, (inputs, targets))
torch.testing.assert_close(ours, library)
teacher_forced = nll(rnn(inputs), targets, reduction="sum")
torch.testing.assert_close(ScheduledSampling(0.0)(rnn, (inputs, targets))[0], teacher_forced)  # p = 0: teacher forcing
print(f"the notebook's mixed inputs and the library agree: {ours.item():.4f} = {library.item():.4f} nats summed")

# %% [markdown]
# Two LSTMs of lecture 03's size, the same names, seed, steps and schedule; the only
# difference is the loss. They train for fewer steps than lecture 03's (`SS_STEPS`, for the
# time budget), so their teacher-forced test NLL sits above lecture 03's LSTM. Both are then judged with lecture 03's metric (1,000 samples at
# temperature 1) and by their teacher-forced test NLL.

# %%
SS_STEPS, SS_PROBABILITY = 300, 0.25
exposure, gaps = {}, {}
for label, loss_fn in [("teacher forcing", default_loss),
                       (f"scheduled sampling, p -> {SS_PROBABILITY}", ScheduledSampling(SS_PROBABILITY, ramp_steps=SS_STEPS // 2))]:
    seed_everything(0)
    rnn = CharRNN(CharRNNConfig.small(vocab_size=V)).to(device)
    history = train(rnn, NameBatches(train_names, tokenizer, 64, seed=0), SS_STEPS, lr=1e-2, schedule="cosine",
                    loss_fn=loss_fn, description=label)
    reports = [exposure_bias(rnn, tokenizer, train_names, test_names, n_samples=1000,
                             generator=make_generator(seed, device)) for seed in range(3)]
    exposure[label] = (reports[0], history.seconds)
    gaps[label] = [r.gap for r in reports]  # three sets of samples: the noise of the metric
name_bigram = BigramLM(BigramConfig(V)).to(device).fit(NameBatches(train_names, tokenizer, 1024, shuffle=False))
bigram_report = exposure_bias(name_bigram, tokenizer, train_names, test_names, n_samples=1000,
                              generator=make_generator(0, device))


# %%
print(f"{'':32s} {'test NLL':>8s} {'gap':>7s} {'real names':>10s} {'mean len':>8s} {'train s':>7s}")
for label, (r, seconds) in {**exposure, "bigram": (bigram_report, math.nan)}.items():
    print(f"{label:32s} {r.teacher_forced_nll:8.3f} {r.gap:7.3f} {r.real_fraction:10.2f} "
          f"{r.mean_length_samples:8.2f} {seconds:7.1f}")
for r, _ in exposure.values():  # both LSTMs model names far better than the bigram, and drift less
    assert r.teacher_forced_nll < bigram_report.teacher_forced_nll - 0.25 and r.gap < bigram_report.gap
(tf_report, _), (ss_report, _) = exposure.values()
assert tf_report.teacher_forced_nll < ss_report.teacher_forced_nll  # teacher forcing optimises exactly this number
spread = max(max(g) - min(g) for g in gaps.values())
tf_gaps, ss_gaps = gaps.values()
difference = np.mean(ss_gaps) - np.mean(tf_gaps)                  # > 0: scheduled sampling drifts more
print("gaps over three sets of samples:", {label: [round(g, 3) for g in g3] for label, g3 in gaps.items()})
print(f"scheduled minus teacher forcing: gap {difference:+.3f}, real names {ss_report.real_fraction - tf_report.real_fraction:+.2f}; "
      f"teacher-forced LSTM gap / bigram gap = {tf_report.gap / bigram_report.gap:.2f}")
assert difference > 2 * spread                                   # worse, by far more than the metric's sampling noise
assert ss_report.real_fraction < tf_report.real_fraction          # and fewer of its samples are real names

# %%
fig, axes = plt.subplots(1, 2, figsize=(10, 3.5))
keep = tf_report.count_data_by_position >= 30
for (label, (r, _)), color in zip(exposure.items(), ("C0", "C1")):
    ok = np.flatnonzero(keep & (r.count_samples_by_position >= 30))
    axes[0].plot(ok, r.teacher_forced_nll_by_position[ok], "o-", color=color, label=label)
    axes[1].plot(ok, r.unseen_rate_samples_by_position[ok], "o-", color=color, label=f"samples, {label}")
ok = np.flatnonzero(keep)
axes[1].plot(ok, tf_report.unseen_rate_data_by_position[ok], "k--", label="held-out names")
axes[0].set(title="teacher-forced test loss by position", xlabel="position (0 = first letter)", ylabel="nats")
axes[1].set(title="free running: trigrams never seen in training", xlabel="position", ylabel="rate")
axes[0].legend(fontsize=8)
axes[1].legend(fontsize=8)
plt.show()

# %% [markdown]
# Measured here, scheduled sampling made both numbers **worse**: a higher teacher-forced test
# NLL (expected: teacher forcing optimises exactly that number) *and* a larger exposure-bias
# gap, with fewer samples that are real names; three sets of samples show that the difference
# is not the metric's noise (it is one training seed and one schedule, though); all three
# directions are asserted. Reasons: a one-layer character LSTM drifts little to begin with
# (its gap is a fraction of the bigram's, printed above — though, as lecture 03 notes, that
# comparison mixes drift with the bigram's plain model error); the inputs it samples early in training are mostly
# noise it must learn to ignore, which costs capacity; and Huszár (2015) showed that the
# scheduled-sampling objective is *improper* — its optimum is not the data distribution.
# Bengio et al.'s gains were on captioning and parsing, judged by sequence-level metrics,
# with large models. The remedies that later stuck for text are others: train on whole
# sequences with a sequence-level reward (REINFORCE, minimum-risk training), or simply
# scale the model and data so that its own prefixes stay close to real ones.


# %% [markdown] slideshow={"slide_type": "slide"}
# ## 4. Faster generation: speculative decoding
#
# Sampling is sequential: n tokens cost n calls of the model, each waiting for the last.
# Checking tokens is not: given a whole sequence, one teacher-forced pass returns every
# conditional at once. Speculative decoding (Leviathan, Kalman and Matias, 2023; Chen et al.,
# 2023) turns generation partly into checking. A small **draft** model q proposes k tokens;
# the **target** p scores all of them in one pass; draft token x is kept with probability
# $\min(1, p(x)/q(x))$, and the first rejected one is replaced by a draw from the
# **residual** $r \propto \max(0, p - q)$. If all k survive, p adds one bonus token.
#
# Why nothing changes: a token y comes out either as an accepted draft or from the residual,
# $$q(y)\min\!\Big(1, \frac{p(y)}{q(y)}\Big) + \Big(1 - \sum_x \min(p(x), q(x))\Big)\, r(y)
#   = \min(p, q)(y) + \max(0, p - q)(y) = p(y).$$
# The acceptance probability is $\alpha = \sum_x \min(p(x), q(x)) = 1 - \mathrm{TV}(p, q)$:
# the closer the draft, the more tokens per target call.

# %%
p = torch.tensor([0.05, 0.35, 0.30, 0.20, 0.10])  # target
q = torch.tensor([0.30, 0.30, 0.10, 0.20, 0.10])  # draft
kept = q * acceptance_probability(p, q)  # P(draft proposes y and it is kept) = min(p, q)
rejected_mass = 1 - kept.sum()
refilled = rejected_mass * residual_distribution(p, q)  # what the residual adds back
torch.testing.assert_close(kept, torch.minimum(p, q))
torch.testing.assert_close(kept + refilled, p)  # the emitted distribution is exactly p

fig, ax = plt.subplots(figsize=(6, 2.8))
tokens = torch.arange(len(p))
ax.bar(tokens, kept, label="kept drafts: min(p, q)")
ax.bar(tokens, refilled, bottom=kept, label="resampled: (1 - alpha) r")
ax.plot(tokens, q, "k_", markersize=25, label="draft q")
ax.set(xlabel="token", ylabel="probability", title=f"accept/reject gives back p exactly (alpha = {float(kept.sum()):.2f})")
ax.legend(fontsize=8)
plt.show()

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### A draft and a target
#
# The target is the GPT of section 1; the draft is the count bigram of section 1, one table
# lookup per token (test NLL above: the bigram is far from the GPT, so many drafts will be
# rejected). Both speak the course's sequence protocol, `model(idx) -> (B, T, V)`.
# *Predict before you run:* if a round yields several tokens per target call, is generation
# that many times faster in seconds? (The timing cell below answers it for this machine.)

# %%
target, draft = families["GPT"], bigram
print(f"target: GPT, {params['GPT']:,} parameters, test NLL {table['GPT']['nll']:.3f}; "
      f"draft: bigram, test NLL {table['bigram']['nll']:.3f} nats/char")

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### The distribution is unchanged — checked by sampling
#
# 1,000 independent speculative samples of three characters after the boundary token, with
# k = 4 (two drafted tokens and the bonus, since the last token of a run is always the
# target's). The exact target probabilities of the 1st, 2nd and 3rd character come from
# enumerating all earlier characters; a chi-square test compares them with the counts.

# %%
@torch.no_grad()
def exact_marginals(model, n_positions):
    """The target's exact distribution of each of the first n characters after '.'."""
    prefixes, weights, marginals = torch.zeros(1, 1, dtype=torch.long, device=device), torch.ones(1, device=device), []
    for _ in range(n_positions):
        probs = model(prefixes)[:, -1].softmax(-1)  # (n_prefixes, V)
        marginals.append((weights[:, None] * probs).sum(0))
        weights = (weights[:, None] * probs).flatten()  # every prefix extended by every token
        prefixes = torch.cat([prefixes.repeat_interleave(V, 0), torch.arange(V, device=device).repeat(len(prefixes))[:, None]], 1)
    return torch.stack(marginals)  # (n_positions, V)


gen = make_generator(0, device)
runs = 1_000
samples = torch.stack([speculative_generate(target, draft, [0], 3, k=4, generator=gen)[0][1:] for _ in range(runs)])
exact = exact_marginals(target, 3).cpu().double()
p_values = [chi_square_test(torch.bincount(samples[:, i].cpu(), minlength=V), exact[i])[1] for i in range(3)]
print("chi-square p-values, characters 1-3:", [round(pv, 3) for pv in p_values])
assert min(p_values) > 1e-3  # a correct sampler fails this once in a thousand seeds per character


# %%
fig, ax = plt.subplots(figsize=(9, 2.6))
letters = [tokenizer.decode([i]) or "." for i in range(V)]
ax.bar(torch.arange(V) - 0.2, exact[1], width=0.4, label="target, exact")
ax.bar(torch.arange(V) + 0.2, torch.bincount(samples[:, 1].cpu(), minlength=V) / runs, width=0.4, label="speculative samples")
ax.set_xticks(range(V), letters)
ax.set(title="2nd character of a name: exact target vs. speculative decoding", ylabel="probability")
ax.legend()
plt.show()

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### What it buys: tokens per target call, and seconds
#
# Six streams of names, each 63 characters after the boundary token (so that they fit the
# GPT's context of 64, where its KV cache works), generated plainly and speculatively. With
# a per-token acceptance probability α, a round of k drafts yields on average
# $(1 - \alpha^{k+1}) / (1 - \alpha)$ tokens for one target call (treating acceptances as
# independent). α itself is measured on the streams: the mean of $\sum_x \min(p(x), q(x))$
# over their positions. The wall-clock baseline is the strongest plain one: `generate` with
# the KV cache (each time the best of two runs; the tokens are the same every run). The
# speculative runs verify with the GPT's KV cache too: `GPT.extend` reads the k drafted
# tokens after the cached prefix in one pass, and `KVCache.crop` forgets the rejected ones;
# for contrast, k = 4 once more with a full pass over the window per round.

# %%
n_streams, n_new = 6, WINDOW - 1


def best_time(run, repeats=2):
    """(output of run(), its shortest wall time over `repeats` runs)."""
    seconds = []
    for _ in range(repeats):
        start = time.perf_counter()
        out = run()
        seconds.append(time.perf_counter() - start)
    return out, min(seconds)


def plain_streams(use_cache):
    gen = make_generator(1, device)
    return [generate(target, [0], n_new, generator=gen, use_cache=use_cache) for _ in range(n_streams)]


def speculative_streams(k, use_cache=True):
    gen = make_generator(2, device)
    runs = [speculative_generate(target, draft, [0], n_new, k=k, generator=gen, use_cache=use_cache)
            for _ in range(n_streams)]
    totals = {f.name: sum(getattr(stats, f.name) for _, stats in runs) for f in dataclasses.fields(SpeculativeStats)}
    return [stream for stream, _ in runs], SpeculativeStats(**totals)


# %%
plain_seconds = {use_cache: best_time(lambda: plain_streams(use_cache))[1] for use_cache in (True, False)}
measured = {k: best_time(lambda: speculative_streams(k)) for k in (1, 2, 4, 8)}  # k -> ((streams, stats), seconds)
(full_pass_streams, _), full_pass_seconds = best_time(lambda: speculative_streams(4, use_cache=False))
assert all(torch.equal(a, b) for a, b in zip(full_pass_streams, measured[4][0][0]))  # the cache changes no token


# %%
with torch.no_grad():
    streams = torch.stack(measured[4][0][0])  # (n_streams, 64)
    alpha = float(torch.minimum(target(streams).softmax(-1), draft(streams).softmax(-1)).sum(-1).mean())
predicted = {k: (1 - alpha ** (k + 1)) / (1 - alpha) for k in measured}
n_total = n_streams * n_new
print(f"alpha (mean sum min(p, q)) = {alpha:.3f}; plain sampling: {n_total} target calls, "
      f"{plain_seconds[True]:.3f} s with the KV cache, {plain_seconds[False]:.3f} s without")
for k, ((_, stats), seconds) in measured.items():
    print(f"k={k}: {stats.target_calls:4d} target calls, {stats.tokens_per_target_call:.2f} tokens/call "
          f"(predicted {predicted[k]:.2f}), acceptance rate {stats.acceptance_rate:.2f}, {seconds:.3f} s: "
          f"speedup {plain_seconds[True] / seconds:.2f}x over cached plain sampling")
print(f"k=4 verifying with full passes over the window instead of the KV cache: {full_pass_seconds:.3f} s, "
      f"speedup {plain_seconds[True] / full_pass_seconds:.2f}x")
assert all(stats.new_tokens == n_total for (_, stats), _ in measured.values())
assert all(stats.target_calls < n_total / 1.3 for (_, stats), _ in measured.values())  # fewer target calls
# the formula treats acceptances as independent; neighbouring ones are correlated, so allow 20 %
assert all(abs(stats.tokens_per_target_call / predicted[k] - 1) < 0.2 for k, ((_, stats), _) in measured.items())

# %%
ks = torch.arange(1, 11)
fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3))
ax1.plot(ks, (1 - alpha ** (ks + 1)) / (1 - alpha), label=f"(1 - a^(k+1)) / (1 - a), a = {alpha:.2f}")
ax1.plot(list(measured), [stats.tokens_per_target_call for (_, stats), _ in measured.values()], "o", label="measured")
ax1.axhline(1, color="gray", ls=":", label="plain sampling")
ax1.set(xlabel="draft length k", ylabel="tokens per target call", title="speculative decoding: fewer target calls")
ax1.legend(fontsize=8)
ax2.plot(list(measured), [n_total / seconds for _, seconds in measured.values()], "o-", label="speculative")
ax2.axhline(n_total / plain_seconds[True], color="k", ls="--", label="plain, KV cache")
ax2.axhline(n_total / plain_seconds[False], color="gray", ls=":", label="plain, no cache")
ax2.set(xlabel="draft length k", ylabel="tokens per second", ylim=(0, None), title="...and wall-clock time on this machine")
ax2.legend(fontsize=8)
plt.show()

# %% [markdown]
# Fewer target calls are certain (asserted); seconds depend on what a target call costs.
# Here the target is a small GPT on a CPU, and the plain baseline already uses the KV cache,
# so one plain step is cheap. Compare the printed speedups with the printed tokens per target
# call: the wall-clock gain is far smaller, and on a busy machine it can be a loss, because
# each round also pays k draft steps, the accept/reject arithmetic and Python overhead, which
# on a model this small cost about as much as the model. Verifying with the KV cache instead
# of a full pass over the window makes little difference at this size (compare the k = 4
# times): fixed costs per operation dominate; the cache matters when contexts are long and
# models wide. Longer drafts stop paying once most are rejected (the printed α, with a
# bigram draft). The method
# pays off when a target call is expensive and the hardware is parallel — a large
# transformer on a GPU, where a pass over k + 1 tokens costs about as much as a pass over
# one — and when the draft is close to the target: α is the lever.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 5. Continuous outputs: a density per step
#
# Nothing in the chain rule needs tokens. For a real-valued series, each conditional
# $p(x_t \mid x_{<t})$ can be a density whose parameters a network computes from the past:
# a Gaussian head outputs a mean µ_t and a standard deviation σ_t, and the exact NLL per
# step is
# $$-\log \mathcal N(x_t; \mu_t, \sigma_t^2) = \tfrac12\Big(\log 2\pi + \log \sigma_t^2 + \frac{(x_t - \mu_t)^2}{\sigma_t^2}\Big).$$
# Daily returns have **heavy tails** and **volatility clustering**: calm weeks and wild
# weeks. The classical AR(p) model $x_t = c + \sum_j \phi_j x_{t-j} + \varepsilon_t$
# (the origin of the name "autoregressive") predicts the mean only, with one constant
# variance. Our data: a GARCH(1,1) process with Student-t innovations from `arcourse.data`,
# which also tells us the true conditional density — the best NLL any model can reach.

# %%
process = GarchProcess()  # omega=0.05, alpha=0.08, beta=0.89, df=5: like daily returns in %
train_series, test_series = process.sample(20_000, seed=0), process.sample(20_000, seed=1)
x = test_series.values
kurtosis = float(((x - x.mean()) ** 4).mean() / x.var() ** 2)
squares = x**2 - (x**2).mean()
acf_sq = float((squares[:-1] * squares[1:]).mean() / squares.var())
acf = float(((x[:-1] - x.mean()) * (x[1:] - x.mean())).mean() / x.var())
print(f"kurtosis {kurtosis:.1f} (Gaussian: 3); lag-1 autocorrelation of x {acf:.3f}, of x^2 {acf_sq:.3f}")
assert kurtosis > 5 and abs(acf) < 0.05 and acf_sq > 0.1

fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 3))
ax1.plot(x[:1500], lw=0.6, label="x_t")
ax1.plot(2 * test_series.volatility[:1500], "r", lw=0.8, label="±2 sigma_t (true)")
ax1.plot(-2 * test_series.volatility[:1500], "r", lw=0.8)
ax1.set(title="a GARCH(1,1) series: volatility clusters", xlabel="day t", ylabel="return x_t (%)")
ax1.legend(fontsize=8)
grid = torch.linspace(-10, 10, 200)
ax2.hist(x.numpy(), bins=120, density=True, log=True, alpha=0.6, label="x_t")
ax2.plot(grid, torch.distributions.Normal(x.mean(), x.std()).log_prob(grid).exp(), "k", label="Gaussian, same variance")
ax2.set(ylim=(1e-5, 1), title="heavy tails (log scale)", xlabel="return x_t (%)", ylabel="density")
ax2.legend(fontsize=8)
plt.show()

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### The Gaussian NLL, and AR(p) by least squares
#
# First the loss from the formula, checked against the library and PyTorch. Then the
# classical model: stack the last p values of every step into a design matrix and solve
# least squares; the maximum-likelihood noise variance is the mean squared residual. Its
# NLL is the baseline a neural model must beat on the same targets.

# %%
def nll_normal(x, mu, sigma):
    return 0.5 * (math.log(2 * math.pi) + torch.log(sigma**2) + (x - mu) ** 2 / sigma**2)


xs, mus, sigmas = torch.randn(100) * 3, torch.randn(100), torch.rand(100) + 0.1
torch.testing.assert_close(nll_normal(xs, mus, sigmas), gaussian_nll(xs, mus, sigmas))
torch.testing.assert_close(nll_normal(xs, mus, sigmas), -torch.distributions.Normal(mus, sigmas).log_prob(xs))

P = 32  # every model below reads the same window of the last 32 values
series = train_series.values.double()
design = torch.cat([series.unfold(0, P, 1)[:-1].flip(-1), torch.ones(len(series) - P, 1, dtype=series.dtype)], 1)
solution = torch.linalg.lstsq(design, series[P:, None]).solution[:, 0]  # (phi_1..phi_P, c)
sigma_ls = (series[P:] - design @ solution).pow(2).mean().sqrt()
ar = LinearAR.fit(train_series.values, P)
torch.testing.assert_close(ar.coef, solution[:-1].float(), atol=1e-5, rtol=0)
torch.testing.assert_close(ar.scale, sigma_ls.float())
print(f"AR({P}): |phi| max {solution[:-1].abs().max():.3f}, c = {solution[-1]:.3f}, sigma = {sigma_ls:.3f}"
      " — returns are nearly unpredictable in the mean")

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Neural AR models with a Gaussian and a Student-t head
#
# `ContinuousAR` runs a small MLP on the same window of 32 values (a causal convolution
# computes it at every step in one pass) and ends in a head: (µ, σ) for the Gaussian,
# (µ, σ, ν) for the Student-t, whose $\nu$ degrees of freedom let it put more mass in the
# tails. Training is `arcourse.train` with a loss function that returns the summed NLL and
# the number of scored steps; steps whose window is still zero-padded are skipped.

# %%
def series_loss(model, batch):
    inputs, targets = batch
    nll = model(inputs).nll(targets)[:, P - 1:]  # (B, T - P + 1): full windows only
    return nll.sum(), torch.tensor(nll.numel(), device=nll.device)


train_x, test_x = train_series.values.to(device), test_series.values.to(device)
test_batch = [(test_x[None, :-1], test_x[None, 1:])]  # the whole test series in one pass
models = {}
for head in ("gaussian", "student_t"):
    seed_everything(0)
    models[head] = ContinuousAR(ContinuousARConfig.small(head=head)).to(device)
    train(models[head], series_batches(train_x, 128, 32, seed=0), 150, lr=5e-3, schedule="cosine",
          loss_fn=series_loss, description=head)

# %%
nll_table = {
    "one Gaussian (mean, variance of the training data)": float(gaussian_nll(
        test_x[P:], train_x.mean(), train_x.std()).mean()),
    f"AR({P}) least squares, Gaussian": evaluate(ar.to(device), test_batch, series_loss),
    "neural AR, Gaussian head": evaluate(models["gaussian"], test_batch, series_loss),
    "neural AR, Student-t head": evaluate(models["student_t"], test_batch, series_loss),
    "true process (GARCH, Student-t)": float(process.conditional_nll(test_series)[P:].mean()),
}
for name, value in nll_table.items():
    print(f"{value:7.4f} nats/step  {name}")
values = list(nll_table.values())
assert values[2] < values[1] - 0.03  # a predicted sigma_t beats one constant variance
assert values[3] < values[2] - 0.02  # heavy tails beat the Gaussian head on heavy-tailed data
assert values[4] < values[3] < values[4] + 0.05  # close to the best possible, never below it

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Calibration: do the bands cover what they claim?
#
# A central 90 % band should contain the next value 90 % of the time. With the predictive
# CDF F_t, the band contains x_t exactly when $F_t(x_t)$ lies in (0.05, 0.95), so the
# coverage of every level can be read off the values $F_t(x_t)$ (the probability integral
# transform, uniform for a calibrated model).

# %%
levels = (0.5, 0.9, 0.99)
with torch.no_grad():
    pit = {name: model(test_x[None, :-1]).cdf(test_x[None, 1:])[0, P - 1:].cpu()
           for name, model in [(f"AR({P})", ar), ("Gaussian head", models["gaussian"]), ("Student-t head", models["student_t"])]}
coverage = {name: [float(((u > (1 - lv) / 2) & (u < (1 + lv) / 2)).float().mean()) for lv in levels] for name, u in pit.items()}
print("nominal        ", "  ".join(f"{lv:.2f}" for lv in levels))
for name, cov in coverage.items():
    print(f"{name:15s}", "  ".join(f"{c:.3f}" for c in cov))
n_test = len(pit["Student-t head"])
for level, cov in zip(levels, coverage["Student-t head"]):
    assert abs(cov - level) < 4 * math.sqrt(level * (1 - level) / n_test) + 0.01  # nominal within noise

# %%
peak = int(test_series.volatility[500:-500].argmax()) + 500  # show the most turbulent stretch
window = slice(peak - 300, peak + 100)
with torch.no_grad():
    out = {name: model(test_x[None, :-1]) for name, model in [(f"AR({P})", ar), ("Student-t", models["student_t"])]}
fig, axes = plt.subplots(1, 2, figsize=(12, 3.2))
steps = torch.arange(window.start, window.stop)
for name, color in [(f"AR({P})", "tab:orange"), ("Student-t", "tab:green")]:
    low, high = type(out[name])(*(f[0, window] for f in out[name])).interval(0.9)  # fields (400,)
    axes[0].fill_between(steps, low.cpu(), high.cpu(), alpha=0.3, color=color, label=f"{name}: 90 % band")
axes[0].plot(steps, test_x[1:][window].cpu(), "k", lw=0.6, label="x_{t+1}")
axes[0].set(title="one-step-ahead 90 % bands", xlabel="day t", ylabel="return (%)")
axes[0].legend(fontsize=8)

origin, horizon = window.stop, 40
paths = forecast(models["student_t"], test_x[:origin], horizon, 500, generator=make_generator(3, device)).cpu()
future = torch.arange(origin, origin + horizon)
band = paths.quantile(torch.tensor([0.05, 0.5, 0.95]), dim=0)
axes[1].plot(torch.arange(origin - 100, origin), x[origin - 100:origin], "k", lw=0.7, label="history")
axes[1].plot(future, x[origin:origin + horizon], "k--", lw=0.7, label="what happened")
axes[1].fill_between(future, band[0], band[2], alpha=0.3, color="tab:green", label="5-95 % of 500 sampled paths")
axes[1].plot(future, paths[:3].T, lw=0.5)
axes[1].set(title="Student-t AR: sampled futures", xlabel="day t", ylabel="return (%)")
axes[1].legend(fontsize=8)
plt.show()
assert paths.shape == (500, horizon) and bool(torch.isfinite(paths).all())

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 6. Summary — the measured table

# %%
(_, stats4), seconds4 = measured[4]
print(f"{'names, 64-char windows':24s} {'params':>7s} {'test NLL':>9s} {'train chars/s':>14s} {'gen chars/s':>12s} "
      f"{'uncached':>9s} {'state @64':>10s} {'state @1024':>12s}")
for label in families:
    row, mem = table[label], dict(zip(lengths, memory[label]))
    print(f"{label:24s} {row['params']:7,d} {row['nll']:9.3f} {row['train']:14,.0f} {row['gen']:12,.0f} "
          f"{row['gen_uncached']:9,.0f} {mem[64]:10,d} {mem[1024]:12,d}")
print(f"{'bigram':24s} {table['bigram']['params']:7,d} {table['bigram']['nll']:9.3f}\n")
rows = [
    ("scaling (GPT, N params)", f"test NLL = L_inf + a N^-b over N = {int(sizes[0]):,}..{int(sizes[-1]):,}",
     f"{floor:.3f} + {a:.1f} N^-{b:.2f}"),
    *[("exposure bias (LSTM)", f"{label}: test NLL / gap", f"{r.teacher_forced_nll:.3f} / {r.gap:.3f}")
      for label, (r, _) in exposure.items()],
    ("speculative, k = 4", "tokens per target call", f"{stats4.tokens_per_target_call:.2f} (plain: 1)"),
    ("speculative, k = 4", "acceptance rate / alpha", f"{stats4.acceptance_rate:.2f} / {alpha:.2f}"),
    ("speculative, k = 4", "wall-clock speedup over cached plain", f"{plain_seconds[True] / seconds4:.2f}x "
     f"({plain_seconds[True] / full_pass_seconds:.2f}x with full-pass verification)"),
    ("speculative", "chi-square p-values, chars 1-3", ", ".join(f"{pv:.2f}" for pv in p_values)),
    *[("series NLL (nats/step)", name, f"{value:.4f}") for name, value in nll_table.items()],
    ("Student-t head", "coverage of 50/90/99 % bands", " / ".join(f"{c:.3f}" for c in coverage["Student-t head"])),
]
for section, what, value in rows:
    print(f"{section:24s} {what:52s} {value}")

# %% [markdown]
#
# - **Three families, measured** on the same characters at similar sizes (the table above
#   prints parameters, NLL and speeds). Their generation
#   states differ in kind — constant (LSTM), constant but set by the receptive field
#   (WaveNet), linear in the context (GPT's KV cache) — and all three use about one name
#   of context here.
# - **Scaling**: loss falls as a power law in size until the training characters run out;
#   a fit is a summary of measured points, not a licence to extrapolate.
# - **Scheduled sampling** did not reduce exposure bias here; it made it worse, along
#   with the likelihood. Measure before trusting a remedy.
# - **Speculative decoding** leaves the target's distribution exactly as it was (chi-square
#   tests above) while a round of k drafts yields $(1 - \alpha^{k+1})/(1 - \alpha)$ tokens per
#   target call; α = 1 − TV(p, q) measures how well the draft imitates the target.
# - **Continuous outputs** keep everything an AR model offers — exact likelihood, sampling,
#   calibrated uncertainty — with a density head instead of a softmax. On heavy-tailed data
#   with volatility clustering, predicting σ_t beats the constant-variance AR(p) fit, and a
#   Student-t head beats a Gaussian one, closing most of the gap to the true process.
#   The alternative is to discretise (WaveNet's µ-law bins, lecture 05) and keep the softmax.
#
# **Exercise 08** (`exercises/ex08_beyond.py`): implement the Gaussian NLL head and the
# speculative accept/reject step; the grader checks them exactly by enumeration and by
# sampling.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## In class: speculative decoding, measured
#
# The largest GPT of this lecture's checkpoint is the target; the drafts run from the smallest
# GPT to the target itself. Pick a draft and k: the panel generates speculatively and reports
# the measured acceptance rate (next to the $1 - \mathrm{TV}(p, q)$ the theory predicts),
# tokens per target call and the time against plain sampling.

# %%
from arcourse.widgets import SpeculativePanel

speculative_panel = SpeculativePanel.from_checkpoint(k=4)
speculative_panel.draft.value = list(speculative_panel.drafts)[-1]  # the target drafting for itself
assert speculative_panel.stats.acceptance_rate == 1.0
speculative_panel.widget
