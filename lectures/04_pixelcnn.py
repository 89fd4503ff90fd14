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
# # Lecture 04 — PixelCNN: masked convolutions, the blind spot, gated PixelCNN
#
# An image is a long sequence of numbers. Read it in **raster order** — rows top to bottom,
# pixels left to right, and within a colour pixel R, then G, then B — and the chain rule
# gives its exact probability:
#
# $$p(x) = \prod_{i=1}^{H} \prod_{j=1}^{W} \prod_{c=1}^{C}
# p\big(x_{i,j,c} \,\big|\, \text{rows above},\ \text{pixels left of } (i,j),\ x_{i,j,<c}\big).$$
#
# Each sub-pixel takes one of $K$ grey levels, so each conditional is a $K$-way softmax.
# A **PixelCNN** (van den Oord, Kalchbrenner and Kavukcuoglu, 2016) computes all $CHW$
# conditionals in **one** forward pass of a convolutional network whose kernels are
# **masked** so that no output ever sees its own sub-pixel or a later one. Training is
# therefore as parallel as any CNN; sampling is not: it takes $C \cdot H \cdot W$ passes,
# one per sub-pixel. The yardstick is **bits per dimension**,
# $\text{bpd} = -\log p(x) / (CHW \ln 2)$.
#
# This lecture draws the masks; proves the autoregressive property with gradients; finds
# the **blind spot** of stacked masked convolutions and removes it with the **Gated
# PixelCNN** (van den Oord et al., 2016, *Conditional image generation with PixelCNN
# decoders*); trains both on handwritten digits against a baseline that treats pixels as
# independent; and uses the exact likelihood to sample, complete half-images and flag
# anomalies. Last, we time why sampling is slow.

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

from arcourse import (bits_per_dim, evaluate, get_device, load_checkpoint, log_likelihood, make_generator,
                      seed_everything, train)
from arcourse.data import ImageBatches, load_digits, split_images
from arcourse.decoding import Temperature, complete_images, sample_images
from arcourse.plotting import image_grid, show_grid
from arcourse.models import (GatedPixelCNN, GatedPixelCNNConfig, IndependentPixels, MaskedConv2d, PixelCNN,
                             PixelCNNConfig, pixel_input_gradient, pixelcnn_mask)

device = get_device()
if device.type == "cpu":
    # small models: splitting each little product across CPU threads costs more in
    # synchronisation than it saves (as in lecture 03)
    torch.set_num_threads(1)
seed_everything(0)
print("device:", device)

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 1. Raster order and the mask
#
# Pixel $(i, j)$ may depend on every pixel before it in raster order: all rows above, and
# the pixels left of it in its own row. A $k \times k$ convolution centred on $(i, j)$ looks
# at a window around it; to respect the order we multiply its kernel by a 0/1 **mask** that
# keeps the taps above the centre row and left of the centre in the centre row.
#
# * **Type A** (the first layer) also hides the centre: the output at $(i,j)$ predicts
#   $x_{i,j}$, so it must not see it.
# * **Type B** (every later layer) keeps the centre: the features at $(i, j)$ already carry
#   only information from before $(i, j)$, so reading them is safe.

# %%
def raster_mask(k, kind):
    """k x k 0/1 mask in raster order; kind 'A' hides the centre, 'B' keeps it."""
    mask = torch.zeros(k, k)
    mask[: k // 2, :] = 1                      # the rows above
    mask[k // 2, : k // 2] = 1                 # left of the centre
    if kind == "B":
        mask[k // 2, k // 2] = 1
    return mask


for kind in "AB":
    for k in (1, 3, 5, 7):
        torch.testing.assert_close(raster_mask(k, kind), pixelcnn_mask(k, kind)[0, 0])
print(raster_mask(3, "A"))

# %%
H = W = 8
order = torch.arange(H * W).view(H, W)
context = (order < 3 * W + 4).float() + 2 * (order == 3 * W + 4).float()  # before, and pixel (3, 4) itself
fig, axes = plt.subplots(1, 3, figsize=(10, 3.4))
axes[0].imshow(context, cmap="Blues", vmin=0, vmax=2)
for (r, c), n in np.ndenumerate(order.numpy()):
    axes[0].text(c, r, n, ha="center", va="center", fontsize=7)
axes[0].set_title("raster order: what pixel 28 may see")
for ax, kind in zip(axes[1:], "AB"):
    ax.imshow(raster_mask(5, kind), cmap="Greys", vmin=-0.3, vmax=1.2)
    ax.set_title(f"5x5 mask, type {kind} (black: kept)")
for ax in axes:
    ax.set_xticks([]), ax.set_yticks([])
plt.tight_layout()
plt.show()

# %% [markdown]
# **Colour.** With $C$ colours the feature channels of every layer are split into $C$
# groups (R features, G features, B features). Off-centre taps may use every group. At the
# centre tap, an output of colour $c$ may read inputs of colours $< c$ (type A) or
# $\le c$ (type B): G is predicted from R of the same pixel, B from R and G. The pictures
# show the centre tap as an (output × input) table with 2 features per colour.

# %%
fig, axes = plt.subplots(1, 2, figsize=(6.5, 3.2))
for ax, kind in zip(axes, "AB"):
    centre = pixelcnn_mask(3, kind, in_channels=6, out_channels=6, data_channels=3)[:, :, 1, 1]
    ax.imshow(centre, cmap="Greys", vmin=-0.3, vmax=1.2)
    ax.set_xticks(range(6), ["R", "R", "G", "G", "B", "B"]), ax.set_yticks(range(6), ["R", "R", "G", "G", "B", "B"])
    ax.set_xlabel("input feature"), ax.set_ylabel("output feature"), ax.set_title(f"centre tap, type {kind}")
plt.tight_layout()
plt.show()
rgb_a = pixelcnn_mask(3, "A", 3, 3, 3)[:, :, 1, 1]
assert rgb_a.tolist() == [[0, 0, 0], [1, 0, 0], [1, 1, 0]]  # R sees nothing, G sees R, B sees R and G

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 2. A masked convolution
#
# A masked convolution is an ordinary convolution whose weight is multiplied by the mask on
# every forward pass, with "same" padding so the output has the input's size. The masked
# weights get zero gradient, so they stay irrelevant during training.

# %%
class SketchMaskedConv(nn.Conv2d):
    """A single-colour masked convolution, from the pieces above."""

    def __init__(self, in_channels, out_channels, k, kind):
        super().__init__(in_channels, out_channels, k, padding=k // 2)
        self.register_buffer("mask", raster_mask(k, kind))

    def forward(self, x):                                    # (B, in, H, W) -> (B, out, H, W)
        return F.conv2d(x, self.weight * self.mask, self.bias, padding=self.padding)


sketch = SketchMaskedConv(2, 4, 5, "A")
library = MaskedConv2d(2, 4, 5, "A")
with torch.no_grad():
    library.weight.copy_(sketch.weight), library.bias.copy_(sketch.bias)
x = torch.randn(3, 2, 8, 8)
torch.testing.assert_close(sketch(x), library(x))
print("sketch == arcourse.models.MaskedConv2d; output shape", tuple(library(x).shape))

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 3. The autoregressive property, checked by gradients
#
# A network respects the order if the output for sub-pixel $(c, i, j)$ does not change
# when we change $x_{c,i,j}$ or anything after it. For a differentiable network that is a
# statement about gradients: $\partial\, \text{logits}_{c,i,j} / \partial x$ must be
# **exactly zero** at $(c, i, j)$ and every later sub-pixel. We feed real-valued inputs
# (the models scale levels to $[-1, 1]$ either way) and sum the absolute gradient over a
# batch of random images, so a zero means "no path at all", not a lucky cancellation.
# The weights are random: the property comes from the masks, not from training.

# %% [markdown]
# *Predict before you run:* for the output at pixel $(4, 4)$ of an $8 \times 8$ image, which
# input pixels get a non-zero gradient: the pixel itself? the one just to its right? the
# ones just above and just left of it? The next cell draws the gradient and asserts it.

# %%
def input_gradient_by_hand(model, shape, c, i, j, n=16, seed=0):
    """|d logits[:, c, i, j] / d x| summed over n random inputs: (C, H, W)."""
    gen = make_generator(seed)
    x = (torch.rand(n, *shape, generator=gen) * (model.vocab_size - 1)).requires_grad_(True)
    model(x)[:, c, i, j].sum().backward()
    return x.grad.abs().sum(0)


def not_before(shape, c, i, j):
    """True at sub-pixel (c, i, j) and every sub-pixel after it in raster order."""
    C, H, W = shape
    pixel = torch.arange(H * W).view(1, H, W)
    colour = torch.arange(C).view(C, 1, 1)
    return (pixel > i * W + j) | ((pixel == i * W + j) & (colour >= c))


torch.manual_seed(0)
probe = PixelCNN(PixelCNNConfig(vocab_size=17, hidden_channels=16, n_layers=3, first_kernel_size=5))
grad = pixel_input_gradient(probe, (1, 8, 8), 0, 4, 4)  # the library's version of the function above
torch.testing.assert_close(grad, input_gradient_by_hand(probe, (1, 8, 8), 0, 4, 4))
assert (grad[not_before((1, 8, 8), 0, 4, 4)] == 0).all()       # nothing at or after (4, 4)
assert (grad[0, 3, 4] > 0) and (grad[0, 4, 3] > 0)              # the pixels just above and left matter


# %%
plt.figure(figsize=(3.4, 3.2))
plt.imshow(grad[0], cmap="viridis")
plt.scatter([4], [4], marker="x", color="red")
plt.title("|d logits(4, 4) / d x|")
plt.xticks([]), plt.yticks([])
plt.show()

# %% [markdown]
# The same test for a colour PixelCNN: the G output at pixel $(4, 4)$ depends on the R
# value of that pixel, but not on its own G value nor on B.

# %%
torch.manual_seed(0)
rgb_probe = PixelCNN(PixelCNNConfig(vocab_size=17, data_channels=3, hidden_channels=24, n_layers=3,
                                    first_kernel_size=5))
for c, name in enumerate("RGB"):
    g = pixel_input_gradient(rgb_probe, (3, 8, 8), c, 4, 4)
    assert (g[not_before((3, 8, 8), c, 4, 4)] == 0).all()
    assert ((g[:, 4, 4] > 0) == (torch.arange(3) < c)).all()    # exactly the earlier colours
    print(f"output {name} at (4, 4) reads R, G, B of that pixel: {(g[:, 4, 4] > 0).tolist()}")

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 4. The blind spot, and the Gated PixelCNN
#
# Stack masked 3×3 convolutions and follow the gradient of one output. Each layer can look
# one row up (and there one column left or right), or one column left in the current row —
# never right in the current row. So every step to the right costs a step up: after $L$
# layers the view reaches one column to the right in the row just above, two columns two
# rows up, and so on. The triangle above and to the right of that diagonal is never seen,
# however deep the stack: the **blind spot**.
#
# The Gated PixelCNN splits each layer into two stacks:
#
# * a **vertical stack** that sees a $(\lfloor k/2 \rfloor + 1) \times k$ window of rows ending
#   at the current row; it reaches the horizontal stack only after a shift down by one
#   row, so what it passes on comes from the rows strictly above;
# * a **horizontal stack** that sees the current row up to the current pixel (a masked
#   $1 \times k$ kernel) and adds the vertical stack's view.
#
# Each stack is gated, $y = \tanh(W_f * x) \odot \sigma(W_g * x)$, and the horizontal stack
# has a residual connection. Together the two stacks cover every pixel above within reach,
# left and right, so there is no blind spot.

# %%
L, size, (i, j) = 4, 11, (6, 5)
torch.manual_seed(0)
plain = PixelCNN(PixelCNNConfig(vocab_size=17, hidden_channels=16, n_layers=L - 1, first_kernel_size=3))
gated = GatedPixelCNN(GatedPixelCNNConfig(vocab_size=17, hidden_channels=16, n_layers=L, kernel_size=3))
seen_plain = pixel_input_gradient(plain, (1, size, size), 0, i, j)[0] > 0
seen_gated = pixel_input_gradient(gated, (1, size, size), 0, i, j)[0] > 0
rows, cols = torch.meshgrid(torch.arange(size), torch.arange(size), indexing="ij")
reach = (((rows < i) & (rows >= i - L) & ((cols - j).abs() <= L))      # L layers of 3x3: L rows up,
         | ((rows == i) & (cols < j) & (cols >= j - L)))               # L columns either side
blind = reach & ~seen_plain
assert blind.any() and (cols[blind] > j).all()                # a wedge up and to the right is missing
assert seen_gated[reach].all()                                # the gated layers see all of it
assert not (seen_gated & not_before((1, size, size), 0, i, j)[0]).any()  # and still nothing later


# %%
from matplotlib.colors import ListedColormap
from matplotlib.patches import Patch

colours = ListedColormap(["white", "lightsteelblue", "navy", "orange"])   # 0 out of reach, 1 reach, 2 seen, 3 blind
fig, axes = plt.subplots(1, 3, figsize=(10, 3.6))
for ax, seen, title in zip(axes, [seen_plain, seen_gated, seen_plain],
                           [f"{L} masked 3x3 layers", f"{L} gated layers", "the blind spot (orange)"]):
    code = reach.long() + (seen & reach).long() + 2 * (blind & (title.startswith("the blind"))).long()
    ax.imshow(code, cmap=colours, vmin=0, vmax=3)
    ax.scatter([j], [i], marker="x", color="red")
    ax.set_title(title), ax.set_xticks([]), ax.set_yticks([])
fig.legend([Patch(color=c) for c in ["lightsteelblue", "navy", "orange"]],
           ["within reach of the kernels", "seen by the output at x", "within reach, never seen"],
           loc="lower center", ncol=3, fontsize=8)
plt.tight_layout(rect=(0, 0.08, 1, 1))
plt.show()
print(f"{int(blind.sum())} of {int(reach.sum())} pixels within reach are never seen by the plain stack")

# %% [markdown]
# Light blue marks what $L$ layers of 3×3 kernels could reach, dark blue what the output
# at the red cross actually depends on, orange (right) the blind spot: within reach, never
# seen.
#
# **The two stacks, by hand.** One gated layer for greyscale images, written from the
# description above with plain `F.conv2d` and the library layer's own weights: the vertical
# stack pads two rows of context above and none below, its output is shifted one row down
# before the horizontal stack may read it, and the horizontal kernel is masked to the
# current row up to (type A: before) the current pixel. *Predict before you run:* if we
# forgot the shift down, which pixel would the horizontal stack wrongly see?

# %%
def gated_layer_by_hand(layer, v, h):
    """One layer of the Gated PixelCNN (greyscale): (v, h) (B, C_in, H, W) -> (B, D, H, W) each."""
    k = layer.kernel_size
    gate = lambda z: torch.tanh(z.chunk(2, dim=1)[0]) * torch.sigmoid(z.chunk(2, dim=1)[1])
    v_pre = F.conv2d(F.pad(v, (k // 2, k // 2, k // 2, 0)), layer.vertical.weight, layer.vertical.bias)  # rows <= i
    above = F.pad(v_pre, (0, 0, 1, 0))[:, :, :-1]                     # one row down: rows < i only
    row = (torch.arange(k) < k // 2 + (0 if layer.first else 1)).float()   # A hides the centre, B keeps it
    h_pre = F.conv2d(F.pad(h, (k // 2, k // 2, 0, 0)), layer.horizontal.weight * row, layer.horizontal.bias)
    h_pre = h_pre + F.conv2d(above, layer.vertical_to_horizontal.weight, layer.vertical_to_horizontal.bias)
    h_out = F.conv2d(gate(h_pre), layer.horizontal_out.weight, layer.horizontal_out.bias)   # 1x1
    return gate(v_pre), (h_out if layer.first else h + h_out)       # residual after the first layer


v = h = torch.randn(2, 1, size, size, generator=make_generator(5))
with torch.no_grad():
    for layer in gated.layers:                                        # the 4-layer model of the figure
        (v_lib, h_lib), (v, h) = layer(v, h), gated_layer_by_hand(layer, v, h)
        torch.testing.assert_close(v, v_lib), torch.testing.assert_close(h, h_lib)
print("gated layers by hand == arcourse.models.GatedPixelCNN layers, output", tuple(h.shape))

# %% [markdown]
# The layer just written, drawn: the vertical stack (left) reaches the horizontal stack
# (right) only through the shift down by one row; the horizontal stack's masked $1 \times k$
# kernel covers the current row up to the current pixel, and its residual skips the gate.

# %%
from arcourse.plotting import draw_gated_stacks

fig, ax = plt.subplots(figsize=(6, 4))
draw_gated_stacks(ax, kernel_size=gated.layers[0].kernel_size)
ax.set_title("one Gated PixelCNN layer (gated_layer_by_hand above)", fontsize=9)
plt.show()

# %% [markdown]
# The answer to the prompt: without the shift, the vertical stack's row $i$ covers the
# current row *including* pixels to the right of the current one, and the horizontal stack
# would read them — a leak of the future that the gradient test of section 3 would catch.
#
# ## 5. Data: handwritten digits, and a baseline that ignores dependencies
#
# scikit-learn ships 1,797 handwritten digits of 8×8 pixels with 17 grey levels (0–16), so
# $K = 17$ and $D = 64$ dimensions per image. The baseline models every pixel position
# with its own categorical distribution, $p(x) = \prod_i p_i(x_i)$, fitted by counting
# (with one pseudo-count per level). Every model that learns dependencies must beat it.

# %%
digits = load_digits()                                        # (1797, 1, 8, 8) levels 0..16
K, D = digits.levels, 64
train_set, val_set, test_set = split_images(digits, (0.8, 0.1, 0.1), seed=0)
print(f"K = {K} levels; train {len(train_set)}, validation {len(val_set)}, test {len(test_set)} images")
fig, axes = plt.subplots(1, 12, figsize=(10, 1.2))
for ax, image in zip(axes, train_set.images[:12]):
    ax.imshow(image[0], cmap="Greys", vmin=0, vmax=K - 1), ax.axis("off")
plt.show()

# %%
counts = F.one_hot(train_set.images, K).sum(0).double() + 1.0           # (C, H, W, K)
baseline_logp = (counts / counts.sum(-1, keepdim=True)).log()
picked = baseline_logp.expand(len(test_set), -1, -1, -1, -1).gather(-1, test_set.images.unsqueeze(-1))
test_ll = picked.sum(dim=(1, 2, 3, 4))                                  # log p(x) per test digit
baseline = IndependentPixels.from_images(train_set.images, K).to(device)
with torch.no_grad():
    torch.testing.assert_close(log_likelihood(baseline, test_set.images.to(device)).cpu().double(), test_ll,
                               rtol=1e-5, atol=1e-4)
bpd_baseline = float(bits_per_dim(-test_ll.sum(), len(test_set) * D))
print(f"independent pixels: {bpd_baseline:.3f} bits/dim on the test digits (uniform would be {np.log2(K):.3f})")

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 6. Training both models
#
# Teacher forcing is free here: the input image *is* the target, the masks do the shifting,
# and one forward pass scores all 64 conditionals of each image. The course's `train`
# loop minimises the mean NLL per sub-pixel in nats; dividing by $\ln 2$ gives bits/dim.
# A few seconds of CPU per model are enough to see both learn; the same recipe run for
# longer made the checkpoints that the rest of the lecture samples from
# (`scripts/make_checkpoints_pixelcnn.py`).

# %%
STEPS, EVAL_EVERY = 150, 25
architectures = {
    "PixelCNN": lambda: PixelCNN(PixelCNNConfig(vocab_size=K, hidden_channels=32, n_layers=5, first_kernel_size=5)),
    "Gated PixelCNN": lambda: GatedPixelCNN(GatedPixelCNNConfig(vocab_size=K, hidden_channels=32, n_layers=5)),
}
val_batches = lambda: ImageBatches(val_set, 512, shuffle=False)
test_batches = lambda: ImageBatches(test_set, 512, shuffle=False)
runs = {}
for name, make in architectures.items():
    torch.manual_seed(0)
    model = make().to(device)
    history = train(model, ImageBatches(train_set, 64, seed=0), STEPS, lr=3e-3, schedule="cosine",
                    warmup_steps=20, eval_batches=val_batches, eval_every=EVAL_EVERY, description=name)
    runs[name] = (model, history)
    print(f"{name}: {history.seconds:.1f} s for {STEPS} steps")

# %%
LN2 = np.log(2)
fig, ax = plt.subplots(figsize=(6.5, 3.6))
for (name, (model, history)), colour in zip(runs.items(), ["tab:orange", "tab:blue"]):
    smooth = np.convolve(history.train_loss, np.ones(10) / 10, mode="valid") / LN2
    ax.plot(np.arange(len(smooth)) + 9, smooth, color=colour, alpha=0.5, label=f"{name} (train)")
    ax.plot(history.eval_steps, np.array(history.eval_loss) / LN2, "o-", color=colour, label=f"{name} (validation)")
ax.axhline(bpd_baseline, color="grey", ls="--", label="independent pixels (test)")
ax.set_xlabel("step"), ax.set_ylabel("bits / dim"), ax.set_ylim(1.7, 4.2), ax.legend(fontsize=8)
plt.show()

# %% [markdown]
# The checkpoints were trained with the same recipe for longer (the script records the
# steps, and the bits/dim it measured, which we re-measure here).

# %%
results = {"independent pixels": bpd_baseline}
for name, (model, history) in runs.items():
    results[f"{name}, {STEPS} steps here"] = evaluate(model, test_batches()) / LN2
checkpoints = {}
for file, name in [("pixelcnn_digits", "PixelCNN"), ("gated_pixelcnn_digits", "Gated PixelCNN")]:
    checkpoint = load_checkpoint(file)                         # asdict(config) + state_dict
    model, saved = checkpoint.model.to(device), checkpoint.extras
    bpd = evaluate(model, test_batches()) / LN2
    assert saved["split_seed"] == 0 and abs(bpd - saved["test_bpd"]) < 1e-3  # same test digits, same model
    results[f"{name}, checkpoint ({saved['steps']} steps)"] = bpd
    checkpoints[name] = (model, bpd)
for name, bpd in results.items():
    print(f"{name:38s} {bpd:6.3f} bits/dim")
assert results[f"Gated PixelCNN, {STEPS} steps here"] < bpd_baseline - 0.15  # a clear margin already
assert checkpoints["Gated PixelCNN"][1] < bpd_baseline - 0.4                # and a wide one when trained longer
assert checkpoints["PixelCNN"][1] < bpd_baseline - 0.4                      # the plain one too
close = abs(checkpoints["PixelCNN"][1] - checkpoints["Gated PixelCNN"][1])
print(f"plain vs gated checkpoint: {close:.3f} bits/dim apart")
assert close < 0.15                                                          # on 8x8 digits they end close
model = checkpoints["Gated PixelCNN"][0]

# %% [markdown]
# Both checkpoints beat the baseline by more than 0.4 bits/dim (asserted). On 8×8 digits
# the two architectures end up close (their difference is printed): the blind spot hides
# only a few pixels of such a small image. It matters more on larger ones — on CIFAR-10 the
# Gated PixelCNN paper (van den Oord et al., 2016) reports 3.14 bits/dim for the PixelCNN
# and 3.03 for the gated version.
#
# ## 7. Samples and temperature
#
# Sampling runs the chain rule forwards: draw $x_1$, feed the image back, draw $x_2$, and
# so on for all 64 pixels — one network call per pixel, each with a fresh look at
# everything drawn so far. Dividing the logits by a temperature $\tau$ sharpens ($\tau<1$)
# or flattens ($\tau>1$) every conditional. (Exercise 04 asks you to write this loop.)

# %%
gen = make_generator(0, device)
samples = sample_images(model, 64, (8, 8), generator=gen).cpu()          # (64, 1, 8, 8)
assert samples.min() >= 0 and samples.max() < K
fig, axes = plt.subplots(1, 2, figsize=(8, 4))
show_grid(axes[0], image_grid(samples, 8, 8), vmax=K - 1), axes[0].set_title("64 samples")
show_grid(axes[1], image_grid(test_set.images, 8, 8), vmax=K - 1), axes[1].set_title("64 test digits")
plt.show()
mean_image = lambda images: images.float().mean(0).flatten()
corr = np.corrcoef(mean_image(samples), mean_image(test_set.images))[0, 1]
print(f"correlation of the samples' mean image with the test digits' mean image: {corr:.3f}")
assert corr > 0.8

# %% [markdown]
# *Predict before you run:* the next cell samples at three temperatures and scores the
# samples under the model. Will the colder samples have a higher or lower mean
# $\log p(x)$ than the hotter ones? (Its answer is asserted.)

# %%
gen = make_generator(1, device)
temperatures = [0.5, 1.0, 1.5]
fig, axes = plt.subplots(len(temperatures), 1, figsize=(9, 3.6))
mean_ll = []
for ax, tau in zip(axes, temperatures):
    drawn = sample_images(model, 12, (8, 8), processors=[Temperature(tau)], generator=gen)
    with torch.no_grad():
        mean_ll.append(float(log_likelihood(model, drawn).mean()))
    show_grid(ax, image_grid(drawn, 1, 12), vmax=K - 1)
    ax.set_title(f"tau = {tau}: mean log p(x) = {mean_ll[-1]:.0f} nats", fontsize=9)
plt.tight_layout()
plt.show()
with torch.no_grad():
    test_mean_ll = float(log_likelihood(model, test_set.images.to(device)).mean())
print("mean log p(x) of the samples at tau = 0.5, 1, 1.5:", np.round(mean_ll, 1), f"| test digits: {test_mean_ll:.1f}")
assert mean_ll[0] > mean_ll[1] > mean_ll[2]   # colder samples are more *likely* under the model

# %% [markdown]
# Colder samples are more *likely* under the model, not more *typical*: a typical sample of
# a distribution is one drawn from it, and only $\tau = 1$ draws from the model. Sharpening
# concentrates mass on the few most probable images, which random draws from $p_\theta$
# rarely are. The printed test-digit log-likelihood is a reference:
# the $\tau = 1$ samples should score in its neighbourhood if the model fits the data.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 8. Completing half an image
#
# Give the model the top four rows of a test digit and sample the bottom four. Because the
# given pixels come first in raster order, this draws exactly from
# $p(\text{bottom} \mid \text{top})$ — no extra training, just the same loop with the known
# pixels held fixed.

# %%
n_digits, n_tries = 6, 5
originals = test_set.images[:n_digits].to(device)
known = torch.zeros(8, 8, dtype=torch.bool, device=device)
known[:4] = True                                                        # the top half
gen = make_generator(2, device)
completed = complete_images(model, originals.repeat_interleave(n_tries, 0), known, generator=gen)
completed = completed.view(n_digits, n_tries, 1, 8, 8).cpu()
assert (completed[:, :, :, :4] == originals.cpu()[:, None, :, :4]).all()  # given pixels kept
fig, axes = plt.subplots(n_digits, n_tries + 2, figsize=(6, 5.4))
for r in range(n_digits):
    half = originals[r, 0].cpu().float().clone()
    half[4:] = float("nan")
    row = [originals[r, 0].cpu(), half] + [completed[r, t, 0] for t in range(n_tries)]
    for ax, picture in zip(axes[r], row):
        ax.imshow(picture, cmap="Greys", vmin=0, vmax=K - 1), ax.axis("off")
axes[0, 0].set_title("digit", fontsize=8), axes[0, 1].set_title("given", fontsize=8)
axes[0, 2].set_title("completions ->", fontsize=8)
plt.show()

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 9. Exact likelihood in use: spotting what is not a digit
#
# Because $\log p(x)$ is exact, it can score inputs. Digits from the test set should be
# likely; random noise should not be, and neither should **mirrored** digits (flipped left
# to right, as in mirror writing). We score all three with the gated checkpoint and with the
# independent-pixel baseline, and measure how well $\log p(x)$ separates test digits from
# each kind of outlier by the AUROC: the fraction of (test, outlier) pairs in which the test
# digit is the more likely one (0.5 is chance, 1 is perfect).

# %%
gen = make_generator(3)
sets = {"test digits": test_set.images,
        "mirrored": test_set.images.flip(3),                              # left <-> right
        "noise": torch.randint(0, K, (len(test_set), 1, 8, 8), generator=gen)}
with torch.no_grad():
    scores = {who: {name: log_likelihood(m, images.to(device)).cpu() for name, images in sets.items()}
              for who, m in [("gated", model), ("baseline", baseline)]}


def auroc(inliers, outliers):
    """P(log p(inlier) > log p(outlier)) over all pairs."""
    return float((inliers[:, None] > outliers[None, :]).double().mean())


# %%
plt.figure(figsize=(6.5, 3.4))
for name, values in scores["gated"].items():
    plt.hist(values.numpy(), bins=40, alpha=0.6, label=name)
plt.xlabel("log p(x) under the gated PixelCNN (nats)"), plt.ylabel("images"), plt.legend()
plt.show()
auc = {(who, name): auroc(scores[who]["test digits"], scores[who][name])
       for who in scores for name in ("mirrored", "noise")}
for (who, name), value in auc.items():
    print(f"AUROC test digits vs {name:8s} under the {who:8s}: {value:.3f}")
assert auc["gated", "noise"] == 1.0 and auc["baseline", "noise"] == 1.0
assert auc["gated", "mirrored"] > 0.75 and auc["gated", "mirrored"] > auc["baseline", "mirrored"] + 0.15


# %%
# which digits does the detector miss? the AUROC of each class against its own mirror image
labels = test_set.labels
by_class = {d: auroc(scores["gated"]["test digits"][labels == d], scores["gated"]["mirrored"][labels == d])
            for d in range(10)}
hardest = sorted(by_class, key=by_class.get)[:3]
print("AUROC digit vs its mirror, per class:", {d: round(a, 2) for d, a in by_class.items()})
print("hardest classes:", hardest)

# %% [markdown]
# Noise is easy: any model of digits finds it wildly unlikely. A mirrored digit puts its ink
# in much the same places as a real one, so the baseline, which only knows where ink tends
# to be, can barely tell them apart; the PixelCNN knows how strokes continue from pixel to
# pixel and ranks most mirrored digits well below real ones. Which classes it misses most
# is printed above, per class: expect the near-symmetric ones (a 0, a 1 or an 8 looks much
# the same in a mirror) among them.
#
# **The known failure.** A high likelihood is not the same as "looks like the training
# data". Likelihood models can give *higher* likelihood to some out-of-distribution inputs
# than to their own test set — models trained on CIFAR-10 rate the SVHN house numbers as
# more likely (Nalisnick et al., 2019) — because $\log p(x)$ rewards simple, low-detail
# inputs. The same happens here: an image with no ink at all is cheap to encode, and the
# cell below scores it above most real test digits. A detector that thresholds $\log p(x)$
# would call it the most normal digit of all. (Remedies compare likelihoods between models,
# or correct for complexity; both are beyond this lecture.)

# %%
with torch.no_grad():
    blank = torch.zeros(1, 1, 8, 8, dtype=torch.long, device=device)          # no ink at all: not a digit
    ll_blank = log_likelihood(model, blank).item()
test_ll_gated = scores["gated"]["test digits"]
below_blank = (test_ll_gated < ll_blank).float().mean().item()
print(f"log p(blank image) = {ll_blank:.1f} nats; test digits: median {test_ll_gated.median():.1f}; "
      f"{below_blank:.0%} of test digits are less likely than the blank")
assert below_blank > 0.5     # an empty image beats most real digits: likelihood is not "digit-ness"

# %% [markdown]
# ## 10. Why sampling is slow
#
# Scoring an image — all its conditionals — takes one forward pass. Sampling takes one pass
# **per sub-pixel**, $CHW$ of them, because each draw must see the ones before it. We count
# the passes with a hook and time both for square images of growing size (any size works:
# the network is convolutional).

# %%
calls = []
hook = model.register_forward_pre_hook(lambda module, args: calls.append(1))
sides, sample_s, score_s = [4, 8, 12, 16], [], []
for side in sides:
    calls.clear()
    start = time.perf_counter()
    drawn = sample_images(model, 4, (side, side), generator=make_generator(4, device)).cpu()  # .cpu() waits for it
    sample_s.append((time.perf_counter() - start) / 4)
    assert len(calls) == side * side                  # one network call per sub-pixel (C = 1)
    tries = []
    for _ in range(5):                                # a pass takes milliseconds: keep the best of 5
        start = time.perf_counter()
        with torch.no_grad():
            log_likelihood(model, drawn.to(device)).cpu()
        tries.append(time.perf_counter() - start)
    score_s.append(min(tries) / 4)
hook.remove()


# %%
pixels = np.array(sides) ** 2
plt.figure(figsize=(5, 3.4))
plt.loglog(pixels, sample_s, "o-", label="sample")
plt.loglog(pixels, score_s, "s-", label="score (one forward pass)")
plt.xticks(pixels, [f"{side}x{side}" for side in sides]), plt.minorticks_off()
plt.xlabel("image size"), plt.ylabel("seconds per image (batch of 4)"), plt.legend()
plt.show()
for side, a, b in zip(sides, sample_s, score_s):
    print(f"{side:2d} x {side:<2d}: sampling {1000 * a:7.1f} ms, scoring {1000 * b:5.2f} ms per image ({a / b:4.0f} x)")
ratios = np.array(sample_s) / np.array(score_s)
assert ratios[-1] > 2 * ratios[0]     # 16x more passes at 16x16 than at 4x4: the gap widens, on any machine

# %% [markdown]
# The ratio grows with the number of pixels (asserted with a wide margin; the exact
# figures depend on the machine): $HW$ passes instead of one. For small images each pass
# costs about the same (fixed overheads dominate), so sampling time grows like $HW$; once
# the images are large enough for the arithmetic to dominate, each pass costs in proportion
# to $HW$ too, and sampling grows like $(HW)^2$. Compare the printed times to see which
# regime this machine is in. A 256×256 RGB image needs $3 \cdot 256^2 = 196{,}608$ passes —
# which is why later work caches activations (lecture 05) or generates many pixels at once.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Summary
#
# * Raster order plus the chain rule gives an exact likelihood for images; a masked
#   convolution computes every conditional in one pass. Type A hides the centre in the
#   first layer, type B keeps it afterwards; with colour, R → G → B within a pixel.
# * The gradient test proves causality: the output at a sub-pixel has exactly zero
#   gradient with respect to itself and everything after it.
# * Stacked masked 3×3 convolutions have a blind spot up and to the right; the Gated
#   PixelCNN's vertical and horizontal stacks remove it.
# * On the test digits (the split of lecture 02, whose per-pixel histograms are the
#   baseline here too) both models beat independent pixels after 150 steps, and by more
#   than 0.4 bits/dim when trained longer; the cell below prints every figure, in bits/dim
#   and in bits per digit.
# * The same model samples, completes images and — because its likelihood is exact — flags
#   inputs that are not digits, including mirrored digits that a model of independent
#   pixels cannot tell apart — with the known caveat that simple inputs (little ink) can be
#   *more* likely than real data. Sampling costs one network call per sub-pixel.

# %%
for name, bpd in results.items():
    print(f"{name:38s} {bpd:6.3f} bits/dim, {bpd * D:5.1f} bits per digit")
margin = bpd_baseline - checkpoints["Gated PixelCNN"][1]
print(f"the gated checkpoint beats independent pixels by {margin:.2f} bits/dim ({margin * D:.0f} bits per digit)")

# %% [markdown]
# **Exercise 04** (`exercises/ex04_pixelcnn.ipynb`): the bits-per-dimension conversion,
# the type A/B mask with colour groups, a pixel-by-pixel sampler that also completes
# images, the blind spot's size derived and measured, and a PixelCNN of your own trained
# with your own loop; `arcourse grade` checks them.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## In class: completing a digit
#
# The shipped Gated PixelCNN is given the top rows of a test digit and draws the rest pixel
# by pixel at a temperature. Beside the completions: the model's surprise at each true pixel
# (bits; they sum to the digit's exact $-\log_2 p(x)$) and its distribution over the grey
# levels of the first pixel it has to draw.

# %%
from arcourse.widgets import PixelPanel

pixel_panel = PixelPanel.from_checkpoint(rows=4)
pixel_panel.update()
assert (pixel_panel.completions[:, :4] == pixel_panel.images[0, 0, :4].numpy()).all()
pixel_panel.widget
