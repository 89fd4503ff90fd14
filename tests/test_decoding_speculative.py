"""Speculative decoding: the output distribution is the target's, exactly and by sampling."""
import itertools

import pytest
import torch
import torch.nn as nn
from hypothesis import given, settings
from hypothesis import strategies as st

from arcourse.decoding import Temperature, TopK
from arcourse.decoding import (
    SpeculativeStats,
    acceptance_probability,
    residual_distribution,
    speculative_generate,
    verify_draft,
)
from arcourse.models import GPT, GPTConfig
from arcourse.metrics import chi_square_test

P_MIN = 1e-3  # a correct sampler fails a test at this level once in a thousand seeds


@pytest.fixture
def one_thread():
    """Token-by-token sampling on tiny tensors: waking a second CPU thread for each op costs
    far more than the work itself on a busy machine."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


class Bigram(nn.Module):
    """A bigram table as a sequence model: logits of the next token depend on the last one."""

    def __init__(self, logits: torch.Tensor):
        super().__init__()
        self.table = nn.Parameter(logits.clone())

    def forward(self, idx):  # (B, T) -> (B, T, V)
        return self.table[idx]


class CachedBigram(Bigram):
    """The same model with the incremental start/step protocol, counting its calls."""

    def __init__(self, logits):
        super().__init__(logits)
        self.calls = 0

    def start(self, prompt):
        self.calls += 1
        return self.table[prompt[:, -1]], None

    def step(self, tokens, state):
        self.calls += 1
        return self.table[tokens], state


class Trigram(nn.Module):
    """Next-token logits from the last two tokens (the first position sees a pad of 0), with
    a context window of 3: checks that the verification pass reads the right positions."""

    context_len = 3

    def __init__(self, logits: torch.Tensor):
        super().__init__()
        self.table = nn.Parameter(logits.clone())  # (V, V, V)

    def forward(self, idx):  # (B, T) -> (B, T, V)
        before = torch.cat([torch.zeros_like(idx[:, :1]), idx[:, :-1]], dim=1)
        return self.table[before, idx]


def _tables(vocab, seed):
    gen = torch.Generator().manual_seed(seed)
    target = torch.randn(vocab, vocab, generator=gen) * 1.5
    draft = target + torch.randn(vocab, vocab, generator=gen)  # close to the target, not equal
    return target, draft


def _random_probs(vocab, gen, zeros=True):
    probs = torch.rand(vocab, generator=gen, dtype=torch.float64) ** 3
    if zeros:
        probs[torch.rand(vocab, generator=gen) < 0.3] = 0
        probs[int(torch.randint(vocab, (1,), generator=gen))] += 0.1  # at least one non-zero entry
    return probs / probs.sum()


# --- the accept/reject step, exactly -------------------------------------------------------

@settings(max_examples=60, deadline=None)
@given(st.integers(2, 7), st.integers(0, 10_000), st.booleans())
def test_one_step_emits_the_target_distribution_exactly(vocab, seed, zeros):
    """sum_x q(x) [a(x) e_x + (1 - a(x)) r] = p, for any p and q (zeros included)."""
    gen = torch.Generator().manual_seed(seed)
    p, q = _random_probs(vocab, gen, zeros), _random_probs(vocab, gen, zeros)
    a = acceptance_probability(p, q)
    emitted = q * a + (q * (1 - a)).sum() * residual_distribution(p, q)
    torch.testing.assert_close(emitted, p, atol=1e-12, rtol=0)
    assert float((q * a).sum()) == pytest.approx(float(torch.minimum(p, q).sum()), abs=1e-12)


def _round_outcomes(p_next, q_next, prefix, k):
    """Exact distribution of what one round emits: {emitted tuple: probability}, enumerating
    every drafted sequence and every accept/reject event (no sampling)."""
    outcomes = {}
    for drafted in itertools.product(range(len(p_next(prefix))), repeat=k):
        weight, context = 1.0, prefix
        for x in drafted:
            weight *= float(q_next(context)[x])
            context = context + (x,)
        if weight == 0:
            continue
        stay, context = weight, prefix  # probability of having accepted everything so far
        for i, x in enumerate(drafted):
            p, q = p_next(context), q_next(context)
            a = float(acceptance_probability(p, q)[x])
            for y, r in enumerate(residual_distribution(p, q).tolist()):
                emitted = context[len(prefix):] + (y,)
                outcomes[emitted] = outcomes.get(emitted, 0.0) + stay * (1 - a) * r
            stay *= a
            context = context + (x,)
        for y, bonus in enumerate(p_next(context).tolist()):
            emitted = context[len(prefix):] + (y,)
            outcomes[emitted] = outcomes.get(emitted, 0.0) + stay * bonus
    return outcomes


@pytest.mark.parametrize("k", [1, 2, 3])
def test_a_round_of_k_drafts_emits_target_sequences_exactly(k):
    """Enumerating a whole round: every emitted prefix has exactly the target's probability."""
    target, draft = _tables(3, seed=k)
    p_table, q_table = target.double().softmax(-1), draft.double().softmax(-1)
    p_next = lambda context: p_table[context[-1]]  # noqa: E731 (bigram conditionals)
    q_next = lambda context: q_table[context[-1]]  # noqa: E731
    outcomes = _round_outcomes(p_next, q_next, (0,), k)
    assert sum(outcomes.values()) == pytest.approx(1.0, abs=1e-12)
    for length in range(1, k + 2):
        for seq in itertools.product(range(3), repeat=length):
            # P(round emits at least this prefix): sum over outcomes that extend it ...
            emitted = sum(w for out, w in outcomes.items() if out[:length] == seq)
            # ... plus outcomes that stop early, continued by later rounds (exact by the above)
            for stop in range(1, length):
                head = seq[:stop]
                rest = outcomes.get(head, 0.0)
                for a, b in zip(seq[stop - 1:], seq[stop:]):
                    rest *= float(p_table[a, b])
                emitted += rest
            want = float(p_table[0, seq[0]])
            for a, b in zip(seq, seq[1:]):
                want *= float(p_table[a, b])
            assert emitted == pytest.approx(want, abs=1e-12), seq


def test_residual_rows_sum_to_one_and_fall_back_to_p():
    p = torch.tensor([[0.5, 0.5, 0.0], [0.2, 0.3, 0.5]])
    q = torch.tensor([[0.5, 0.5, 0.0], [0.4, 0.4, 0.2]])
    r = residual_distribution(p, q)
    torch.testing.assert_close(r[0], p[0])  # p == q: nothing to resample, any row is fine; p
    torch.testing.assert_close(r[1], torch.tensor([0.0, 0.0, 1.0]))
    assert acceptance_probability(p, q)[1].tolist() == pytest.approx([0.5, 0.75, 1.0])
    with pytest.raises(ValueError, match="same shape"):
        residual_distribution(p, q[:, :2])


# --- the sampler, statistically --------------------------------------------------------------

def test_verify_draft_first_token_and_acceptance_rate_by_sampling():
    gen = torch.Generator().manual_seed(0)
    B, k, V = 40_000, 3, 5
    p_rows = torch.stack([_random_probs(V, gen, zeros=False) for _ in range(k + 1)]).float()  # (k+1, V)
    q_rows = torch.stack([_random_probs(V, gen, zeros=False) for _ in range(k)]).float()  # (k, V)
    draft = torch.multinomial(q_rows, B, replacement=True, generator=gen).T  # (B, k)
    n, nxt = verify_draft(p_rows.expand(B, -1, -1), q_rows.expand(B, -1, -1), draft, generator=gen)
    first = torch.where(n > 0, draft[:, 0], nxt)
    _, p_value = chi_square_test(torch.bincount(first, minlength=V), p_rows[0])
    assert p_value > P_MIN
    # each position is accepted with probability sum min(p, q), independently here
    alpha = torch.minimum(p_rows[:k], q_rows).sum(-1)  # (k,)
    expected = torch.stack([alpha[:i + 1].prod() for i in range(k)]).sum()  # E[n] = sum_i P(n > i)
    assert float(n.float().mean()) == pytest.approx(float(expected), abs=4 * float(n.float().std()) / B**0.5)
    # all k accepted: the bonus token comes from the last target row
    _, p_value = chi_square_test(torch.bincount(nxt[n == k], minlength=V), p_rows[k])
    assert p_value > P_MIN


def test_verify_draft_with_no_draft_is_a_plain_draw():
    gen = torch.Generator().manual_seed(1)
    p = torch.tensor([0.1, 0.6, 0.3]).expand(30_000, 1, 3)
    n, nxt = verify_draft(p, p.new_zeros(30_000, 0, 3), torch.zeros(30_000, 0, dtype=torch.long), generator=gen)
    assert int(n.max()) == 0
    assert chi_square_test(torch.bincount(nxt, minlength=3), p[0, 0])[1] > P_MIN


def _target_marginal(p_table, first, position):
    """Exact distribution of the token `position` steps after `first` under a bigram table."""
    row = torch.nn.functional.one_hot(torch.tensor(first), len(p_table)).double()
    for _ in range(position + 1):
        row = row @ p_table
    return row


@pytest.mark.parametrize("model_class, k", [(Bigram, 1), (CachedBigram, 3)])
def test_generated_sequences_follow_the_target(model_class, k, one_thread):
    """Joint of the first two new tokens and the marginal of the sixth, by chi-square."""
    V, runs = 4, 1_500
    target_logits, draft_logits = _tables(V, seed=7)
    target, draft = Bigram(target_logits), model_class(draft_logits)
    gen = torch.Generator().manual_seed(k)
    outs = torch.stack([speculative_generate(target, draft, [2], 6, k=k, generator=gen)[0][1:] for _ in range(runs)])
    p_table = target_logits.double().softmax(-1)
    pairs = torch.bincount(outs[:, 0] * V + outs[:, 1], minlength=V * V)
    assert chi_square_test(pairs, (p_table[2][:, None] * p_table).flatten())[1] > P_MIN
    assert chi_square_test(torch.bincount(outs[:, 5], minlength=V), _target_marginal(p_table, 2, 5))[1] > P_MIN


def test_a_wrong_acceptance_rule_would_be_caught():
    """The test above has power: always accepting the draft gives the draft's distribution,
    which the chi-square test rejects at these sample sizes."""
    V, runs = 4, 1_500
    target_logits, draft_logits = _tables(V, seed=7)
    gen = torch.Generator().manual_seed(0)
    q = draft_logits.double().softmax(-1)[2]
    drafts = torch.multinomial(q, runs, replacement=True, generator=gen)
    assert chi_square_test(torch.bincount(drafts, minlength=V), target_logits.double().softmax(-1)[2])[1] < P_MIN


def test_context_window_model_and_processors(one_thread):
    """A trigram target with context_len = 3 and k = 2, sampled through a temperature and
    top-k: the first two tokens follow the processed target exactly."""
    V, runs = 3, 1_500
    gen = torch.Generator().manual_seed(3)
    table = torch.randn(V, V, V, generator=gen) * 1.5
    target, draft = Trigram(table), Trigram(table + torch.randn(V, V, V, generator=gen))
    processors = [Temperature(0.8), TopK(2)]
    outs = torch.stack([speculative_generate(target, draft, [1, 2], 2, k=2, processors=processors,
                                             generator=gen)[0][2:] for _ in range(runs)])

    def processed(logits):
        from arcourse.decoding import apply_processors
        return apply_processors(logits[None].double(), processors)[0].softmax(-1)

    first = processed(table[1, 2])  # (V,)
    joint = torch.stack([first[a] * processed(table[2, a]) for a in range(V)])  # (V, V)
    counts = torch.bincount(outs[:, 0] * V + outs[:, 1], minlength=V * V)
    assert chi_square_test(counts, joint.flatten())[1] > P_MIN


def test_identical_models_accept_everything_and_cut_target_calls():
    logits, _ = _tables(5, seed=2)
    target, draft = Bigram(logits), CachedBigram(logits)
    out, stats = speculative_generate(target, draft, torch.tensor([[0]]), 21, k=4,
                                      generator=torch.Generator().manual_seed(0))
    assert out.shape == (1, 22) and isinstance(stats, SpeculativeStats)
    assert stats.acceptance_rate == 1.0  # p == q: min(1, p/q) = 1
    assert stats.target_calls == 5 and stats.new_tokens == 21  # rounds of 4 + 1 bonus, last round 0 + 1
    assert stats.tokens_per_target_call == pytest.approx(21 / 5)
    assert draft.calls == stats.draft_calls == stats.drafted == 16


def test_eos_stops_generation_and_seeds_repeat(one_thread):
    logits, draft_logits = _tables(4, seed=5)
    target, draft = Bigram(logits), Bigram(draft_logits)
    run = lambda seed: speculative_generate(target, draft, [1], 40, k=3, eos_id=0,  # noqa: E731
                                            generator=torch.Generator().manual_seed(seed))[0]
    outs = [run(seed) for seed in range(20)]
    for out in outs:
        new = out[1:].tolist()
        assert 0 not in new[:-1] and (new[-1] == 0 or len(new) == 40)
    assert any(len(out) < 41 for out in outs)
    torch.testing.assert_close(run(3), run(3))


def test_zero_new_tokens_and_model_modes_are_restored():
    logits, _ = _tables(3, seed=0)
    target, draft = Bigram(logits).train(), Bigram(logits).train()
    out, stats = speculative_generate(target, draft, [1, 2], 0)
    assert out.tolist() == [1, 2] and stats.target_calls == 0 and target.training and draft.training


def test_bad_arguments_are_named():
    logits, _ = _tables(3, seed=0)
    target, draft = Bigram(logits), Bigram(logits)
    with pytest.raises(ValueError, match="k >= 1"):
        speculative_generate(target, draft, [0], 5, k=0)
    with pytest.raises(ValueError, match="max_new_tokens"):
        speculative_generate(target, draft, [0], -1)
    with pytest.raises(ValueError, match=r"prompt must have shape \(T,\) or \(1, T\)"):
        speculative_generate(target, draft, torch.zeros(2, 3, dtype=torch.long), 5)
    with pytest.raises(ValueError, match="context_len >= k \\+ 1"):
        speculative_generate(Trigram(torch.zeros(3, 3, 3)), Trigram(torch.zeros(3, 3, 3)), [0], 5, k=3)
    with pytest.raises(ValueError, match="share a vocabulary"):
        speculative_generate(target, Bigram(torch.zeros(4, 4)), [0], 5, k=2)
    with pytest.raises(ValueError, match="verify_draft needs"):
        verify_draft(torch.rand(1, 2, 3), torch.rand(1, 2, 3), torch.zeros(1, 2, dtype=torch.long))


class CountingGPT(GPT):
    """A GPT that counts the positions its verification passes read."""

    def __init__(self, config):
        super().__init__(config)
        self.extended, self.extend_calls = 0, 0

    def extend(self, tokens, cache):
        self.extended += tokens.shape[1]
        self.extend_calls += 1
        return super().extend(tokens, cache)


@pytest.mark.parametrize("k", [1, 3, 6])
def test_cached_verification_gives_the_same_tokens_as_full_passes(k, one_thread):
    torch.manual_seed(0)
    target = CountingGPT(GPTConfig.tiny(vocab_size=7, context_len=24, d_model=16)).eval()
    draft = CachedBigram(torch.randn(7, 7))
    for seed in range(4):  # 30 new tokens: past the context of 24, where the full pass takes over
        cached, cached_stats = speculative_generate(target, draft, [0, 3], 30, k=k, generator=torch.Generator().manual_seed(seed))
        full, full_stats = speculative_generate(target, draft, [0, 3], 30, k=k, generator=torch.Generator().manual_seed(seed),
                                                use_cache=False)
        assert torch.equal(cached, full) and cached_stats == full_stats
    short, stats = speculative_generate(target, draft, [0], 20, k=k, generator=torch.Generator().manual_seed(9))
    target.extended = target.extend_calls = 0
    again, _ = speculative_generate(target, draft, [0], 20, k=k, generator=torch.Generator().manual_seed(9))
    assert torch.equal(short, again) and target.extend_calls == stats.target_calls  # every round used the cache
    assert target.extended == 1 + stats.drafted + stats.target_calls - 1  # prompt, drafts, each round's new token
