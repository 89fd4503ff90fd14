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
# # Lecture 05 — WaveNet: dilated causal convolutions for raw audio
#
# One second of telephone-quality audio is 8,000 numbers. WaveNet (van den Oord et al.,
# 2016) models them exactly like text, one sample at a time:
#
# $$p(x_1, \dots, x_T) = \prod_{t=1}^{T} p(x_t \mid x_{t-R}, \dots, x_{t-1}),$$
#
# where each conditional is a softmax over 256 **µ-law** levels and $R$, the **receptive
# field**, is how far back the network looks. Audio needs a large $R$ (a 220 Hz tone repeats
# only every 36 samples), so WaveNet stacks **causal convolutions** whose **dilation**
# doubles from layer to layer: $R$ grows exponentially with depth while training stays
# parallel over all $T$ positions. Generation is sequential; caching each layer's recent
# inputs in **queues** (Paine et al., 2016) makes every new sample cost $O(\text{layers})$
# instead of a pass over the receptive field.
#
# Plan: causal and dilated convolutions → the receptive field (formula, gradient, diagram)
# → µ-law → the gated residual layer → training on synthetic music → naive vs. fast
# generation → conditioning on the instrument.

# %% tags=["arcourse-setup", "remove-cell"]
# Colab / JupyterHub: installs the course when this kernel does not have it (nothing happens where it does).
try:
    import arcourse
except ImportError:
    print("arcourse is not installed here: installing v0.1.0 with pip, about a minute ...")
    get_ipython().run_line_magic("pip", "install -q 'arcourse[widgets] @ git+https://github.com/arcourse/arcourse@v0.1.0'")  # %pip install ...
    import arcourse

# %%
import time

import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from IPython.display import Audio, display

from arcourse import (
    dequantize_signal,
    get_device,
    load_checkpoint,
    make_generator,
    mu_law_compress,
    mu_law_decode,
    mu_law_encode,
    nll,
    quantize_signal,
    seed_everything,
    train,
)
from arcourse.data import SAMPLE_RATE, audio_batches, synthetic_music, tone
from arcourse.decoding import generate
from arcourse.models import BigramConfig, BigramLM, CausalConv1d, WaveNet, WaveNetConfig, input_gradient, receptive_field

device = get_device()
if device.type == "cpu":
    # small convolutions and one-sample-at-a-time generation: splitting them across CPU
    # threads costs more in synchronisation than it saves (as in lecture 03)
    torch.set_num_threads(1)
seed_everything(0)
LN2 = np.log(2.0)
print("device:", device)

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 1. Causal convolution: pad on the left only
#
# An ordinary ("same") convolution centres its kernel on $t$ and so reads $x_{t+1}$: fine
# for a classifier, fatal for a model of $p(x_t \mid x_{<t})$, which would learn to copy
# the answer. A **causal** convolution pads $(K-1)$ zeros on the left and none on the right:
# $y_t = \sum_{k=0}^{K-1} w_k\, x_{t-(K-1)+k}$. We perturb the future of $t = 5$ and see which
# outputs move.

# %% [markdown]
# *Predict before you run:* we change only the inputs after $t = 5$. Which outputs of the
# causal convolution move, and does the output at $t$ of an ordinary (centred) convolution
# move? The next cell shows both and asserts the answer.

# %%
def causal_conv(x, weight, dilation=1):
    """(B, C_in, T) -> (B, C_out, T); output t sees x_t, x_{t-d}, ..., x_{t-(K-1)d}."""
    K = weight.shape[-1]
    return F.conv1d(F.pad(x, ((K - 1) * dilation, 0)), weight, dilation=dilation)


def same_conv(x, weight):
    """The ordinary convolution: kernel centred on t, output as long as the input."""
    return F.conv1d(x, weight, padding="same")


x = torch.randn(1, 1, 12)
w = torch.randn(1, 1, 3)
t = 5
x_future = x.clone()
x_future[..., t + 1:] += 1.0  # change only x_6, x_7, ...
moved_causal = (causal_conv(x_future, w) - causal_conv(x, w)).abs()[0, 0]
moved_same = (same_conv(x_future, w) - same_conv(x, w)).abs()[0, 0]
assert moved_causal[: t + 1].max() == 0, "a causal output moved when only the future changed"
assert moved_same[t] > 0  # the ordinary convolution at t reads x_{t+1}


# %%
fig, ax = plt.subplots(figsize=(7, 2.2))
ax.stem(np.arange(12) - 0.1, moved_same.numpy(), linefmt="C3-", markerfmt="C3o", basefmt=" ", label="ordinary ('same')")
ax.stem(np.arange(12) + 0.1, moved_causal.numpy(), linefmt="C0-", markerfmt="C0s", basefmt=" ", label="causal")
ax.axvline(t + 0.5, color="gray", ls=":")
ax.set(xlabel="output position", ylabel="|change|", title=f"inputs after t = {t} changed")
ax.legend()
plt.show()

# %% [markdown]
# The library's `CausalConv1d` is the same operation as an `nn.Conv1d` subclass:

# %%
library_conv = CausalConv1d(1, 1, kernel_size=3, dilation=2)
with torch.no_grad():
    library_conv.weight.copy_(w)
    library_conv.bias.zero_()
torch.testing.assert_close(library_conv(x), causal_conv(x, w, dilation=2))

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 2. Dilation and the receptive field
#
# A dilated convolution skips inputs: $y_t = \sum_k w_k\, x_{t - d(K-1-k)}$. Each layer with
# dilation $d$ reaches $(K-1)d$ further back than its input did, so a stack sees
#
# $$R = 1 + (K-1)\sum_\ell d_\ell .$$
#
# With $d = 1$ everywhere, $R$ grows linearly with depth ($R = L + 1$ for $K = 2$); with
# $d_\ell = 2^{\ell-1}$ it doubles with every layer: 10 layers, dilations 1 … 512, give
# $R = 1024$. We check the formula by **measuring**: the gradient of the last output of a
# random stack with respect to the input is non-zero exactly on its receptive field.

# %%
def rf_formula(kernel_size, dilations):
    return 1 + (kernel_size - 1) * sum(dilations)


def measured_rf(dilations, kernel_size=2, length=1100):
    """Count the inputs with a non-zero gradient of the last output of a random stack."""
    x = torch.randn(1, 1, length, requires_grad=True)
    h = x
    for d in dilations:
        h = torch.tanh(causal_conv(h, torch.randn(1, 1, kernel_size), d))
    (grad,) = torch.autograd.grad(h[0, 0, -1], x)
    return int((grad != 0).sum())


depths = range(1, 11)
plain = [measured_rf([1] * L) for L in depths]
dilated = [measured_rf([2**i for i in range(L)]) for L in depths]
assert plain == [rf_formula(2, [1] * L) for L in depths]
assert dilated == [rf_formula(2, [2**i for i in range(L)]) for L in depths] == [receptive_field(2, [2**i for i in range(L)]) for L in depths]
assert dilated[-1] == 1024


# %%
fig, ax = plt.subplots(figsize=(5, 3))
ax.semilogy(depths, plain, "o-", label="dilation 1 (linear)")
ax.semilogy(depths, dilated, "s-", label="dilation 2^(l-1) (exponential)")
ax.set(xlabel="layers", ylabel="receptive field (samples)", title="measured by the gradient = formula")
ax.legend()
plt.show()

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### The receptive field of a real WaveNet
#
# The library's `WaveNet` takes one-hot inputs (or integer ids), so we can differentiate the
# logits of the **last** position with respect to every input position. The model we will
# train has one stack of 8 layers, dilations 1 … 128: $R = 256$ samples, 32 ms at 8 kHz.
# *Predict before you run:* of the $R + 100$ inputs we feed it, on how many is that gradient
# non-zero — and is it equally large on all of them?

# %%
config = WaveNetConfig.small(n_conditions=2)
model = WaveNet(config).to(device)
R = model.receptive_field
print("dilations:", config.dilations, " receptive field:", R, " parameters:", sum(p.numel() for p in model.parameters()))

T = R + 100
ids = torch.randint(256, (4, T), device=device)  # four random sequences
one_hot = F.one_hot(ids, 256).float().requires_grad_(True)  # (B, T, Q)
logits = model(one_hot, torch.zeros(4, dtype=torch.long, device=device))  # (B, T, Q)
(grad,) = torch.autograd.grad(logits[:, -1].sum(), one_hot)
sensitivity = grad.abs().sum(dim=(0, 2)).cpu()  # (T,) how much the last output depends on each input

seen = (sensitivity != 0).nonzero().flatten()
assert seen.min() == T - R and seen.max() == T - 1 and len(seen) == R  # exactly the last R inputs
library_seen = input_gradient(model, T, condition=torch.tensor([0], device=device)).cpu() != 0
assert torch.equal(library_seen, sensitivity != 0)

fig, ax = plt.subplots(figsize=(8, 2.5))
ax.semilogy(seen.numpy(), sensitivity[seen].numpy(), ".", ms=3, label="non-zero gradient")  # zeros have no log
ax.axvspan(T - R - 0.5, T - 0.5, alpha=0.15, label=f"receptive field: last {R} inputs")
ax.set_xlim(0, T)
ax.text(0.02, 0.5, "exactly 0\nleft of the band", transform=ax.transAxes, fontsize=8)
ax.set(xlabel="input position", ylabel="|d logits / d x|", title=f"the last output (position {T - 1}) sees exactly R = {R} inputs")
ax.legend()
plt.show()

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### The classic dilation diagram, drawn from an actual model
#
# A small WaveNet with dilations 1, 2, 4, 8. We record the gradient of the last output with
# respect to every layer's activations (a forward pre-hook keeps each layer's input), and
# colour the units it depends on; the lines are the convolution taps read off the model's
# layers. The coloured tree is the figure from the WaveNet paper.

# %%
demo = WaveNet(WaveNetConfig(vocab_size=16, residual_channels=4, skip_channels=4, layers_per_stack=4, n_stacks=1))
inputs_of_layer = []
hooks = [layer.register_forward_pre_hook(lambda layer, args: inputs_of_layer.append(args[0])) for layer in demo.layers]
Td = 20
x_demo = F.one_hot(torch.randint(16, (4, Td)), 16).float()  # four random sequences
out = demo(x_demo)
for hook in hooks:
    hook.remove()
grads = torch.autograd.grad(out[:, -1].sum(), inputs_of_layer)  # one (B, C, T) per layer input
cones = [(g.abs().sum(dim=(0, 1)) != 0) for g in grads]  # row l: units of layer l's input the output depends on

dilations = [layer.dilation for layer in demo.layers]
for row, cone in enumerate(cones):  # row l sees T-1 minus any sum of the dilations of layers l, l+1, ...
    offsets = {0}
    for d in dilations[row:]:
        offsets |= {o + d for o in offsets}
    assert set((Td - 1 - cone.nonzero().flatten()).tolist()) == offsets


# %%
fig, ax = plt.subplots(figsize=(9, 3.6))
n_rows = len(dilations) + 1
for row in range(1, n_rows):  # edges from each unit of row `row` to the two taps below it
    d = dilations[row - 1]
    for s in range(Td):
        for src in (s - d, s):
            if src >= 0:
                hot = row == n_rows - 1 and s == Td - 1 or row < n_rows - 1 and bool(cones[row][s])
                hot = hot and bool(cones[row - 1][src])
                ax.plot([src, s], [row - 1, row], color="C0" if hot else "0.85", lw=1.8 if hot else 0.6, zorder=1)
for row in range(n_rows):
    lit = cones[row] if row < n_rows - 1 else torch.arange(Td) == Td - 1
    ax.scatter(np.arange(Td), np.full(Td, row), s=40, c=["C0" if v else "white" for v in lit.tolist()],
               edgecolors="0.3", zorder=2)
ax.set_yticks(range(n_rows), ["input"] + [f"dilation {d}" for d in dilations[:-1]] + ["output (dilation 8)"])
ax.set_xticks(range(0, Td, 2))                               # whole time steps
ax.set_xlabel("time step")
ax.set_title(f"receptive field of the last output: {int(cones[0].sum())} = 1 + sum(dilations) inputs")
for side in ("top", "right", "left"):
    ax.spines[side].set_visible(False)
plt.show()

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 3. µ-law: 256 levels that suit quiet sounds
#
# A softmax needs a finite set of values. Quantising the amplitude uniformly to 8 bits
# spends as many levels on loud values as on quiet ones, so quiet audio gets only a handful
# of levels. µ-law first compresses the amplitude,
#
# $$f(x) = \mathrm{sign}(x)\,\frac{\ln(1+\mu|x|)}{\ln(1+\mu)}, \qquad \mu = 255,$$
#
# then quantises $f(x)$ uniformly: the levels crowd near zero, and the error becomes a
# near-constant **fraction** of the amplitude.

# %%
def compand(x, mu=255.0):
    return torch.sign(x) * torch.log1p(mu * x.abs()) / np.log1p(mu)


def expand(y, mu=255.0):
    return torch.sign(y) * torch.expm1(y.abs() * np.log1p(mu)) / mu


grid = torch.linspace(-1, 1, 2001, dtype=torch.float64)
torch.testing.assert_close(compand(grid), mu_law_compress(grid))
torch.testing.assert_close(expand(compand(grid)), grid)

levels = dequantize_signal(torch.arange(256))  # the 256 values of f(x) that µ-law can store
fig, axes = plt.subplots(1, 2, figsize=(10, 3.2))
axes[0].plot(grid, compand(grid), label="µ = 255")
axes[0].plot(grid, compand(grid, 15.0), label="µ = 15")
axes[0].plot(grid, grid, "k:", label="linear")
axes[0].set(xlabel="x", ylabel="f(x)", title="µ-law companding")
axes[0].legend()
axes[1].hist(expand(levels.double()).numpy(), bins=np.linspace(-1, 1, 41), alpha=0.7, label="µ-law levels")
axes[1].hist(levels.numpy(), bins=np.linspace(-1, 1, 41), alpha=0.7, label="linear levels")
axes[1].set(xlabel="amplitude", ylabel="levels per bin", title="where the 256 levels sit")
axes[1].legend()
plt.tight_layout()
plt.show()

# %% [markdown]
# **Measured:** the signal-to-noise ratio $10\log_{10}\big(\sum x^2 / \sum (x - \hat x)^2\big)$
# of a tone quantised to 8 bits, linearly and with µ-law, as the tone gets quieter.

# %% [markdown]
# *Predict before you run:* for a quiet tone, which of the two 8-bit codes keeps the better
# signal-to-noise ratio, and which one wins at full scale? (Both answers are asserted.)

# %%
def snr_db(x, x_hat):
    return float(10 * np.log10(np.sum(x**2) / np.sum((x - x_hat) ** 2)))


loudness = np.geomspace(1.0, 0.003, 12)
snr_linear, snr_mu = [], []
for a in loudness:
    x = tone(440.0, 0.25, amplitude=float(a), instrument="organ").astype(np.float64)
    snr_linear.append(snr_db(x, dequantize_signal(quantize_signal(x)).astype(np.float64)))
    snr_mu.append(snr_db(x, mu_law_decode(mu_law_encode(x)).astype(np.float64)))
    back = mu_law_decode(mu_law_encode(x))  # round trip: error below half a level, relative to |x|
    assert np.all(np.abs(back - x) <= (1 / 255 + np.abs(x)) * (256 ** (1 / 255) - 1) + 1e-6)

quiet = loudness <= 0.1
assert all(m > l for m, l in zip(np.array(snr_mu)[quiet], np.array(snr_linear)[quiet]))  # µ-law wins when quiet
assert snr_linear[0] > snr_mu[0]  # ... and loses a little at full scale
loud_enough = loudness >= 0.02
assert np.ptp(np.array(snr_mu)[loud_enough]) < 3  # µ-law: within 3 dB from full scale down to 2 %
db_per_halving = np.polyfit(np.log2(loudness), snr_linear, 1)[0]
assert 5.5 < db_per_halving < 6.5  # linear: about 6 dB lost each time the amplitude halves


# %%
fig, ax = plt.subplots(figsize=(6, 3))
ax.semilogx(loudness, snr_linear, "o-", label="linear 8-bit")
ax.semilogx(loudness, snr_mu, "s-", label="µ-law 8-bit")
ax.set(xlabel="peak amplitude", ylabel="SNR (dB)", title="quantisation error of a tone")
ax.invert_xaxis()
ax.legend()
plt.show()
print(f"SNR at amplitude 1.0:   linear {snr_linear[0]:.1f} dB, µ-law {snr_mu[0]:.1f} dB")
print(f"SNR at amplitude 0.003: linear {snr_linear[-1]:.1f} dB, µ-law {snr_mu[-1]:.1f} dB")
print(f"linear 8-bit loses {db_per_halving:.1f} dB per halving of the amplitude")

# %% [markdown]
# Listen: a quiet tone (peak 0.01), then its linear 8-bit and µ-law 8-bit versions.

# %%
quiet_tone = tone(440.0, 1.0, amplitude=0.01, instrument="organ", decay=0.0)
for name, signal in [("original", quiet_tone), ("linear 8-bit", dequantize_signal(quantize_signal(quiet_tone))),
                     ("µ-law 8-bit", mu_law_decode(mu_law_encode(quiet_tone)))]:
    print(name)
    display(Audio(signal / 0.01 * 0.5, rate=SAMPLE_RATE, normalize=False))  # amplified 50x to hear it

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 4. The data: synthetic music at 8 kHz
#
# `synthetic_music` makes short melodies of pentatonic notes and chords (220–880 Hz) played
# on one of two instruments — a pure **sine** and a hollow **clarinet** (odd harmonics) —
# each clip at its own loudness. It is a seeded generator: nothing downloads. (Your own
# recording works too: `arcourse.data.load_wav(path, sample_rate=8000)`.)

# %%
INSTRUMENT_NAMES = ("sine", "clarinet")
clips, labels = synthetic_music(80, duration=1.0, instruments=INSTRUMENT_NAMES, seed=0)
audio_q = torch.as_tensor(mu_law_encode(clips))  # (N, T) levels 0..255
labels = torch.as_tensor(labels)
train_q, test_q = audio_q[:64], audio_q[64:]
train_labels, test_labels = labels[:64], labels[64:]
print("clips:", tuple(audio_q.shape), " test clips per instrument:", torch.bincount(test_labels).tolist())

first_of = [int((labels == k).nonzero()[0]) for k in range(2)]  # one training clip per instrument
fig, axes = plt.subplots(2, 3, figsize=(13, 5))
for row, i in enumerate(first_of):
    axes[row, 0].plot(np.arange(8000) / SAMPLE_RATE, clips[i], lw=0.5)
    axes[row, 0].set(xlabel="seconds", title=f"clip {i} ({INSTRUMENT_NAMES[labels[i]]})")
    axes[row, 1].plot(np.arange(200), clips[i][2000:2200], ".-", lw=0.8)
    axes[row, 1].set(xlabel="samples", title="25 ms of it")
    axes[row, 2].specgram(clips[i], NFFT=256, Fs=SAMPLE_RATE, noverlap=192, cmap="magma")
    axes[row, 2].set(xlabel="seconds", ylabel="Hz", title="spectrogram")
plt.tight_layout()
plt.show()
for i in first_of:
    print(f"clip {i}: {INSTRUMENT_NAMES[labels[i]]}")
    display(Audio(clips[i], rate=SAMPLE_RATE))

# %% [markdown]
# **Baselines** to beat, in bits per sample on the test clips: the marginal histogram of
# the 256 levels (no context at all), and a table of $p(x_t \mid x_{t-1})$ (one sample of
# context), both estimated on the training clips with add-one smoothing.

# %%
def bits_per_sample(probs):
    return float(-torch.log2(probs).mean())


marginal = torch.bincount(train_q.flatten(), minlength=256).double() + 1
marginal /= marginal.sum()
table = BigramLM(BigramConfig.small(vocab_size=256)).double().fit([(train_q[:, :-1], train_q[:, 1:])])
bigram = table.table.detach().exp()  # (256, 256) add-one smoothed p(x_t | x_{t-1})

marginal_bits = bits_per_sample(marginal[test_q[:, 1:]])
bigram_bits = bits_per_sample(bigram[test_q[:, :-1], test_q[:, 1:]])
assert abs(bigram.sum(dim=1) - 1).max() < 1e-9
print(f"marginal histogram: {marginal_bits:.2f} bits/sample   previous-sample table: {bigram_bits:.2f} bits/sample")

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 5. The gated residual layer
#
# Each WaveNet layer feeds a dilated causal convolution into a **gated unit**
#
# $$a = \tanh(W_f * x + V_f c) \odot \sigma(W_g * x + V_g c),$$
#
# (a filter and a gate, as in the gated PixelCNN; $c$ is an optional global condition),
# then splits: a 1×1 convolution of $a$ is added back to the input (**residual**, so deep
# stacks train), and another 1×1 convolution goes straight to the output (**skip**). The
# output head sums all skips: ReLU → 1×1 → ReLU → 1×1 → logits over 256 levels.

# %%
class GatedLayerByHand(nn.Module):
    def __init__(self, channels, skip_channels, dilation, n_conditions, kernel_size=2):
        super().__init__()
        self.dilation, self.pad = dilation, (kernel_size - 1) * dilation
        self.filter_and_gate = nn.Conv1d(channels, 2 * channels, kernel_size, dilation=dilation)
        self.condition = nn.Embedding(n_conditions, 2 * channels)
        self.residual = nn.Conv1d(channels, channels, 1)
        self.skip = nn.Conv1d(channels, skip_channels, 1)

    def forward(self, x, c):  # x (B, C, T), c (B,)
        z = self.filter_and_gate(F.pad(x, (self.pad, 0)))  # (B, 2C, T), causal
        z = z + self.condition(c)[:, :, None]  # the same shift at every time step
        filt, gate = z.chunk(2, dim=1)
        a = torch.tanh(filt) * torch.sigmoid(gate)  # (B, C, T)
        return x + self.residual(a), self.skip(a)  # (B, C, T), (B, S, T)


ours = GatedLayerByHand(config.residual_channels, config.skip_channels, dilation=4, n_conditions=2).to(device)
theirs = model.layers[2]  # the library layer with dilation 4
ours.load_state_dict({k.replace("conv.", "filter_and_gate."): v for k, v in theirs.state_dict().items()})
h = torch.randn(2, config.residual_channels, 50, device=device)
c = torch.tensor([0, 1], device=device)
for a, b in zip(ours(h, c), theirs(h, c)):
    torch.testing.assert_close(a, b)
print(model.layers[2])

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 6. Training
#
# Teacher forcing as for text: windows of 512 samples, inputs $x_{1..T-1}$, targets
# $x_{2..T}$, every position trained in parallel. The model is **conditioned** on the
# instrument (section 8), so the batches carry the clip's label and the loss passes it on.

# %%
def test_batches():
    return [(test_q[:, :-1], test_q[:, 1:], test_labels)]


TRAIN_STEPS = 140
seed_everything(0)
model = WaveNet(config).to(device)
batches = audio_batches(train_q, 512, 8, conditions=train_labels, seed=0)
history = train(model, batches, steps=TRAIN_STEPS, lr=1e-2, schedule="cosine", warmup_steps=TRAIN_STEPS // 10,
                eval_batches=test_batches, eval_every=TRAIN_STEPS)  # one test pass, at the end; a batch's third entry is the condition
test_bits = history.eval_loss[-1] / LN2
print(f"trained {TRAIN_STEPS} steps in {history.seconds:.1f} s; test: {test_bits:.2f} bits/sample "
      f"(previous-sample table {bigram_bits:.2f}, marginal {marginal_bits:.2f})")
assert test_bits < bigram_bits < marginal_bits

# %% [markdown]
# A hundred-odd steps beat both baselines, but sampling convincing audio takes longer.
# `scripts/make_wavenet_checkpoint.py` trained the same architecture for thousands of steps
# on other clips from the same generator (a different seed, so our test clips stay unseen);
# its configuration and weights ship with the course. We score it on the same test clips.

# %%
shipped = load_checkpoint("wavenet_music")
checkpoint = shipped.extras  # what the script recorded: instruments, steps, validation bits
assert tuple(checkpoint["instruments"]) == INSTRUMENT_NAMES
trained = shipped.model.to(device)


@torch.no_grad()
def clip_bits(model, clips_q, condition):
    """Bits per sample of each clip under the given labels: (N,)."""
    logits = model(clips_q[:, :-1].to(device), condition.to(device))  # (N, T - 1, Q)
    return (nll(logits, clips_q[:, 1:].to(device), reduction="none").mean(dim=1) / LN2).cpu()


own = clip_bits(trained, test_q, test_labels)  # (N,)
trained_bits = float(own.mean())  # the clips are equally long: the mean over all test samples
print(f"checkpoint ({checkpoint['steps']} steps): {trained_bits:.2f} bits/sample on our test clips")
assert trained_bits < test_bits


# %%
fig, ax = plt.subplots(figsize=(7, 3))
ax.plot(history.steps, np.array(history.train_loss) / LN2, lw=0.8, label="train (one batch)")
ax.plot(history.eval_steps, np.array(history.eval_loss) / LN2, "o-", label="test clips")
ax.axhline(marginal_bits, color="C3", ls="--", label="marginal histogram")
ax.axhline(bigram_bits, color="C2", ls="--", label="previous-sample table")
ax.axhline(trained_bits, color="k", ls=":", label=f"checkpoint, {checkpoint['steps']} steps")
ax.set(xlabel="step", ylabel="bits / sample", title="WaveNet on synthetic music (test clips)")
ax.legend(fontsize=8)
plt.show()

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 7. Generation: naive vs. fast
#
# Sampling is ancestral: draw $x_{t+1}$ from the model's softmax, append it, repeat — 8,000
# sequential steps per second of audio. The **naive** sampler re-runs the whole network on
# the last $R$ samples for every new one: $O(R \cdot \text{layers})$ work per sample, almost
# all of it recomputing activations it computed one step earlier.
#
# The **fast** sampler keeps, for every layer, a queue of that layer's last $(K-1)d$
# inputs. A new sample enters at the bottom; each layer concatenates its queue with the new
# input, applies its dilated kernel to get exactly one output, pushes the new input and
# drops the oldest. That is $O(\text{layers})$ work per sample. We build it from scratch:

# %%
@torch.no_grad()
def queue_sampler(model, prompt, n_samples, condition, generator):
    """Our fast sampler: one queue of recent inputs per layer; feeds the prompt one sample at a time."""
    B, T = prompt.shape
    queues = [torch.zeros(B, model.config.residual_channels, layer.conv.queue_len, device=prompt.device)
              for layer in model.layers]
    out = torch.cat([prompt, prompt.new_zeros(B, n_samples)], dim=1)
    for t in range(T + n_samples - 1):
        h = model.embed(out[:, t:t + 1])  # (B, C, 1)
        skips = 0
        for i, layer in enumerate(model.layers):
            window = torch.cat([queues[i], h], dim=-1)  # (B, C, (K-1)d + 1): all the kernel can reach
            queues[i] = window[..., 1:]  # push the newest input, drop the oldest
            taps = window[..., ::layer.dilation]  # (B, C, K): the inputs at t - (K-1)d, ..., t - d, t
            z = F.conv1d(taps, layer.conv.weight, layer.conv.bias)  # (B, 2C, 1)
            h, skip = layer.gate(h, z, layer.condition_bias(condition))
            skips = skips + skip
        if t >= T - 1:  # past the prompt: draw the next sample
            probs = model.head(skips)[:, -1].softmax(dim=-1)  # (B, Q)
            out[:, t + 1] = torch.multinomial(probs, 1, generator=generator)[:, 0]
    return out


# %%
def recompute_sampler(model, prompt, n_samples, condition=None, generator=None):
    """The library's naive path: the whole receptive field re-run for every new sample."""
    return generate(model, prompt, n_samples, condition=condition, generator=generator, use_cache=False)


def cached_sampler(model, prompt, n_samples, condition=None, generator=None):
    """The library's fast path: `WaveNet.start` fills the queues, `WaveNet.step` runs one sample."""
    return generate(model, prompt, n_samples, condition=condition, generator=generator)


def timed(sampler, model, prompt, n_samples, condition, seed=0):
    """(seconds, samples) of one sampling run, from a fresh generator."""
    start = time.perf_counter()
    out = sampler(model, prompt, n_samples, condition=condition, generator=make_generator(seed, device))
    if device.type == "cuda":
        torch.cuda.synchronize()  # GPU work runs asynchronously: wait for it before reading the clock
    return time.perf_counter() - start, out


# %%
prompt = test_q[:2, :400].to(device)  # 50 ms of two test clips
condition = test_labels[:2].to(device)
n = 100
naive_s, naive = timed(recompute_sampler, trained, prompt, n, condition, seed=1)
fast_s, fast = timed(cached_sampler, trained, prompt, n, condition, seed=1)
ours = queue_sampler(trained, prompt, n, condition, make_generator(1, device))
assert torch.equal(naive, fast) and torch.equal(ours, fast)  # identical samples
print(f"{n} samples x 2 clips: naive {naive_s:.2f} s, fast {fast_s:.2f} s ({naive_s / fast_s:.1f}x); "
      "naive == fast == ours")

# %% [markdown]
# Our queues shift: `torch.cat` copies all $(K-1)d$ entries at every step. The library's
# `cached_sampler` (through `WaveNet.start` and `WaveNet.step`) keeps the same queues as
# **ring buffers**: input $x_s$ lives in slot $s \bmod (K-1)d$, so the newest input simply
# overwrites the oldest, and a step's work no longer depends on the dilation at all.

# %% [markdown]
# Now half a second with the fast sampler (one to four of the data's notes): a test clip's
# first 50 ms and 0.45 s of WaveNet, once with the sine label and once with the clarinet label.

# %%
LENGTH = SAMPLE_RATE // 2  # half a second, prompt included
prompt = test_q[:1, :400].expand(2, 400).to(device)
both = torch.tensor([0, 1], device=device)
long_s, generated = timed(cached_sampler, trained, prompt, LENGTH - 400, both, seed=2)
print(f"{LENGTH - 400:,} samples ({(LENGTH - 400) / SAMPLE_RATE:.2f} s of audio) x 2 in {long_s:.1f} s")
waves = mu_law_decode(generated.cpu())  # (2, 4000) floats in [-1, 1]

fig, axes = plt.subplots(2, 2, figsize=(12, 5), sharey=True)
examples = [int((test_labels == k).nonzero()[0]) for k in range(2)]
for k, name in enumerate(INSTRUMENT_NAMES):
    axes[0, k].specgram(mu_law_decode(test_q[examples[k], :LENGTH]).numpy(), NFFT=256, Fs=SAMPLE_RATE, noverlap=192, cmap="magma")
    axes[0, k].set(title=f"data: {name}", ylabel="Hz")
    axes[1, k].specgram(waves[k].numpy(), NFFT=256, Fs=SAMPLE_RATE, noverlap=192, cmap="magma")
    axes[1, k].axvline(400 / SAMPLE_RATE, color="w", ls=":")
    axes[1, k].set(title=f"WaveNet sample, condition = {name} (prompt left of the line)", xlabel="seconds", ylabel="Hz")
plt.tight_layout()
plt.show()
for k, name in enumerate(INSTRUMENT_NAMES):
    print(f"sample, condition = {name}")
    display(Audio(waves[k].numpy(), rate=SAMPLE_RATE))
print(f"receptive field {R} samples = {1000 * R / SAMPLE_RATE:.0f} ms; the data's notes last 125, 250 or 500 ms")

# %% [markdown]
# **Listen for two flaws, and why they happen.** The model sees only its receptive field
# (printed above in milliseconds) — a fraction of one note. It can continue a waveform
# period by period, but it cannot know how long the current note has lasted, so it has no
# reason to change pitch on time: the melody collapses into a held **drone**. And because
# every sample is a draw, one unlikely draw can push the waveform into a shape that the
# model never saw in training; with nothing beyond its short window to pull it back, it can
# wander into **noise bursts** (broadband stripes in the spectrogram) before locking onto a
# period again. Longer context (more layers, larger
# dilations, or a second model for the melody, as in later work) is the remedy.

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### How much faster, and when?
#
# Per sample, the naive sampler's cost grows with the window it re-runs — up to $R$ — while
# the fast sampler's stays flat. First, the trained model ($R$ = 256) from a one-sample
# prompt, for more and more samples; then untrained models with 2 to 10 layers
# ($R$ = 4 … 1024), each continuing a prompt as long as its receptive field.

# %%
silence = torch.full((1, 1), 128, device=device)  # µ-law level of 0.0
label = torch.tensor([0], device=device)
counts = [32, 128, 384]
by_count = {name: [timed(s, trained, silence, k, label)[0] for k in counts]
            for name, s in [("naive", recompute_sampler), ("fast", cached_sampler)]}

depth_models = [WaveNet(WaveNetConfig.small(layers_per_stack=L)).to(device) for L in (2, 4, 6, 8, 10)]
fields = [m.receptive_field for m in depth_models]
by_field = {"naive": [], "fast": []}
for m in depth_models:
    long_prompt = torch.randint(256, (1, m.receptive_field), device=device)
    for name, s in [("naive", recompute_sampler), ("fast", cached_sampler)]:
        by_field[name].append(timed(s, m, long_prompt, 24, None)[0] / 24)
speedup_by_field = np.array(by_field["naive"]) / np.array(by_field["fast"])
speedup_by_count = np.array(by_count["naive"]) / np.array(by_count["fast"])
print("speedup by samples generated:", ", ".join(f"{k}: {v:.1f}x" for k, v in zip(counts, speedup_by_count)))
print("speedup by receptive field:  ", ", ".join(f"R = {r}: {v:.1f}x" for r, v in zip(fields, speedup_by_field)))
assert speedup_by_field[-1] > 1.0   # at R = 1024 the queues win even on a busy machine


# %%
fig, axes = plt.subplots(1, 2, figsize=(12, 3.4))
for name in ("naive", "fast"):
    axes[0].plot(counts, 1e3 * np.array(by_count[name]) / np.array(counts), "o-", label=name)
axes[0].axvline(R, color="gray", ls=":", label=f"R = {R}")
axes[0].set(xscale="log", xlabel="samples generated", ylabel="ms per sample", title="trained model, one-sample prompt")
axes[0].set_xticks(counts, [str(k) for k in counts], minor=False)
axes[0].minorticks_off()
axes[0].legend()
axes[1].semilogx(fields, speedup_by_field, "s-")
axes[1].set_xticks(fields, [str(r) for r in fields])
axes[1].minorticks_off()
axes[1].set(xlabel="receptive field R (samples)", ylabel="naive time / fast time", title="speedup vs. receptive field")
plt.tight_layout()
plt.show()

# %% [markdown]
# In principle the gap widens with $R$: the naive sampler's work per sample is proportional
# to the window it re-runs, the fast sampler's is not. Compare the printed speedups: timings
# on a shared CPU are noisy and need not rise monotonically, so the lecture asserts only that
# the fast sampler wins at the largest $R$. On a CPU the fast sampler pays a fixed
# overhead of several microseconds per PyTorch call (about ten calls per layer per sample),
# which is why a narrow model like ours gains less at small $R$; the benchmark
# `bench/bench_wavenet.py` measures a wider model with $R$ = 1,024 generating seconds of
# audio.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 8. Global conditioning: which instrument?
#
# The label enters every layer as a learned shift of the gate's pre-activations, the same
# at every time step. If the longer-trained model uses it, a test clip must be more
# probable under its own instrument's label than under the other one — and comparing the
# two likelihoods turns the generative model into a classifier, $\arg\max_c\, p(x \mid c)$.

# %%
other = clip_bits(trained, test_q, 1 - test_labels)
accuracy = float((own < other).float().mean())
print(f"test clips: {own.mean():.2f} bits/sample with their own label, {other.mean():.2f} with the other one; "
      f"likelihood picks the right instrument for {accuracy:.0%} of clips")
assert own.mean() < other.mean()
n_test = len(own)
chance_se = 0.5 / n_test ** 0.5                      # the standard error of a coin-flip classifier
print(f"{n_test} test clips: accuracy {accuracy:.0%}, chance 50% ± {chance_se:.0%}")
assert accuracy > 0.5 + 3 * chance_se                # well above chance: the likelihood tells them apart

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Summary
#
# - A **causal** convolution pads on the left only, so output $t$ never sees $x_{>t}$;
#   **dilation** $d$ spaces the taps $d$ apart. A stack has receptive field
#   $R = 1 + (K-1)\sum_\ell d_\ell$ — exponential in depth when the dilations double —
#   and the gradient of the last output is non-zero exactly on those $R$ inputs.
# - **µ-law** companding spends 256 levels where quiet sounds live: its SNR stays within
#   3 dB from full scale down to 2 % of it, while linear 8-bit loses about 6 dB each time
#   the amplitude halves (and wins only near full scale).
# - A WaveNet layer is a dilated causal convolution into a **gated unit**
#   $\tanh(\cdot) \odot \sigma(\cdot)$, with a **residual** path to the next layer and a
#   **skip** path to the output; a global condition shifts every gate.
# - Trained with teacher forcing in parallel, it beats the histogram and the
#   previous-sample table, and its likelihood tells the instruments apart. Sampling is
#   sequential; per-layer **queues** give exactly the naive sampler's samples at a cost
#   that no longer grows with the receptive field. The figures measured on this run:

# %%
print(f"bits/sample on test clips: marginal {marginal_bits:.2f}, previous-sample {bigram_bits:.2f}, "
      f"WaveNet (R = {R}) after {TRAIN_STEPS} steps {test_bits:.2f}, after {checkpoint['steps']} steps {trained_bits:.2f}")
print(f"the right instrument by likelihood for {accuracy:.0%} of test clips")
print(f"fast vs. naive sampling, trained model, {counts[-1]} samples from silence: {speedup_by_count[-1]:.1f}x faster")
print("fast vs. naive sampling by receptive field:",
      ", ".join(f"R = {r}: {v:.1f}x" for r, v in zip(fields, speedup_by_field)))

# %% [markdown]
# **Exercises** (`exercises/ex05_wavenet.ipynb`, graded with `arcourse grade`): the
# receptive-field formula (and its derivation, in writing), µ-law encoding and decoding, a
# causal dilated convolution summed from its taps without `conv1d`, the ring-buffer step of
# fast generation (which must reproduce the naive sampler's samples), and an experiment that
# measures a stack's receptive field by perturbing its input.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## In class: dilations and the receptive field
#
# Set the layers per stack, the stacks and the kernel size: the panel builds that WaveNet
# and draws the gradient of one output with respect to every input. It is non-zero exactly
# on the receptive field, $(k - 1) \sum_l d_l + 1$ inputs, and zero after the output. The
# button generates audio from the trained WaveNet of this lecture.

# %%
from arcourse.widgets import ReceptiveFieldPanel

field_panel = ReceptiveFieldPanel.from_checkpoint(layers=4)
field_panel.update()
assert field_panel.measured_field == field_panel.config.receptive_field == 16
field_panel.widget
