"""Checks for ex08: the Gaussian NLL head and the speculative-decoding accept/reject step."""
import math

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from arcourse.grading.api import check_close, points, question
from arcourse.models.continuous import GaussianHead, gaussian_nll
from arcourse.decoding import acceptance_probability, residual_distribution
from arcourse.metrics import chi_square_test

SETTINGS = settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
P_MIN = 1e-4  # a correct sampler fails at this level once in ten thousand fixed seeds


def _probs(vocab: int, seed: int, zeros: bool) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    probs = torch.rand(vocab, generator=gen, dtype=torch.float64) ** 3
    if zeros:
        probs[torch.rand(vocab, generator=gen) < 0.3] = 0
        probs[int(torch.randint(vocab, (1,), generator=gen))] += 0.1  # keep one entry non-zero
    return probs / probs.sum()


@question("gaussian_nll", "normal_nll and gaussian_head agree with torch.distributions.Normal",
          write=("torch.distributions.Normal", "torch.nn.functional.gaussian_nll_loss",
                 "arcourse.models.continuous.gaussian_nll", "arcourse.models.continuous.GaussianHead"))
class TestGaussianNLL:
    @points(2)
    @SETTINGS
    @given(st.integers(0, 10_000))
    def test_matches_torch_on_random_inputs(self, student, seed):
        gen = torch.Generator().manual_seed(seed)
        x = torch.randn(3, 5, generator=gen, dtype=torch.float64) * 4
        mu = torch.randn(3, 5, generator=gen, dtype=torch.float64)
        sigma = torch.rand(3, 5, generator=gen, dtype=torch.float64) * 5 + 0.05
        want = -torch.distributions.Normal(mu, sigma).log_prob(x)
        check_close(student.normal_nll(x, mu, sigma), want, "normal_nll(x, mu, sigma)", x=x, mu=mu, sigma=sigma)

    @points(1)
    def test_broadcasts_like_torch(self, student):
        x, mu, sigma = torch.randn(4, 1), torch.randn(1, 6), torch.rand(6) + 0.5
        check_close(student.normal_nll(x, mu, sigma), gaussian_nll(x, mu, sigma), "normal_nll with broadcasting",
                    x=x, mu=mu, sigma=sigma)

    @points(1)
    @pytest.mark.parametrize("bad", [0.0, -1.0])
    def test_bad_sigma_raises(self, student, bad):
        sigma = torch.tensor([1.0, bad, 2.0])
        with pytest.raises(ValueError):
            student.normal_nll(torch.zeros(3), torch.zeros(3), sigma)

    @points(2)
    def test_head_shapes_and_values(self, student):
        raw = torch.randn(2, 7, 2) * 10
        mu, sigma = student.gaussian_head(raw, 0.01)
        want = GaussianHead(min_scale=0.01)(raw)
        check_close(mu, want.loc, "gaussian_head(raw)[0]", raw=raw)
        check_close(sigma, want.scale, "gaussian_head(raw)[1]", raw=raw)
        assert bool((torch.as_tensor(sigma) > 0).all()), "sigma must be > 0 for every raw value"
        x = torch.randn(2, 7)
        check_close(student.normal_nll(x, mu, sigma), want.nll(x), "normal_nll(x, *gaussian_head(raw))", raw=raw)


@question("accept_reject", "accept_probability and residual_probs: the pieces of the step",
          write=("arcourse.decoding.speculative.acceptance_probability",
                 "arcourse.decoding.speculative.residual_distribution"))
class TestPieces:
    @points(2)
    @SETTINGS
    @given(st.integers(2, 8), st.integers(0, 10_000), st.booleans())
    def test_accept_probability(self, student, vocab, seed, zeros):
        p, q = _probs(vocab, seed, zeros), _probs(vocab, seed + 1, zeros)
        check_close(student.accept_probability(p, q), acceptance_probability(p, q), "accept_probability(p, q)",
                    p=p, q=q)

    @points(2)
    @SETTINGS
    @given(st.integers(2, 8), st.integers(0, 10_000), st.booleans())
    def test_residual(self, student, vocab, seed, zeros):
        p, q = _probs(vocab, seed, zeros), _probs(vocab, seed + 1, zeros)
        got = student.residual_probs(p, q)
        check_close(got, residual_distribution(p, q), "residual_probs(p, q)", p=p, q=q)

    @points(1)
    def test_residual_batched_and_equal_rows(self, student):
        p = torch.tensor([[0.2, 0.3, 0.5], [0.1, 0.1, 0.8]])
        q = torch.tensor([[0.2, 0.3, 0.5], [0.4, 0.4, 0.2]])
        check_close(student.residual_probs(p, q), torch.tensor([[0.2, 0.3, 0.5], [0.0, 0.0, 1.0]]),
                    "residual_probs(p, q) with a row where p == q", p=p, q=q)


@question("exact", "the emitted token is distributed exactly as p (by enumeration)",
          write=("arcourse.decoding.speculative.acceptance_probability",
                 "arcourse.decoding.speculative.residual_distribution"))
class TestExact:
    @points(3)
    @SETTINGS
    @given(st.integers(2, 7), st.integers(0, 10_000), st.booleans())
    def test_enumeration_gives_p(self, student, vocab, seed, zeros):
        p, q = _probs(vocab, seed, zeros), _probs(vocab, seed + 7, zeros)
        a = torch.as_tensor(student.accept_probability(p, q)).double()
        r = torch.as_tensor(student.residual_probs(p, q)).double()
        # P(emit y) = P(draft y, accept) + P(reject) r(y)
        emitted = q * a + (q * (1 - a)).sum() * r
        check_close(emitted, p, "sum_x q(x) [a(x) 1{y = x} + (1 - a(x)) r(y)]", atol=1e-9, p=p, q=q)


@question("sampling", "accept_or_resample draws tokens from p (chi-square test)",
          write=("arcourse.decoding.speculative.verify_draft", "arcourse.decoding.speculative.acceptance_probability",
                 "arcourse.decoding.speculative.residual_distribution"))
class TestSampling:
    CASES = [  # (p, q): overlapping, disjoint-ish, and equal
        ([0.5, 0.3, 0.2, 0.0], [0.25, 0.25, 0.25, 0.25]),
        ([0.05, 0.05, 0.1, 0.8], [0.7, 0.1, 0.1, 0.1]),
        ([0.4, 0.1, 0.1, 0.4], [0.4, 0.1, 0.1, 0.4]),
    ]
    B = 20_000

    def _run(self, student, case, seed):
        p, q = (torch.tensor(v) for v in self.CASES[case])
        gen = torch.Generator().manual_seed(seed)
        draft = torch.multinomial(q, self.B, replacement=True, generator=gen)
        tokens, accepted = student.accept_or_resample(p.expand(self.B, -1), q.expand(self.B, -1), draft, gen)
        return p, q, draft, torch.as_tensor(tokens), torch.as_tensor(accepted)

    @points(1)
    def test_shapes_and_kept_drafts(self, student):
        _, _, draft, tokens, accepted = self._run(student, 0, seed=1)
        assert tuple(tokens.shape) == (self.B,) and tuple(accepted.shape) == (self.B,), \
            f"expected two ({self.B},) tensors, got shapes {tuple(tokens.shape)} and {tuple(accepted.shape)}"
        assert accepted.dtype == torch.bool, f"accepted should be a bool tensor, got {accepted.dtype}"
        assert bool((tokens[accepted] == draft[accepted]).all()), "an accepted row must emit its draft token"

    @points(3)
    @pytest.mark.parametrize("case", [0, 1, 2])
    def test_tokens_follow_p(self, student, case):
        p, q, _, tokens, accepted = self._run(student, case, seed=10 + case)
        counts = torch.bincount(tokens.long(), minlength=len(p))
        _, p_value = chi_square_test(counts, p.double())
        assert p_value > P_MIN, (f"token counts {counts.tolist()} out of {self.B} do not look like draws from "
                                 f"p = {p.tolist()} (chi-square p-value {p_value:.2g}); q = {q.tolist()}")
        rate, want = float(accepted.float().mean()), float(torch.minimum(p, q).sum())
        assert abs(rate - want) < 5 * math.sqrt(want * (1 - want) / self.B) + 1e-9, \
            f"acceptance rate {rate:.4f}, expected sum_x min(p(x), q(x)) = {want:.4f}"

    @points(1)
    def test_seeded(self, student):
        first, second = self._run(student, 1, seed=5)[3], self._run(student, 1, seed=5)[3]
        assert torch.equal(first, second), "the same generator seed should give the same tokens"
