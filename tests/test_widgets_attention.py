"""AttentionPanel (lecture 06): the weights, recomputed by hand from the first block, and the cache."""
import math

import numpy as np
import pytest
import torch

from arcourse.widgets import AttentionPanel

pytest.importorskip("ipywidgets")


@pytest.fixture(scope="module")
def panel():
    return AttentionPanel.from_checkpoint(text="emma.ava")


def first_layer_weights(model, ids, head):
    """softmax(q k^T / sqrt(D)) with the causal mask, from the first block's own weights."""
    with torch.no_grad():
        x = model.tok_emb(ids) + model.pos_emb(torch.arange(ids.shape[1]))
        h = model.blocks[0].ln1(x)
        C, N = model.config.d_model, model.config.n_heads
        q, k, _ = model.blocks[0].attn.qkv(h).split(C, dim=-1)
        D = C // N
        q = q[0].view(-1, N, D)[:, head]
        k = k[0].view(-1, N, D)[:, head]
        scores = q @ k.T / math.sqrt(D)
        T = ids.shape[1]
        scores = scores.masked_fill(torch.ones(T, T, dtype=torch.bool).triu(1), float("-inf"))
        return scores.softmax(-1).numpy()


def test_weights_match_a_hand_computation_and_are_causal(panel):
    tok = panel.tokenizer
    ids = torch.tensor([[tok.boundary_id, *tok.encode("emma.ava")]])
    for head in range(panel.model.config.n_heads):
        panel.head.value = head
        np.testing.assert_allclose(panel.weights, first_layer_weights(panel.model, ids, head), atol=1e-5)
        np.testing.assert_allclose(panel.weights.sum(-1), 1, atol=1e-5)
        assert not np.triu(panel.weights, 1).any()
        assert f"layer 0, head {head}, 9 tokens" in panel.readout


def test_layer_slider_and_the_cache(panel):
    cfg = panel.model.config
    panel.head.value = 1
    layer0 = panel.weights.copy()
    panel.layer.value = 1
    assert not np.allclose(panel.weights, layer0)
    assert "layer 1, head 1" in panel.readout_box.value
    assert panel.cache_shape == (cfg.n_layers, 2, cfg.n_heads, 9, cfg.d_model // cfg.n_heads)
    assert panel.cache_floats == cfg.n_layers * 2 * 9 * cfg.d_model
    assert panel.cache_error < 1e-4  # the cached step gives the logits of a full recompute
    panel.text.value = "emma.avas"
    assert panel.cache_shape[3] == 10 and panel.weights.shape == (10, 10)
    panel.text.value = "emma!"
    assert panel.weights is None and "cannot read" in panel.readout
    panel.text.value = "emma.ava"
    panel.layer.value = 0


def test_bad_arguments(panel):
    with pytest.raises(TypeError, match="GPT"):
        AttentionPanel(torch.nn.Linear(2, 2), panel.tokenizer)
    with pytest.raises(ValueError, match="layer"):
        AttentionPanel(panel.model, panel.tokenizer, layer=5)
    with pytest.raises(ValueError, match="head"):
        AttentionPanel(panel.model, panel.tokenizer, head=-1)
