"""Exercise 02's plausible mistakes, each costing exactly its points (tests/mistakes.py).
Full marks for the solution and zero for the stub are checked for every exercise in
test_grading_exercises.py."""
import pytest
from mistakes import Mistake, mistakes_fixture

MISTAKES = [
    Mistake("plugin_entropy", "freq = counts / counts.sum(dim=-1, keepdim=True) ", "freq = counts / counts.sum() ",
            lost=4, why="normalising a batch of counts by its grand total instead of each row's"),
    Mistake("logsumexp", "shift = torch.where(torch.isfinite(top), top, torch.zeros_like(top))", "shift = top",
            lost=4, why="no guard for rows that are all minus infinity"),
    Mistake("logsumexp", "return out if keepdim else out.squeeze(dim)", "return out if keepdim else out.squeeze(-1)",
            lost=3, why="dropping the last axis whatever dim says"),
    Mistake("smoothed_cross_entropy", ".sum() / kept.sum()", ".sum() / kept.numel()", lost=4,
            why="the mean taken over padding positions too"),
    Mistake("smoothed_cross_entropy", "label_smoothing * log_probs.mean(dim=-1)", "label_smoothing * log_probs.sum(dim=-1)",
            lost=3, why="smoothing with eps on every value instead of eps over V"),
    Mistake("padded_perplexity", "total = torch.where(real, per_token, torch.zeros_like(per_token)).sum()",
            "total = (per_token * real).sum()", lost=1, why="masking the padding by multiplying, so nan leaks in"),
    Mistake("padded_perplexity", "real = torch.arange(T) < lengths[:, None]", "real = torch.arange(T) <= lengths[:, None]",
            lost=3, why="counting one padding token per sequence"),
    Mistake("miller_madow_entropy", "seen = int((counts > 0).sum())", "seen = counts.numel()", lost=3,
            why="correcting with the number of cells instead of the outcomes seen"),
    Mistake("entropy_bias", "biases.append(sum(estimates) / n_repeats - truth)",
            "biases.append(truth - sum(estimates) / n_repeats)", lost=3, why="the bias measured with its sign flipped"),
]
graded = mistakes_fixture("ex02_information", MISTAKES)


@pytest.mark.parametrize("mistake", MISTAKES, ids=str)
def test_mistake_loses_exactly_its_points(graded, mistake):
    graded.check(mistake)
