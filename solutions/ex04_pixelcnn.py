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
# Lecture 04 built a PixelCNN from masked convolutions and trained it on digits. Here you
# write three of its parts yourself:
#
# 1. the **mask** of a masked convolution, of type A or B, for any odd kernel size and with
#    the channel-ordering rule for colour images;
# 2. **bits per dimension** of each image, from the model's logits;
# 3. a **pixel-by-pixel sampler** that also completes partially given images (inpainting).
#
# A written question about the two mask types, after part 1, is marked by a person.
#
# Grade yourself with `arcourse grade exercises/ex04_pixelcnn.ipynb`. The grader compares
# your mask with the library's for many sizes, builds a small network from your masks and
# checks by gradients that it never looks at the future, compares your bits per dimension
# with the library's on random logits, and checks that your samples follow the model's
# distribution.

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
from arcourse.models import GatedPixelCNN, GatedPixelCNNConfig

# %% [markdown]
# ## 1. The mask
#
# A masked convolution's kernel may look at the rows above its centre and, in the centre
# row, at the taps left of the centre. The centre tap is where the types differ. With
# `data_channels` $= C$ colours, the `in_channels` inputs are cut into $C$ equal contiguous
# groups (the first group belongs to R, the next to G, ...), and so are the `out_channels`
# outputs. At the centre tap an output of colour $c$ may see inputs of colour
#
# * $< c$ for **type A** (the first layer: it must not see the sub-pixel it predicts),
# * $\le c$ for **type B** (every later layer: the centre features already exclude it).
#
# With one colour, type A hides the centre and type B keeps it.

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
    # HINT: start from zeros; set the rows above the centre and the taps left of it to 1; at the centre compare colour groups i // (in_channels // C) and o // (out_channels // C)
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
# ## 2. Bits per dimension
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
    # HINT: F.log_softmax(logits, dim=-1).gather(-1, images.unsqueeze(-1)) picks log p of the observed levels
    log_probs = F.log_softmax(logits.float(), dim=-1)
    picked = log_probs.gather(-1, images.long().unsqueeze(-1)).squeeze(-1)   # (B, C, H, W)
    n_dims = images[0].numel()
    return -picked.sum(dim=(1, 2, 3)) / (n_dims * math.log(2))
    ### END SOLUTION


# %%
uniform = torch.zeros(2, 1, 3, 3, 4)                     # K = 4 levels, all equally likely
images = torch.randint(0, 4, (2, 1, 3, 3))
print(image_bits_per_dim(uniform, images))
torch.testing.assert_close(image_bits_per_dim(uniform, images), torch.full((2,), 2.0))

# %% [markdown]
# ## 3. Sampling pixel by pixel, and completing images
#
# Sampling follows the chain rule in raster order: for each row $i$, each column $j$ and
# each colour $c$ (R, then G, then B), run the model on the image so far, take the logits
# of sub-pixel $(c, i, j)$, divide them by the temperature and draw a level from their
# softmax. Sub-pixels marked as `known` are kept as given and never drawn: with the top
# rows known this samples the bottom from $p(\text{bottom} \mid \text{top})$.
#
# Use a generator made from `seed` (`make_generator(seed, device)`) for every draw, so the
# same seed gives the same images.

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
    # HINT: loop over i, j, c; logits = model(x)[:, c, i, j] / temperature; draw with torch.multinomial(logits.softmax(-1), 1, generator=gen); write only where not known
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
model = GatedPixelCNN(GatedPixelCNNConfig.tiny(vocab_size=3))
images = torch.randint(0, 3, (4, 1, 3, 3))
row = torch.arange(3).view(1, 1, 3, 1).expand(4, 1, 3, 3)   # the row of each sub-pixel
known = row == 0                                               # the top row is given
first = sample_pixels(model, images, known, seed=1)
print(first[0, 0])
assert first.min() >= 0 and first.max() < 3
assert torch.equal(first, sample_pixels(model, images, known, seed=1))
assert torch.equal(first[:, :, 0], images[:, :, 0])

# %% [markdown]
# When all three parts pass, run the grader. Ideas to explore further: draw the mask of a
# 7x7 type A kernel for RGB with 6 features per colour; sample digits from the lecture's
# trained model at temperatures 0.5 and 2; time `sample_pixels` for 4x4, 8x8 and 16x16
# images and explain the growth.
