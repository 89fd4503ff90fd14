# ---
# jupyter:
#   arcourse:
#     exercise: ex04
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
# # Exercise 04 — the moving parts of a PixelCNN
#
# *Grading runs your imports, functions, classes and simple constants (such as `LN2 = math.log(2)`), not the other cells; its report lists what it skipped.*
#
# Lecture 04 built a single-colour PixelCNN from masked convolutions, found its blind spot
# and trained it on digits with the course's `train` loop. Here you go past it, in three
# tiers:
#
# | tier | part | what you do |
# |---|---|---|
# | warm-up | 1. bits per dimension | turn a model's logits into bits/dim per image |
# | core | 2. the colour mask | type A/B masks with the R → G → B ordering, any odd kernel |
# | core | 3. sampling and completing | a pixel-by-pixel sampler for colour images that keeps given pixels |
# | stretch | 5. an experiment | build and train a PixelCNN on binary digits with your own loop; beat independent pixels |
#
# Two written questions are marked by a person: why the two mask types (after part 2) and
# a derivation of the blind spot's size, checked by gradients (part 4).
#
# Grade yourself with `arcourse grade exercises/ex04_pixelcnn.ipynb`. The grader compares
# your bits per dimension with the library's on random logits, your mask with the
# library's for many sizes, builds a small network from your masks and checks by gradients
# that it never looks at the future, tests your samples against the model's exact
# distribution (a χ² test over every possible image), and trains your PixelCNN itself.

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
import torch.nn as nn
import torch.nn.functional as F

from arcourse import make_generator
from arcourse.data import load_digits, split_images
from arcourse.metrics import nll
from arcourse.models import GatedPixelCNN, GatedPixelCNNConfig, IndependentPixels, MaskedConv2d

torch.set_num_threads(1)   # small convolutions: more CPU threads cost more than they save

# %% [markdown]
# ## 1. Bits per dimension (warm-up)
#
# The model gives logits `(B, C, H, W, K)`; the log-likelihood of image $b$ is the sum of
# $\log \mathrm{softmax}(\text{logits})$ at its observed levels over all $D = C H W$
# sub-pixels. Bits per dimension divide the negative log-likelihood by $D \ln 2$:
#
# $$\text{bpd}(x) = \frac{-\log p(x)}{D \ln 2}.$$
#
# A model that gives every level probability $1/K$ has exactly $\log_2 K$ bits per dimension.

# %%
def image_bits_per_dim(logits, images):
    """Bits per dimension of each image under the logits.

    Args:
        logits: (B, C, H, W, K) float.
        images: (B, C, H, W) int64 levels in [0, K).
    Returns:
        (B,) float tensor.
    """
    ### BEGIN SOLUTION
    # HINT: normalise the logits over the level axis in log space (a log-softmax, for stability), pick each sub-pixel's observed level with an index gather, sum per image, then divide by D ln 2
    log_probs = F.log_softmax(logits.float(), dim=-1)
    picked = log_probs.gather(-1, images.long().unsqueeze(-1)).squeeze(-1)   # (B, C, H, W)
    n_dims = images[0].numel()
    return -picked.sum(dim=(1, 2, 3)) / (n_dims * math.log(2))
    ### END SOLUTION


# %%
uniform = torch.zeros(2, 1, 3, 3, 4)                     # K = 4 levels, all equally likely
images = torch.randint(0, 4, (2, 1, 3, 3), generator=make_generator(0))
print(image_bits_per_dim(uniform, images))
torch.testing.assert_close(image_bits_per_dim(uniform, images), torch.full((2,), 2.0))

# %% [markdown]
# ## 2. The mask, with colour (core)
#
# Lecture 04 drew the single-colour mask: a masked convolution's kernel may look at the
# rows above its centre and, in the centre row, at the taps left of the centre; type A
# hides the centre tap, type B keeps it. With colour, the centre tap is where the work is.
# With `data_channels` $= C$ colours, the `in_channels` inputs are cut into $C$ equal
# contiguous groups (the first group belongs to R, the next to G, ...), and so are the
# `out_channels` outputs. At the centre tap an output of colour $c$ may see inputs of colour
#
# * $< c$ for **type A** (the first layer: it must not see the sub-pixel it predicts),
# * $\le c$ for **type B** (every later layer: the centre features already exclude it).
#
# Off-centre taps ignore colour: every group may read every group there.
#
# *Hint:* the colour of channel $n$ out of $N$ is its group index, $n$ divided (as an
# integer) by the group size $N / C$; one comparison of an output-colour column against an
# input-colour row gives the whole centre tap at once (broadcasting).

# %%
def make_mask(kernel_size, mask_type, in_channels=1, out_channels=1, data_channels=1):
    """The 0/1 mask of a masked convolution in raster order.

    Args:
        kernel_size: odd k (the kernel is k x k).
        mask_type: "A" or "B".
        in_channels, out_channels: multiples of data_channels.
        data_channels: C, the colours of the image.
    Returns:
        float tensor (out_channels, in_channels, k, k) of zeros and ones.
    """
    ### BEGIN SOLUTION
    # HINT: start from all zeros; open the rows above the centre and the taps left of it for every channel pair; the centre tap is a table (outputs x inputs) that compares colour groups, strictly for type A
    mask = torch.zeros(out_channels, in_channels, kernel_size, kernel_size)
    centre = kernel_size // 2
    mask[:, :, :centre, :] = 1
    mask[:, :, centre, :centre] = 1
    out_colour = torch.arange(out_channels) // (out_channels // data_channels)
    in_colour = torch.arange(in_channels) // (in_channels // data_channels)
    if mask_type == "A":
        allowed = in_colour[None, :] < out_colour[:, None]
    else:
        allowed = in_colour[None, :] <= out_colour[:, None]
    mask[:, :, centre, centre] = allowed.float()
    return mask
    ### END SOLUTION


# %% [markdown]
# Check by eye: a 3x3 type A mask hides the centre and everything after it; for RGB, the
# centre tap of a type A mask lets G see R, and B see R and G.

# %%
print(make_mask(3, "A")[0, 0])
assert make_mask(3, "A")[0, 0].tolist() == [[1, 1, 1], [1, 0, 0], [0, 0, 0]]
assert make_mask(3, "B")[0, 0].tolist() == [[1, 1, 1], [1, 1, 0], [0, 0, 0]]
rgb_centre = make_mask(3, "A", 3, 3, 3)[:, :, 1, 1]
print(rgb_centre)
assert rgb_centre.tolist() == [[0, 0, 0], [1, 0, 0], [1, 1, 0]]
assert make_mask(3, "B", 6, 6, 3)[:, :, 1, 1].tolist()[2] == [1, 1, 1, 1, 0, 0]   # a G output reads R and G
assert make_mask(5, "B", 6, 9, 3).shape == (9, 6, 5, 5)

# %% [markdown]
# ### A written question
#
# The first masked convolution of a PixelCNN uses a type-A mask and every later one a
# type-B mask. Explain in two or three sentences why type B would be wrong in the first
# layer, and why type A in the later layers would lose nothing in correctness but cost
# the model information.

# %% [markdown]
# **Answer (written: mask_types, 2 points):**
# ### BEGIN SOLUTION
# A type-B first layer would let each output see its own input sub-pixel, so the model
# could copy the value it is asked to predict: the likelihood would look perfect and
# sampling would break. After the first layer, the features at a position already depend
# only on earlier sub-pixels, so type B (which adds the position's own features) keeps
# causality; type A there would throw away what the position's features know about the
# earlier context and shrink the receptive field, with no gain.
# ### END SOLUTION

# %% [markdown]
# ## 3. Sampling pixel by pixel, and completing images (core)
#
# Lecture 04 sampled grey digits with the library's `sample_images`. Write the loop
# yourself, for colour and with given pixels. Sampling follows the chain rule in raster
# order: for each row $i$, each column $j$ and each colour $c$ (R, then G, then B), run the
# model on the image so far, take the logits of sub-pixel $(c, i, j)$, divide them by the
# temperature and draw a level from their softmax. Sub-pixels marked as `known` are kept
# as given and never drawn: with the top rows known this samples the bottom from
# $p(\text{bottom} \mid \text{top})$, because the given pixels come first in raster order.
#
# Use one generator made from `seed` (`make_generator(seed, device)`) for every draw, so
# the same seed gives the same images; `torch.multinomial` takes it.

# %%
def sample_pixels(model, images, known, temperature=1.0, seed=0):
    """Fill in the sub-pixels of `images` where `known` is False, in raster order.

    Args:
        model: maps levels (B, C, H, W) to logits (B, C, H, W, K).
        images: (B, C, H, W) int64 levels (entries where known is False are ignored).
        known: (B, C, H, W) bool, True where the sub-pixel is given.
        temperature: > 0; the logits of each draw are divided by it.
        seed: seeds the generator of the draws.
    Returns:
        (B, C, H, W) int64 levels, equal to images wherever known.
    """
    ### BEGIN SOLUTION
    # HINT: C*H*W model calls, one per sub-pixel, in the order row, column, colour; each draws from the softmax of that sub-pixel's tempered logits with the seeded generator, and writes the draw only where the sub-pixel is not known
    device = next(model.parameters()).device
    gen = make_generator(seed, device)
    x = torch.where(known, images, torch.zeros_like(images)).long().to(device)
    known = known.to(device)
    _, C, H, W = x.shape
    with torch.no_grad():
        for i in range(H):
            for j in range(W):
                for c in range(C):
                    logits = model(x)[:, c, i, j] / temperature                       # (B, K)
                    draw = torch.multinomial(logits.softmax(-1), 1, generator=gen).squeeze(-1)
                    x[:, c, i, j] = torch.where(known[:, c, i, j], x[:, c, i, j], draw)
    return x
    ### END SOLUTION


# %% [markdown]
# Try it on a small random model with 3 levels: samples lie in range, repeat under the same
# seed, and the given top row stays as it was.

# %%
torch.manual_seed(0)
tiny_model = GatedPixelCNN(GatedPixelCNNConfig.tiny(vocab_size=3))
given = torch.randint(0, 3, (4, 1, 3, 3), generator=make_generator(1))
top_row = torch.zeros(4, 1, 3, 3, dtype=torch.bool)
top_row[:, :, 0] = True                                        # the top row is given
first = sample_pixels(tiny_model, given, top_row, seed=1)
print(first[0, 0])
assert first.min() >= 0 and first.max() < 3
assert torch.equal(first, sample_pixels(tiny_model, given, top_row, seed=1))
assert torch.equal(first[:, :, 0], given[:, :, 0])

# %% [markdown]
# ## 4. The blind spot, derived (written) and measured
#
# Lecture 04 showed a wedge up and to the right that stacked masked convolutions never
# see. Here you derive its shape and size.
#
# ### A written question
#
# Stack $L$ masked $k \times k$ convolutions, $k = 2m + 1$, one colour: the first of type A,
# the rest of type B, with a non-linearity between them. Follow the output at pixel
# $(i, j)$, far from the border. Together the kernels could reach $Lm$ rows up and $Lm$
# columns to either side (and $Lm$ columns to the left in row $i$).
#
# 1. For the row $r$ above the output ($1 \le r \le Lm$), derive the rightmost column
#    $j + f(r)$ that the output depends on. (Think of each layer as one step by a kernel
#    offset: which steps may go right?)
# 2. Hence count the pixels within reach that the output never sees, as a formula in $L$
#    and $m$.
# 3. Predict the count for $L = 3$, $k = 3$ **before** you run the cell below, which
#    measures what the output depends on by gradients, with your masks.

# %% [markdown]
# **Answer (written: blind_spot, 3 points):**
# ### BEGIN SOLUTION
# Each layer moves the view by one kernel offset $(\Delta_{\text{up}}, \Delta_{\text{right}})$:
# an offset in a row above ($1 \le \Delta_{\text{up}} \le m$) may go up to $m$ columns
# right, an offset in the centre row may only go left (type A) or stay/go left (type B).
# So only a layer that also goes up can go right. To end $r$ rows up at most
# $\min(r, L)$ layers can go up (each goes at least one row, and there are $L$), so
# $f(r) = m \min(r, L)$: in row $r$ the output sees columns $j - Lm \dots j + m\min(r, L)$
# (the first layer can be one of the upward steps, the rest stay put). Rows $r \ge L$ see
# the whole reach; row $r < L$ misses the $Lm - mr$ columns right of $j + mr$. The blind
# spot has $\sum_{r=1}^{L-1} m(L - r) = m L (L-1) / 2$ pixels — it grows quadratically with
# depth. For $L = 3$, $k = 3$: 3 pixels (two in the row above, one two rows up), as the
# gradients below show.
# ### END SOLUTION

# %% [markdown]
# The measurement: a stack of $L$ convolutions with your masks and random weights, and the
# gradient of one output with respect to every input pixel, summed over a few random
# images so a zero means "no path". The cell prints the map (1: the output depends on that
# pixel) and the blind pixels it finds. Compare them with your answer; then try other
# $L$ and $k$.

# %%
def measure_blind_spot(n_layers, k, hidden=4, seed=0):
    """Which input pixels the centre output of a stack of masked k x k layers depends on.

    Returns:
        seen: (size, size) bool, the pixels the output at the centre (i, j) depends on.
        blind: (row offset, column offset) from (i, j) of each pixel within reach never seen.
    """
    m = k // 2
    size, i = 2 * n_layers * m + 3, n_layers * m + 1                    # output at (i, i), far from the border
    gen = make_generator(seed)
    weights = [torch.randn(hidden, 1 if n == 0 else hidden, k, k, generator=gen)
               * make_mask(k, "A" if n == 0 else "B", 1 if n == 0 else hidden, hidden) for n in range(n_layers)]
    x = torch.rand(4, 1, size, size, generator=gen).requires_grad_(True)     # (4, 1, size, size)
    h = x
    for w in weights:
        h = torch.tanh(F.conv2d(h, w, padding=k // 2))                        # (4, hidden, size, size)
    h[:, 0, i, i].sum().backward()
    seen = x.grad.abs().sum(0)[0] > 0                                         # (size, size)
    up, right = torch.meshgrid(i - torch.arange(size), torch.arange(size) - i, indexing="ij")
    far = n_layers * m                                                        # the kernels' reach
    reach = ((up >= 1) & (up <= far) & (right.abs() <= far)) | ((up == 0) & (right < 0) & (right >= -far))
    assert not (seen & ~reach).any(), "the output sees a pixel outside the kernels' reach (or a future one)"
    blind = [(-int(up[r, c]), int(right[r, c])) for r, c in (reach & ~seen).nonzero()]
    return seen, blind


seen, blind = measure_blind_spot(3, 3)
print(seen.int())
print(f"{len(blind)} blind pixels at (row offset, column offset):", blind)
assert blind and all(right > 0 for _, right in blind)     # the blind spot lies up and to the right

# %% [markdown]
# ## 5. An experiment: a PixelCNN of your own on binary digits (stretch)
#
# Build a small PixelCNN for binary images ($K = 2$) and train it with a loop you write,
# without the course's `train`. Use `arcourse.models.MaskedConv2d` for the layers (it is
# the convolution of your `make_mask`): a type-A first layer, a few type-B layers (a
# residual connection helps), and a $1 \times 1$ head to two logits per pixel.
#
# The grader calls `fit_pixelcnn(train_images, 100, seed)` on 1,500 binary 8x8 images from
# a source it knows exactly — each pixel is 1 with a probability set by the pixel above it
# and the pixel to its left — and scores the model it returns on 500 images it never saw.
# The model must
#
# * be causal: changing a pixel, and everything after it, changes no logit before it nor
#   its own (checked by perturbing the inputs);
# * beat the **independent-pixel baseline** (one Bernoulli per pixel position, fitted by
#   counting, as in lecture 04) by at least **0.1 bits/dim**, and
# * come within **0.05 bits/dim** of the source's own exact bits/dim, the best any model
#   can do on average.
#
# Use a generator made from `seed` for the batches and seed the initialisation too. Below,
# the notebook tries the same recipe on binarised digits, where no exact answer is known.
#
# The model must take levels `(B, 1, H, W)` (int64 in {0, 1}) and return logits
# `(B, 1, H, W, 2)`, the course's contract. *Hints:* scale the levels to floats before the
# first layer; the loss is the mean NLL per pixel (`arcourse.metrics.nll` takes the
# contract's shapes); Adam with a learning rate of about $10^{-2}$ and batches of 64 learn
# fast here; about a second of CPU is enough.

# %%
class BinaryPixelCNN(nn.Module):
    """A small PixelCNN for binary images: (B, 1, H, W) levels -> logits (B, 1, H, W, 2)."""

    def __init__(self, hidden=16, n_layers=2, first_kernel_size=5):
        super().__init__()
        ### BEGIN SOLUTION
        # HINT: a type-A masked convolution from 1 channel to hidden, n_layers type-B ones from hidden to hidden, and a 1x1 type-B head to 2 channels
        self.first = MaskedConv2d(1, hidden, first_kernel_size, "A")
        self.layers = nn.ModuleList(MaskedConv2d(hidden, hidden, 3, "B") for _ in range(n_layers))
        self.head = MaskedConv2d(hidden, 2, 1, "B")
        ### END SOLUTION

    def forward(self, x):
        ### BEGIN SOLUTION
        # HINT: levels to floats around zero; a non-linearity before every later layer, each added to its input (residual); the head's two channels become the last axis
        h = self.first(x.float() * 2 - 1)                    # (B, hidden, H, W)
        for layer in self.layers:
            h = h + layer(F.relu(h))                         # residual
        return self.head(F.relu(h)).unsqueeze(1).permute(0, 1, 3, 4, 2)   # (B, 1, H, W, 2)
        ### END SOLUTION


def fit_pixelcnn(images, steps=150, seed=0):
    """Train a BinaryPixelCNN on binary images with Adam; return the trained model.

    Args:
        images: (N, 1, H, W) int64 levels in {0, 1}.
        steps: optimiser steps (one batch each).
        seed: seeds the initial weights and the batches.
    Returns:
        the model (levels (B, 1, H, W) -> logits (B, 1, H, W, 2)).
    """
    ### BEGIN SOLUTION
    # HINT: seed torch before building the model and make a generator for the batch indices; each step: a random batch, the mean NLL of the images under the model's logits, zero the gradients, backward, step
    torch.manual_seed(seed)
    model = BinaryPixelCNN()
    optimiser = torch.optim.Adam(model.parameters(), lr=1e-2)
    gen = make_generator(seed)
    for _ in range(steps):
        batch = images[torch.randint(0, len(images), (64,), generator=gen)]   # (64, 1, H, W)
        loss = nll(model(batch), batch)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    return model
    ### END SOLUTION


# %% [markdown]
# Train it on the binarised digits (a pixel is 1 where the grey level is 9 or more) and
# compare with the baseline on the held-out fifth. The cell prints both; the assert is the
# grader's margin.

# %%
binary = load_digits(levels=2)
train_digits, test_digits = split_images(binary, (0.8, 0.2), seed=0)
baseline = IndependentPixels.from_images(train_digits.images, 2)
model = fit_pixelcnn(train_digits.images, steps=150, seed=0)
with torch.no_grad():
    bpd_model = float(image_bits_per_dim(model(test_digits.images), test_digits.images).mean())
    bpd_baseline = float(image_bits_per_dim(baseline(test_digits.images), test_digits.images).mean())
print(f"independent pixels {bpd_baseline:.3f} bits/dim, your PixelCNN {bpd_model:.3f} bits/dim")
assert bpd_model < bpd_baseline - 0.05

# %% [markdown]
# When every part passes, run the grader. Ideas to explore further: measure the blind spot
# of `BinaryPixelCNN` with a $5 \times 5$ first layer (the hidden layers are 3x3: what does
# your formula become?); time `sample_pixels` for 4x4, 8x8 and 16x16 images and explain the
# growth; sample binary digits from the model you trained, at temperatures 0.5 and 1.
