"""Graded checks of exercise 07: temperature, exact top-k, top-p with a floor, a sampler
tested against the exact distribution, beam search with an end token against brute force,
and an entropy sweep against the exact entropies."""
import itertools
import math

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from arcourse.decoding import Temperature, TopK, TopP, beam_search, exhaustive_search, generate, sequence_log_probs
from arcourse.grading.api import check_close, points, question
from arcourse.grading.strategies import logit_batches as shared_logit_batches
from arcourse.metrics import chi_square_test
from arcourse.models import CharRNN, CharRNNConfig

FEW = settings(max_examples=25, deadline=None, database=None,
               suppress_health_check=[HealthCheck.function_scoped_fixture])
INF = float("inf")


def logit_batches():
    """The library's logits strategy, at the sizes these checks were written for."""
    return shared_logit_batches(max_vocab=10, bound=10.0)


def _call(func, what, logits, *args):
    """Call a processor; check it returned a same-shaped tensor and left its input alone."""
    before = logits.clone()
    out = func(logits, *args)
    if not torch.equal(logits, before):
        raise AssertionError(f"{what} changed its input logits; return a new tensor instead")
    if not isinstance(out, torch.Tensor) or out.shape != logits.shape:
        raise AssertionError(f"{what} should return a tensor of shape {tuple(logits.shape)}, got "
                             f"{type(out).__name__} {tuple(getattr(out, 'shape', ()))}")
    return out


def _check_truncation(out, logits, what):
    """Kept logits unchanged, dropped ones -inf, at least one finite per row."""
    kept = out != -INF
    if not torch.equal(out[kept], logits[kept]):
        raise AssertionError(f"{what} changed the value of a logit it kept; keep kept logits as they are\n"
                             f"  logits = {logits}\n  got    = {out}")
    if not torch.isfinite(out).any(dim=1).all():
        raise AssertionError(f"{what} dropped every token of a row\n  logits = {logits}\n  got = {out}")
    return kept & torch.isfinite(logits)


@question("temperature", "logits / tau for random batches, input untouched, ValueError for tau <= 0",
          tier="warm-up", write=("arcourse.decoding.Temperature",))
class TestTemperature:
    @points(2)
    @FEW
    @given(logits=logit_batches(), tau=st.floats(0.05, 20))
    def test_scales_random_logits(self, student, logits, tau):
        logits = logits.clamp(-1e6, 1e6)
        out = _call(student.apply_temperature, f"apply_temperature(logits, {tau})", logits, tau)
        check_close(out, logits / tau, f"apply_temperature(logits, {tau})", logits=logits)

    @points(1, validation=True)
    def test_rejects_temperature_at_or_below_zero(self, student):
        for tau in (0.0, -1.0):
            with pytest.raises(ValueError):
                student.apply_temperature(torch.zeros(1, 3), tau)
                raise AssertionError(f"apply_temperature should raise ValueError for temperature={tau}")


@question("top_k", "exactly k kept (ties: lowest ids), the largest ones, values unchanged, -inf and huge logits",
          tier="warm-up", write=("arcourse.decoding.TopK",))
class TestTopK:
    @points(3)
    @FEW
    @given(logits=logit_batches(), k=st.integers(1, 12))
    def test_keeps_exactly_the_k_largest(self, student, logits, k):
        what = f"top_k_filter(logits, {k})"
        out = _call(student.top_k_filter, what, logits, k)
        kept = _check_truncation(out, logits, what)
        n_finite = torch.isfinite(logits).sum(dim=1)
        if not torch.equal(kept.sum(dim=1), n_finite.clamp(max=k)):
            raise AssertionError(f"{what} should keep exactly min(k, number of finite logits) per row, kept "
                                 f"{kept.sum(dim=1).tolist()}\n  logits = {logits}\n  got = {out}")
        check_close(out, TopK(k)(logits), what, logits=logits)

    @points(1)
    def test_ties_keep_the_lowest_ids(self, student):
        logits = torch.tensor([[1.0, 3.0, 3.0, 3.0, 0.0], [2.0, 2.0, 2.0, 2.0, 2.0]])
        out = _call(student.top_k_filter, "top_k_filter(logits, 2)", logits, 2)
        check_close(out, torch.tensor([[-INF, 3.0, 3.0, -INF, -INF], [2.0, 2.0, -INF, -INF, -INF]]),
                    "top_k_filter(logits, 2)", logits=logits)

    @points(1)
    def test_k_at_least_v_keeps_everything(self, student):
        logits = torch.tensor([[0.5, -INF, 2.0]])
        check_close(_call(student.top_k_filter, "top_k_filter(logits, 5)", logits, 5), logits,
                    "top_k_filter(logits, 5)", logits=logits)


@question("top_p", "smallest most-probable set with mass >= p and at least min_tokens_to_keep, renormalised, "
          "-inf and huge logits, batches", tier="core", write=("arcourse.decoding.TopP",))
class TestTopP:
    @points(3)
    @FEW
    @given(logits=logit_batches(), p=st.floats(0.05, 0.99))
    def test_keeps_the_smallest_set_with_mass_p(self, student, logits, p):
        what = f"top_p_filter(logits, {p:.4f})"
        out = _call(student.top_p_filter, what, logits, p)
        kept = _check_truncation(out, logits, what)
        probs = logits.double().softmax(dim=1)
        for b in range(logits.shape[0]):
            keep, drop = kept[b], torch.isfinite(logits[b]) & ~kept[b]
            context = f"\n  row = {logits[b]}\n  got = {out[b]}"
            if drop.any() and logits[b][keep].min() < logits[b][drop].max():
                raise AssertionError(f"{what} dropped a token more probable than one it kept{context}")
            mass, smallest = probs[b][keep].sum(), probs[b][keep].min()
            if drop.any() and mass < p - 1e-4:
                raise AssertionError(f"{what} kept mass {mass:.5f} < p{context}")
            if mass - smallest >= p + 1e-4:
                raise AssertionError(f"{what} kept more than needed: without its least probable token the "
                                     f"set still has mass {mass - smallest:.5f} >= p{context}")

    @points(1)
    def test_renormalised_distribution(self, student):
        probs = torch.tensor([[0.5, 0.3, 0.15, 0.05], [0.05, 0.15, 0.3, 0.5]])
        out = _call(student.top_p_filter, "top_p_filter(logits, 0.7)", probs.log(), 0.7)
        want = torch.tensor([[0.625, 0.375, 0.0, 0.0], [0.0, 0.0, 0.375, 0.625]])
        check_close(out.softmax(dim=-1), want, "top_p_filter(logits, 0.7).softmax(-1)", logits=probs.log(),
                    atol=1e-5)

    @points(2)
    @FEW
    @given(logits=logit_batches(), p=st.floats(0.05, 1.0), floor=st.integers(1, 6))
    def test_min_tokens_to_keep(self, student, logits, p, floor):
        """keeps the nucleus or the min_tokens_to_keep most probable tokens, whichever is larger"""
        what = f"top_p_filter(logits, {p:.4f}, min_tokens_to_keep={floor})"
        out = _call(student.top_p_filter, what, logits, p, floor)
        kept = TopP(p)(logits).isfinite() | TopK(floor)(logits).isfinite()  # both are prefixes of one order
        check_close(out, logits.masked_fill(~kept, -INF), what, logits=logits)

    @points(1)
    def test_p_one_keeps_everything(self, student):
        logits = torch.tensor([[0.0, -3.0, -INF, 1.0], [2.0, 2.0, 2.0, 2.0]])
        check_close(_call(student.top_p_filter, "top_p_filter(logits, 1.0)", logits, 1.0), logits,
                    "top_p_filter(logits, 1.0)", logits=logits)


def _tiny_model(seed: int, vocab_size: int, cell: str = "gru") -> CharRNN:
    """A small random character RNN with peaked distributions."""
    torch.manual_seed(seed)
    model = CharRNN(CharRNNConfig.tiny(vocab_size=vocab_size, cell=cell)).eval()
    with torch.no_grad():
        model.head.weight.mul_(8)
    return model


def _exact_probs(model, prompt, n_new, temperature=1.0, top_k=None):
    """Every continuation (V ** n, n) and its probability (V ** n,) float64 when each token
    is drawn from softmax(TopK(logits / temperature))."""
    V = model.config.vocab_size
    new = torch.tensor(list(itertools.product(range(V), repeat=n_new)))          # (M, n)
    seqs = torch.cat([prompt.expand(len(new), -1), new], dim=1)                   # (M, T + n)
    with torch.no_grad():
        logits = model(seqs[:, :-1])[:, len(prompt) - 1:].reshape(-1, V)         # (M n, V)
    logits = Temperature(temperature)(logits)
    if top_k is not None:
        logits = TopK(top_k)(logits)
    log_q = logits.double().log_softmax(-1).view(len(new), n_new, V)
    return new, log_q.gather(-1, new[..., None])[..., 0].sum(-1).exp()


def _draws(student, model, prompt, n_new, n_samples, temperature, top_k, seed):
    what = (f"sample_continuations(model, {prompt.tolist()}, {n_new}, {n_samples}, temperature={temperature}, "
            f"top_k={top_k}, seed={seed})")
    out = torch.as_tensor(student.sample_continuations(model, prompt.clone(), n_new, n_samples, temperature,
                                                       top_k, seed))
    V = model.config.vocab_size
    if tuple(out.shape) != (n_samples, n_new):
        raise AssertionError(f"{what} should return shape {(n_samples, n_new)} (the new tokens only), "
                             f"got {tuple(out.shape)}")
    if out.is_floating_point() or out.min() < 0 or out.max() >= V:
        raise AssertionError(f"{what} should return int64 token ids in [0, {V}), got {out.dtype} "
                             f"in [{out.min()}, {out.max()}]")
    return what, out.long()


P_MIN = 1e-4  # a correct sampler fails at this level once in ten thousand fixed seeds


def check_follows_exact(student, model, prompt, n_new, temperature, top_k, seed, n_samples=4000):
    """A chi-square test of the student's samples against the enumerated distribution."""
    what, draws = _draws(student, model, prompt, n_new, n_samples, temperature, top_k, seed)
    V = model.config.vocab_size
    _, q = _exact_probs(model, prompt, n_new, temperature, top_k)
    index = (draws * V ** torch.arange(n_new - 1, -1, -1)).sum(1)
    counts = torch.bincount(index, minlength=V ** n_new)
    _, p_value = chi_square_test(counts, q)
    if p_value <= P_MIN:
        top = q.argsort(descending=True)[:5].tolist()
        raise AssertionError(f"{what}: the samples do not follow the distribution the processors define "
                             f"(chi-square p-value {p_value:.2g}); most probable continuations (as base-{V} "
                             f"numbers) {top}: expected frequencies {[round(float(q[i]), 3) for i in top]}, "
                             f"got {[round(float(counts[i]) / n_samples, 3) for i in top]}")


@question("sample_continuations", "samples follow the exact distribution of the processed model (chi-square, a "
          "different model per case), seeded", tier="core",
          write=("arcourse.decoding.generate", "arcourse.decoding.sample_tokens", "arcourse.decoding.Temperature",
                 "arcourse.decoding.TopK"))
class TestSampleContinuations:
    CASES = [  # (model seed, V, cell, prompt, n_new, temperature, top_k)
        (3, 4, "gru", [1], 3, 1.0, None),
        (4, 3, "lstm", [2, 0], 4, 0.6, None),
        (5, 5, "gru", [4], 2, 1.7, 3),
    ]

    @points(1)
    @pytest.mark.parametrize("case", range(3))
    def test_follows_the_exact_distribution(self, student, case):
        seed, V, cell, prompt, n_new, tau, top_k = self.CASES[case]
        check_follows_exact(student, _tiny_model(seed, V, cell), torch.tensor(prompt), n_new, tau, top_k,
                            seed=20 + case)

    @points(1)
    def test_seeded(self, student):
        model, prompt = _tiny_model(6, 4), torch.tensor([1])
        what, first = _draws(student, model, prompt, 3, 50, 1.0, None, 11)
        _, again = _draws(student, model, prompt, 3, 50, 1.0, None, 11)
        _, other = _draws(student, model, prompt, 3, 50, 1.0, None, 12)
        assert torch.equal(first, again), f"{what} twice gave different samples; use one generator seeded with seed"
        assert not torch.equal(first, other), "seeds 11 and 12 gave the same 50 samples; draw with the seeded generator"


def _beam(student, model, prompt, n, width, eos_id=None, alpha=0.0):
    what = f"beam_search(model, {prompt.tolist()}, {n}, {width}, eos_id={eos_id}, length_penalty={alpha})"
    result = student.beam_search(model, prompt.clone(), n, width, eos_id, alpha)
    if not (isinstance(result, (tuple, list)) and len(result) == 2):
        raise AssertionError(f"{what} should return (tokens, log_prob), got {type(result).__name__}")
    tokens, log_prob = torch.as_tensor(result[0]).long(), float(result[1])
    new = tokens[len(prompt):]
    if tokens.ndim != 1 or not torch.equal(tokens[: len(prompt)], prompt) or not 1 <= len(new) <= n:
        raise AssertionError(f"{what} should return the prompt followed by 1 to {n} tokens, got {tokens.tolist()}")
    if eos_id is None and len(new) != n:
        raise AssertionError(f"{what}: without an end token the continuation has exactly {n} tokens, got "
                             f"{tokens.tolist()}")
    if eos_id is not None and (bool((new[:-1] == eos_id).any()) or (len(new) < n and new[-1] != eos_id)):
        raise AssertionError(f"{what}: a continuation ends at its first end token {eos_id} (included), and only "
                             f"one of {n} tokens may lack it; got {tokens.tolist()}")
    padded = torch.cat([tokens, torch.full((n - len(new),), 0 if eos_id is None else eos_id)])
    true_lp = sequence_log_probs(model, padded[None], len(prompt), eos_id=eos_id)[0][0]
    check_close(log_prob, true_lp, f"{what}[1], the log-probability of the tokens it returned", atol=1e-4)
    return what, tokens, log_prob


def _exact_answer(model, prompt, n, eos_id, alpha):
    exact = exhaustive_search(model, prompt, n, length_penalty=alpha, eos_id=eos_id)
    return exact.tokens[: len(prompt) + int(exact.length)], exact


@question("beam_search", "with an end token and length normalisation: against brute force and the library's "
          "beam search on tiny random models", tier="core",
          write=("arcourse.decoding.beam_search", "arcourse.decoding.exhaustive_search"))
class TestBeamSearch:
    @points(1)
    @pytest.mark.parametrize("seed, alpha", [(101, 0.0), (105, 1.0), (112, 0.5), (117, 1.0)])
    def test_wide_beam_with_eos_is_exhaustive(self, student, seed, alpha):
        # V = 4, end token 0, 4 new tokens: a beam of 3^3 holds every live prefix. On these
        # models width 1 and ranking by raw log-probability (for alpha > 0) both miss.
        model, prompt = _tiny_model(seed, 4), torch.tensor([1 + seed % 3])
        want, exact = _exact_answer(model, prompt, 4, 0, alpha)
        what, tokens, log_prob = _beam(student, model, prompt, 4, 27, 0, alpha)
        check_close(tokens, want, f"{what}[0] (a beam this wide is exhaustive)")
        check_close(log_prob, exact.log_prob, f"{what}[1]", atol=1e-4)

    @points(1)
    def test_wide_beam_without_eos_is_exhaustive(self, student):
        model, prompt = _tiny_model(301, 4), torch.tensor([1])
        want, exact = _exact_answer(model, prompt, 4, None, 0.0)
        what, tokens, log_prob = _beam(student, model, prompt, 4, 4 ** 3)
        check_close(tokens, want, f"{what}[0] (a beam this wide is exhaustive; greedy misses here)")

    @points(1)
    def test_width_one_without_eos_is_greedy(self, student):
        model, prompt = _tiny_model(3, 4), torch.tensor([0, 2])
        what, tokens, _ = _beam(student, model, prompt, 5, 1)
        check_close(tokens, generate(model, prompt, 5, greedy=True), f"{what}[0] (width 1 is greedy decoding)")

    @points(1)
    @pytest.mark.parametrize("seed, width", [(205, 2), (213, 3)])
    def test_narrow_beams_match_the_reference(self, student, seed, width):
        # V = 5, end token 0, alpha = 1: the library's beam search of the same width
        model, prompt = _tiny_model(seed, 5), torch.tensor([1 + seed % 4])
        ref = beam_search(model, prompt, 5, beam_width=width, length_penalty=1.0, eos_id=0)
        want = ref.tokens[: len(prompt) + int(ref.length)]
        what, tokens, log_prob = _beam(student, model, prompt, 5, width, 0, 1.0)
        check_close(tokens, want, f"{what}[0]")
        check_close(log_prob, ref.log_prob, f"{what}[1]", atol=1e-4)


def _exact_entropy(model, prompt, n_new, tau):
    """(entropy per token, standard deviation of -log q / n over one sample)."""
    _, q = _exact_probs(model, prompt, n_new, tau)
    q = q[q > 0]
    surprise = -q.log() / n_new
    mean = float((q * surprise).sum())
    return mean, math.sqrt(max(float((q * surprise ** 2).sum()) - mean ** 2, 0.0))


def _sweep(student, model, prompt, n_new, taus, n_samples, seed):
    what = f"entropy_sweep(model, {prompt.tolist()}, {n_new}, {taus}, {n_samples}, seed={seed})"
    got = student.entropy_sweep(model, prompt.clone(), n_new, list(taus), n_samples, seed)
    got = [float(v) for v in got]
    if len(got) != len(taus):
        raise AssertionError(f"{what} should return one entropy per temperature, got {got}")
    return what, got


@question("entropy_sweep", "measured entropies match the exact ones within a few standard errors and rise "
          "with the temperature", tier="stretch", experiment=True, seconds=60)
class TestEntropySweep:
    @points(2)
    def test_matches_the_exact_entropies(self, student):
        model, prompt, n, taus, N = _tiny_model(7, 4), torch.tensor([2]), 3, (0.3, 0.7, 1.5, 3.0), 2000
        what, got = _sweep(student, model, prompt, n, taus, N, 8)
        for tau, value in zip(taus, got):
            exact, sd = _exact_entropy(model, prompt, n, tau)
            tolerance = 5 * sd / math.sqrt(N) + 1e-3
            if not abs(value - exact) <= tolerance:
                raise AssertionError(f"{what}: at tau = {tau} measured {value:.4f} nats per token, the exact "
                                     f"entropy is {exact:.4f} (tolerance {tolerance:.4f}, 5 standard errors)")

    @points(1)
    def test_rises_with_the_temperature(self, student):
        model, prompt, taus = _tiny_model(9, 5, "lstm"), torch.tensor([1, 3]), (0.25, 0.5, 1.0, 2.0, 4.0)
        what, got = _sweep(student, model, prompt, 2, taus, 1500, 10)
        exact = [_exact_entropy(model, prompt, 2, tau)[0] for tau in taus]
        assert all(a < b for a, b in zip(got, got[1:])), \
            f"{what} = {[round(v, 4) for v in got]} should rise with the temperature (exact: " \
            f"{[round(v, 4) for v in exact]})"
        assert all(abs(g - e) < 0.1 for g, e in zip(got, exact)), \
            f"{what} = {[round(v, 4) for v in got]} is far from the exact entropies {[round(v, 4) for v in exact]}"
