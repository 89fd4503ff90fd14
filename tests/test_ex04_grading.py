"""Exercise 04's plausible mistakes, each costing exactly its points (tests/mistakes.py).
Full marks for the solution and zero for the stub are checked for every exercise in
test_grading_exercises.py."""
import pytest
from mistakes import Mistake, mistakes_fixture

MISTAKES = [
    Mistake("make_mask", "        allowed = in_colour[None, :] < out_colour[:, None]\n",
            "        allowed = in_colour[None, :] <= out_colour[:, None]\n", lost=7,
            why="type A lets a colour see itself at the centre"),
    Mistake("make_mask", "    in_colour = torch.arange(in_channels) // (in_channels // data_channels)\n",
            "    in_colour = torch.arange(in_channels) % data_channels\n", lost=5,
            why="colours assigned as channel mod C"),
    Mistake("image_bits_per_dim", "    return -picked.sum(dim=(1, 2, 3)) / (n_dims * math.log(2))\n",
            "    return -picked.sum(dim=(1, 2, 3)) / n_dims\n", lost=4, why="bits per dimension left in nats"),
    Mistake("sample_pixels", "logits = model(x)[:, c, i, j] / temperature ", "logits = model(x)[:, c, i, j] ",
            lost=1, why="a sampler that ignores the temperature"),
    Mistake("sample_pixels", "torch.where(known[:, c, i, j], x[:, c, i, j], draw)", "draw", lost=3,
            why="a sampler that overwrites the given pixels"),
    Mistake("fit_pixelcnn", 'MaskedConv2d(1, hidden, first_kernel_size, "A")',
            'MaskedConv2d(1, hidden, first_kernel_size, "B")', lost=2,
            why="the own PixelCNN's first layer is type B and sees the pixel it predicts"),
    Mistake("fit_pixelcnn", "        optimiser.step()\n", "", lost=3,
            why="a training loop that never steps the optimiser"),
]
graded = mistakes_fixture("ex04_pixelcnn", MISTAKES)


@pytest.mark.parametrize("mistake", MISTAKES, ids=str)
def test_mistake_loses_exactly_its_points(graded, mistake):
    graded.check(mistake)
