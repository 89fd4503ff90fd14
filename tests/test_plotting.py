"""arcourse.plotting: image grids keep every tile and blank the gaps; bad arguments say so."""
import numpy as np
import pytest
import torch

from arcourse.plotting import image_grid


def test_tiles_in_place_and_gaps_blank():
    images = torch.arange(6 * 2 * 3).view(6, 1, 2, 3)
    grid = image_grid(images, 2, 3, gap=1)
    assert grid.shape == (2 * 3 - 1, 3 * 4 - 1)
    np.testing.assert_array_equal(grid[0:2, 4:7], images[1, 0].numpy())   # row 0, column 1
    np.testing.assert_array_equal(grid[3:5, 8:11], images[5, 0].numpy())  # row 1, column 2
    assert np.isnan(grid[2]).all() and np.isnan(grid[:, 3]).all()
    assert not np.isnan(image_grid(images[:, 0], 2, 3, gap=0)).any()


@pytest.mark.parametrize("kwargs, message", [(dict(rows=0, cols=1), "rows"), (dict(rows=1, cols=1, gap=-1), "gap"),
                                              (dict(rows=3, cols=3), "need rows")])
def test_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        image_grid(torch.zeros(6, 1, 2, 2), **kwargs)


def test_rejects_colour_images():
    with pytest.raises(ValueError, match="one channel"):
        image_grid(torch.zeros(4, 3, 2, 2), 2, 2)


def test_schematics_draw_and_check_their_arguments():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from arcourse.plotting import draw_conditionals, draw_dependency_graph

    fig, axes = plt.subplots(1, 3)
    draw_dependency_graph(axes[0], [2, 0, 3, 1])
    assert len(axes[0].texts) == 4 + 6                     # four nodes, 4 * 3 / 2 arrows
    draw_conditionals(axes[1], 4, shared=False)
    draw_conditionals(axes[2], 4, shared=True)
    assert len(axes[1].patches) == 4 and len(axes[2].patches) == 1
    plt.close(fig)
    with pytest.raises(ValueError, match="permutation"):
        draw_dependency_graph(axes[0], [0, 0, 1])
    with pytest.raises(ValueError, match="n must be"):
        draw_conditionals(axes[1], 0, shared=True)


def test_block_diagram_draws_every_stage_and_checks_residuals():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from arcourse.plotting import draw_block_diagram

    fig, ax = plt.subplots()
    draw_block_diagram(ax, ["a", "b", "c"], residuals=[(1, 2)])
    assert len(ax.patches) == 3 and [t.get_text() for t in ax.texts].count("+") == 1
    with pytest.raises(ValueError, match="residual"):
        draw_block_diagram(ax, ["a", "b"], residuals=[(1, 3)])
    plt.close(fig)


def test_lstm_cell_draws_four_gates():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from arcourse.plotting import draw_lstm_cell

    fig, ax = plt.subplots()
    draw_lstm_cell(ax)
    labels = [t.get_text() for t in ax.texts]
    assert len(ax.patches) == 4 + 1                         # four gate layers and the tanh on the cell
    assert sum("σ" in label for label in labels) == 3 and labels.count("×") == 3 and labels.count("+") == 1
    plt.close(fig)


def test_gated_stacks_draw_both_stacks_and_check_kernel_size():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from arcourse.plotting import draw_gated_stacks

    fig, ax = plt.subplots()
    draw_gated_stacks(ax, kernel_size=5)
    labels = [t.get_text() for t in ax.texts]
    assert "vertical stack" in labels and "horizontal stack" in labels
    assert any("3×5" in label for label in labels) and any("1×5" in label for label in labels)
    for bad in (4, 0, True, 3.0):
        with pytest.raises(ValueError, match="kernel_size must be"):
            draw_gated_stacks(ax, kernel_size=bad)
    plt.close(fig)
