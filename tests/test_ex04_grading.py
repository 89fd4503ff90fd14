"""Exercise 04 end to end: plausible mistakes (mask types swapped at the centre, bits per
dimension left in nats, a sampler that ignores the temperature or the given pixels) cost
only the points of the question they belong to. Full marks for the solution and zero for
the stub are checked for every exercise in test_grading_exercises.py."""
from pathlib import Path

from arcourse.grading import grade

ROOT = Path(__file__).resolve().parents[1]
SOLUTION = ROOT / "solutions" / "ex04_pixelcnn.py"


def _grade_changed(tmp_path, old: str, new: str) -> dict[str, tuple[float, float]]:
    source = SOLUTION.read_text(encoding="utf-8")
    assert source.count(old) == 1, old
    path = tmp_path / SOLUTION.name
    path.write_text(source.replace(old, new), encoding="utf-8")
    return grade(path).by_question()


def _only_loses(scores: dict[str, tuple[float, float]], question: str, everything: bool = False) -> None:
    got, most = scores[question]
    assert (got == 0) if everything else (0 < got < most), scores
    assert all(g == m for q, (g, m) in scores.items() if q != question), scores


def test_centre_rule_of_type_b_used_for_type_a(tmp_path):
    """Type A that lets a colour see itself: wrong for every mask, and the network leaks."""
    scores = _grade_changed(tmp_path, "        allowed = in_colour[None, :] < out_colour[:, None]\n",
                            "        allowed = in_colour[None, :] <= out_colour[:, None]\n")
    _only_loses(scores, "make_mask", everything=True)


def test_interleaved_colour_groups(tmp_path):
    """Colours assigned as channel % C: one-colour masks are still right, grouped ones are not."""
    scores = _grade_changed(tmp_path, "    in_colour = torch.arange(in_channels) // (in_channels // data_channels)\n",
                            "    in_colour = torch.arange(in_channels) % data_channels\n")
    _only_loses(scores, "make_mask")


def test_bits_per_dim_left_in_nats(tmp_path):
    scores = _grade_changed(tmp_path, "    return -picked.sum(dim=(1, 2, 3)) / (n_dims * math.log(2))\n",
                            "    return -picked.sum(dim=(1, 2, 3)) / n_dims\n")
    _only_loses(scores, "image_bits_per_dim", everything=True)


def test_sampler_that_ignores_the_temperature(tmp_path):
    scores = _grade_changed(tmp_path, "logits = model(x)[:, c, i, j] / temperature ",
                            "logits = model(x)[:, c, i, j] ")
    _only_loses(scores, "sample_pixels")


def test_sampler_that_overwrites_given_pixels(tmp_path):
    scores = _grade_changed(tmp_path, "torch.where(known[:, c, i, j], x[:, c, i, j], draw)", "draw")
    _only_loses(scores, "sample_pixels")
