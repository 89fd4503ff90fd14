"""Generated data sets: the 2-D mixture's exact density, the delay task, the synthetic shapes."""

import pytest
import torch

from arcourse.data.generated import SHAPE_CLASSES, GaussianMixture2D, delay_task, synthetic_shapes


def test_mixture_density_integrates_to_one_and_matches_samples():
    mix = GaussianMixture2D(n_modes=4, radius=2.0, std=0.4)
    edge = torch.linspace(-5, 5, 401, dtype=torch.float64)
    grid = torch.cartesian_prod(edge, edge)
    assert abs(float(mix.log_prob(grid).exp().sum()) * float(edge[1] - edge[0]) ** 2 - 1) < 1e-6
    x = mix.sample(20000, generator=torch.Generator().manual_seed(0))
    assert x.shape == (20000, 2) and x.dtype == torch.float32
    assert float(x.mean(0).abs().max()) < 0.05                  # symmetric ring
    assert abs(float((x**2).sum(1).mean()) - (4 + 2 * 0.16)) < 0.1  # E|x|^2 = r^2 + 2 std^2


def test_delay_targets_copy_the_past():
    x, y = delay_task(3, 10, 4, vocab_size=5, seed=1)
    assert x.shape == y.shape == (3, 10) and int(x.max()) < 5
    assert (y[:, :4] == -100).all() and (y[:, 4:] == x[:, :-4]).all()
    x2, _ = delay_task(3, 10, 4, vocab_size=5, seed=1)
    assert torch.equal(x, x2)


def test_shapes_are_labelled_binary_images_and_hatching_shifts():
    data = synthetic_shapes(60, 12, seed=0)
    assert data.images.shape == (60, 1, 12, 12) and data.levels == 2
    assert set(data.labels.tolist()) == set(range(len(SHAPE_CLASSES)))
    for image in data.images[data.labels == 0][:, 0]:
        shifts = [s for s in (4, 5, 6) if torch.equal(image[1:, :-s], image[:-1, s:])]
        assert len(shifts) >= 1                                # each row = the row above moved left
    assert (data.images[data.labels > 0].sum((1, 2, 3)) > 0).all()


def test_bad_input_is_rejected():
    with pytest.raises(ValueError, match="distance"):
        delay_task(2, 8, 8)
    with pytest.raises(ValueError, match="vocab_size"):
        delay_task(2, 8, 2, vocab_size=1)
    with pytest.raises(ValueError, match="size"):
        synthetic_shapes(2, 4)
    with pytest.raises(ValueError, match="std"):
        GaussianMixture2D(std=0.0)
    with pytest.raises(ValueError, match=r"\(\.\.\., 2\)"):
        GaussianMixture2D().log_prob(torch.zeros(3))
    with pytest.raises(TypeError, match="length"):
        delay_task(2, 8.0, 2)
    with pytest.raises(TypeError, match="radius"):
        GaussianMixture2D(radius="2")
    with pytest.raises(TypeError, match="floating"):
        GaussianMixture2D().log_prob(torch.zeros(3, 2, dtype=torch.long))
