"""CharModelPanel (lecture 03): the shipped LSTM's state, next character and samples."""
import numpy as np
import pytest
import torch

from arcourse.checkpoint import load_checkpoint
from arcourse.data import CharTokenizer
from arcourse.widgets import CharModelPanel

pytest.importorskip("ipywidgets")


@pytest.fixture(scope="module")
def trained():
    shipped = load_checkpoint("decoding_char_rnn")
    return shipped.model, CharTokenizer.from_state_dict(shipped.extras["tokenizer"])


@pytest.fixture
def panel(trained):
    return CharModelPanel(*trained, prefix="ma", n_samples=4, max_new_tokens=10)


def expected_probs(model, tok, prefix, temperature):
    ids = torch.tensor([[tok.boundary_id, *tok.encode(prefix)]])
    with torch.no_grad():
        return (model(ids)[0, -1] / temperature).softmax(-1).numpy()


def test_shows_the_models_distribution_and_state(panel, trained):
    model, tok = trained
    np.testing.assert_allclose(panel.view.after, expected_probs(model, tok, "ma", 1.0), rtol=1e-5, atol=1e-7)
    # the last hidden state is the h of the state `start` returns after the same tokens
    _, (h, _) = model.start(torch.tensor([[tok.boundary_id, *tok.encode("ma")]]))
    np.testing.assert_allclose(panel.hidden[-1], h[-1, 0].numpy(), rtol=1e-5, atol=1e-6)
    assert panel.hidden.shape == (3, model.config.d_hidden)
    assert len(panel.samples) == 4 and all(s.startswith("ma") for s in panel.samples)
    assert panel.chart.value[:4] == b"\x89PNG"


def test_prefix_box_moves_the_distribution(panel, trained):
    model, tok = trained
    panel.prefix.value = "jo"
    np.testing.assert_allclose(panel.view.after, expected_probs(model, tok, "jo", 1.0), rtol=1e-5, atol=1e-7)
    assert panel.hidden.shape[0] == 3 and all(s.startswith("jo") for s in panel.samples)
    top = int(np.argmax(panel.view.after))
    assert f"most probable next {panel.labels[top]} {panel.view.after[top]:.3f}" in panel.readout
    panel.prefix.value = "j0"
    assert panel.view is None and "cannot read the prefix" in panel.readout and "'0'" in panel.readout
    panel.prefix.value = "anna"
    assert panel.hidden.shape[0] == 5


def test_temperature_slider(panel, trained):
    model, tok = trained
    panel.temperature.value = 0.2
    np.testing.assert_allclose(panel.view.after, expected_probs(model, tok, "ma", 0.2), rtol=1e-4, atol=1e-7)
    np.testing.assert_allclose(panel.view.before, expected_probs(model, tok, "ma", 1.0), rtol=1e-5, atol=1e-7)
    assert "Temperature(0.2)" in panel.readout
    assert panel.view.after.max() > panel.view.before.max()  # colder: more peaked
    panel.temperature.value = 3.0
    assert panel.view.after.max() < panel.view.before.max()  # hotter: flatter


def test_from_checkpoint_and_bad_arguments(trained):
    assert CharModelPanel.from_checkpoint(prefix="e").hidden.shape[0] == 2
    with pytest.raises(ValueError, match="temperature"):
        CharModelPanel(*trained, temperature=0)
    with pytest.raises(ValueError, match="n_samples"):
        CharModelPanel(*trained, n_samples=0)
    with pytest.raises(TypeError, match="CharRNN"):
        CharModelPanel(torch.nn.Linear(2, 2), trained[1])
