"""Graded checks of exercise 04: bits per dimension (warm-up), the colour mask and a pixel-by-pixel
sampler (core), and an own PixelCNN trained on binary digits (stretch, an experiment)."""
import itertools
import math

import torch
import torch.nn as nn
import torch.nn.functional as F
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from arcourse.grading.api import check_close, points, question
from arcourse.metrics import chi_square_test, log_likelihood, nll
from arcourse.models import (GatedPixelCNN, GatedPixelCNNConfig, IndependentPixels, MaskedConv2d,
                             pixel_input_gradient, pixelcnn_mask)

FEW = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def _mask(student, *args):
    got = student.make_mask(*args)
    try:
        return torch.as_tensor(got).detach().float().cpu()
    except (TypeError, ValueError, RuntimeError):
        raise AssertionError(f"make_mask{args} should return a tensor or array, got {type(got).__name__}") from None


@question("make_mask", "type A/B masks for many kernel sizes and colour groupings; a network built from them is causal",
          tier="core", write=("arcourse.models.pixelcnn.pixelcnn_mask",))
class TestMakeMask:
    @points(2)
    def test_single_channel_masks(self, student):
        """one colour, kernels 1 to 9, types A and B."""
        for k, kind in itertools.product((1, 3, 5, 7, 9), "AB"):
            check_close(_mask(student, k, kind), pixelcnn_mask(k, kind), f"make_mask({k}, {kind!r})")

    @points(2)
    @FEW
    @given(k=st.sampled_from([1, 3, 5, 7]), kind=st.sampled_from("AB"), colours=st.integers(1, 3),
           per_in=st.integers(1, 3), per_out=st.integers(1, 3))
    def test_channel_groups(self, student, k, kind, colours, per_in, per_out):
        """colour groups at the centre tap: random kernel sizes, types and channel counts."""
        args = (k, kind, colours * per_in, colours * per_out, colours)
        check_close(_mask(student, *args), pixelcnn_mask(*args), f"make_mask{args}")

    @points(2)
    def test_network_from_your_masks_is_causal(self, student):
        """gradient test: a 3-layer RGB network built with your masks ignores its own and later sub-pixels."""
        C, hidden, (H, W) = 3, 12, (5, 5)
        gen = torch.Generator().manual_seed(0)
        shapes = [(3, "A", C, hidden), (3, "B", hidden, hidden), (1, "B", hidden, C)]
        weights = [torch.randn(o, i, k, k, generator=gen) * _mask(student, k, kind, i, o, C)
                   for k, kind, i, o in shapes]
        network = _MaskedStack(weights)
        for c, i, j in [(0, 2, 2), (1, 2, 2), (2, 2, 2), (0, 0, 0), (2, 4, 1)]:
            grad = pixel_input_gradient(network, (C, H, W), c, i, j, n_images=8)  # (C, H, W)
            pixel = torch.arange(H * W).view(1, H, W)
            later = (pixel > i * W + j) | ((pixel == i * W + j) & (torch.arange(C).view(C, 1, 1) >= c))
            if grad[later].max() > 0:
                where = [tuple(p) for p in (later & (grad > 0)).nonzero().tolist()][:4]
                raise AssertionError(f"output (colour {c}, row {i}, col {j}) depends on input sub-pixels at or "
                                     f"after it, e.g. (colour, row, col) in {where}")
            if (c, i, j) != (0, 0, 0) and grad[~later].max() == 0:
                raise AssertionError(f"output (colour {c}, row {i}, col {j}) sees none of the earlier sub-pixels")


class _MaskedStack(nn.Module):
    """Masked convolutions with tanh between them, shaped as a pixel model for
    `pixel_input_gradient`: (B, C, H, W) -> (B, C, H, W, 1). Inputs in [0, 1] (vocab_size 2)."""

    vocab_size = 2

    def __init__(self, weights):
        super().__init__()
        self.weights = nn.ParameterList(weights)

    def forward(self, x):
        h = x
        for n, w in enumerate(self.weights):
            h = F.conv2d(h, w, padding=w.shape[-1] // 2)
            h = torch.tanh(h) if n < len(self.weights) - 1 else h
        return h.unsqueeze(-1)                                                # (B, C, H, W, 1)


@question("image_bits_per_dim", "bits per dimension of each image from logits", tier="warm-up",
          write=("arcourse.metrics.information.log_likelihood", "arcourse.metrics.information.nll"))
class TestBitsPerDim:
    @points(1)
    def test_uniform_model(self, student):
        """K equally likely levels cost log2 K bits per dimension."""
        for K in (2, 5, 256):
            images = torch.randint(0, K, (3, 2, 3, 4))
            check_close(student.image_bits_per_dim(torch.zeros(3, 2, 3, 4, K), images),
                        torch.full((3,), math.log2(K)), f"image_bits_per_dim(zeros, images) with K={K}")

    @points(2)
    @FEW
    @given(B=st.integers(1, 4), C=st.integers(1, 3), H=st.integers(1, 5), W=st.integers(1, 5),
           K=st.integers(2, 20), seed=st.integers(0, 2**16))
    def test_random_logits(self, student, B, C, H, W, K, seed):
        """matches -sum log p / (C H W ln 2) on random logits and shapes."""
        gen = torch.Generator().manual_seed(seed)
        logits = torch.randn(B, C, H, W, K, generator=gen, dtype=torch.float64) * 3
        images = torch.randint(0, K, (B, C, H, W), generator=gen)
        want = nll(logits, images, reduction="none").sum((1, 2, 3)) / (C * H * W * math.log(2))
        check_close(student.image_bits_per_dim(logits, images), want, "image_bits_per_dim(logits, images)",
                    atol=1e-5, logits_shape=tuple(logits.shape))


def _sharp_model(levels=2, data_channels=1, seed=0):
    """A small random gated PixelCNN whose conditionals are far from uniform."""
    torch.manual_seed(seed)
    model = GatedPixelCNN(GatedPixelCNNConfig.tiny(vocab_size=levels, data_channels=data_channels))
    with torch.no_grad():
        model.head[-1].weight.mul_(6)
    assert isinstance(model.head[-1], MaskedConv2d)
    return model.eval()


def _all_images(shape, levels):
    n = math.prod(shape)
    return torch.tensor(list(itertools.product(range(levels), repeat=n))).view(-1, *shape)


def _samples(student, model, images, known, temperature=1.0, seed=0):
    out = student.sample_pixels(model, images, known, temperature, seed)
    out = torch.as_tensor(out)
    if tuple(out.shape) != tuple(images.shape):
        raise AssertionError(f"sample_pixels returned shape {tuple(out.shape)}, expected {tuple(images.shape)}")
    return out.long()


def _counts(draws, levels):
    """How often each possible image was drawn, in the order of `_all_images`."""
    digits = levels ** torch.arange(draws[0].numel() - 1, -1, -1)
    index = (draws.flatten(1) * digits).sum(1)
    return torch.bincount(index, minlength=levels ** draws[0].numel()).double()


def _assert_follows(draws, exact, levels, what):
    """Pearson's chi-square test of the drawn images against the exact distribution."""
    statistic, p_value = chi_square_test(_counts(draws, levels), exact / exact.sum())
    assert p_value > 1e-3, (f"{what}: the samples do not follow the model's exact distribution "
                            f"(chi-square {statistic:.1f}, p = {p_value:.1e}, over {len(exact)} possible images)")


@question("sample_pixels", "pixel-by-pixel samples: in range, seeded, keep the given pixels, follow the model",
          tier="core", write=("arcourse.decoding.images.complete_images", "arcourse.decoding.images.sample_images"))
class TestSamplePixels:
    @points(1)
    def test_in_range_and_seeded(self, student):
        """levels in [0, K); the same seed gives the same images, another seed others."""
        model = _sharp_model(levels=4, data_channels=3)
        images = torch.zeros(6, 3, 3, 3, dtype=torch.long)
        known = torch.zeros_like(images, dtype=torch.bool)
        a = _samples(student, model, images, known, seed=3)
        b = _samples(student, model, images, known, seed=3)
        c = _samples(student, model, images, known, seed=4)
        assert a.min() >= 0 and a.max() < 4, f"levels must lie in [0, 4), got [{int(a.min())}, {int(a.max())}]"
        assert torch.equal(a, b), "sample_pixels with the same seed gave different images"
        assert not torch.equal(a, c), "sample_pixels with seeds 3 and 4 gave the same images"

    @points(1)
    def test_keeps_given_pixels(self, student):
        """inpainting: every sub-pixel marked known comes back unchanged."""
        model = _sharp_model(levels=4, data_channels=3)
        gen = torch.Generator().manual_seed(1)
        images = torch.randint(0, 4, (5, 3, 4, 3), generator=gen)
        known = torch.rand(5, 3, 4, 3, generator=gen) < 0.5
        out = _samples(student, model, images, known, seed=0)
        if not torch.equal(out[known], images[known]):
            raise AssertionError(f"{int((out[known] != images[known]).sum())} known sub-pixels were changed")

    @points(2)
    def test_follows_the_model(self, student):
        """6,000 binary 2x2 samples against the model's exact joint over all 16 images (chi-square)."""
        model = _sharp_model()
        everything = _all_images((1, 2, 2), 2)
        with torch.no_grad():
            exact = log_likelihood(model, everything).double().exp()
        draws = _samples(student, model, torch.zeros(6000, 1, 2, 2, dtype=torch.long),
                         torch.zeros(6000, 1, 2, 2, dtype=torch.bool), seed=0)
        _assert_follows(draws, exact, 2, "sample_pixels(model, 2x2 binary)")

    @points(1)
    def test_temperature(self, student):
        """at temperature 0.5 every conditional's logits are doubled (chi-square against that joint)."""
        model = _sharp_model(seed=1)
        everything = _all_images((1, 2, 2), 2)
        with torch.no_grad():
            exact = (-nll(model(everything) * 2, everything, reduction="none").sum((1, 2, 3))).double().exp()
        draws = _samples(student, model, torch.zeros(6000, 1, 2, 2, dtype=torch.long),
                         torch.zeros(6000, 1, 2, 2, dtype=torch.bool), temperature=0.5, seed=0)
        _assert_follows(draws, exact, 2, "sample_pixels(..., temperature=0.5): each conditional's logits doubled")

    @points(2)
    def test_completes_colour_images_from_the_conditional(self, student):
        """RGB 2x1 images, top pixel given: the bottom pixel's R, G, B follow p(bottom | top) (chi-square)."""
        model = _sharp_model(data_channels=3, seed=2)
        everything = _all_images((3, 2, 1), 2)                       # 64 images
        top = torch.tensor([1, 0, 1])
        with torch.no_grad():
            joint = log_likelihood(model, everything).double().exp()
        matches = (everything[:, :, 0, 0] == top).all(1)
        exact = joint[matches] / joint[matches].sum()                # p(bottom | top), 8 values
        images = torch.zeros(6000, 3, 2, 1, dtype=torch.long)
        images[:, :, 0, 0] = top
        known = torch.zeros_like(images, dtype=torch.bool)
        known[:, :, 0, 0] = True
        draws = _samples(student, model, images, known, seed=0)
        assert (draws[:, :, 0, 0] == top).all(), "the given top pixel was changed"
        _assert_follows(draws[:, :, 1, 0], exact, 2,
                        "the completed bottom pixels against p(bottom | top); draw R, then G, then B, each given "
                        "the ones before")


# The experiment: binary 8x8 images from a source known exactly (each pixel depends on the pixel
# above and the pixel to its left), and the model the student's fit_pixelcnn returns (trained
# once per grading, shared by the checks).
STEPS, SEED = 100, 2
P_ONE = torch.tensor([[0.15, 0.6], [0.6, 0.9]])      # p(pixel = 1 | above, left); outside the image is 0
_FITTED: list = []      # (student, model handle)


def _source(n, seed):
    """n images (n, 1, 8, 8) from the source, and their exact bits per dimension on average."""
    gen = torch.Generator().manual_seed(seed)
    x = torch.zeros(n, 1, 8, 8, dtype=torch.long)
    log_p = torch.zeros(n, dtype=torch.float64)
    for i, j in itertools.product(range(8), range(8)):
        above = x[:, 0, i - 1, j] if i else torch.zeros(n, dtype=torch.long)
        left = x[:, 0, i, j - 1] if j else torch.zeros(n, dtype=torch.long)
        p = P_ONE[above, left].double()
        x[:, 0, i, j] = (torch.rand(n, generator=gen, dtype=torch.float64) < p).long()
        log_p += torch.where(x[:, 0, i, j] == 1, p, 1 - p).log()
    return x, float(-log_p.mean() / (64 * math.log(2)))


def _fitted(student):
    for who, model in _FITTED:
        if who is student:
            return model
    model = student.fit_pixelcnn(_source(1500, 10)[0], STEPS, SEED)
    _FITTED.append((student, model))
    return model


def _logits(model, images):
    out = torch.as_tensor(model(images))
    want = tuple(images.shape) + (2,)
    if tuple(out.shape) != want:
        raise AssertionError(f"the model returned logits of shape {tuple(out.shape)} for images "
                             f"{tuple(images.shape)}, expected {want}")
    return out.double()


def _bits_per_dim(logits, images):
    return float(nll(logits, images, reduction="none").sum((1, 2, 3)).mean() / (images[0].numel() * math.log(2)))


@question("fit_pixelcnn", "an own PixelCNN, trained by an own loop, is causal, beats independent pixels and "
          "nearly reaches the exact bits/dim of a known source", tier="stretch", experiment=True, seconds=60,
          write=("arcourse.training.train", "arcourse.models.pixelcnn.PixelCNN",
                 "arcourse.models.pixelcnn.GatedPixelCNN"))
class TestFitPixelCNN:
    @points(2)
    def test_trained_model_is_causal(self, student):
        """perturbing a pixel and everything after it changes no logit before it, nor its own."""
        model = _fitted(student)
        images = _source(16, 11)[0]
        order = torch.arange(64).view(1, 1, 8, 8)
        for i, j in [(0, 0), (2, 3), (4, 4), (5, 7), (7, 7)]:
            flipped = torch.where(order >= i * 8 + j, 1 - images, images)        # (i, j) and after
            changed = ((_logits(model, images) - _logits(model, flipped)).abs() > 1e-5).any(-1)   # (16, 1, 8, 8)
            if (changed & (order <= i * 8 + j)).any():
                raise AssertionError(f"flipping pixel ({i}, {j}) and every pixel after it changed the logits "
                                     f"of pixel ({i}, {j}) or of a pixel before it: the model sees the future "
                                     "(which mask does the first layer need?)")

    @points(2)
    def test_beats_independent_pixels(self, student):
        """after 100 steps, held-out bits/dim at least 0.1 below the independent-pixel baseline."""
        train, test = _source(1500, 10)[0], _source(500, 12)[0]
        with torch.no_grad():
            baseline = _bits_per_dim(IndependentPixels.from_images(train, 2)(test).double(), test)
        got = _bits_per_dim(_logits(_fitted(student), test), test)
        assert got < baseline - 0.1, (f"held-out {got:.3f} bits/dim after fit_pixelcnn(train, steps={STEPS}, "
                                      f"seed={SEED}); independent pixels get {baseline:.3f}, so at most "
                                      f"{baseline - 0.1:.3f} is needed")

    @points(1)
    def test_nearly_reaches_the_source(self, student):
        """held-out bits/dim within 0.05 of the source's exact bits/dim (its conditionals are known)."""
        test, exact = _source(500, 12)
        got = _bits_per_dim(_logits(_fitted(student), test), test)
        assert got < exact + 0.05, (f"held-out {got:.3f} bits/dim after {STEPS} steps; the source itself needs "
                                    f"{exact:.3f}, and within 0.05 of it is expected (does every pixel see the "
                                    "one above and the one to its left?)")
