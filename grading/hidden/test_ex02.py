"""Hidden checks for exercise 02: large vocabularies, float32, infinite cross-entropy,
tensors for perplexity and bits per dimension, huge equal logits."""
import math

import torch

from arcourse.grading.api import check_close, points, question


@question("entropy")
class TestEntropyHidden:
    @points(1)
    def test_uniform_over_many_outcomes(self, student):
        p = torch.full((2, 1000), 1e-3, dtype=torch.float64)
        check_close(student.entropy(p), [math.log(1000)] * 2, "entropy(uniform over 1000)", atol=1e-9)


@question("cross_entropy")
class TestCrossEntropyHidden:
    @points(1)
    def test_infinite_where_q_misses_p(self, student):
        p = torch.tensor([[0.5, 0.5], [1.0, 0.0]], dtype=torch.float64)
        q = torch.tensor([[1.0, 0.0], [1.0, 0.0]], dtype=torch.float64)
        got = torch.as_tensor(student.cross_entropy(p, q))
        assert math.isinf(float(got[0])) and float(got[0]) > 0, f"H(p, q) should be +inf where q = 0 < p, got {got}"
        assert float(got[1]) == 0.0, f"H(p, q) should be 0 when p and q are the same certain outcome, got {float(got[1])}"


@question("kl_divergence")
class TestKLDivergenceHidden:
    @points(1)
    def test_batch_axes(self, student):
        gen = torch.Generator().manual_seed(5)
        p = torch.rand(3, 2, 5, generator=gen, dtype=torch.float64)
        q = torch.rand(3, 2, 5, generator=gen, dtype=torch.float64)
        p, q = p / p.sum(-1, keepdim=True), q / q.sum(-1, keepdim=True)
        want = (p * (p / q).log()).sum(-1)
        check_close(student.kl_divergence(p, q), want, "kl_divergence(p, q) on (3, 2, 5)", atol=1e-10)


@question("perplexity_from_nll")
class TestPerplexityHidden:
    @points(1)
    def test_tensor_of_totals(self, student):
        nll = torch.tensor([0.0, 50.0 * math.log(3)], dtype=torch.float64)
        check_close(student.perplexity_from_nll(nll, 50), [1.0, 3.0], "perplexity_from_nll(tensor, 50)", atol=1e-9)


@question("bits_per_dim")
class TestBitsPerDimHidden:
    @points(1)
    def test_binary_images_are_one_bit(self, student):
        got = student.bits_per_dim(28 * 28 * math.log(2), 28 * 28)
        assert abs(float(got) - 1.0) < 1e-12, f"bits_per_dim of a uniform binary model should be 1, got {got}"


@question("log_softmax")
class TestLogSoftmaxHidden:
    @points(1)
    def test_equal_huge_logits_in_float32(self, student):
        z = torch.full((2, 4), 3e37, dtype=torch.float32)
        got = torch.as_tensor(student.log_softmax(z))
        assert got.dtype == torch.float32, f"a float32 input should give float32, got {got.dtype}"
        check_close(got, torch.full((2, 4), -math.log(4)), "log_softmax(3e37 everywhere)", atol=1e-6)
