"""Writing grades down: a readable report, Gradescope's results.json, a class's CSV."""
from __future__ import annotations

import csv
import json
import math
from pathlib import Path

from arcourse.grading.runner import BatchEntry, GradeResult, TestResult, question_columns


def _questions(result: GradeResult) -> dict[str, list[TestResult]]:
    out: dict[str, list[TestResult]] = {}
    for t in result.tests:
        out.setdefault(t.question, []).append(t)
    return out


def format_report(result: GradeResult) -> str:
    """Points per question, what each check looked at, and why a check failed."""
    lines = [f"{result.submission.name} (exercise {result.exercise}): {result.score:g} / {result.max_score:g} points"]
    lines += [f"  ! {p}" for p in result.problems]
    for number, (question, tests) in enumerate(_questions(result).items(), start=1):
        got, most = sum(t.score for t in tests), sum(t.max_score for t in tests)
        about = result.descriptions.get(question, "")
        lines.append(f"\n[{number}] {question}: {got:g} / {most:g}" + (f"  ({about})" if about else ""))
        if all(t.status == "not_implemented" for t in tests):
            lines.append(f"    {tests[0].message}")
            continue
        for t in tests:
            mark = "ok  " if t.passed else "FAIL"
            lines.append(f"    {mark}  {t.what} ({t.score:g}/{t.max_score:g})")
            lines += [f"          {line}" for line in t.message.splitlines()]
    return "\n".join(lines)


def gradescope_results(result: GradeResult) -> dict:
    """Gradescope's autograder results format (one entry per check)."""
    tests = []
    for q, (question, group) in enumerate(_questions(result).items(), start=1):
        for n, t in enumerate(group, start=1):
            tests.append({"name": f"{question}: {t.what}", "number": f"{q}.{n}", "score": t.score,
                          "max_score": t.max_score, "status": "passed" if t.passed else "failed",
                          "output": t.message or "passed", "output_format": "text", "visibility": "visible"})
    return {"score": result.score, "execution_time": math.ceil(result.seconds), "output": format_report(result),
            "output_format": "text", "visibility": "visible", "stdout_visibility": "hidden", "tests": tests}


def gradescope_error(message: str, seconds: float = 0.0) -> dict:
    """results.json for a submission that could not be graded at all."""
    return {"score": 0.0, "execution_time": math.ceil(seconds), "output": message, "output_format": "text",
            "visibility": "visible", "stdout_visibility": "hidden", "tests": []}


def write_json(results: dict, path: str | Path) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")


def write_csv(entries: list[BatchEntry], path: str | Path) -> None:
    """One row per student: each question's points, the total, and an error column."""
    questions = question_columns(entries)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["student", "file", "exercise", *questions, "total", "max_score", "seconds", "error"])
        for entry in entries:
            r = entry.result
            points = r.by_question() if r else {}
            cells = [f"{points[q][0]:g}" if q in points else "" for q in questions]
            writer.writerow([entry.student, entry.path.name, r.exercise if r else "", *cells,
                             f"{r.score:g}" if r else "0", f"{r.max_score:g}" if r else "",
                             f"{r.seconds:.2f}" if r else "", entry.error])
