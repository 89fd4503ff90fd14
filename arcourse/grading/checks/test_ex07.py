"""Graded checks of exercise 07: temperature, exact top-k, top-p and beam search."""
import functools

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from arcourse.decoding import TopK, beam_search, exhaustive_search, generate, sequence_log_probs
from arcourse.grading.api import check_close, points, question
from arcourse.grading.strategies import logit_batches as shared_logit_batches
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
          write=("arcourse.decoding.Temperature",))
class TestTemperature:
    @points(2)
    @FEW
    @given(logits=logit_batches(), tau=st.floats(0.05, 20))
    def test_scales_random_logits(self, student, logits, tau):
        logits = logits.clamp(-1e6, 1e6)
        out = _call(student.apply_temperature, f"apply_temperature(logits, {tau})", logits, tau)
        check_close(out, logits / tau, f"apply_temperature(logits, {tau})", logits=logits)

    @points(1)
    def test_rejects_temperature_at_or_below_zero(self, student):
        for tau in (0.0, -1.0):
            with pytest.raises(ValueError):
                student.apply_temperature(torch.zeros(1, 3), tau)
                raise AssertionError(f"apply_temperature should raise ValueError for temperature={tau}")


@question("top_k", "exactly k kept (ties: lowest ids), the largest ones, values unchanged, -inf and huge logits",
          write=("arcourse.decoding.TopK",))
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


@question("top_p", "smallest most-probable set with mass >= p, renormalised, -inf and huge logits, batches",
          write=("arcourse.decoding.TopP",))
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

    @points(1)
    def test_p_one_keeps_everything(self, student):
        logits = torch.tensor([[0.0, -3.0, -INF, 1.0], [2.0, 2.0, 2.0, 2.0]])
        check_close(_call(student.top_p_filter, "top_p_filter(logits, 1.0)", logits, 1.0), logits,
                    "top_p_filter(logits, 1.0)", logits=logits)


def _tiny_model(seed: int, vocab_size: int) -> CharRNN:
    """A small random character RNN with peaked distributions."""
    torch.manual_seed(seed)
    model = CharRNN(CharRNNConfig.tiny(vocab_size=vocab_size, cell="gru")).eval()
    with torch.no_grad():
        model.head.weight.mul_(8)
    return model


@functools.lru_cache(maxsize=None)
def _cases_where_greedy_fails(vocab_size: int, n_new: int, width: int | None) -> list:
    """(model, prompt) pairs, in seed order, on which greedy decoding differs from the exact
    optimum (width None) or from the reference beam search of that width: only there does a
    beam that never branches give itself away."""
    cases, seed = [], 0
    while len(cases) < 3:
        model, prompt = _tiny_model(seed, vocab_size), torch.tensor([seed % vocab_size])
        greedy = generate(model, prompt, n_new, greedy=True)
        if width is None:
            better = exhaustive_search(model, prompt, n_new, length_penalty=0.0).tokens
        else:
            better = beam_search(model, prompt, n_new, beam_width=width, length_penalty=0.0).tokens
        if not torch.equal(greedy, better):
            cases.append((model, prompt))
        seed += 1
    return cases


def _beam(student, model, prompt, n, width):
    what = f"beam_search(model, {prompt.tolist()}, {n}, {width})"
    result = student.beam_search(model, prompt.clone(), n, width)
    if not (isinstance(result, (tuple, list)) and len(result) == 2):
        raise AssertionError(f"{what} should return (tokens, log_prob), got {type(result).__name__}")
    tokens, log_prob = torch.as_tensor(result[0]).long(), float(result[1])
    if tokens.shape != (len(prompt) + n,) or not torch.equal(tokens[: len(prompt)], prompt):
        raise AssertionError(f"{what} should return the prompt followed by {n} tokens, got {tokens.tolist()}")
    true_lp = sequence_log_probs(model, tokens[None], len(prompt))[0][0]
    check_close(log_prob, true_lp, f"{what}[1], the log-probability of the tokens it returned", atol=1e-4)
    return what, tokens, log_prob


@question("beam_search", "against brute force and the library's beam search on tiny random models",
          write=("arcourse.decoding.beam_search", "arcourse.decoding.exhaustive_search"))
class TestBeamSearch:
    @points(3)
    @pytest.mark.parametrize("case", range(3))
    def test_wide_beam_finds_the_most_probable_sequence(self, student, case):
        n = 4
        model, prompt = _cases_where_greedy_fails(4, n, None)[case]
        exact = exhaustive_search(model, prompt, n, length_penalty=0.0)
        what, tokens, log_prob = _beam(student, model, prompt, n, 4 ** (n - 1))
        check_close(tokens, exact.tokens, f"{what}[0] (a beam this wide is exhaustive)")
        check_close(log_prob, exact.log_prob, f"{what}[1]", atol=1e-4)

    @points(1)
    def test_width_one_is_greedy(self, student):
        model, prompt = _tiny_model(3, 4), torch.tensor([0, 2])
        what, tokens, _ = _beam(student, model, prompt, 5, 1)
        check_close(tokens, generate(model, prompt, 5, greedy=True), f"{what}[0] (width 1 is greedy decoding)")

    @points(2)
    @pytest.mark.parametrize("case, width", [(0, 2), (1, 3), (2, 2)])
    def test_narrow_beams_match_the_reference(self, student, case, width):
        model, prompt = _cases_where_greedy_fails(5, 5, width)[case]
        want = beam_search(model, prompt, 5, beam_width=width, length_penalty=0.0)
        what, tokens, log_prob = _beam(student, model, prompt, 5, width)
        check_close(tokens, want.tokens, f"{what}[0]")
        check_close(log_prob, want.log_prob, f"{what}[1]", atol=1e-4)
