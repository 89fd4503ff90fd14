"""Hidden checks for exercise 02: float counts over many outcomes, keepdim, huge logits in the
loss, nan in the padding, rows with one outcome seen."""
import math

import torch

from arcourse.grading.api import check_close, points, question


@question("plugin_entropy")
class TestPluginEntropyHidden:
    @points(1)
    def test_float_counts_over_many_outcomes(self, student):
        counts = torch.full((2, 1000), 0.5, dtype=torch.float64)
        counts[1, 500:] = 0.0
        check_close(student.plugin_entropy(counts), [math.log(1000), math.log(500)], "plugin_entropy(counts)",
                    atol=1e-9)


@question("logsumexp")
class TestLogsumexpHidden:
    @points(1)
    def test_keepdim_on_a_middle_axis(self, student):
        x = torch.randn(2, 3, 4, generator=torch.Generator().manual_seed(9), dtype=torch.float64)
        x[0, :, 1] = -math.inf
        check_close(student.logsumexp(x, 1, True), torch.logsumexp(x, dim=1, keepdim=True),
                    "logsumexp(x, dim=1, keepdim=True)", atol=1e-10)


@question("smoothed_cross_entropy")
class TestSmoothedCrossEntropyHidden:
    @points(1)
    def test_confidently_wrong_logits_stay_finite(self, student):
        logits = torch.tensor([[[1e4, -1e4, 0.0], [0.0, 0.0, 5e3]]], dtype=torch.float32)   # (1, 2, 3)
        targets = torch.tensor([[1, 2]])
        got = student.smoothed_cross_entropy(logits, targets, -100, 0.1)
        want = torch.nn.functional.cross_entropy(logits[0], targets[0], label_smoothing=0.1)
        check_close(got, want, "smoothed_cross_entropy(huge logits)", rtol=1e-5)


@question("padded_perplexity")
class TestPaddedPerplexityHidden:
    @points(1)
    def test_nan_and_bad_targets_in_the_padding(self, student):
        logits = torch.zeros(2, 3, 8, dtype=torch.float64)
        logits[0, 2] = math.nan
        logits[1, 1:] = math.inf
        targets = torch.tensor([[1, 2, -100], [3, -100, -100]])
        got = student.padded_perplexity(logits, targets, torch.tensor([2, 1]))
        check_close(got, 8.0, "padded_perplexity with nan logits and -100 targets in the padding", rtol=1e-9)


@question("miller_madow_entropy")
class TestMillerMadowHidden:
    @points(1)
    def test_one_outcome_seen_needs_no_correction(self, student):
        check_close(student.miller_madow_entropy(torch.tensor([0, 40, 0])), 0.0, "miller_madow_entropy([0, 40, 0])")
        want = -(2 * 0.25 * math.log(0.25) + 0.5 * math.log(0.5)) + 2 / 80
        check_close(student.miller_madow_entropy(torch.tensor([10.0, 10.0, 20.0])), want,
                    "miller_madow_entropy([10., 10., 20.])", atol=1e-10)
