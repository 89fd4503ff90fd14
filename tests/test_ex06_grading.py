"""Exercise 06: a plausible mistake (attention without the 1/sqrt(D) scale, no shape checks)
loses only part of the points. (Full marks for the solution and zero for the stub are checked
for every exercise in test_grading_exercises.py.)"""
from pathlib import Path

from arcourse.grading import grade

ROOT = Path(__file__).resolve().parents[1]
SOLUTION = ROOT / "solutions" / "ex06_attention.py"


def test_unscaled_attention_without_checks_loses_points(tmp_path):
    source = SOLUTION.read_text(encoding="utf-8")
    buggy = source.replace("scores = q @ k.transpose(-2, -1) / math.sqrt(D)", "scores = q @ k.transpose(-2, -1)")
    buggy = buggy.replace("    if q.ndim != 4 or k.shape != q.shape or v.shape != q.shape:\n", "    if False:\n")
    assert buggy.count("if False:") == 1 and "q @ k.transpose(-2, -1) / math" not in buggy
    path = tmp_path / "ex06_attention.py"
    path.write_text(buggy, encoding="utf-8")
    result = grade(path)
    got, most = result.by_question()["causal_attention"]
    assert 0 < got < most                                  # causality and exact zeros still hold
    assert result.by_question()["attention_step"][0] == result.by_question()["attention_step"][1]
    assert result.score < result.max_score
