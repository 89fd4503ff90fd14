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
# Four pieces of lecture 05, each checked by the autograder (`arcourse grade` on this file):
#
# 1. the **receptive field** of a stack of causal convolutions,
#    $R = 1 + (K-1)\sum_\ell d_\ell$;
# 2. **µ-law** encoding to 256 levels and back;
# 3. a **causal dilated convolution**, padded so that no future sample leaks into the output;
# 4. the **queue update** of fast generation: one convolution output per new sample, from
#    a queue of the layer's earlier inputs — then a complete fast sampler built on it must
#    draw exactly the samples of the naive one.
#
# Fill in every `YOUR CODE HERE`; the cell after each exercise checks a small case.

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
from arcourse.models import WaveNet, WaveNetConfig

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
    raise NotImplementedError('each layer reaches (kernel_size - 1) * dilation steps further back; do not forget the current sample')


# %%
assert receptive_field(2, [1, 2, 4, 8]) == 16
assert receptive_field(3, [1, 1]) == 5
assert receptive_field(2, [1, 2, 4, 8, 16, 32, 64, 128, 256, 512]) == 1024  # WaveNet's 10 layers


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
    raise NotImplementedError('compress with torch.sign, torch.log1p and math.log1p, then torch.floor((y + 1) / 2 * mu + 0.5).long()')


def mu_law_decode(q, levels=256):
    """Integer levels in [0, levels) (a tensor of any shape) -> float samples in [-1, 1]."""
    # YOUR CODE HERE
    raise NotImplementedError('y = 2 * q / mu - 1, then sign(y) * ((1 + mu) ** |y| - 1) / mu')


# %%
assert mu_law_encode(torch.tensor([-1.0, 0.0, 1.0])).tolist() == [0, 128, 255]
x = torch.tensor([0.5, -0.01, 0.001])
back = mu_law_decode(mu_law_encode(x))
assert torch.all((back - x).abs() <= 0.03 * x.abs() + 1e-4), back  # the error is relative to |x|


# %% [markdown]
# ## 3. A causal dilated convolution
#
# `weight` has shape $(C_{out}, C_{in}, K)$, as in `torch.nn.Conv1d`. The output must be as
# long as the input, and $y_t$ may depend on $x_t, x_{t-d}, \dots, x_{t-(K-1)d}$ only: pad on
# the left, never on the right.

# %%
def causal_conv1d(x, weight, bias, dilation):
    """y_t = bias + sum_k weight[:, :, k] @ x_{t - dilation * (K - 1 - k)}, zero before t = 0.

    Args:
        x: (B, C_in, T); weight: (C_out, C_in, K); bias: (C_out,); dilation: int >= 1.
    Returns:
        (B, C_out, T).
    """
    # YOUR CODE HERE
    raise NotImplementedError('F.pad(x, (left, 0)) with left = (K - 1) * dilation, then F.conv1d(..., dilation=dilation)')


# %%
x = torch.tensor([[[1.0, 2.0, 3.0, 4.0, 5.0]]])                   # (B=1, C=1, T=5)
w = torch.tensor([[[10.0, 1.0]]])                                  # y_t = 10 x_{t-2} + x_t
y = causal_conv1d(x, w, torch.zeros(1), dilation=2)
assert y.tolist() == [[[1.0, 2.0, 13.0, 24.0, 35.0]]], y
future = torch.where(torch.arange(5) >= 3, -100.0, x)             # change the future of t = 2
assert torch.equal(causal_conv1d(future, w, torch.zeros(1), 2)[..., :3], y[..., :3])


# %% [markdown]
# ## 4. Fast generation: the queue update
#
# While generating, a layer receives one input at a time. It keeps a **queue** of its last
# $(K-1)d$ inputs (oldest first, zeros before the start). For each new input `x` it must
# compute the convolution output at the newest step from the queue and `x`, then push `x`
# in and drop the oldest entry: one application of the kernel per layer and sample, instead
# of a pass over the whole receptive field.

# %%
def conv_step(queue, x, weight, bias, dilation):
    """One step of a causal dilated convolution during generation.

    Args:
        queue: (B, C_in, (K - 1) * dilation) the layer's previous inputs, oldest first.
        x: (B, C_in) the input now.
        weight: (C_out, C_in, K); bias: (C_out,); dilation: int >= 1.
    Returns:
        (y (B, C_out): the output now, new_queue (B, C_in, (K - 1) * dilation)).
    """
    # YOUR CODE HERE
    raise NotImplementedError('window = torch.cat([queue, x[:, :, None]], dim=-1) holds everything the kernel can reach')


# %%
queue = torch.zeros(1, 1, 2)                                        # K = 2, dilation 2
outputs = []
for t in range(5):
    out, queue = conv_step(queue, x[:, :, t], w, torch.zeros(1), dilation=2)
    outputs.append(out)
assert torch.cat(outputs, dim=1).tolist() == y[:, 0].tolist()      # the same as the full convolution
assert queue.tolist() == [[[4.0, 5.0]]]                             # the last two inputs


# %% [markdown]
# With `conv_step`, here is a complete fast sampler for the library's `WaveNet` (nothing to
# fill in): per new sample, every layer does one `conv_step`, its gated unit, and adds its
# skip output. It feeds the prompt one sample at a time too, and draws each sample exactly
# as `generate(..., use_cache=False)` does, so with the same seed both must give the same samples.

# %%
@torch.no_grad()
def fast_generate(model, prompt, n_samples, seed):
    """Continue `prompt` (B, T) by `n_samples` samples with per-layer queues; (B, T + n)."""
    generator = make_generator(seed)
    B, T = prompt.shape
    queues = [torch.zeros(B, model.config.residual_channels, layer.conv.queue_len) for layer in model.layers]
    out = torch.cat([prompt, torch.zeros(B, n_samples, dtype=torch.long)], dim=1)
    for t in range(T + n_samples - 1):
        h = model.embed(out[:, t:t + 1])                            # (B, C, 1)
        skips = 0
        for i, layer in enumerate(model.layers):
            z, queues[i] = conv_step(queues[i], h[:, :, 0], layer.conv.weight, layer.conv.bias, layer.dilation)
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
