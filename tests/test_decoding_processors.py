"""Tests of arcourse.decoding.processors: processor properties and validation, sampling."""
import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from arcourse import make_generator
from arcourse.grading.strategies import logit_batches
from arcourse.decoding import (
    MinP,
    RepetitionPenalty,
    Temperature,
    TopK,
    TopP,
    apply_processors,
    sample_tokens,
)

INF = float("inf")
FAST = settings(max_examples=60, deadline=None)


def finite(x):
    return torch.isfinite(x)


def check_pure(proc, logits, *extra):
    """Same shape and dtype, a new tensor, the input left untouched; kept values unchanged."""
    before = logits.clone()
    out = proc(logits, *extra)
    assert torch.equal(logits, before), "the processor edited its input"
    assert out.shape == logits.shape and out.dtype == logits.dtype
    assert out.data_ptr() != logits.data_ptr()
    return out


def check_truncation(out, logits):
    """A truncating processor keeps some logits as they were and sets the rest to -inf; at
    least one finite logit survives per row, the argmax among them."""
    kept = out != -INF
    assert torch.equal(out[kept], logits[kept])
    assert finite(out).any(dim=1).all()
    assert torch.equal(out.argmax(dim=1), logits.argmax(dim=1))
    return kept & finite(logits)



# --- processors -------------------------------------------------------------------------

@FAST
@given(logit_batches(allow_neg_inf=False), st.floats(0.05, 20))
def test_temperature_scales_and_keeps_order(logits, tau):
    logits = logits.clamp(-1e3, 1e3)
    out = check_pure(Temperature(tau), logits)
    torch.testing.assert_close(out, logits / tau)
    in_logit_order = out.gather(1, logits.argsort(dim=1, descending=True))
    assert (in_logit_order[:, :-1] >= in_logit_order[:, 1:]).all()  # order kept (tiny values may tie at 0)


@FAST
@given(logit_batches(allow_neg_inf=False), st.floats(0.1, 5), st.floats(0.1, 5))
def test_higher_temperature_never_lowers_entropy(logits, t1, t2):
    logits = logits.clamp(-50, 50).double()
    lo, hi = sorted((t1, t2))

    def entropy(x):
        return -(x.softmax(1) * x.log_softmax(1)).sum(1)

    assert (entropy(Temperature(lo)(logits)) <= entropy(Temperature(hi)(logits)) + 1e-9).all()


def test_temperature_one_is_the_model():
    logits = torch.randn(3, 7)
    assert torch.equal(Temperature(1.0)(logits), logits)


@FAST
@given(logit_batches(), st.integers(1, 15))
def test_top_k_keeps_exactly_k(logits, k):
    out = check_pure(TopK(k), logits)
    kept = check_truncation(out, logits)
    n_finite = finite(logits).sum(dim=1)
    assert torch.equal(kept.sum(dim=1), torch.clamp(n_finite, max=k))
    for row, keep in zip(logits, kept):
        drop = finite(row) & ~keep
        if keep.any() and drop.any():
            assert row[keep].min() >= row[drop].max()
            # ties with the k-th largest: the lower ids are the ones kept
            tied = row[keep].min() == row
            assert (tied & keep).nonzero().max() < (tied & drop).nonzero().min() if (tied & drop).any() else True


def test_top_k_tie_handling_by_hand():
    logits = torch.tensor([[1.0, 3.0, 3.0, 3.0, 0.0]])
    out = TopK(2)(logits)
    assert torch.equal(out, torch.tensor([[-INF, 3.0, 3.0, -INF, -INF]]))
    assert torch.equal(TopK(10)(logits), logits)


@FAST
@given(logit_batches(), st.floats(0.01, 1.0))
def test_top_p_keeps_the_smallest_set_with_mass_p(logits, p):
    out = check_pure(TopP(p), logits)
    kept = check_truncation(out, logits)
    probs = logits.double().softmax(dim=1)
    for row_p, keep, row in zip(probs, kept, logits):
        drop = finite(row) & ~keep
        if drop.any():
            assert row[keep].min() >= row[drop].max()  # the most probable tokens
        kept_mass = row_p[keep].sum()
        assert kept_mass >= p - 1e-6 or not drop.any()
        # minimal: without its least probable token the set falls short of p
        smallest = row_p[keep].min()
        assert kept_mass - smallest < p + 1e-6


def test_top_p_by_hand():
    probs = torch.tensor([[0.5, 0.3, 0.15, 0.05]])
    assert TopP(0.5)(probs.log()).isfinite().tolist() == [[True, False, False, False]]
    assert TopP(0.51)(probs.log()).isfinite().tolist() == [[True, True, False, False]]
    assert TopP(0.8)(probs.log()).isfinite().tolist() == [[True, True, False, False]]
    assert TopP(0.96)(probs.log()).isfinite().tolist() == [[True, True, True, True]]
    # p = 1 keeps even a token whose probability underflows the cumulative sum
    tail = torch.tensor([[0.0, -60.0, -80.0]])
    assert torch.equal(TopP(1.0)(tail), tail)


@FAST
@given(logit_batches(), st.floats(0.001, 1.0))
def test_min_p_keeps_tokens_within_a_factor_of_the_best(logits, p):
    out = check_pure(MinP(p), logits)
    kept = check_truncation(out, logits)
    threshold = logits.max(dim=1, keepdim=True).values.double() + math.log(p)
    assert (logits.double()[kept] >= threshold.expand_as(logits)[kept]).all()
    dropped = finite(logits) & ~kept
    assert (logits.double()[dropped] < threshold.expand_as(logits)[dropped]).all()


def test_min_p_by_hand():
    probs = torch.tensor([[0.5, 0.3, 0.15, 0.05]])
    assert MinP(0.3)(probs.log()).isfinite().tolist() == [[True, True, True, False]]
    assert MinP(1.0)(probs.log()).isfinite().tolist() == [[True, False, False, False]]


@FAST
@given(logit_batches(allow_neg_inf=False), st.floats(1.0, 10.0), st.data())
def test_repetition_penalty_lowers_seen_tokens_only(logits, penalty, data):
    B, V = logits.shape
    logits = logits.clamp(-1e3, 1e3)
    T = data.draw(st.integers(0, 6))
    history = torch.from_numpy(data.draw(arrays(np.int64, (B, T), elements=st.integers(0, V - 1))))
    history_before = history.clone()
    out = check_pure(RepetitionPenalty(penalty), logits, history)
    assert torch.equal(history, history_before)
    seen = torch.zeros(B, V, dtype=torch.bool).scatter(1, history, True)
    assert torch.equal(out[~seen], logits[~seen])
    assert (out[seen] <= logits[seen]).all()
    assert (out[seen] * logits[seen] >= 0).all()  # the sign stays (tiny values may round to 0)


def test_repetition_penalty_by_hand():
    logits = torch.tensor([[2.0, -1.0, 4.0, 0.5]])
    out = RepetitionPenalty(2.0)(logits, torch.tensor([[0, 1, 0]]))
    assert torch.equal(out, torch.tensor([[1.0, -2.0, 4.0, 0.5]]))
    assert torch.equal(RepetitionPenalty(1.0)(logits, torch.tensor([[0, 1, 2, 3]])), logits)


@pytest.mark.parametrize("make, message", [
    (lambda: Temperature(0), "temperature=0"),
    (lambda: Temperature(-1.0), "temperature=-1.0"),
    (lambda: Temperature(float("nan")), "temperature=nan"),
    (lambda: Temperature(float("inf")), "temperature=inf"),
    (lambda: TopK(0), "k=0"),
    (lambda: TopP(0), "p=0"),
    (lambda: TopP(1.5), "p=1.5"),
    (lambda: TopP(-0.1), "p=-0.1"),
    (lambda: MinP(0.0), "p=0.0"),
    (lambda: MinP(2), "p=2"),
    (lambda: RepetitionPenalty(0), "penalty=0"),
    (lambda: RepetitionPenalty(-2.0), "penalty=-2.0"),
])
def test_processors_reject_bad_arguments(make, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(".", r"\.")):
        make()


@pytest.mark.parametrize("make, message", [
    (lambda: Temperature("1"), "temperature='1'"),
    (lambda: TopK(2.5), "k=2.5"),
    (lambda: TopK(True), "k=True"),
    (lambda: TopP(None), "p=None"),
])
def test_processors_reject_wrong_types(make, message):
    with pytest.raises(TypeError, match=message.replace("(", r"\(").replace(".", r"\.")):
        make()


@pytest.mark.parametrize("proc", [Temperature(1.0), TopK(2), TopP(0.5), MinP(0.1)])
def test_processors_reject_bad_logits(proc):
    with pytest.raises(ValueError, match=r"shape \(B, V\)"):
        proc(torch.zeros(2, 3, 4))
    with pytest.raises(TypeError, match="floating-point"):
        proc(torch.zeros(2, 3, dtype=torch.long))


def test_repetition_penalty_rejects_bad_history():
    proc = RepetitionPenalty(1.5)
    with pytest.raises(ValueError, match="history"):
        proc(torch.zeros(2, 3), torch.zeros(3, 1, dtype=torch.long))  # wrong batch size
    with pytest.raises(ValueError, match=r"history must hold ids in \[0, 3\)"):
        proc(torch.zeros(1, 3), torch.tensor([[3]]))
    with pytest.raises(TypeError, match="history must be an int64 tensor"):
        proc(torch.zeros(1, 3), torch.tensor([[0.0]]))


def test_apply_processors_in_order_with_history():
    logits = torch.tensor([[3.0, 2.0, 1.0, 0.0]])
    history = torch.tensor([[0]])
    before = logits.clone()
    out = apply_processors(logits, [RepetitionPenalty(4.0), TopK(2), Temperature(0.5)], history=history)
    assert torch.equal(logits, before)
    assert torch.equal(out, torch.tensor([[-INF, 4.0, 2.0, -INF]]))  # 3/4 = 0.75 fell below 1.0
    with pytest.raises(ValueError, match="needs the tokens so far"):
        apply_processors(logits, [RepetitionPenalty(2.0)])
    with pytest.raises(TypeError, match="callables"):
        apply_processors(logits, [0.5])
    assert torch.equal(apply_processors(logits, [lambda x: x * 2]), logits * 2)  # plain functions work


# --- sampling ----------------------------------------------------------------------------

def test_sample_tokens_greedy_and_errors():
    logits = torch.tensor([[0.0, 2.0, 2.0], [5.0, 1.0, -INF]])
    assert sample_tokens(logits, greedy=True).tolist() == [1, 0]  # ties: the lowest id
    with pytest.raises(ValueError, match="no finite logit"):
        sample_tokens(torch.full((1, 3), -INF))
    with pytest.raises(ValueError, match=r"shape \(B, V\)"):
        sample_tokens(torch.zeros(3))


def test_sampling_follows_the_distribution_exactly():
    """Temperature 1 without truncation draws from softmax(logits): a chi-square test."""
    probs = torch.tensor([0.4, 0.25, 0.2, 0.1, 0.05])
    n = 20_000
    logits = probs.log().expand(n, -1)
    draws = sample_tokens(apply_processors(logits, [Temperature(1.0)]), generator=make_generator(0))
    counts = torch.bincount(draws, minlength=5).double()
    expected = probs.double() * n
    statistic = ((counts - expected) ** 2 / expected).sum()
    p_value = torch.special.gammaincc(torch.tensor(2.0, dtype=torch.float64), statistic / 2)  # chi2, 4 dof
    assert p_value > 1e-3
    # a truncated distribution never draws a dropped token
    draws = sample_tokens(apply_processors(logits, [TopK(2)]), generator=make_generator(1))
    assert set(draws.tolist()) == {0, 1}
