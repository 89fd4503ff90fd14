"""Exercise 01's plausible mistakes, each costing exactly its points (tests/mistakes.py).
Full marks for the solution and zero for the stub are checked for every exercise in
test_grading_exercises.py."""
import pytest
from mistakes import Mistake, mistakes_fixture

MISTAKES = [
    Mistake("conditional_tables", "upto / safe, torch.full_like(upto, 1 / K))", "upto / safe, torch.zeros_like(upto))",
            lost=2,
            why="zeros instead of the uniform row after an impossible prefix"),
    Mistake("joint_from_conditionals", "    return product.permute(*back)\n", "    return product.permute(*order)\n",
            lost=4, why="undoing the order with the order itself instead of its inverse"),
    Mistake("ar_param_count", "start = 0 if context is None else max(0, i - context)",
            "start = 0 if context is None else max(0, i - context - 1)", lost=4,
            why="a context window one variable too long"),
    Mistake("ar_param_count", "math.prod(sizes[start:i]) * (size - 1)", "math.prod(sizes[start:i]) * size", lost=5,
            why="counting K numbers per row instead of K - 1"),
    Mistake("ancestral_sample", "x[:, i] = torch.multinomial(probs, 1, generator=gen).squeeze(1)",
            "x[:, i] = probs.argmax(dim=1)", lost=6, why="a sampler that does not sample: the most likely value"),
    Mistake("ancestral_sample", "torch.multinomial(probs, 1, generator=gen)",
            "torch.multinomial(probs, 1, generator=torch.Generator().manual_seed(seed))", lost=5,
            why="a fresh generator seeded alike at every step"),
    Mistake("fit_tables", "total = upto.sum(dim=-1, keepdim=True) + K * alpha ", "total = upto.sum(dim=-1, keepdim=True) + alpha ",
            lost=6, why="smoothing adds alpha to the prefix count instead of K alpha"),
    Mistake("fit_tables", "        gen = torch.Generator().manual_seed(seed + j)\n",
            "        gen = torch.Generator().manual_seed(seed)\n", lost=1,
            why="every sample size drawn with the same seed"),
]
graded = mistakes_fixture("ex01_chain_rule", MISTAKES)


@pytest.mark.parametrize("mistake", MISTAKES, ids=str)
def test_mistake_loses_exactly_its_points(graded, mistake):
    graded.check(mistake)
