"""Grading one submission: run the exercise's pytest checks against the student's code.

The checks for exercise exNN are `arcourse/grading/checks/test_exNN.py` (see `api.py`).
This module runs them with pytest and a small plugin that hands each test a `student`
object, then adds up points per question.
"""
from __future__ import annotations

import time
import types
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from arcourse.grading.submission import Submission, SubmissionError, read_submission

CHECKS = Path(__file__).parent / "checks"


@dataclass
class TestResult:
    question: str
    name: str
    description: str
    score: float
    max_score: float
    passed: bool
    message: str = ""


@dataclass
class GradeResult:
    submission: Path
    exercise: str
    tests: list[TestResult] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def score(self) -> float:
        return sum(t.score for t in self.tests)

    @property
    def max_score(self) -> float:
        return sum(t.max_score for t in self.tests)

    def by_question(self) -> dict[str, tuple[float, float]]:
        out: dict[str, tuple[float, float]] = {}
        for t in self.tests:
            got, most = out.get(t.question, (0.0, 0.0))
            out[t.question] = (got + t.score, most + t.max_score)
        return out


def checks_for(exercise: str) -> Path:
    path = CHECKS / f"test_{exercise}.py"
    if not path.is_file():
        known = sorted(p.stem.removeprefix("test_") for p in CHECKS.glob("test_ex*.py"))
        raise SubmissionError(f"there are no checks for exercise {exercise!r}; known exercises: {', '.join(known)}")
    return path


def _load_student(submission: Submission) -> types.ModuleType:
    module = types.ModuleType(f"student_{submission.exercise}")
    exec(compile(submission.source, str(submission.path), "exec"), module.__dict__)
    return module


def _failure_message(report) -> str:
    text = str(report.longrepr) if report.longrepr is not None else ""
    if "NotImplementedError" in text:
        hint = ""
        for line in text.splitlines():
            if line.startswith("E") and "NotImplementedError" in line:
                hint = line.split("NotImplementedError", 1)[1].strip(": ()'\"")
        return "not implemented yet" + (f" ({hint})" if hint else "")
    lines = [line[1:].strip() for line in text.splitlines() if line.startswith("E ")]
    message = "\n".join(lines) or text.strip().splitlines()[-1] if text.strip() else "failed"
    return message if len(message) <= 1500 else message[:1497] + "..."


class _Collector:
    """pytest plugin: gives tests the `student` fixture and records points per test."""

    def __init__(self, student):
        self.student = student
        self.results: list[TestResult] = []
        self._meta: dict[str, tuple[str, str, float]] = {}

    @pytest.fixture
    def student(self):
        if isinstance(self.student, BaseException):
            raise self.student
        return self.student

    def pytest_collection_modifyitems(self, items):
        for item in items:
            q = item.get_closest_marker("question")
            p = item.get_closest_marker("points")
            name = q.kwargs.get("name") if q else item.name
            desc = q.kwargs.get("description", "") if q else ""
            self._meta[item.nodeid] = (name, desc, float(p.args[0]) if p else 1.0)

    def pytest_runtest_logreport(self, report):
        if report.when == "call" or (report.when == "setup" and not report.passed):
            question, desc, most = self._meta[report.nodeid]
            name = report.nodeid.split("::")[-1]
            passed = report.passed
            self.results.append(TestResult(question, name, desc, most if passed else 0.0, most, passed,
                                           "" if passed else _failure_message(report)))


def grade(path: str | Path) -> GradeResult:
    """Grade one submission file; raises SubmissionError when it cannot be graded at all."""
    start = time.perf_counter()
    submission = read_submission(path)
    checks = checks_for(submission.exercise)
    result = GradeResult(submission=Path(path), exercise=submission.exercise, problems=list(submission.problems))
    try:
        student = _load_student(submission)
    except BaseException as err:  # the submission's own fault: every test reports it
        student = RuntimeError(f"your file raised {type(err).__name__} while loading: {err}")
        result.problems.append(str(student))
    collector = _Collector(student)
    pytest.main([str(checks), "-q", "-p", "no:cacheprovider", "--no-header", "-o", "addopts=",
                 "-p", "no:randomly", "--rootdir", str(CHECKS)], plugins=[collector])
    result.tests = collector.results
    result.seconds = time.perf_counter() - start
    return result


def format_report(result: GradeResult) -> str:
    """A readable report: points per question, what was checked, and why a check failed."""
    lines = [f"{result.submission.name} ({result.exercise}): {result.score:g} / {result.max_score:g} points"]
    lines += [f"  ! {p}" for p in result.problems]
    for question, (got, most) in result.by_question().items():
        lines.append(f"\n{question}: {got:g} / {most:g}")
        for t in (t for t in result.tests if t.question == question):
            mark = "ok  " if t.passed else "FAIL"
            lines.append(f"  [{mark}] {t.name} ({t.score:g}/{t.max_score:g})")
            if t.message:
                lines += [f"         {line}" for line in t.message.splitlines()]
    return "\n".join(lines)
