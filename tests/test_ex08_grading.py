"""Exercise 08's plausible mistakes, each costing exactly its points (tests/mistakes.py).
Full marks for the solution and zero for the stub are checked for every exercise in
test_grading_exercises.py."""
import pytest
from mistakes import Mistake, mistakes_fixture

# Mistakes are graded in rounds, one per question each (tests/mistakes.py): a forecast that
# reads its own target would let a least-squares fit look good, so those two sit in
# different rounds (the order below decides).
MISTAKES = [
    Mistake("gaussian_nll", "    if not bool((sigma > 0).all()):\n", "    if not bool((sigma >= 0).all()):\n",
            lost=1, why="sigma zero accepted"),
    Mistake("accept_reject", "    total = excess.sum(dim=-1, keepdim=True)\n",
            "    total = excess.sum(dim=0, keepdim=True)\n", lost=1,
            why="residual normalised over the batch axis"),
    Mistake("sampling",
            "    accepted = torch.rand(draft.shape, generator=generator, dtype=p.dtype) < a\n"
            "    resampled = torch.multinomial(residual_probs(p, q), 1, generator=generator)[:, 0]  # (B,)\n",
            "    accepted = torch.zeros(draft.shape, dtype=torch.bool)  # a = 0: never accept ...\n"
            "    resampled = torch.multinomial(p, 1, generator=generator)[:, 0]  # ... and r = p\n",
            lost=4, why="speculative step with a = 0 and r = p"),
    Mistake("sampling", "torch.rand(draft.shape, generator=generator, dtype=p.dtype)",
            "torch.rand(draft.shape, dtype=p.dtype)", lost=1, why="acceptance uniforms ignore the generator"),
    Mistake("sampling", "    return torch.where(accepted, draft, resampled), accepted\n",
            "    return resampled, accepted\n", lost=4, why="accepted drafts replaced by a residual draw"),
    Mistake("returns_forecast", "    windows = series.unfold(0, p, 1)[:-1]  # (T - p, p): windows[i] = series[i : i + p]\n",
            "    windows = series.unfold(0, p, 1)[1:]  # (T - p, p): ends at the target\n", lost=3,
            why="forecast window includes the value it predicts"),
    Mistake("returns_forecast", "torch.cat([windows, windows.abs(), torch.ones(",
            "torch.cat([windows, windows ** 2, torch.ones(", lost=2, why="squared instead of absolute values"),
    Mistake("returns_fit", "        optimiser.step()\n", "", lost=3, why="the optimiser never steps"),
    Mistake("returns_fit", "        loss = normal_nll(train_series[p:], mu, sigma).mean()\n",
            "        loss = ((train_series[p:] - mu) ** 2).mean()  # least squares\n", lost=3,
            why="fitted by least squares so sigma never learns"),
    Mistake("exposure_bias", "    for chain in (P, Q):\n", "    for chain in (P, P):\n", lost=2,
            why="free-running chains drawn from the source"),
    Mistake("exposure_bias", "            errors.append(kl[x].mean())\n            x = torch.multinomial(chain[x], 1, generator=gen)[:, 0]  # (N,) the next states\n",
            "            x = torch.multinomial(chain[x], 1, generator=gen)[:, 0]  # (N,) the next states\n            errors.append(kl[x].mean())\n",
            lost=2, why="error measured one state late"),
]
graded = mistakes_fixture("ex08_beyond", MISTAKES)


@pytest.mark.parametrize("mistake", MISTAKES, ids=str)
def test_mistake_loses_exactly_its_points(graded, mistake):
    graded.check(mistake)
