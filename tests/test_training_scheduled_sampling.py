"""Scheduled sampling: p = 0 is teacher forcing, p = 1 feeds the model's own samples."""
import pytest
import torch

from arcourse.data import CharTokenizer, NameBatches
from arcourse.models import CharRNN, CharRNNConfig
from arcourse.training import ScheduledSampling
from arcourse.training import default_loss, evaluate, train

NAMES = ["anna", "bob", "carla", "dan", "eve", "fay", "gus", "hanna"]


def _setup(seed=0):
    tok = CharTokenizer.from_texts(NAMES)
    torch.manual_seed(seed)
    model = CharRNN(CharRNNConfig.tiny(vocab_size=tok.vocab_size))
    batch = next(iter(NameBatches(NAMES, tok, len(NAMES), shuffle=False)))
    return tok, model, batch


class Recorder(torch.nn.Module):
    """Wraps a CharRNN and keeps every input it is unrolled on."""

    def __init__(self, inner):
        super().__init__()
        self.inner, self.seen = inner, []

    def unroll(self, idx, state=None):
        self.seen.append(idx)
        return self.inner.unroll(idx, state)

    def forward(self, idx):
        return self.inner(idx)


def test_probability_zero_is_teacher_forcing():
    _, model, batch = _setup()
    model.train()
    total, count = ScheduledSampling(0.0)(model, batch)
    want_total, want_count = default_loss(model, batch)
    torch.testing.assert_close(total, want_total, atol=1e-4, rtol=1e-6)
    assert int(count) == int(want_count)
    total.backward()  # gradients flow through the step-by-step unroll
    assert all(p.grad is not None for p in model.parameters())


def test_probability_one_feeds_the_models_samples():
    _, model, batch = _setup()
    with torch.no_grad():  # a model that always predicts token 3 after anything
        model.head.weight.zero_()
        model.head.bias.fill_(-30.0)
        model.head.bias[3] = 30.0
    recorder = Recorder(model).train()
    ScheduledSampling(1.0)(recorder, batch)
    fed = torch.cat(recorder.seen, dim=1)  # (B, T)
    assert torch.equal(fed[:, 0], batch[0][:, 0])  # the first input is always the true one
    assert bool((fed[:, 1:] == 3).all())  # every later input is the model's own sample


def test_mixture_is_seeded_and_ramps():
    _, model, batch = _setup()
    model.train()
    losses = [float(ScheduledSampling(0.5, seed=7)(model, batch)[0].detach()) for _ in range(2)]
    assert losses[0] == losses[1]
    assert losses[0] != float(ScheduledSampling(0.5, seed=8)(model, batch)[0].detach())
    ramp = ScheduledSampling(0.4, ramp_steps=4)
    assert [ramp.probability_at(i) for i in (0, 2, 4, 10)] == pytest.approx([0.0, 0.2, 0.4, 0.4])
    ramp(model, batch)
    assert ramp.calls == 1


def test_eval_mode_scores_teacher_forcing_and_training_runs():
    tok, model, _ = _setup()
    batches = NameBatches(NAMES, tok, 4, seed=0)
    loss_fn = ScheduledSampling(0.3, ramp_steps=10)
    history = train(model, batches, 30, lr=3e-2, loss_fn=loss_fn, progress=False)
    assert loss_fn.calls == 30
    assert history.train_loss[-1] < history.train_loss[0]
    assert evaluate(model, batches, loss_fn) == pytest.approx(evaluate(model, batches))


@pytest.mark.parametrize("kwargs, error", [
    (dict(probability=-0.1), ValueError), (dict(probability=1.5), ValueError), (dict(probability=True), TypeError),
    (dict(probability=0.5, ramp_steps=-1), ValueError), (dict(probability=0.5, ramp_steps=2.5), TypeError)])
def test_bad_arguments(kwargs, error):
    with pytest.raises(error, match="probability|ramp_steps"):
        ScheduledSampling(**kwargs)


def test_model_without_unroll():
    _, _, batch = _setup()
    with pytest.raises(TypeError, match="unroll"):
        ScheduledSampling(0.5)(torch.nn.Linear(2, 2), batch)
