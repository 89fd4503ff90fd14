"""Hidden checks for exercise 08: float32 and extreme sigmas, a tiny minimum scale, a
vocabulary of one, and draws under a fixed generator."""
import math

import torch

from arcourse.grading.api import check_close, points, question
from arcourse.models.continuous import GaussianHead
from arcourse.decoding import acceptance_probability, residual_distribution


@question("gaussian_nll")
class TestGaussianNLLHidden:
    @points(1)
    def test_extreme_sigmas(self, student):
        x = torch.tensor([0.0, 1.0, -2.0], dtype=torch.float64)
        mu = torch.zeros(3, dtype=torch.float64)
        sigma = torch.tensor([1e-3, 1.0, 1e3], dtype=torch.float64)
        want = -torch.distributions.Normal(mu, sigma).log_prob(x)
        check_close(student.normal_nll(x, mu, sigma), want, "normal_nll with sigma in [1e-3, 1e3]", atol=1e-8)

    @points(1)
    def test_head_with_a_tiny_minimum_scale(self, student):
        raw = torch.tensor([[[0.0, -50.0], [1.0, 3.0]]])
        mu, sigma = student.gaussian_head(raw, 1e-4)
        want = GaussianHead(min_scale=1e-4)(raw)
        check_close(sigma, want.scale, "gaussian_head(raw, 1e-4)[1]", raw=raw, atol=1e-9)


@question("accept_reject")
class TestPiecesHidden:
    @points(1)
    def test_draft_equal_to_target_always_accepts(self, student):
        p = torch.tensor([0.1, 0.6, 0.3], dtype=torch.float64)
        check_close(student.accept_probability(p, p.clone()), torch.ones(3, dtype=torch.float64),
                    "accept_probability(p, p)")
        q = torch.tensor([0.6, 0.1, 0.3], dtype=torch.float64)
        check_close(student.residual_probs(p, q), residual_distribution(p, q), "residual_probs(p, q)")
        check_close(student.accept_probability(p, q), acceptance_probability(p, q), "accept_probability(p, q)")


@question("exact")
class TestExactHidden:
    @points(1)
    def test_disjoint_supports(self, student):
        """a draft that never proposes a token p wants: every draft is rejected, each row of M is p."""
        p = torch.tensor([0.0, 0.0, 0.5, 0.5], dtype=torch.float64)
        q = torch.tensor([0.5, 0.5, 0.0, 0.0], dtype=torch.float64)
        a = torch.as_tensor(student.accept_probability(p, q)).double()
        r = torch.as_tensor(student.residual_probs(p, q)).double()
        M = torch.diag(a) + (1 - a)[:, None] * r[None, :]  # P(emit y | draft x)
        check_close(M[:2], p.expand(2, -1), "P(emit y | draft x) for the drafts 0 and 1 (disjoint supports)",
                    atol=1e-12)


@question("sampling")
class TestSamplingHidden:
    @points(1)
    def test_certain_target(self, student):
        """p puts all its mass on token 2: whatever the draft, the emitted token is 2."""
        p = torch.tensor([[0.0, 0.0, 1.0, 0.0]]).expand(4, -1)
        q = torch.full((4, 4), 0.25)
        gen = torch.Generator().manual_seed(81)
        tokens, accepted = student.accept_or_resample(p, q, torch.arange(4), gen)
        tokens, accepted = torch.as_tensor(tokens), torch.as_tensor(accepted)
        assert tokens.tolist() == [2, 2, 2, 2], f"accept_or_resample emitted {tokens.tolist()}; p allows only 2"
        assert accepted.tolist() == [False, False, True, False], \
            f"only the draft 2 can be accepted, got accepted = {accepted.tolist()}"
