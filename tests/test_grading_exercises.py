"""Every exercise in the course, through its real checks: the solution gets full marks, the
untouched generated exercise gets 0 with "not implemented yet" for every question, and a
solution with one region stubbed loses exactly the points of the checks that need it.

Parametrized by `solutions/ex*.py`, so an exercise is covered as soon as it exists.
"""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from arcourse.cli.build import BEGIN, END, make_exercise
from arcourse.grading import format_report, grade

ROOT = Path(__file__).resolve().parents[1]
SOLUTIONS = sorted((ROOT / "solutions").glob("ex[0-9][0-9]_*.py"))


def stub_one_region(solution: str, which: int) -> str:
    """The solution with only region `which` (0-based, negative from the end) turned into
    its stub; every other region keeps its code."""
    lines = solution.splitlines()
    begins = [i for i, line in enumerate(lines) if line.strip() in (BEGIN, f"# {BEGIN}")]
    keep = begins[which]
    out, inside = [], None
    for i, line in enumerate(lines):
        marker = line.strip().removeprefix("# ")
        if marker == BEGIN:
            inside = i
            if i != keep:
                continue
        elif marker == END:
            stubbed, inside = inside == keep, None
            if not stubbed:
                continue
        out.append(line)
    return make_exercise("\n".join(out) + "\n")


@pytest.mark.parametrize("solution", SOLUTIONS, ids=lambda p: p.stem)
def test_the_solution_gets_full_marks(solution):
    result = grade(solution)
    assert result.max_score > 0
    assert result.score == result.max_score, format_report(result)


@pytest.mark.parametrize("solution", SOLUTIONS, ids=lambda p: p.stem)
def test_the_generated_exercise_gets_zero_with_not_implemented(solution):
    exercise = ROOT / "exercises" / solution.name
    assert exercise.is_file(), f"{exercise} is missing: run `arcourse build`"
    result = grade(exercise)
    assert result.score == 0 and result.max_score > 0
    report = format_report(result)
    assert report.count("not implemented yet") == len(result.by_question()), report


@pytest.mark.parametrize("solution", SOLUTIONS, ids=lambda p: p.stem)
def test_one_stubbed_region_loses_exactly_its_points(solution, tmp_path):
    text = solution.read_text()
    assert len(re.findall(re.escape(BEGIN), text)) >= 1
    broken = tmp_path / solution.name
    broken.write_text(stub_one_region(text, -1))
    result = grade(broken)
    missing = [t for t in result.tests if t.status == "not_implemented"]
    assert missing, "stubbing the last solution region broke no check"
    assert all(t.passed or t.status == "not_implemented" for t in result.tests), format_report(result)
    assert result.score == result.max_score - sum(t.max_score for t in missing)


def test_stub_one_region_on_the_toy():
    from grading_toy import SOLUTION

    text = stub_one_region(SOLUTION.read_text(), 0)
    assert text.count("raise NotImplementedError") == 1 and "### BEGIN" not in text
    assert "raise NotImplementedError('subtract the row maximum, exponentiate, then normalise')" in text
