# ---
# jupyter:
#   arcourse:
#     exercise: ex05
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
# # Exercise 05 — WaveNet's building blocks
#
# *Grading runs your imports, functions, classes and simple constants (such as `LN2 = math.log(2)`), not the other cells; its report lists what it skipped.*
#
# Lecture 05 built causal convolutions with `F.conv1d`, checked the receptive field with a
# gradient, wrote µ-law, and a fast sampler whose queues shift one step at a time. Here, in
# three tiers:
#
# * **warm-up** — the **receptive field** $R = 1 + (K-1)\sum_\ell d_\ell$ of a stack, and
#   **µ-law** encoding to 256 levels and back;
# * **core** — a **causal dilated convolution written from its taps** (no `conv1d`: a sum
#   of $K$ shifted matrix products, for any kernel size), and the **ring-buffer** queue step
#   of fast generation (the library's trick the lecture only described), which a complete
#   fast sampler built on it must turn into exactly the naive sampler's samples;
# * **stretch** — an experiment: **measure** the receptive field of any stack by perturbing
#   its inputs, and compare with the formula.
#
# Two written questions (a derivation of the receptive field, the cost of fast generation)
# are marked by a person. Grade yourself with `arcourse grade exercises/ex05_wavenet.ipynb`;
# the cell after each part checks a small case.

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
import torch.nn.functional as F

from arcourse import make_generator
from arcourse.decoding import generate, sample_tokens
from arcourse.models import CausalConv1d, WaveNet, WaveNetConfig

torch.manual_seed(0)


# %% [markdown]
# ## 1. Receptive field
#
# A causal convolution with kernel size $K$ and dilation $d$ lets output $t$ see inputs
# $t, t-d, \dots, t-(K-1)d$: it reaches $(K-1)d$ steps further into the past than its input
# did. Stacking layers adds these reaches.

# %%
def receptive_field(kernel_size, dilations):
    """How many inputs (the current one included) one output of a stack of causal
    convolutions depends on.

    Args:
        kernel_size: K, the same for every layer (an int >= 1).
        dilations: the dilation of each layer, first layer first (a list of ints >= 1).
    Returns:
        the receptive field, an int.
    """
    # YOUR CODE HERE
    raise NotImplementedError('how many steps further back does one layer with kernel K and dilation d reach than its input did? Count the current sample too')


# %%
assert receptive_field(2, [1, 2, 4, 8]) == 16
assert receptive_field(3, [1, 1]) == 5
assert receptive_field(2, [1, 2, 4, 8, 16, 32, 64, 128, 256, 512]) == 1024  # WaveNet's 10 layers


# %% [markdown]
# ### A written question: derive the receptive field
#
# (a) Prove the formula by induction on the number of layers: say which inputs output $t$ of
# layer $\ell$ can depend on, given those of layer $\ell - 1$. (b) With kernel size $K = 3$ and
# dilations doubling from 1 ($1, 2, 4, \dots$), how many layers does a stack need to see at
# least 8,000 samples (one second at 8 kHz), and how many with $K = 2$? (c) The formula counts
# the *span* from the oldest input to the current one. Are all inputs inside the span really
# seen? Answer for dilations $[2, 2]$ with $K = 2$, and say which dilation schedules leave no
# holes.

# %% [markdown]
# **Answer (written: receptive_field_derivation, 2 points):**
# YOUR ANSWER HERE


# %% [markdown]
# ## 2. µ-law encoding
#
# Compress $f(x) = \mathrm{sign}(x)\,\ln(1+\mu|x|)/\ln(1+\mu)$ with $\mu$ = `levels - 1`,
# then map $y \in [-1, 1]$ to the level $\lfloor (y+1)/2 \cdot \mu + 0.5 \rfloor$ (round half
# up). Decoding maps level $q$ back to $y = 2q/\mu - 1$ and expands with
# $f^{-1}(y) = \mathrm{sign}(y)\,((1+\mu)^{|y|} - 1)/\mu$.

# %%
def mu_law_encode(x, levels=256):
    """Float samples in [-1, 1] (a tensor of any shape) -> int64 levels in [0, levels)."""
    # YOUR CODE HERE
    raise NotImplementedError('torch.log1p keeps the compression accurate near zero; round half up with a floor, and return integer levels')


def mu_law_decode(q, levels=256):
    """Integer levels in [0, levels) (a tensor of any shape) -> float samples in [-1, 1]."""
    # YOUR CODE HERE
    raise NotImplementedError('undo the two steps in reverse order: levels to [-1, 1] first, then expand; torch.expm1 is the accurate inverse of log1p')


# %%
assert mu_law_encode(torch.tensor([-1.0, 0.0, 1.0])).tolist() == [0, 128, 255]
x = torch.tensor([0.5, -0.01, 0.001])
back = mu_law_decode(mu_law_encode(x))
assert torch.all((back - x).abs() <= 0.03 * x.abs() + 1e-4), back  # the error is relative to |x|


# %% [markdown]
# ## 3. Core: a causal dilated convolution from its taps
#
# `weight` has shape $(C_{out}, C_{in}, K)$, as in `torch.nn.Conv1d`, which computes a
# *cross-correlation*: tap $k$ multiplies the input $(K-1-k)d$ steps back, so the last tap
# reads the present:
#
# $$y_t = b + \sum_{k=0}^{K-1} W_{:,:,k}\; x_{t - (K-1-k)d}, \qquad x_s = 0 \text{ for } s < 0.$$
#
# The lecture let `F.conv1d` do the sum after padding. Write the sum yourself, for any $K$
# (WaveNet uses 2; kernel size 3 is a common variant): one matrix product per tap with the
# input shifted by the right amount. `F.conv1d` and `torch.nn.Conv1d` are switched off for
# this question in the grader; the check below compares with them.

# %%
def causal_conv1d(x, weight, bias, dilation):
    """y_t = bias + sum_k weight[:, :, k] @ x_{t - dilation * (K - 1 - k)}, zero before t = 0.

    Args:
        x: (B, C_in, T); weight: (C_out, C_in, K); bias: (C_out,); dilation: int >= 1.
    Returns:
        (B, C_out, T).
    """
    # YOUR CODE HERE
    raise NotImplementedError('pad the time axis on the left only; tap k then reads a length-T window that starts k * dilation steps into the padded input; torch.einsum contracts the channel axis')


# %% [markdown]
# Check by hand (kernel size 2, dilation 2) and against `F.conv1d` with the padding done for
# it (kernel size 3, dilation 3):

# %%
x = torch.tensor([[[1.0, 2.0, 3.0, 4.0, 5.0]]])                   # (B=1, C=1, T=5)
w = torch.tensor([[[10.0, 1.0]]])                                  # y_t = 10 x_{t-2} + x_t
y = causal_conv1d(x, w, torch.zeros(1), dilation=2)
assert y.tolist() == [[[1.0, 2.0, 13.0, 24.0, 35.0]]], y
future = torch.where(torch.arange(5) >= 3, -100.0, x)             # change the future of t = 2
assert torch.equal(causal_conv1d(future, w, torch.zeros(1), 2)[..., :3], y[..., :3])
x3, w3, b3 = torch.randn(2, 3, 11), torch.randn(4, 3, 3), torch.randn(4)
torch.testing.assert_close(causal_conv1d(x3, w3, b3, 3), F.conv1d(F.pad(x3, (6, 0)), w3, b3, dilation=3))


# %% [markdown]
# ## 4. Core: fast generation with a ring buffer
#
# While generating, a layer receives one input at a time and must keep its last
# $L = (K-1)d$ inputs. The lecture's queue *shifted*: `torch.cat` copied all $L$ entries at
# every step. A **ring buffer** never moves anything: input $x_s$ lives in slot $s \bmod L$, so
# at time $t$ the taps $x_{t-(K-1)d}, \dots, x_{t-d}$ are read from their slots, and then $x_t$
# overwrites slot $t \bmod L$, which held $x_{t-L}$, the one input no later output needs. The
# buffer starts as zeros (the padding before $t = 0$); take $K \ge 2$.
#
# Return the output at time $t$ and the buffer after the write, as a new tensor (do not
# rely on changing the caller's buffer in place: the grader's copy would not see it).

# %%
def conv_step(queue, x, weight, bias, dilation, t):
    """One step of a causal dilated convolution during generation, with a ring buffer.

    Args:
        queue: (B, C_in, L) with L = (K - 1) * dilation: slot s % L holds the input x_s of
            every earlier step s > t - L (zeros where there was none yet).
        x: (B, C_in) the input at time t.
        weight: (C_out, C_in, K); bias: (C_out,); dilation: int >= 1; t: int >= 0, the time now.
    Returns:
        (y (B, C_out): the output at time t, new_queue (B, C_in, L) with x in slot t % L).
    """
    # YOUR CODE HERE
    raise NotImplementedError('an input j * dilation steps back lives in the slot its own time index gives modulo L; read all K - 1 past taps before writing x, and stack them oldest first, x last, into a (B, C_in, K) tensor')


# %%
queue = torch.zeros(1, 1, 2)                                        # K = 2, dilation 2
outputs = []
for t in range(5):
    out, queue = conv_step(queue, x[:, :, t], w, torch.zeros(1), 2, t)
    outputs.append(out)
assert torch.cat(outputs, dim=1).tolist() == y[:, 0].tolist()      # the same as the full convolution
assert queue.tolist() == [[[5.0, 4.0]]]                             # x_4 in slot 0, x_3 in slot 1


# %% [markdown]
# With `conv_step`, here is a complete fast sampler for the library's `WaveNet` (nothing to
# fill in; it is graded with `conv_step`): per new sample, every layer does one `conv_step`,
# its gated unit, and adds its skip output. It feeds the prompt one sample at a time too,
# and draws each sample exactly as `generate(..., use_cache=False)` does, so with the same
# seed both must give the same samples.

# %%
@torch.no_grad()
def fast_generate(model, prompt, n_samples, seed):
    """Continue `prompt` (B, T) by `n_samples` samples with per-layer ring buffers; (B, T + n)."""
    generator = make_generator(seed)
    B, T = prompt.shape
    queues = [torch.zeros(B, model.config.residual_channels, layer.conv.queue_len) for layer in model.layers]
    out = torch.cat([prompt, torch.zeros(B, n_samples, dtype=torch.long)], dim=1)
    for t in range(T + n_samples - 1):
        h = model.embed(out[:, t:t + 1])                            # (B, C, 1)
        skips = 0
        for i, layer in enumerate(model.layers):
            z, queues[i] = conv_step(queues[i], h[:, :, 0], layer.conv.weight, layer.conv.bias, layer.dilation, t)
            h, skip = layer.gate(h, z[:, :, None], None)            # (B, C, 1), (B, S, 1)
            skips = skips + skip
        if t >= T - 1:                                              # past the prompt: draw the next sample
            logits = model.head(skips)[:, -1]                       # (B, Q)
            out[:, t + 1] = sample_tokens(logits, generator=generator)
    return out


# %%
tiny = WaveNet(WaveNetConfig.tiny()).eval()
prompt = torch.tensor([[3, 1, 4], [1, 5, 9]])
fast = fast_generate(tiny, prompt, 40, seed=0)
naive = generate(tiny, prompt, 40, generator=make_generator(0), use_cache=False)
assert torch.equal(fast, naive), (fast, naive)
print("fast == naive:", fast[0, :20].tolist())

# %% [markdown]
# ### A written question: what does fast generation save?
#
# Take a stack of $L$ layers, kernel size $K$, dilations $d_1, \dots, d_L$, $C$ channels per
# layer, receptive field $R$. (a) Count, per new sample, the kernel applications (one
# $C \times CK$ matrix-vector product each) of the naive sampler, which re-runs the stack on the
# last $R$ inputs, and of the ring-buffer sampler. (b) How many numbers do the buffers hold
# in all, for one sequence? Evaluate (a) and (b) for WaveNet's 3 stacks of dilations
# $1, 2, \dots, 512$ with $K = 2$, $C = 64$. (c) Why do both samplers give exactly the same
# samples with the same seed, and what would break that?

# %% [markdown]
# **Answer (written: fast_generation_cost, 2 points):**
# YOUR ANSWER HERE

# %% [markdown]
# ## 5. Stretch experiment: measure the receptive field
#
# The formula assumes every tap matters. Measure instead: give a stack a random input of
# `length` samples, then the same input with one position changed, for every position, and
# see which changes move the **last** output. Return the span from the oldest input that
# moves it to the last input, counting both (the quantity the formula predicts). A stack
# maps float64 signals $(B, 1, T)$ to $(B, C, T)$; it may be any module, so do not read its
# layers. The grader also hands you stacks with some taps set to zero, whose true reach is
# shorter than the formula says; only a measurement gets those right.

# %%
def measure_receptive_field(stack, length, seed=0):
    """The receptive field of the last output of `stack`, measured by perturbing its input.

    Args:
        stack: a module mapping (B, 1, T) float64 to (B, C, T), causal.
        length: T, the input length to probe (longer than the receptive field).
        seed: seeds the random input.
    Returns:
        int: length - s, where s is the earliest position whose change moves the last output.
    """
    # YOUR CODE HERE
    raise NotImplementedError("a batch of length + 1 copies of one random input, copy s + 1 with position s changed, runs all the probes in one call; compare each copy's last output with the unchanged one")


# %% [markdown]
# Run it on stacks of the library's `CausalConv1d` with a tanh between layers and compare
# with your formula (the cell prints both); then zero the oldest tap of one layer and watch
# the measurement fall below the formula.

# %%
def conv_stack(kernel_size, dilations, seed=0):
    """Causal convolutions (1 channel in, 3 between layers) with tanh between them, in float64."""
    torch.manual_seed(seed)
    layers = []
    for n, d in enumerate(dilations):
        layers += [CausalConv1d(1 if n == 0 else 3, 3, kernel_size, d).double(), torch.nn.Tanh()]
    return torch.nn.Sequential(*layers[:-1])


for K, dilations in [(2, [1, 2, 4, 8]), (3, [1, 2, 4]), (2, [2, 2]), (3, [1, 3, 9])]:
    measured = measure_receptive_field(conv_stack(K, dilations), 60)
    print(f"K = {K}, dilations {dilations}: measured {measured}, formula {receptive_field(K, dilations)}")
    assert measured == receptive_field(K, dilations)
pruned = conv_stack(3, [1, 2, 4])
with torch.no_grad():
    pruned[-1].weight[:, :, 0] = 0                                    # the last layer's oldest tap
print("K = 3, dilations [1, 2, 4], oldest tap of the last layer zeroed: measured",
      measure_receptive_field(pruned, 60))
assert measure_receptive_field(pruned, 60) == receptive_field(3, [1, 2, 4]) - 4
