"""Tests of arcourse.decoding: processor properties, validation, generate, beam search."""
import math

import numpy as np
import pytest
import torch
from decoding_helpers import FullOnly, TinyLM
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from arcourse import make_generator
from arcourse.grading.strategies import logit_batches
from arcourse.decoding import (
    MAX_EXHAUSTIVE,
    MinP,
    RepetitionPenalty,
    Temperature,
    TopK,
    TopP,
    apply_processors,
    beam_search,
    exhaustive_search,
    generate,
    length_normalised,
    next_token_logits,
    sample_tokens,
    sequence_log_probs,
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


# --- generate ----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def lm():
    return TinyLM(vocab_size=6, hidden=12, seed=3, sharpness=1.0)


@pytest.mark.parametrize("greedy", [True, False])
def test_generate_cache_equals_recompute(lm, greedy):
    prompt = torch.tensor([[0, 1], [0, 2], [0, 3]])
    a = generate(lm, prompt, 8, greedy=greedy, generator=make_generator(5))
    b = generate(FullOnly(lm), prompt, 8, greedy=greedy, generator=make_generator(5))
    c = generate(lm, prompt, 8, greedy=greedy, generator=make_generator(5), use_cache=False)
    assert a.shape == (3, 10) and torch.equal(a, b) and torch.equal(a, c)
    assert torch.equal(a[:, :2], prompt)


def test_generate_is_seeded_and_batched(lm):
    prompt = torch.zeros(16, 1, dtype=torch.long)
    a = generate(lm, prompt, 10, processors=[TopP(0.9)], generator=make_generator(7))
    b = generate(lm, prompt, 10, processors=[TopP(0.9)], generator=make_generator(7))
    c = generate(lm, prompt, 10, processors=[TopP(0.9)], generator=make_generator(8))
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert len({tuple(r) for r in a.tolist()}) > 1  # the rows are separate samples
    # greedy decoding of a batch equals decoding each row alone
    prompts = torch.tensor([[0, 1], [2, 2], [5, 4]])
    batched = generate(lm, prompts, 6, greedy=True)
    for row, out in zip(prompts, batched):
        assert torch.equal(generate(lm, row, 6, greedy=True), out)


def test_generate_one_dimensional_prompt_and_zero_tokens(lm):
    assert generate(lm, [0, 1], 5, greedy=True).shape == (7,)
    assert torch.equal(generate(lm, torch.tensor([[0, 1]]), 0), torch.tensor([[0, 1]]))


def test_generate_stops_at_eos(lm):
    eos = 0
    out = generate(lm, torch.zeros(32, 1, dtype=torch.long), 30, eos_id=eos, generator=make_generator(0))
    new = out[:, 1:]
    assert out.shape[1] <= 31
    for row in new.tolist():
        if eos in row:
            first = row.index(eos)
            assert all(t == eos for t in row[first:]), "tokens after eos must be eos padding"
    # generation ended because every row finished, or the limit was reached
    assert (new == eos).any(dim=1).all() or out.shape[1] == 31


def test_generate_with_history_processor_matches_a_manual_loop(lm):
    procs = [RepetitionPenalty(3.0), Temperature(0.7)]
    prompt = torch.tensor([[0, 1, 1]])
    out = generate(lm, prompt, 6, processors=procs, generator=make_generator(2))
    seq, gen = prompt, make_generator(2)
    for _ in range(6):
        logits = apply_processors(next_token_logits(lm, seq), procs, history=seq)
        seq = torch.cat([seq, sample_tokens(logits, generator=gen)[:, None]], dim=1)
    assert torch.equal(out, seq)


def test_temperature_to_zero_is_greedy(lm):
    prompt = torch.zeros(8, 1, dtype=torch.long)
    cold = generate(lm, prompt, 12, processors=[Temperature(1e-4)], generator=make_generator(0))
    assert torch.equal(cold, generate(lm, prompt, 12, greedy=True))


def test_generate_respects_context_len_and_training_mode():
    class Windowed(torch.nn.Module):
        context_len = 3

        def __init__(self):
            super().__init__()
            self.inner = TinyLM(vocab_size=4, seed=1)

        def forward(self, idx):
            assert idx.shape[1] <= self.context_len, "saw more than context_len tokens"
            return self.inner(idx)

    model = Windowed().train()
    out = generate(model, torch.tensor([[0, 1]]), 6, greedy=True)
    assert out.shape == (1, 8) and model.training


@pytest.mark.parametrize("kwargs, message, error", [
    (dict(max_new_tokens=-1), "max_new_tokens", ValueError),
    (dict(max_new_tokens=2.0), "max_new_tokens", TypeError),
    (dict(eos_id=6), "eos_id", ValueError),
    (dict(eos_id=-1), "eos_id", ValueError),
    (dict(prompt=torch.zeros(1, 0, dtype=torch.long)), "prompt", ValueError),
    (dict(prompt=torch.zeros(1, 2, 2, dtype=torch.long)), "prompt", ValueError),
    (dict(prompt=torch.zeros(1, 2)), "prompt", TypeError),
])
def test_generate_rejects_bad_arguments(lm, kwargs, message, error):
    args = dict(prompt=torch.tensor([[0]]), max_new_tokens=3) | kwargs
    with pytest.raises(error, match=message):
        generate(lm, args.pop("prompt"), args.pop("max_new_tokens"), **args)
    with pytest.raises(TypeError, match="callables"):
        generate(lm, [0], 3, processors=[None])


# --- scoring and search -----------------------------------------------------------------

def test_sequence_log_probs_by_the_chain_rule(lm):
    tokens = torch.tensor([[0, 1, 2, 0, 3], [0, 4, 4, 5, 1]])
    lp, length = sequence_log_probs(lm, tokens, 1, eos_id=0)
    want = []
    for row in tokens:
        total, t = 0.0, 1
        while t < len(row):
            total += next_token_logits(lm, row[:t]).log_softmax(-1)[row[t]].item()
            if row[t] == 0:
                break
            t += 1
        want.append(total)
    torch.testing.assert_close(lp, torch.tensor(want))
    assert length.tolist() == [3, 4]
    lp_all, length_all = sequence_log_probs(lm, tokens, 2)
    assert length_all.tolist() == [3, 3]
    with pytest.raises(ValueError, match="prompt_len"):
        sequence_log_probs(lm, tokens, 0)


def test_length_normalised():
    lp, n = torch.tensor([-6.0, -6.0]), torch.tensor([2, 3])
    torch.testing.assert_close(length_normalised(lp, n, 1.0), torch.tensor([-3.0, -2.0]))
    torch.testing.assert_close(length_normalised(lp, n, 0.0), lp)


def greedy_score(model, prompt, n, eos_id, alpha):
    out = generate(model, prompt, n, greedy=True, eos_id=eos_id)
    lp, length = sequence_log_probs(model, out, prompt.shape[1], eos_id=eos_id)
    return length_normalised(lp, length, alpha)


@pytest.mark.parametrize("eos_id, alpha", [(None, 1.0), (0, 0.0), (0, 1.0), (0, 2.0)])
@pytest.mark.parametrize("seed", range(4))
def test_beam_search_against_brute_force(seed, eos_id, alpha):
    model = TinyLM(vocab_size=4, hidden=8, seed=seed, sharpness=2.0)
    prompt, n = torch.tensor([[1], [2], [3, ]]), 4
    exact = exhaustive_search(model, prompt, n, eos_id=eos_id, length_penalty=alpha)
    greedy = greedy_score(model, prompt, n, eos_id, alpha)
    for width in (1, 2, 3, 8):
        beam = beam_search(model, prompt, n, beam_width=width, eos_id=eos_id, length_penalty=alpha)
        assert (beam.score <= exact.score + 1e-5).all(), "beam search beat the exact optimum"
        assert (beam.score >= greedy - 1e-5).all() or width > 1
        lp, length = sequence_log_probs(model, beam.tokens, 1, eos_id=eos_id)
        torch.testing.assert_close(lp, beam.log_prob)
        assert torch.equal(length, beam.length)
    # a beam as wide as every possible live prefix is exhaustive
    wide = beam_search(model, prompt, n, beam_width=4 ** (n - 1), eos_id=eos_id, length_penalty=alpha)
    torch.testing.assert_close(wide.score, exact.score)
    assert torch.equal(wide.tokens, exact.tokens)


def test_beam_width_one_is_greedy_without_eos(lm):
    prompt = torch.tensor([[0, 1], [0, 3]])
    beam = beam_search(lm, prompt, 7, beam_width=1)
    assert torch.equal(beam.tokens, generate(lm, prompt, 7, greedy=True))


def test_beam_search_batched_equals_one_at_a_time(lm):
    prompts = torch.tensor([[0, 1], [0, 2], [3, 3]])
    batched = beam_search(lm, prompts, 6, beam_width=3, eos_id=0)
    for b, row in enumerate(prompts):
        alone = beam_search(lm, row, 6, beam_width=3, eos_id=0)
        assert alone.tokens.ndim == 1
        assert torch.equal(alone.tokens, batched.tokens[b, : len(alone.tokens)])
        assert (batched.tokens[b, len(alone.tokens):] == 0).all()  # eos padding
        torch.testing.assert_close(alone.score, batched.score[b])


def test_length_penalty_changes_the_preferred_length():
    """Raw log-probability favours short hypotheses; dividing by the length favours longer."""
    model = TinyLM(vocab_size=4, hidden=8, seed=11, sharpness=1.0)
    prompt = torch.tensor([[1], [2], [3]])
    short = exhaustive_search(model, prompt, 5, eos_id=0, length_penalty=0.0)
    long = exhaustive_search(model, prompt, 5, eos_id=0, length_penalty=2.0)
    assert (long.length >= short.length).all() and (long.length > short.length).any()


@pytest.mark.parametrize("kwargs, message, error", [
    (dict(beam_width=0), "beam_width", ValueError),
    (dict(beam_width=1.5), "beam_width", TypeError),
    (dict(max_new_tokens=0), "max_new_tokens", ValueError),
    (dict(length_penalty=float("nan")), "length_penalty", ValueError),
    (dict(eos_id=9), "eos_id", ValueError),
])
def test_beam_search_rejects_bad_arguments(lm, kwargs, message, error):
    args = dict(max_new_tokens=3) | kwargs
    with pytest.raises(error, match=message):
        beam_search(lm, [0], args.pop("max_new_tokens"), **args)


def test_exhaustive_search_refuses_huge_problems(lm):
    n = math.ceil(math.log(MAX_EXHAUSTIVE + 1, 6))
    with pytest.raises(ValueError, match="exhaustive_search"):
        exhaustive_search(lm, [0], n)
