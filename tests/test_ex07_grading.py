"""Exercise 07: plausible mistakes (Hugging Face's tie-keeping top-k, a beam that never
branches) lose only part of the points. (Full marks for the solution and zero for the stub
are checked for every exercise in test_grading_exercises.py.)"""
from pathlib import Path

from arcourse.grading import grade

ROOT = Path(__file__).resolve().parents[1]
SOLUTION = ROOT / "solutions" / "ex07_decoding.py"


def _grade_changed(tmp_path, old: str, new: str):
    source = SOLUTION.read_text(encoding="utf-8")
    assert source.count(old) == 1, old
    path = tmp_path / "ex07_decoding.py"
    path.write_text(source.replace(old, new), encoding="utf-8")
    return grade(path).by_question()


def test_top_k_that_keeps_ties_loses_only_top_k_points(tmp_path):
    scores = _grade_changed(
        tmp_path,
        "    keep = torch.zeros_like(logits, dtype=torch.bool).scatter(-1, order[:, :k], True)\n",
        "    keep = logits >= logits.gather(-1, order[:, k - 1:k])  # every token tied with the k-th\n")
    got, most = scores["top_k"]
    assert 0 < got < most  # k >= V still passes; ties and "exactly k" fail
    assert all(g == m for q, (g, m) in scores.items() if q != "top_k")


def test_beam_that_never_branches_is_only_greedy(tmp_path):
    scores = _grade_changed(tmp_path, "best = total.flatten().topk(min(beam_width, total.numel()))",
                            "best = total.flatten().topk(1)")
    got, most = scores["beam_search"]
    assert 0 < got < most  # width 1 is still right; wider beams are not
    assert all(g == m for q, (g, m) in scores.items() if q != "beam_search")
