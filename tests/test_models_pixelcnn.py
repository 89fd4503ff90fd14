"""PixelCNN and Gated PixelCNN: masks, causality, the blind spot, likelihood, sampling."""
import itertools
import math
from dataclasses import asdict

import pytest
import torch
import torch.nn.functional as F

from arcourse import load_checkpoint, log_likelihood, make_generator, nll, save_checkpoint, train
from arcourse.decoding import Temperature, TopK, complete_images, sample_images
from arcourse.models import (
    GatedPixelCNN,
    GatedPixelCNNConfig,
    IndependentPixels,
    MaskedConv2d,
    PixelCNN,
    PixelCNNConfig,
    pixel_input_gradient,
    pixelcnn_mask,
)


def _not_before(shape, c, i, j):
    """True at sub-pixel (c, i, j) and every sub-pixel after it in raster order."""
    C, H, W = shape
    pixel = torch.arange(H * W).view(1, H, W)
    colour = torch.arange(C).view(C, 1, 1)
    return (pixel > i * W + j) | ((pixel == i * W + j) & (colour >= c))


def _all_images(shape, levels):
    """Every image of `shape` with `levels` levels, (levels ** (C*H*W), C, H, W)."""
    n = torch.Size(shape).numel()
    return torch.tensor(list(itertools.product(range(levels), repeat=n))).view(-1, *shape)


def _models(vocab_size=2, data_channels=1):
    torch.manual_seed(0)
    return [PixelCNN(PixelCNNConfig.tiny(vocab_size=vocab_size, data_channels=data_channels)),
            GatedPixelCNN(GatedPixelCNNConfig.tiny(vocab_size=vocab_size, data_channels=data_channels))]


# --- masks ---------------------------------------------------------------------------

def test_mask_tables_single_channel():
    a = pixelcnn_mask(3, "A")[0, 0]
    b = pixelcnn_mask(3, "B")[0, 0]
    assert a.tolist() == [[1, 1, 1], [1, 0, 0], [0, 0, 0]]
    assert b.tolist() == [[1, 1, 1], [1, 1, 0], [0, 0, 0]]
    assert pixelcnn_mask(5, "A")[0, 0].tolist() == [
        [1, 1, 1, 1, 1], [1, 1, 1, 1, 1], [1, 1, 0, 0, 0], [0, 0, 0, 0, 0], [0, 0, 0, 0, 0]]
    assert pixelcnn_mask((1, 5), "B")[0, 0].tolist() == [[1, 1, 1, 0, 0]]
    assert pixelcnn_mask(1, "A").tolist() == [[[[0]]]] and pixelcnn_mask(1, "B").tolist() == [[[[1]]]]


def test_mask_channel_ordering_rgb():
    """At the centre, colour c sees colours < c (A) or <= c (B); elsewhere all colours."""
    a, b = pixelcnn_mask(3, "A", 3, 3, 3), pixelcnn_mask(3, "B", 3, 3, 3)
    assert a[:, :, 1, 1].tolist() == [[0, 0, 0], [1, 0, 0], [1, 1, 0]]   # rows out R,G,B; columns in R,G,B
    assert b[:, :, 1, 1].tolist() == [[1, 0, 0], [1, 1, 0], [1, 1, 1]]
    assert (a[:, :, 0] == 1).all() and (a[:, :, 1, 0] == 1).all() and (a[:, :, 2] == 0).all()
    # features come in contiguous groups: 2 inputs and 3 outputs per colour
    grouped = pixelcnn_mask(3, "A", in_channels=6, out_channels=9, data_channels=3)[:, :, 1, 1]
    want = torch.tensor([[0, 0, 0], [1, 0, 0], [1, 1, 0]]).repeat_interleave(3, 0).repeat_interleave(2, 1)
    assert grouped.tolist() == want.tolist()


@pytest.mark.parametrize("args, message", [
    ((2, "A"), "kernel_size must be an odd int"),
    (((3, 4), "B"), "kernel_size must be an odd int"),
    ((3, "C"), "mask_type must be 'A' or 'B'"),
    ((3, "A", 4, 3, 3), "multiples of data_channels=3"),
    ((3, "A", 3, 3, 0), "data_channels must be an int >= 1"),
])
def test_mask_rejects_bad_arguments(args, message):
    with pytest.raises(ValueError, match=message):
        pixelcnn_mask(*args)


def test_masked_conv_is_a_conv_with_masked_weights():
    torch.manual_seed(0)
    conv = MaskedConv2d(6, 9, 5, "A", data_channels=3)
    x = torch.randn(2, 6, 7, 8)
    want = F.conv2d(x, conv.weight * pixelcnn_mask(5, "A", 6, 9, 3), conv.bias, padding=2)
    torch.testing.assert_close(conv(x), want)
    conv(x).sum().backward()
    assert (conv.weight.grad[conv.mask == 0] == 0).all()  # hidden weights never learn
    assert "mask" not in conv.state_dict()                 # rebuilt from the arguments


# --- causality and the blind spot --------------------------------------------------

@pytest.mark.parametrize("data_channels", [1, 3])
@pytest.mark.parametrize("kind", ["pixelcnn", "gated"])
def test_output_never_depends_on_its_own_or_later_subpixels(kind, data_channels):
    torch.manual_seed(0)
    C = data_channels
    if kind == "pixelcnn":
        model = PixelCNN(PixelCNNConfig(vocab_size=4, data_channels=C, hidden_channels=8 * C, n_layers=2,
                                        first_kernel_size=3))
    else:
        model = GatedPixelCNN(GatedPixelCNNConfig(vocab_size=4, data_channels=C, hidden_channels=8 * C, n_layers=2))
    shape = (C, 5, 6)
    for c in range(C):
        for i, j in [(0, 0), (2, 3), (4, 5), (3, 0)]:
            grad = pixel_input_gradient(model, shape, c, i, j)
            later = _not_before(shape, c, i, j)
            assert (grad[later] == 0).all(), (c, i, j)
            if (c, i, j) != (0, 0, 0):
                assert grad[~later].sum() > 0
            # channel ordering: at (i, j) itself exactly the earlier colours matter
            assert ((grad[:, i, j] > 0) == (torch.arange(C) < c)).all(), (c, i, j)


def test_stacked_masked_convs_have_a_blind_spot_gated_has_none():
    torch.manual_seed(0)
    L, (H, W), (i, j) = 4, (11, 11), (6, 5)
    plain = PixelCNN(PixelCNNConfig(vocab_size=4, hidden_channels=16, n_layers=L - 1, first_kernel_size=3))
    gated = GatedPixelCNN(GatedPixelCNNConfig(vocab_size=4, hidden_channels=16, n_layers=L))
    rows, cols = torch.meshgrid(torch.arange(H), torch.arange(W), indexing="ij")
    # what L stacked 3x3 layers could reach: L rows up, L columns either side, L to the left
    reach = ((rows < i) & (rows >= i - L) & ((cols - j).abs() <= L)) | ((rows == i) & (cols < j) & (cols >= j - L))
    seen_plain = pixel_input_gradient(plain, (1, H, W), 0, i, j)[0] > 0
    seen_gated = pixel_input_gradient(gated, (1, H, W), 0, i, j)[0] > 0
    blind = reach & ~seen_plain
    assert blind.any() and (cols[blind] > j).all()  # a wedge up and to the right is never seen
    assert (seen_gated[reach]).all()                # the gated stacks see all of it
    assert not (seen_gated & ~(rows < i) & ~((rows == i) & (cols < j))).any()


# --- shapes, normalisation, likelihood ----------------------------------------------

@pytest.mark.parametrize("data_channels", [1, 3])
def test_logits_shape_contract(data_channels):
    for model in _models(vocab_size=5, data_channels=data_channels):
        x = torch.randint(0, 5, (2, data_channels, 4, 7))
        assert model(x).shape == (2, data_channels, 4, 7, 5)
    torch.manual_seed(0)
    conditional = GatedPixelCNN(GatedPixelCNNConfig.tiny(vocab_size=5, n_conditions=3))
    assert conditional(torch.randint(0, 5, (2, 1, 4, 7)), torch.tensor([0, 2])).shape == (2, 1, 4, 7, 5)


def test_probabilities_of_all_images_sum_to_one():
    everything = _all_images((1, 2, 2), 2)                  # the 16 binary 2x2 images
    torch.manual_seed(0)
    base = IndependentPixels.from_images(torch.randint(0, 2, (7, 1, 2, 2)), 2)
    conditional = GatedPixelCNN(GatedPixelCNNConfig.tiny(n_conditions=3))
    with torch.no_grad():
        for model in [*_models(), base]:
            total = log_likelihood(model, everything).double().exp().sum()
            torch.testing.assert_close(total, torch.tensor(1.0, dtype=torch.float64))
        for label in range(3):
            labels = torch.full((16,), label)
            total = log_likelihood(conditional, everything, condition=labels).double().exp().sum()
            torch.testing.assert_close(total, torch.tensor(1.0, dtype=torch.float64))
        colour = _all_images((3, 1, 2), 2)                  # two RGB pixels, 64 images
        for model in _models(vocab_size=2, data_channels=3):
            total = log_likelihood(model, colour).double().exp().sum()
            torch.testing.assert_close(total, torch.tensor(1.0, dtype=torch.float64))


def test_log_likelihood_is_minus_the_summed_nll():
    x = torch.randint(0, 5, (3, 1, 4, 4))
    for model in _models(vocab_size=5):
        with torch.no_grad():
            ll = log_likelihood(model, x)
            assert ll.shape == (3,) and (ll < 0).all()
            torch.testing.assert_close(ll.sum(), -nll(model(x), x, reduction="sum"))


def test_independent_pixels_are_smoothed_frequencies():
    images = torch.tensor([0, 0, 1, 2]).view(4, 1, 1, 1)
    base = IndependentPixels.from_images(images, 3, smoothing=1.0)
    torch.testing.assert_close(base.log_probs.exp().view(3), torch.tensor([3, 2, 2]) / 7.0)
    assert base(torch.zeros(5, 1, 1, 1, dtype=torch.long)).shape == (5, 1, 1, 1, 3)
    with pytest.raises(ValueError, match="smoothing must be a finite number >= 0"):
        IndependentPixels.from_images(images, 3, smoothing=-1)
    with pytest.raises(ValueError, match=r"x must be \(1, 1\) images"):
        base(torch.zeros(1, 1, 2, 2, dtype=torch.long))


def test_class_conditioning_changes_the_distribution():
    torch.manual_seed(0)
    model = GatedPixelCNN(GatedPixelCNNConfig.tiny(vocab_size=3, n_conditions=4))
    x = torch.randint(0, 3, (2, 1, 3, 3))
    with torch.no_grad():
        assert not torch.allclose(model(x, torch.tensor([0, 0])), model(x, torch.tensor([1, 1])))
    with pytest.raises(ValueError, match="conditioned on n_conditions=4"):
        model(x)
    with pytest.raises(ValueError, match=r"condition ids must lie in \[0, 4\)"):
        model(x, torch.tensor([0, 4]))
    with pytest.raises(TypeError, match="condition must be an integer tensor"):
        model(x, torch.tensor([0.0, 1.0]))
    with pytest.raises(ValueError, match=r"condition must have shape \(2,\)"):
        model(x, torch.tensor([0, 1, 2]))
    with pytest.raises(ValueError, match="unconditional"):
        _models()[1](x.clamp(max=1), torch.tensor([0, 1]))
    with pytest.raises(ValueError, match="unconditional"):
        _models()[0](x.clamp(max=1), torch.tensor([0, 1]))


def test_tiny_model_overfits_four_images():
    """Four 4x4 binary images, equally likely: the best NLL is ln 4 per image."""
    torch.manual_seed(0)
    images = torch.randint(0, 2, (4, 1, 4, 4))
    model = GatedPixelCNN(GatedPixelCNNConfig(vocab_size=2, hidden_channels=16, n_layers=3))
    history = train(model, [(images, images)], 150, lr=1e-2, progress=False)
    per_image = -log_likelihood(model, images).detach()
    assert history.train_loss[0] > 0.5                    # near ln 2 = 0.69 nats per pixel at the start
    assert per_image.max() < 2.0                          # ln 4 = 1.39 at best, 16 ln 2 = 11.1 uniform


def test_shipped_checkpoints_load_and_beat_the_baseline():
    from arcourse.data import ImageBatches, load_digits, split_images
    from arcourse import evaluate

    train_set, _, test_set = split_images(load_digits(), seed=0)
    base = evaluate(IndependentPixels.from_images(train_set.images, 17), ImageBatches(test_set, 512, shuffle=False))
    for name in ("pixelcnn_digits", "gated_pixelcnn_digits"):
        checkpoint = load_checkpoint(name)
        model, saved = checkpoint.model, checkpoint.extras
        assert saved["split_seed"] == 0 and model.vocab_size == 17
        with torch.no_grad():
            nats = evaluate(model, ImageBatches(test_set, 512, shuffle=False))
        assert abs(nats / math.log(2) - saved["test_bpd"]) < 1e-3
        assert nats < base - 0.3  # nats per sub-pixel


# --- sampling -------------------------------------------------------------------------

def test_samples_follow_the_model_joint_distribution():
    """Pixel-by-pixel sampling draws from prod_i p(x_i | x_<i): compare with enumeration."""
    torch.manual_seed(0)
    model = GatedPixelCNN(GatedPixelCNNConfig.tiny())
    with torch.no_grad():
        for layer in model.head:  # sharpen the random model so its joint is far from uniform
            if isinstance(layer, MaskedConv2d) and layer.out_channels == 2:
                layer.weight.mul_(6)
        everything = _all_images((1, 2, 2), 2)
        for temperature in (1.0, 0.5):
            logits = model(everything) / temperature
            exact = (-nll(logits, everything, reduction="none").sum((1, 2, 3))).exp()
            draws = sample_images(model, 6000, (2, 2), processors=[Temperature(temperature)],
                                  generator=make_generator(1))
            index = (draws.view(-1, 4) * torch.tensor([8, 4, 2, 1])).sum(1)
            freq = torch.bincount(index, minlength=16).float() / len(draws)
            assert exact.max() > 0.2
            assert 0.5 * (freq - exact).abs().sum() < 0.04, temperature  # total variation distance


def test_sampling_is_seeded_in_range_and_keeps_given_pixels():
    for model in _models(vocab_size=4, data_channels=3):
        a = sample_images(model, 3, (3, 4), generator=make_generator(5))
        b = sample_images(model, 3, (3, 4), generator=make_generator(5))
        assert a.shape == (3, 3, 3, 4) and a.dtype == torch.int64
        assert torch.equal(a, b) and a.min() >= 0 and a.max() < 4
        given = torch.randint(0, 4, (3, 3, 3, 4))
        known = torch.zeros(3, 4, dtype=torch.bool)
        known[:1] = True                                  # the top row is given
        out = complete_images(model, given, known, generator=make_generator(0), processors=[Temperature(0.7)])
        assert torch.equal(out[:, :, :1], given[:, :, :1])
        assert not torch.equal(out, given)
        assert torch.equal(complete_images(model, given, torch.ones_like(given, dtype=torch.bool)), given)


def test_conditional_sampling_needs_a_condition():
    torch.manual_seed(0)
    model = GatedPixelCNN(GatedPixelCNNConfig.tiny(n_conditions=2))
    out = sample_images(model, 2, (2, 2), condition=torch.tensor([0, 1]), generator=make_generator(0))
    assert out.shape == (2, 1, 2, 2)
    with pytest.raises(ValueError, match="pass condition"):
        sample_images(model, 2, (2, 2))


def test_top_k_applies_to_images():
    """Images take the same processors as text: top-1 sampling is the greedy image."""
    torch.manual_seed(0)
    model = _models(vocab_size=4)[1]
    a = sample_images(model, 2, (3, 3), processors=[TopK(1)], generator=make_generator(1))
    b = sample_images(model, 2, (3, 3), processors=[TopK(1)], generator=make_generator(2))
    assert torch.equal(a, b)  # one choice per sub-pixel: the seed cannot matter
    with torch.no_grad():
        assert torch.equal(model(a).argmax(dim=-1), a)  # every sub-pixel is its conditional's argmax


def test_sampling_rejects_bad_arguments():
    model = _models()[1]
    with pytest.raises(TypeError, match="processors must be callables"):
        sample_images(model, 1, (2, 2), processors=[0.5])
    with pytest.raises(ValueError, match="n_images must be an int >= 1"):
        sample_images(model, 0, (2, 2))
    with pytest.raises(ValueError, match="size must be"):
        sample_images(model, 1, (2, 2, 2))
    with pytest.raises(ValueError, match="width must be an int >= 1"):
        sample_images(model, 1, (2, 0))
    images = torch.zeros(1, 1, 2, 2, dtype=torch.long)
    with pytest.raises(TypeError, match="known must be a bool tensor"):
        complete_images(model, images, torch.zeros(1, 1, 2, 2))
    with pytest.raises(ValueError, match="does not broadcast"):
        complete_images(model, images, torch.zeros(3, 3, dtype=torch.bool))
    with pytest.raises(TypeError, match="integer tensor of levels"):
        complete_images(model, images.float(), torch.zeros(2, 2, dtype=torch.bool))


# --- validation ----------------------------------------------------------------------

@pytest.mark.parametrize("make, message", [
    (lambda: PixelCNNConfig(vocab_size=1), "vocab_size must be an int >= 2"),
    (lambda: PixelCNNConfig(data_channels=3, hidden_channels=64), "multiple of data_channels=3"),
    (lambda: PixelCNNConfig(kernel_size=4), "kernel_size must be an odd int"),
    (lambda: PixelCNNConfig(first_kernel_size=0), "first_kernel_size must be an odd int"),
    (lambda: PixelCNNConfig(n_layers=0), "n_layers must be an int >= 1"),
    (lambda: GatedPixelCNNConfig(kernel_size=1), "kernel_size must be an odd int >= 3"),
    (lambda: GatedPixelCNNConfig(n_conditions=-1), "n_conditions must be an int >= 0"),
    (lambda: GatedPixelCNNConfig(hidden_channels=0), "hidden_channels must be an int >= 1"),
])
def test_config_validation(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_models_reject_bad_inputs():
    with pytest.raises(TypeError, match="PixelCNNConfig"):
        PixelCNN(GatedPixelCNNConfig.tiny())
    with pytest.raises(TypeError, match="GatedPixelCNNConfig"):
        GatedPixelCNN(PixelCNNConfig.tiny())
    for model in _models(vocab_size=3):
        with pytest.raises(ValueError, match=r"x must have shape \(B, 1, H, W\)"):
            model(torch.zeros(1, 3, 2, 2, dtype=torch.long))
        with pytest.raises(ValueError, match=r"levels in \[0, 3\)"):
            model(torch.full((1, 1, 2, 2), 3))
        with pytest.raises(TypeError, match="torch.bool"):
            model(torch.zeros(1, 1, 2, 2, dtype=torch.bool))


def test_presets_are_valid_and_frozen():
    config = GatedPixelCNNConfig.small()
    assert config.vocab_size == 17 and PixelCNNConfig.small(vocab_size=4).vocab_size == 4
    with pytest.raises(Exception):
        config.vocab_size = 3


def test_pixel_input_gradient_is_the_summed_gradient_and_checks_its_arguments():
    torch.manual_seed(0)
    model = _models(vocab_size=3)[1]
    x = (torch.rand(16, 1, 3, 3, generator=torch.Generator().manual_seed(4)) * 2).requires_grad_(True)
    model(x)[:, 0, 1, 2].sum().backward()
    torch.testing.assert_close(pixel_input_gradient(model, (1, 3, 3), 0, 1, 2, seed=4), x.grad.abs().sum(0))
    fresh = _models(vocab_size=3)[1]
    pixel_input_gradient(fresh, (1, 3, 3), 0, 1, 2)
    assert all(p.grad is None for p in fresh.parameters())  # the parameters' gradients are left alone
    with pytest.raises(ValueError, match="inside shape"):
        pixel_input_gradient(model, (1, 3, 3), 0, 3, 0)
    with pytest.raises(TypeError, match="row"):
        pixel_input_gradient(model, (1, 3, 3), 0, 1.0, 0)
