"""Tests of arcourse.decoding.search: length normalisation, beam and exhaustive search."""
import math

import pytest
import torch
from decoding_helpers import TinyLM, lm  # noqa: F401 (lm is a fixture)

from arcourse.decoding import (
    MAX_EXHAUSTIVE,
    beam_search,
    exhaustive_search,
    generate,
    length_normalised,
    sequence_log_probs,
)


# --- search ------------------------------------------------------------------------------

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
