"""An exercise's outline: its questions by tier, experiments, written questions and the
share of points spent on input validation, read from the check files and the solution
without running anything.

`tests/test_exercise_design.py` holds every exercise to the course's rules with it (three
tiers, two written questions, an experiment, at most 10 % of the points on validation);
`python -m arcourse.grading.outline` prints the table an instructor reads before choosing
homework.
"""
from __future__ import annotations

import ast
import sys
from dataclasses import dataclass, field
from pathlib import Path



@dataclass
class Question:
    name: str
    tier: str | None = None
    experiment: bool = False
    points: float = 0.0
    validation_points: float = 0.0
    checks: int = 0


@dataclass
class Outline:
    exercise: str
    questions: dict[str, Question] = field(default_factory=dict)
    written: dict[str, float] = field(default_factory=dict)      # name -> points (a person marks them)

    @property
    def code_points(self) -> float:
        return sum(q.points for q in self.questions.values())

    @property
    def total_points(self) -> float:
        return self.code_points + sum(self.written.values())

    @property
    def validation_share(self) -> float:
        total = self.total_points
        return sum(q.validation_points for q in self.questions.values()) / total if total else 0.0

    def tier_points(self, tier: str) -> float:
        return sum(q.points for q in self.questions.values() if q.tier == tier)


def _decorator_call(node: ast.expr, name: str) -> ast.Call | None:
    """`node` when it is a call of `name` (`question(...)`, `api.points(...)`), else None."""
    if isinstance(node, ast.Call):
        func = node.func
        if (isinstance(func, ast.Name) and func.id == name) or (isinstance(func, ast.Attribute) and func.attr == name):
            return node
    return None


def _keyword(call: ast.Call, name: str, default=None):
    for keyword in call.keywords:
        if keyword.arg == name:
            return ast.literal_eval(keyword.value)
    return default


def _cases(item: ast.FunctionDef) -> int:
    """How many tests pytest makes of one test function: the product of its parametrize
    decorators' case counts (a literal list or tuple, or range(n)); 1 when it has none.
    Each case earns the function's points."""
    n = 1
    for call in filter(None, (_decorator_call(d, "parametrize") for d in item.decorator_list)):
        values = call.args[1] if len(call.args) > 1 else None
        if isinstance(values, (ast.List, ast.Tuple)):
            n *= len(values.elts)
        elif (isinstance(values, ast.Call) and isinstance(values.func, ast.Name) and values.func.id == "range"
              and all(isinstance(a, ast.Constant) for a in values.args)):
            n *= len(range(*(a.value for a in values.args)))
    return n


def read_checks(path: Path, outline: Outline) -> None:
    """Add the questions of one check file (public or hidden) to `outline`."""
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if not isinstance(node, ast.ClassDef):
            continue
        marks = [c for c in map(lambda d: _decorator_call(d, "question"), node.decorator_list) if c]
        if not marks or not marks[0].args or not isinstance(marks[0].args[0], ast.Constant):
            continue
        name = str(marks[0].args[0].value)
        question = outline.questions.setdefault(name, Question(name))
        question.tier = _keyword(marks[0], "tier", question.tier)
        question.experiment = question.experiment or bool(_keyword(marks[0], "experiment", False))
        for item in node.body:
            if isinstance(item, ast.FunctionDef) and item.name.startswith("test"):
                worth = [c for c in map(lambda d: _decorator_call(d, "points"), item.decorator_list) if c]
                value = (float(ast.literal_eval(worth[0].args[0])) if worth else 1.0) * _cases(item)
                question.checks += 1
                question.points += value
                if worth and _keyword(worth[0], "validation", False):
                    question.validation_points += value


def outline(root: Path, exercise: str) -> Outline:
    """The outline of `exercise` ("ex03") in the course folder `root`."""
    from arcourse.grading.written import declared_in

    result = Outline(exercise)
    read_checks(root / "arcourse" / "grading" / "checks" / f"test_{exercise}.py", result)
    hidden = root / "grading" / "hidden" / f"test_{exercise}.py"
    if hidden.is_file():
        read_checks(hidden, result)
    solution = next((root / "solutions").glob(f"{exercise}_*.py"))
    result.written = declared_in(solution.read_text(encoding="utf-8"))
    return result


def table(root: Path) -> str:
    """A Markdown table, one row per exercise."""
    rows = ["| exercise | warm-up | core | stretch | written | experiments | validation | total |",
            "|---|---|---|---|---|---|---|---|"]
    for check in sorted((root / "arcourse" / "grading" / "checks").glob("test_ex[0-9][0-9].py")):
        o = outline(root, check.stem.removeprefix("test_"))
        tiers = [", ".join(f"{q.name} {q.points:g}" for q in o.questions.values() if q.tier == t)
                 for t in ("warm-up", "core", "stretch")]
        written = ", ".join(f"{n} {p:g}" for n, p in o.written.items())
        experiments = ", ".join(q.name for q in o.questions.values() if q.experiment)
        rows.append(f"| {o.exercise} | {' | '.join(tiers)} | {written} | {experiments} | "
                    f"{100 * o.validation_share:.0f} % | {o.total_points:g} |")
    return "\n".join(rows)


if __name__ == "__main__":
    print(table(Path(sys.argv[1]) if len(sys.argv) > 1 else Path.cwd()))
