"""Tests of arcourse.decoding.generate: generate (cache = recompute, seeds, eos, validation), scoring."""
import pytest
import torch
from decoding_helpers import FullOnly, TinyLM, lm  # noqa: F401 (lm is a fixture)

from arcourse import make_generator
from arcourse.decoding import (
    RepetitionPenalty,
    Temperature,
    TopP,
    apply_processors,
    generate,
    next_token_logits,
    sample_tokens,
    sequence_log_probs,
)


# --- generate ----------------------------------------------------------------------------

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
