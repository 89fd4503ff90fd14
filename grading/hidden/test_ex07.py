"""Hidden checks for exercise 07: other batches and values than the public checks, a
sampler case and a beam search on models and prompts the public checks do not use."""
import math

import torch

from arcourse.decoding import TopK, TopP, beam_search
from arcourse.grading.api import check_close, points, question
from arcourse.grading.checks.test_ex07 import _tiny_model, check_follows_exact
from arcourse.models import CharRNN, CharRNNConfig


@question("temperature")
class TestTemperatureHidden:
    @points(1)
    def test_tiny_temperature_on_a_wide_batch(self, student):
        logits = torch.linspace(-3, 3, 60).view(3, 20)
        check_close(student.apply_temperature(logits, 0.01), logits / 0.01, "apply_temperature(logits, 0.01)")


@question("top_k")
class TestTopKHidden:
    @points(1)
    def test_against_the_library_on_a_large_vocabulary(self, student):
        gen = torch.Generator().manual_seed(71)
        logits = torch.randn(5, 300, generator=gen)
        check_close(student.top_k_filter(logits, 17), TopK(17)(logits), "top_k_filter(logits, 17), V=300")


@question("top_p")
class TestTopPHidden:
    @points(1)
    def test_against_the_library(self, student):
        gen = torch.Generator().manual_seed(72)
        logits = torch.randn(4, 50, generator=gen) * 3
        got = torch.as_tensor(student.top_p_filter(logits, 0.8))
        want = TopP(0.8)(logits)
        assert torch.equal(torch.isinf(got), torch.isinf(want)), "top_p_filter(logits, 0.8) kept other tokens " \
            "than the smallest set with mass >= 0.8"
        check_close(got.softmax(-1), want.softmax(-1), "softmax(top_p_filter(logits, 0.8))", atol=1e-6)


@question("sample_continuations")
class TestSampleContinuationsHidden:
    @points(1)
    def test_hot_and_filtered_on_a_larger_vocabulary(self, student):
        check_follows_exact(student, _tiny_model(77, 6, "lstm"), torch.tensor([5, 1]), 2, 2.5, 2, seed=78)


@question("beam_search")
class TestBeamSearchHidden:
    @points(1)
    def test_longer_prompt_width_four(self, student):
        torch.manual_seed(73)
        model = CharRNN(CharRNNConfig.tiny(vocab_size=6, cell="lstm")).eval()
        with torch.no_grad():
            model.head.weight.mul_(5)
        prompt = torch.tensor([1, 4, 2])
        want = beam_search(model, prompt, 4, beam_width=4, length_penalty=0.0)
        tokens, log_prob = student.beam_search(model, prompt.clone(), 4, 4)
        check_close(torch.as_tensor(tokens), want.tokens, "beam_search(model, [1, 4, 2], 4, 4)[0]")
        assert math.isclose(float(log_prob), float(want.log_prob), abs_tol=1e-4), \
            f"beam_search(...)[1] = {float(log_prob)}, expected {float(want.log_prob)}"
