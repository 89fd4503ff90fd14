"""PixelPanel (lecture 04): completions keep the given rows; the per-pixel terms sum to log p(x)."""
import math

import numpy as np
import pytest
import torch

from arcourse import log_likelihood
from arcourse.widgets import PixelPanel

pytest.importorskip("ipywidgets")


@pytest.fixture(scope="module")
def shipped():
    return PixelPanel.from_checkpoint(n_samples=3)


def test_completions_keep_the_given_rows_and_vary_below(shipped):
    panel = shipped
    for rows in (2, 5):
        panel.rows.value = rows
        truth = panel.images[panel.index.value, 0].numpy()
        assert panel.completions.shape == (3, 8, 8)
        assert (panel.completions[:, :rows] == truth[:rows]).all()
        assert (panel.completions[:, rows:] != truth[rows:]).any()
        assert panel.shown_pixel[0] == rows
        assert f"{rows} of 8 rows given" in panel.readout
    panel.rows.value = 8
    assert (panel.completions == panel.images[panel.index.value, 0].numpy()).all()
    assert panel.shown_probs is None and "nothing left to draw" in panel.readout
    panel.rows.value = 4


def test_per_pixel_distributions(shipped):
    panel = shipped
    panel.index.value = 3
    image = panel.images[3:4]
    with torch.no_grad():
        row = panel.model(image)[0, 0, 4]  # (W, K): the first row to draw
        total_bits = -float(log_likelihood(panel.model, image)) / math.log(2)
    probs = row.softmax(-1).numpy()
    entropy = -(probs * np.log(np.where(probs > 0, probs, 1))).sum(-1)
    assert panel.shown_pixel == (4, int(entropy.argmax()))
    logits = row[panel.shown_pixel[1]]
    np.testing.assert_allclose(panel.shown_probs, logits.softmax(-1).numpy(), rtol=1e-5, atol=1e-7)
    assert panel.surprise.sum() == pytest.approx(total_bits, rel=1e-5)  # the chain rule, pixel by pixel
    assert f"cost {panel.surprise[4:].sum():.1f} bits" in panel.readout
    panel.temperature.value = 0.5
    logits = row[panel.shown_pixel[1]]
    np.testing.assert_allclose(panel.shown_probs, (logits / 0.5).softmax(-1).numpy(), rtol=1e-4, atol=1e-7)
    assert panel.surprise.sum() == pytest.approx(total_bits, rel=1e-5)  # the model itself is unchanged
    panel.temperature.value = 1.0


def test_same_settings_same_samples(shipped):
    first = shipped.completions.copy()
    shipped.update()
    assert (shipped.completions == first).all()


def test_bad_arguments(shipped):
    with pytest.raises(ValueError, match="rows"):
        PixelPanel(shipped.model, shipped.images, rows=9)
    with pytest.raises(TypeError, match="images"):
        PixelPanel(shipped.model, shipped.images.float())
    with pytest.raises(ValueError, match="index"):
        PixelPanel(shipped.model, shipped.images, index=len(shipped.images))
    with pytest.raises(ValueError, match="temperature"):
        PixelPanel(shipped.model, shipped.images, temperature=-1.0)
