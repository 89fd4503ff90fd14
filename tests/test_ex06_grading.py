"""Exercise 06 end to end: the solution earns full marks, the generated stub none, and a
plausible mistake (attention without the 1/sqrt(D) scale, no shape checks) only part."""
from pathlib import Path

from arcourse.cli.build import make_exercise
from arcourse.grading import grade

ROOT = Path(__file__).resolve().parents[1]
SOLUTION = ROOT / "solutions" / "ex06_attention.py"


def test_solution_gets_full_marks():
    result = grade(SOLUTION)
    assert result.max_score > 0 and result.score == result.max_score, [t.message for t in result.tests if t.score == 0]


def test_generated_exercise_is_in_sync_and_gets_zero():
    exercise = ROOT / "exercises" / "ex06_attention.py"
    assert exercise.read_text(encoding="utf-8") == make_exercise(SOLUTION.read_text(encoding="utf-8"))
    result = grade(exercise)
    assert result.max_score > 0 and result.score == 0


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
