"""Exercise 05's plausible mistakes, each costing exactly its points (tests/mistakes.py).
Full marks for the solution and zero for the stub are checked for every exercise in
test_grading_exercises.py."""
import pytest
from mistakes import Mistake, mistakes_fixture

MISTAKES = [
    Mistake("receptive_field", "    return 1 + (kernel_size - 1) * sum(dilations)\n",
            "    return (kernel_size - 1) * sum(dilations)\n", lost=5,
            why="the receptive field forgets the current sample"),
    Mistake("mu_law", "    return torch.floor((y + 1) / 2 * mu + 0.5).long()\n",
            "    return torch.floor((y + 1) / 2 * mu).long()\n", lost=4,
            why="mu-law levels truncated instead of rounded"),
    Mistake("causal_conv1d", "        y = y + torch.einsum(\"oi,bit->bot\", weight[:, :, k], window)\n",
            "        y = y + torch.einsum(\"oi,bit->bot\", weight[:, :, K - 1 - k], window)\n", lost=4,
            why="the kernel flipped (a true convolution, not torch's cross-correlation)"),
    Mistake("conv_step", "    K, L = weight.shape[-1], queue.shape[-1]\n",
            "    K, L = weight.shape[-1], queue.shape[-1]\n    queue = queue.clone()\n    queue[:, :, t % L] = x\n",
            lost=6, why="the ring buffer is written before its oldest tap is read"),
    Mistake("conv_step", "    past = [queue[:, :, (t - j * dilation) % L] for j in range(K - 1, 0, -1)]",
            "    past = [queue[:, :, (t - j * dilation) % L] for j in range(1, K)]", lost=5,
            why="the ring buffer's taps read newest first"),
    Mistake("measure_receptive_field", "    return length - int(moved.nonzero()[0])\n",
            "    return int(moved.sum())\n", lost=1,
            why="counting the inputs that move the output instead of the span"),
    Mistake("measure_receptive_field", "        last = stack(torch.cat([base, probes]))[:, :, -1]",
            "        last = stack(torch.cat([base, probes]))[:, :, -2]", lost=4,
            why="probing the output one step before the last"),
]
graded = mistakes_fixture("ex05_wavenet", MISTAKES)


@pytest.mark.parametrize("mistake", MISTAKES, ids=str)
def test_mistake_loses_exactly_its_points(graded, mistake):
    graded.check(mistake)
