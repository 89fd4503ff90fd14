"""InformationPanel (lecture 02): the measures as q moves, checked against numpy by hand."""
import numpy as np
import pytest

from arcourse.widgets import InformationPanel

pytest.importorskip("ipywidgets")


def by_hand(p, q):
    h = -np.sum(p * np.log2(p))
    hpq = -np.sum(p * np.log2(q))
    return h, hpq, np.sum(p * np.log2(p / q))


def test_starts_uniform():
    panel = InformationPanel()
    np.testing.assert_allclose(panel.q, 0.25)
    assert panel.h_p == pytest.approx(1.75) and panel.h_pq == pytest.approx(2.0)
    assert panel.kl == pytest.approx(0.25) and panel.perplexity == pytest.approx(4.0)
    assert "H(p) = 1.7500 bits" in panel.readout and "perplexity 2^H(p, q) = 4.000" in panel.readout


def test_moving_the_sliders_recomputes_every_measure():
    panel = InformationPanel()
    for weights in ([1.0, 0.2, 0.2, 0.6], [0.3, 0.9, 0.05, 0.5], [0.5, 0.25, 0.125, 0.125]):
        chart = bytes(panel.chart.value)
        for slider, w in zip(panel.weights, weights):
            slider.value = w
        q = np.array(weights) / np.sum(weights)
        np.testing.assert_allclose(panel.q, q, rtol=1e-12)
        h, hpq, kl = by_hand(panel.p, q)
        assert (panel.h_p, panel.h_pq, panel.kl) == pytest.approx((h, hpq, kl), rel=1e-9, abs=1e-12)
        assert panel.identity_gap < 1e-12
        assert panel.perplexity == pytest.approx(2 ** hpq)
        assert f"H(p, q) = {hpq:.4f} bits" in panel.readout_box.value
        assert bytes(panel.chart.value) != chart
    assert panel.kl == pytest.approx(0, abs=1e-12)  # q = p: cross-entropy down to the entropy
    assert panel.perplexity == pytest.approx(2 ** 1.75)


def test_bad_arguments():
    with pytest.raises(ValueError, match="summing to 1"):
        InformationPanel([0.5, 0.6])
    with pytest.raises(ValueError, match="> 0"):
        InformationPanel([1.0, 0.0])
    with pytest.raises(ValueError, match="2 to 10"):
        InformationPanel([1.0])
    with pytest.raises(TypeError, match="numbers"):
        InformationPanel(["a", "b"])
    with pytest.raises(ValueError, match="outcomes like p"):
        InformationPanel(q=[0.5, 0.5])
