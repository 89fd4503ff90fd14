"""Tests of arcourse.widgets: the decoding panel, driven by setting its controls in code."""
import html

import numpy as np
import pytest
import torch
from decoding_helpers import TinyLM

from arcourse.data import CharTokenizer
from arcourse.decoding import Temperature, TopK, TopP
from arcourse.decoding import processors_for
from arcourse.widgets import DecodingPanel, next_token_view

pytest.importorskip("ipywidgets")

TOKENIZER = CharTokenizer("abcdefg")


@pytest.fixture
def panel():
    model = TinyLM(vocab_size=TOKENIZER.vocab_size, hidden=12, seed=4, sharpness=1.0)
    return DecodingPanel(model, TOKENIZER, prompt="a", n_samples=4, max_new_tokens=8)


def test_next_token_view_renormalises_the_kept_tokens():
    model = TinyLM(vocab_size=8, seed=2, sharpness=1.0)
    view = next_token_view(model, [0, 3], [TopK(3)])
    logits = model(torch.tensor([[0, 3]]))[0, -1].detach()
    np.testing.assert_allclose(view.before, logits.softmax(-1).numpy(), rtol=1e-6)
    assert view.kept.sum() == 3 and view.after.sum() == pytest.approx(1.0)
    assert view.kept_mass == pytest.approx(view.before[view.kept].sum())
    np.testing.assert_allclose(view.after[view.kept], view.before[view.kept] / view.kept_mass, rtol=1e-5)
    assert (view.after[~view.kept] == 0).all()


def test_processors_for_maps_the_sliders():
    procs = processors_for(0.5, 0, 1.0)
    assert len(procs) == 1 and isinstance(procs[0], Temperature)
    procs = processors_for(0.5, 3, 0.9)
    assert [type(p) for p in procs] == [Temperature, TopK, TopP]
    with pytest.raises(ValueError, match="temperature"):
        processors_for(0.0, 0, 1.0)


def test_panel_shows_the_model_distribution_at_start(panel):
    assert panel.view.kept.all()  # temperature 1, no truncation: nothing dropped
    np.testing.assert_allclose(panel.view.after, panel.view.before, rtol=1e-5)
    assert len(panel.samples) == 4 and all(s.startswith("a") for s in panel.samples)
    assert panel.chart.value[:4] == b"\x89PNG"
    assert "kept 8 of 8 tokens" in panel.readout


def test_moving_the_temperature_slider_updates_everything(panel):
    model_probs = panel.view.before.copy()
    before = (panel.view.after.copy(), panel.readout, bytes(panel.chart.value))
    panel.temperature.value = 0.1  # as if the slider moved
    assert panel.view.after.max() > before[0].max()  # colder: more peaked
    assert panel.readout != before[1] and panel.readout_box.value == html.escape(panel.readout)
    assert bytes(panel.chart.value) != before[2]
    np.testing.assert_allclose(panel.view.before, model_probs)  # the model itself is unchanged
    panel.temperature.value = 4.0
    assert panel.view.after.max() < before[0].max()  # hotter: flatter


def test_top_k_and_top_p_sliders_truncate(panel):
    panel.top_k.value = 2
    assert panel.view.kept.sum() == 2 and "kept 2 of 8" in panel.readout
    assert panel.view.after.sum() == pytest.approx(1.0)
    panel.top_k.value = 0
    panel.top_p.value = 0.5
    order = np.argsort(-panel.view.before, kind="stable")
    m = int(panel.view.kept.sum())
    assert panel.view.kept[order[:m]].all()  # the most probable tokens
    assert panel.view.kept_mass >= 0.5 > panel.view.kept_mass - panel.view.before[order[m - 1]]


def test_samples_are_seeded_and_follow_the_settings(panel):
    first = list(panel.samples)
    panel.update()
    assert panel.samples == first  # same settings, same samples
    panel.top_k.value = 1
    greedy_name = panel.samples[0]
    assert all(s == greedy_name for s in panel.samples)  # top-1 is greedy: all samples agree
    assert greedy_name in panel.samples_box.value


def test_prompt_box(panel):
    panel.prompt.value = "be"
    assert all(s.startswith("be") for s in panel.samples)
    panel.prompt.value = "b9"
    assert panel.view is None and panel.samples == []
    assert "cannot read the prompt" in panel.readout and "'9'" in panel.readout
    panel.prompt.value = "c"
    assert panel.view is not None


def test_panel_rejects_bad_settings():
    model = TinyLM(vocab_size=TOKENIZER.vocab_size)
    with pytest.raises(ValueError, match="top_p|p="):
        DecodingPanel(model, TOKENIZER, top_p=0.0)
    with pytest.raises(ValueError, match="n_samples"):
        DecodingPanel(model, TOKENIZER, n_samples=0)
