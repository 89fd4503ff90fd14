"""CharRNN: shapes, causality, the incremental path, generation, learning, validation."""
import pickle

import pytest
import torch

from arcourse import make_generator, nll, seed_everything, train
from arcourse.decoding import Temperature, generate
from arcourse import log_likelihood
from arcourse.models import CharRNN, CharRNNConfig

CELLS = ["rnn", "lstm", "gru"]
V = 11


def small(cell: str, n_layers: int = 2, dropout: float = 0.0) -> CharRNN:
    seed_everything(0)
    model = CharRNN(CharRNNConfig(V, cell, d_embed=6, d_hidden=10, n_layers=n_layers, dropout=dropout))
    return model.eval()


@pytest.mark.parametrize("cell", CELLS)
def test_shapes_and_state(cell):
    model = small(cell)
    idx = torch.randint(0, V, (3, 7))
    assert model(idx).shape == (3, 7, V)
    logits, state = model.start(idx)
    assert logits.shape == (3, V)
    h = state[0] if cell == "lstm" else state
    assert h.shape == (2, 3, 10)
    logits, state = model.step(idx[:, 0], state)
    assert logits.shape == (3, V)
    zero = model.init_state(3)
    if cell == "lstm":
        assert isinstance(zero, tuple) and all(z.shape == (2, 3, 10) and not z.any() for z in zero)
    else:
        assert zero.shape == (2, 3, 10) and not zero.any()
    logits, _ = model.unroll(idx, zero)
    torch.testing.assert_close(logits, model(idx))


@pytest.mark.parametrize("cell", CELLS)
def test_unroll_in_pieces_equals_forward_with_gradients(cell):
    """Carrying the state across chunks (truncated BPTT, scheduled sampling) changes nothing,
    and gradients flow through the carried state."""
    model = small(cell)
    idx = torch.cat([torch.randint(1, 3, (2, 4)), torch.randint(3, V, (2, 5))], dim=1)  # disjoint chunks
    first, state = model.unroll(idx[:, :4])
    second, _ = model.unroll(idx[:, 4:], state)
    torch.testing.assert_close(torch.cat([first, second], dim=1), model(idx), rtol=0, atol=1e-6)
    second[:, -1].sum().backward()
    assert model.embed.weight.grad[1:3].abs().sum() > 0  # tokens 1, 2 occur only in the first chunk


@pytest.mark.parametrize("cell", CELLS)
def test_causal_future_tokens_do_not_change_earlier_logits(cell):
    model = small(cell)
    gen = torch.Generator().manual_seed(1)
    idx = torch.randint(0, V, (4, 12), generator=gen)
    base = model(idx)
    for t in (0, 5, 11):
        changed = idx.clone()
        changed[:, t:] = torch.randint(0, V, changed[:, t:].shape, generator=gen)
        out = model(changed)
        torch.testing.assert_close(out[:, :t], base[:, :t], rtol=0, atol=0)
        assert not torch.allclose(out[:, t:], base[:, t:])  # the future does matter where it should


@pytest.mark.parametrize("cell", CELLS)
def test_start_then_step_equals_full_forward(cell):
    model = small(cell)
    idx = torch.randint(0, V, (5, 15))
    full = model(idx)
    logits, state = model.start(idx[:, :4])
    torch.testing.assert_close(logits, full[:, 3], rtol=0, atol=1e-5)
    for t in range(4, 15):
        logits, state = model.step(idx[:, t], state)
        torch.testing.assert_close(logits, full[:, t], rtol=0, atol=1e-5)


@pytest.mark.parametrize("cell", CELLS)
def test_generate_with_cache_equals_without(cell):
    model = small(cell)
    prompt = torch.tensor([[0, 3], [0, 5], [0, 7]])
    outs = [generate(model, prompt, 20, processors=[Temperature(1.3)], generator=make_generator(4),
                     eos_id=0, use_cache=cache) for cache in (True, False)]
    assert torch.equal(outs[0], outs[1])
    assert outs[0].shape[0] == 3 and outs[0].shape[1] > 2
    greedy = [generate(model, prompt, 20, greedy=True, use_cache=cache) for cache in (True, False)]
    assert torch.equal(greedy[0], greedy[1])


def test_dropout_only_in_training_mode():
    model = small("lstm", dropout=0.5)
    idx = torch.randint(0, V, (2, 6))
    torch.testing.assert_close(model(idx), model(idx))
    model.train()
    assert not torch.allclose(model(idx), model(idx))


def test_lstm_forget_gates_start_open():
    model = small("lstm", n_layers=1)
    H = model.config.d_hidden
    bias = model.rnn.bias_ih_l0 + model.rnn.bias_hh_l0
    assert torch.all(bias[H:2 * H] == 1.0)


@pytest.mark.parametrize("cell", CELLS)
def test_tiny_overfit(cell):
    """Four fixed sequences are memorised: the NLL falls far below uniform (log 11 = 2.4)."""
    seed_everything(0)
    model = CharRNN(CharRNNConfig.tiny(vocab_size=V, cell=cell))
    seqs = torch.tensor([[0, 1, 2, 3, 4, 0], [0, 5, 6, 7, 8, 0], [0, 9, 10, 1, 2, 0], [0, 4, 3, 2, 1, 0]])
    batch = (seqs[:, :-1], seqs[:, 1:])
    history = train(model, lambda: batch, 300, lr=3e-2, progress=False)
    assert history.train_loss[-1] < 0.5 < 2.0 < history.train_loss[0]
    with torch.no_grad():
        log_p = log_likelihood(model, *batch)
    # after the first token (which is ambiguous among the 4), each sequence is nearly certain
    assert torch.all(log_p > torch.log(torch.tensor(0.25)) - 0.5)


def test_log_likelihood_is_summed_nll():
    model = small("gru")
    inputs = torch.randint(0, V, (3, 6))
    targets = torch.randint(0, V, (3, 6))
    targets[0, 4:] = -100
    log_p = log_likelihood(model, inputs, targets)
    want = torch.stack([-nll(model(inputs[b:b + 1, :n]), targets[b:b + 1, :n], reduction="sum")
                        for b, n in enumerate([4, 6, 6])])
    torch.testing.assert_close(log_p, want)


def test_config_presets_and_pickle():
    for preset in (CharRNNConfig.tiny, CharRNNConfig.small, CharRNNConfig.large):
        for cell in CELLS:
            config = preset(vocab_size=27, cell=cell)
            assert config.cell == cell and config.vocab_size == 27
        assert preset(vocab_size=27, d_hidden=5).d_hidden == 5  # any field overrides
    model = small("lstm")
    clone = pickle.loads(pickle.dumps(model))
    idx = torch.randint(0, V, (2, 5))
    torch.testing.assert_close(clone(idx), model(idx))


def test_config_validation_wrong_type():
    with pytest.raises(TypeError, match="vocab_size"):
        CharRNNConfig(vocab_size=10.0)


@pytest.mark.parametrize("kwargs, match", [
    (dict(vocab_size=1), "vocab_size"),
    (dict(vocab_size=10, cell="transformer"), "cell"),
    (dict(vocab_size=10, d_embed=0), "d_embed"),
    (dict(vocab_size=10, d_hidden=-3), "d_hidden"),
    (dict(vocab_size=10, n_layers=0), "n_layers"),
    (dict(vocab_size=10, dropout=1.0), "dropout"),
    (dict(vocab_size=10, dropout=-0.1), "dropout"),
])
def test_config_validation(kwargs, match):
    with pytest.raises(ValueError, match=match):
        CharRNNConfig(**kwargs)


def test_bad_inputs():
    model = small("rnn")
    with pytest.raises(TypeError, match="CharRNNConfig"):
        CharRNN({"vocab_size": 3})
    with pytest.raises(ValueError, match=r"idx must hold ids in \[0, 11\)"):
        model(torch.tensor([[0, 11]]))
    with pytest.raises(TypeError, match="int64"):
        model(torch.zeros(2, 3))
    with pytest.raises(ValueError, match=r"\(B, T\)"):
        model(torch.tensor([1, 2]))
    with pytest.raises(ValueError, match=r"tokens must have shape \(B,\)"):
        model.step(torch.tensor([[1]]), model.init_state(1))
    with pytest.raises(ValueError, match="batch_size"):
        model.init_state(0)
    config = CharRNNConfig(5)
    with pytest.raises(AttributeError):
        config.d_hidden = 3  # frozen: a caller's config is never mutated
