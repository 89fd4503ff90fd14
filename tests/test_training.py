"""The shared training loop: it learns, it records, it evaluates exactly, it validates."""
import math

import pytest
import torch

from arcourse.metrics import IGNORE_INDEX
from arcourse.training import History, _adamw, evaluate, train


class Bigram(torch.nn.Module):
    """Next-token logits from the current token alone: the smallest sequence model."""

    def __init__(self, V):
        super().__init__()
        self.table = torch.nn.Embedding(V, V)

    def forward(self, idx):  # (B, T) -> (B, T, V)
        return self.table(idx)


def cyclic_batches(V=5, B=8, T=6):
    """Deterministic data: token t is always followed by (t + 1) mod V, so the best loss is 0."""
    start = torch.arange(B)[:, None] % V
    seq = (start + torch.arange(T + 1)) % V
    return [(seq[:, :-1], seq[:, 1:])]


def test_loss_falls_to_near_zero_on_learnable_data():
    torch.manual_seed(0)
    model = Bigram(5)
    history = train(model, cyclic_batches(), 200, lr=0.1, progress=False)
    assert history.train_loss[0] > 1.0 and history.train_loss[-1] < 0.05
    assert len(history.steps) == len(history.grad_norm) == 200
    assert history.tokens == 200 * 8 * 6 and history.seconds > 0


def test_evaluate_weights_by_targets_and_skips_padding():
    model = Bigram(3)
    with torch.no_grad():
        model.table.weight.zero_()  # uniform predictions: ln 3 nats per counted target
    x = torch.zeros(2, 4, dtype=torch.long)
    y = torch.tensor([[1, 2, IGNORE_INDEX, IGNORE_INDEX], [0, 0, 0, 0]])
    assert evaluate(model, [(x, y)]) == pytest.approx(math.log(3))


def test_eval_every_and_continued_history():
    torch.manual_seed(0)
    model = Bigram(5)
    data = cyclic_batches()
    history = train(model, data, 20, eval_batches=lambda: data, eval_every=5, progress=False)
    assert history.eval_steps == [4, 9, 14, 19] and len(history.eval_loss) == 4
    more = train(model, data, 10, progress=False, history=history)
    assert isinstance(more, History) and more.steps[-1] == 29


def test_callable_batches_and_cosine_schedule():
    torch.manual_seed(0)
    model = Bigram(5)
    data = cyclic_batches()
    history = train(model, lambda: data[0], 50, lr=0.1, schedule="cosine", warmup_steps=5, progress=False)
    assert history.train_loss[-1] < history.train_loss[0]


def test_clipping_limits_the_update_but_records_the_raw_norm():
    torch.manual_seed(0)
    model = Bigram(5)
    before = model.table.weight.detach().clone()
    opt = torch.optim.SGD(model.parameters(), lr=1.0)
    history = train(model, cyclic_batches(), 1, optimizer=opt, clip_grad_norm=1e-3, progress=False)
    step = (model.table.weight.detach() - before).norm()
    assert step == pytest.approx(1e-3, rel=1e-3) and history.grad_norm[0] > 1e-3


@pytest.mark.parametrize("kwargs, message", [
    ({"steps": 0}, "steps"), ({"lr": 0.0}, "lr"), ({"schedule": "linear"}, "schedule"),
    ({"clip_grad_norm": -1.0}, "clip_grad_norm"), ({"eval_every": -2}, "eval_every"),
])
def test_bad_arguments_raise(kwargs, message):
    args = {"steps": 1, **kwargs}
    with pytest.raises(ValueError, match=message):
        train(Bigram(5), cyclic_batches(), args.pop("steps"), progress=False, **args)


def test_empty_data_raises():
    with pytest.raises(ValueError, match="empty"):
        train(Bigram(5), [], 1, progress=False)


def test_on_eval_sees_every_evaluation_in_eval_mode_and_eval_batches_may_be_a_list():
    torch.manual_seed(0)
    model, data, seen = Bigram(5), cyclic_batches(), []

    def on_eval(step, loss, m):
        assert m is model and not m.training  # evaluated weights, dropout off
        seen.append((step, loss))

    history = train(model, data, 12, eval_batches=data, eval_every=4, on_eval=on_eval, progress=False)
    assert seen == list(zip(history.eval_steps, history.eval_loss)) and [s for s, _ in seen] == [3, 7, 11]
    assert not model.training  # train leaves the model in eval mode, as documented


def test_default_loss_passes_a_batch_condition():
    class Conditioned(Bigram):
        def forward(self, idx, condition=None):  # the condition shifts every logit of its row
            return self.table(idx) + 10.0 * torch.nn.functional.one_hot(condition, 5)[:, None, :]

    seq = torch.zeros(2, 4, dtype=torch.long)
    condition = torch.tensor([1, 3])
    model = Conditioned(5)
    with torch.no_grad():
        model.table.weight.zero_()
    loss = evaluate(model, [(seq, condition[:, None].expand(2, 4), condition)])
    assert loss < 1e-3  # the condition alone predicts the targets


def test_evaluate_restores_the_mode_even_when_the_loss_fails():
    model = Bigram(5).train()

    def broken(m, batch):
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        evaluate(model, cyclic_batches(), broken)
    assert model.training


def test_default_optimizer_is_fused_adamw_with_the_same_update():
    torch.manual_seed(0)
    fast, plain = Bigram(5), Bigram(5)
    plain.load_state_dict(fast.state_dict())
    train(fast, cyclic_batches(), 5, lr=0.1, weight_decay=0.01, clip_grad_norm=None, progress=False)
    opt = torch.optim.AdamW(plain.parameters(), lr=0.1, weight_decay=0.01, foreach=False)
    train(plain, cyclic_batches(), 5, optimizer=opt, clip_grad_norm=None, progress=False)
    torch.testing.assert_close(fast.table.weight, plain.table.weight, rtol=1e-5, atol=1e-6)
    assert _adamw(Bigram(5).parameters(), lr=0.1).defaults["fused"] is True


def test_adamw_falls_back_where_the_fused_kernel_cannot_run():
    weight = torch.nn.Parameter(torch.zeros(3, dtype=torch.complex128))
    opt = _adamw([weight], lr=0.1)  # no fused kernel for complex parameters
    assert not opt.defaults["fused"]
    weight.grad = torch.ones_like(weight)
    opt.step()  # the default implementation runs and moves the weight
    assert bool((weight.detach() != 0).all())
