"""Plausible mistakes, graded: each tests/test_exNN_grading.py lists the mistakes a student
is likely to make in exercise NN, each as one exact edit of the solution and the points it
must cost in one question, and checks that it costs exactly those points and nothing else.

Grading a submission takes seconds, so the mistakes are graded in rounds: a round holds at
most one mistake per question (edits that do not overlap), is graded once, and each of its
mistakes is checked in its own question while every question the round left alone must keep
full marks. A mistake whose effect leaks into another question fails that check, exactly as
it would graded on its own.

    MISTAKES = [Mistake("sample_tokens", "logits / temperature", "logits", lost=2,
                        why="a sampler that ignores the temperature"), ...]
    graded = mistakes_fixture("ex03_rnn", MISTAKES)

    @pytest.mark.parametrize("mistake", MISTAKES, ids=str)
    def test_mistake_loses_exactly_its_points(graded, mistake):
        graded.check(mistake)
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from arcourse.grading import format_report, grade

SOLUTIONS = Path(__file__).resolve().parents[1] / "solutions"


@dataclass(frozen=True)
class Mistake:
    question: str       # the question the mistake belongs to
    old: str            # an exact piece of the solution's source (occurs once)
    new: str            # what the student wrote instead
    lost: float         # the points it must cost in `question`
    why: str            # the mistake in words (the test's id)

    def __str__(self) -> str:
        return self.why.replace(" ", "_")


class Graded:
    """The scores of every round; `check(mistake)` asserts that mistake's cost."""

    def __init__(self, rounds: list[tuple[list[Mistake], dict[str, tuple[float, float]], str]]):
        self.rounds = rounds

    def check(self, mistake: Mistake) -> None:
        for mistakes, scores, report in self.rounds:
            if mistake in mistakes:
                assert mistake.question in scores, f"no question {mistake.question!r}: {sorted(scores)}"
                got, most = scores[mistake.question]
                assert mistake.lost > 0 and got == most - mistake.lost, \
                    f"{mistake.why}: {mistake.question} scored {got:g} / {most:g}, expected to lose " \
                    f"{mistake.lost:g}\n{report}"
                touched = {m.question for m in mistakes}
                full = {q: s for q, s in scores.items() if q not in touched and s[0] != s[1]}
                assert not full, f"questions this round left alone lost points: {full}\n{report}"
                return
        raise AssertionError(f"{mistake} was not graded")


def _rounds(mistakes: list[Mistake]) -> list[list[Mistake]]:
    """Mistakes packed greedily: one per question per round."""
    rounds: list[list[Mistake]] = []
    for mistake in mistakes:
        for r in rounds:
            if all(m.question != mistake.question and m.old not in mistake.old and mistake.old not in m.old
                   for m in r):
                r.append(mistake)
                break
        else:
            rounds.append([mistake])
    return rounds


def grade_mistakes(folder: Path, exercise: str, mistakes: list[Mistake]) -> Graded:
    """Grade the solution `exercise` ("ex03_rnn") with the mistakes put in, round by round."""
    solution = (SOLUTIONS / f"{exercise}.py").read_text(encoding="utf-8")
    graded = []
    for number, round_ in enumerate(_rounds(mistakes)):
        source = solution
        for m in round_:
            assert solution.count(m.old) == 1, f"{m.old!r} occurs {solution.count(m.old)} times in {exercise}.py"
            source = source.replace(m.old, m.new)
        path = folder / f"round{number}" / f"{exercise}.py"
        path.parent.mkdir(parents=True)
        path.write_text(source, encoding="utf-8")
        result = grade(path)
        graded.append((round_, result.by_question(), format_report(result)))
    return Graded(graded)


def mistakes_fixture(exercise: str, mistakes: list[Mistake]):
    """A module-scoped fixture `graded` for a mistakes file."""
    @pytest.fixture(scope="module")
    def graded(tmp_path_factory) -> Graded:
        return grade_mistakes(tmp_path_factory.mktemp(exercise), exercise, mistakes)
    return graded
