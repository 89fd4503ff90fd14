"""Every exercise keeps the course's rules for homework (read from its checks and its
solution, nothing run): a warm-up, a core and a stretch tier with points, at least two
written questions, at least one experiment, every question placed in a tier, and at most
10 % of the points on input validation. Whether the points are earned only by correct work
is for each exercise's own mistakes file (tests/test_exNN_grading.py)."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from arcourse.grading.api import TIERS
from arcourse.grading.outline import outline, table

ROOT = Path(__file__).resolve().parents[1]
EXERCISES = sorted(p.stem.removeprefix("test_") for p in (ROOT / "arcourse" / "grading" / "checks").glob("test_ex*.py"))


@pytest.mark.parametrize("exercise", EXERCISES)
def test_exercise_follows_the_homework_rules(exercise):
    o = outline(ROOT, exercise)
    untiered = [q.name for q in o.questions.values() if q.tier is None]
    assert not untiered, f"{exercise}: questions without a tier: {untiered}"
    for tier in TIERS:
        assert o.tier_points(tier) > 0, f"{exercise} has no {tier} question"
    assert len(o.written) >= 2, f"{exercise} has {len(o.written)} written question(s), needs 2"
    assert any(q.experiment for q in o.questions.values()), f"{exercise} has no experiment question"
    assert o.validation_share <= 0.10, f"{exercise} spends {100 * o.validation_share:.0f} % of its points on validation"


@pytest.mark.parametrize("exercise", EXERCISES)
def test_every_exercise_has_five_plausible_mistakes(exercise):
    """tests/test_exNN_grading.py lists at least five mistakes (tests/mistakes.py), each in a
    question the exercise has and costing points there."""
    path = ROOT / "tests" / f"test_{exercise}_grading.py"
    assert path.is_file(), f"{path.name} is missing"
    spec = importlib.util.spec_from_file_location(f"mistakes_of_{exercise}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    mistakes = module.MISTAKES
    assert len(mistakes) >= 5, f"{path.name} lists {len(mistakes)} mistakes"
    questions = outline(ROOT, exercise).questions
    for m in mistakes:
        assert m.question in questions and 0 < m.lost <= questions[m.question].points, m


def test_the_outline_table_has_a_row_per_exercise():
    rows = table(ROOT).splitlines()
    assert len(rows) == 2 + len(EXERCISES) and all(f"| {e} |" in "\n".join(rows) for e in EXERCISES)


def test_the_instructor_guide_gives_each_exercise_its_total():
    """docs/INSTRUCTORS.md's table of what each exercise grades ends each row with the
    exercise's total, code and written points together."""
    guide = (ROOT / "docs" / "INSTRUCTORS.md").read_text()
    for exercise in EXERCISES:
        row = next((line for line in guide.splitlines() if line.startswith(f"| {exercise} ")), None)
        assert row is not None, f"the instructor guide has no row for {exercise}"
        assert float(row.rstrip(" |").rsplit("|", 1)[1]) == outline(ROOT, exercise).total_points, row


def test_question_and_points_name_a_bad_argument():
    from arcourse.grading.api import points, question

    with pytest.raises(ValueError, match="tier must be one of"):
        question("q", tier="hard")
    for seconds in (0, -1, 1000, "60"):
        with pytest.raises(ValueError, match="seconds must be in"):
            question("q", tier="core", seconds=seconds)
    with pytest.raises(ValueError, match="points must be > 0"):
        points(0, validation=True)
    mark = points(2, validation=True)
    assert mark.args == (2,) and mark.kwargs == {"validation": True}
