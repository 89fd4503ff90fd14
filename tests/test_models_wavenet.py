"""WaveNet: shapes, causality, receptive field, fast == naive generation, conditioning, errors."""
import dataclasses

import pytest
import torch
import torch.nn.functional as F

from arcourse import make_generator, nll, train
from arcourse.decoding import TopK, generate
from arcourse.models import (
    CausalConv1d,
    WaveNet,
    WaveNetConfig,
    input_gradient,
    receptive_field,
)

CONFIGS = [
    WaveNetConfig.tiny(),
    WaveNetConfig.tiny(kernel_size=3),
    WaveNetConfig.tiny(layers_per_stack=1, n_stacks=1),
    WaveNetConfig.tiny(layers_per_stack=4, n_stacks=1),
    WaveNetConfig.tiny(layers_per_stack=2, n_stacks=3, kernel_size=4),
    WaveNetConfig.tiny(n_conditions=3),
]


def model_for(config: WaveNetConfig, seed: int = 0) -> WaveNet:
    torch.manual_seed(seed)
    return WaveNet(config).double().eval()


def condition_for(config: WaveNetConfig, batch: int):
    return torch.arange(batch) % config.n_conditions if config.n_conditions else None


def test_receptive_field_formula_by_hand():
    assert receptive_field(2, [1, 2, 4, 8]) == 16
    assert receptive_field(3, [1, 2]) == 7
    assert receptive_field(2, []) == 1
    assert WaveNetConfig.tiny().dilations == (1, 2, 4, 1, 2, 4)
    # the paper's claim: dilations 1..512 give 1,024 samples in 10 layers
    assert WaveNetConfig.long_context().receptive_field == 1024


@pytest.mark.parametrize("config", CONFIGS, ids=str)
def test_shapes_and_one_hot_input(config):
    model = model_for(config)
    x = torch.randint(config.vocab_size, (3, 20))
    cond = condition_for(config, 3)
    logits = model(x, cond)
    assert logits.shape == (3, 20, config.vocab_size)
    one_hot = F.one_hot(x, config.vocab_size).double()
    torch.testing.assert_close(model(one_hot, cond), logits)


@pytest.mark.parametrize("config", CONFIGS, ids=str)
@pytest.mark.parametrize("where", ["last", "middle"])
def test_gradient_is_nonzero_exactly_on_the_receptive_field(config, where):
    length = config.receptive_field + 12
    position = -1 if where == "last" else length // 2
    model = model_for(config)
    grad = input_gradient(model, length, position=position, condition=condition_for(config, 1))
    end = position % length
    support = torch.zeros(length, dtype=torch.bool)
    support[max(0, end - config.receptive_field + 1): end + 1] = True
    assert torch.equal(grad != 0, support)
    assert all(p.grad is None for p in model.parameters())


def test_future_inputs_do_not_change_earlier_outputs():
    config = WaveNetConfig.tiny(kernel_size=3)
    model = model_for(config)
    x = torch.randint(config.vocab_size, (2, 40))
    t = 23
    y = x.clone()
    y[:, t + 1:] = torch.randint(config.vocab_size, (2, 40 - t - 1))
    before, after = model(x), model(y)
    torch.testing.assert_close(after[:, :t + 1], before[:, :t + 1], rtol=0, atol=0)
    assert not torch.allclose(after[:, t + 1:], before[:, t + 1:])


def test_causal_conv_formula_and_ring_buffer_step():
    torch.manual_seed(1)
    conv = CausalConv1d(3, 4, kernel_size=3, dilation=2).double()
    x = torch.randn(2, 3, 11, dtype=torch.float64)
    y = conv(x)
    W, b = conv.weight, conv.bias
    for t in range(11):  # y_t = b + sum_k W_k x_{t - d (K - 1 - k)}, zero before the start
        want = b.expand(2, 4)
        for k in range(3):
            s = t - 2 * (2 - k)
            if s >= 0:
                want = want + x[:, :, s] @ W[:, :, k].T
        torch.testing.assert_close(y[:, :, t], want)
    queue = torch.zeros(2, 3, conv.queue_len, dtype=torch.float64)
    for t in range(11):
        torch.testing.assert_close(conv.step(queue, x[:, :, t], t), y[:, :, t])
        for s in range(max(0, t - 3), t + 1):  # the last L = 4 inputs, each in slot s % L
            torch.testing.assert_close(queue[:, :, s % 4], x[:, :, s])


@pytest.mark.parametrize("config", CONFIGS, ids=str)
def test_start_and_step_equal_the_full_forward(config):
    model = model_for(config)
    x = torch.randint(config.vocab_size, (2, 30))
    cond = condition_for(config, 2)
    full = model(x, cond)
    logits, state = model.start(x[:, :5], cond)
    torch.testing.assert_close(logits, full[:, 4])
    for t in range(5, 30):
        logits, state = model.step(x[:, t], state)
        torch.testing.assert_close(logits, full[:, t])
    assert state.time == 30


def test_step_follows_weights_changed_after_the_first_generation():
    """`step` reads the current weights (nothing cached on the module): training in between,
    loading other weights or editing one in place must not leave it on stale ones."""
    config = WaveNetConfig.tiny()
    model = model_for(config)
    x = torch.randint(config.vocab_size, (2, 12))

    def check():
        full = model(x)
        logits, state = model.start(x[:, :4])
        for t in range(4, 12):
            logits, state = model.step(x[:, t], state)
            torch.testing.assert_close(logits, full[:, t])

    check()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.5)
    nll(model(x)[:, :-1], x[:, 1:]).backward()
    optimizer.step()  # updates every skip weight in place
    check()
    model.load_state_dict(model_for(config, seed=1).state_dict())
    check()
    with torch.no_grad():
        model.layers[2].skip.bias.add_(1.0)
    check()


def test_step_returns_a_new_state_and_keeps_nothing_on_the_module():
    config = WaveNetConfig.tiny()
    model = model_for(config)
    before = set(vars(model))
    _, state = model.start(torch.zeros(1, 3, dtype=torch.long))
    _, after = model.step(torch.zeros(1, dtype=torch.long), state)
    assert set(vars(model)) == before  # no hidden cache set by start
    assert after is not state and (state.time, after.time) == (3, 4)
    with pytest.raises(TypeError, match="WaveNetState"):
        model.step(torch.zeros(1, dtype=torch.long), None)


@pytest.mark.parametrize("config", CONFIGS, ids=str)
def test_naive_and_fast_generation_draw_the_same_samples(config):
    model = model_for(config)
    prompt = torch.randint(config.vocab_size, (3, 4))
    cond = condition_for(config, 3)
    n = 2 * config.receptive_field + 5  # well past the point where the naive window is cropped
    naive = generate(model, prompt, n, condition=cond, generator=make_generator(7), use_cache=False)
    fast = generate(model, prompt, n, condition=cond, generator=make_generator(7))
    assert naive.shape == (3, 4 + n)
    assert torch.equal(naive[:, :4], prompt)
    assert torch.equal(naive, fast)

def test_generators_apply_processors():
    model = model_for(WaveNetConfig.tiny())
    prompt = torch.randint(16, (2, 3))
    greedy = [generate(model, prompt, 30, generator=make_generator(seed), processors=[TopK(1)]) for seed in (1, 2)]
    assert torch.equal(greedy[0], greedy[1])  # top-1 leaves no choice: the seed cannot matter
    logits = model(greedy[0][:, :-1])[:, 2:]  # the predictions for samples 3, 4, ...
    assert torch.equal(logits.argmax(dim=-1), greedy[0][:, 3:])
    naive = generate(model, prompt, 30, generator=make_generator(1), processors=[TopK(1)], use_cache=False)
    assert torch.equal(naive, greedy[0])


def test_conditioning_changes_the_prediction():
    config = WaveNetConfig.tiny(n_conditions=2)
    model = model_for(config)
    x = torch.randint(16, (1, 10)).expand(2, 10)
    logits = model(x, torch.tensor([0, 1]))
    assert not torch.allclose(logits[0], logits[1])


def test_tiny_overfit():
    torch.manual_seed(0)
    model = WaveNet(WaveNetConfig.tiny())
    period = torch.tensor([0, 3, 9, 15, 9, 3])  # a deterministic periodic signal
    seq = period.repeat(12)[None]  # (1, 72)
    batch = (seq[:, :-1], seq[:, 1:])
    history = train(model, lambda: batch, 100, lr=1e-2, progress=False)
    assert history.train_loss[0] > 2.0
    # past the first few samples every next value is determined: the loss must fall near 0
    with torch.no_grad():
        assert float(nll(model(seq[:, :-1])[:, 8:], seq[:, 9:])) < 0.02


@pytest.mark.parametrize("field, value", [
    ("vocab_size", 1), ("residual_channels", 0), ("skip_channels", 0), ("kernel_size", 1),
    ("layers_per_stack", 0), ("n_stacks", 0), ("n_conditions", -1),
])
def test_config_validation(field, value):
    with pytest.raises(ValueError, match=field):
        WaveNetConfig(**{field: value})


@pytest.mark.parametrize("field, value", [("n_stacks", 2.0), ("kernel_size", True)])
def test_config_types(field, value):
    with pytest.raises(TypeError, match=field):
        WaveNetConfig(**{field: value})


def test_config_is_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        WaveNetConfig().n_stacks = 3


def test_bad_inputs():
    model = model_for(WaveNetConfig.tiny())
    with pytest.raises(ValueError, match=r"\[0, 16\)"):
        model(torch.tensor([[0, 16]]))
    with pytest.raises(ValueError, match=r"\(B, T\)"):
        model(torch.tensor([1, 2]))
    with pytest.raises(ValueError, match=r"\(B, T, 16\)"):
        model(torch.zeros(1, 4, 8))
    with pytest.raises(ValueError, match="n_conditions=0"):
        model(torch.zeros(1, 4, dtype=torch.long), torch.tensor([0]))
    with pytest.raises(ValueError, match="max_new_tokens"):
        generate(model, torch.zeros(1, 1, dtype=torch.long), -1)
    with pytest.raises(ValueError, match="prompt"):
        generate(model, torch.zeros(1, 0, dtype=torch.long), 3, use_cache=False)
    with pytest.raises(ValueError, match="receptive|kernel_size"):
        receptive_field(0, [1])
    with pytest.raises(ValueError, match="dilation"):
        receptive_field(2, [1, 0])
    with pytest.raises(TypeError, match="WaveNetConfig"):
        WaveNet({"vocab_size": 4})
    conditioned = model_for(WaveNetConfig.tiny(n_conditions=2))
    with pytest.raises(ValueError, match="conditioned on n_conditions=2"):
        conditioned(torch.zeros(1, 4, dtype=torch.long))
    with pytest.raises(ValueError, match=r"\[0, 2\)"):
        conditioned(torch.zeros(1, 4, dtype=torch.long), torch.tensor([2]))
    with pytest.raises(ValueError, match="length"):
        input_gradient(model, 0)
