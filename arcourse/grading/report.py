"""Writing grades down: a readable report, Gradescope's results.json, a class's CSV.

Everything a student's file or code chose (its name, messages, printed output) is cleaned of
terminal escapes and control characters; CSV cells cannot start a spreadsheet formula; and
files are written by this (trusted) process only, atomically, and never through anything
but a regular file.
"""
from __future__ import annotations

import csv
import io
import json
import math
import os
import stat
import tempfile
from pathlib import Path

from arcourse.grading.runner import BatchEntry, GradeResult, TestResult, question_columns
from arcourse.grading.sandbox import GraderError, clean_text


def _questions(result: GradeResult) -> dict[str, list[TestResult]]:
    out: dict[str, list[TestResult]] = {}
    for t in result.tests:
        out.setdefault(t.question, []).append(t)
    return out


def format_report(result: GradeResult) -> str:
    """Points per question, what each check looked at, and why a check failed."""
    lines = [f"{clean_text(result.submission.name)} (exercise {result.exercise}): "
             f"{result.score:g} / {result.max_score:g} points"]
    lines += [f"  ! {clean_text(p)}" for p in result.problems]
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
            lines += [f"          {line}" for line in clean_text(t.message).splitlines()]
    return "\n".join(lines)


def gradescope_results(result: GradeResult) -> dict:
    """Gradescope's autograder results format (one entry per check)."""
    tests = []
    for q, (question, group) in enumerate(_questions(result).items(), start=1):
        for n, t in enumerate(group, start=1):
            tests.append({"name": f"{question}: {t.what}", "number": f"{q}.{n}", "score": t.score,
                          "max_score": t.max_score, "status": "passed" if t.passed else "failed",
                          "output": clean_text(t.message) or "passed", "output_format": "text", "visibility": "visible"})
    return {"score": result.score, "execution_time": math.ceil(result.seconds), "output": format_report(result),
            "output_format": "text", "visibility": "visible", "stdout_visibility": "hidden", "tests": tests}


def gradescope_error(message: str, seconds: float = 0.0) -> dict:
    """results.json for a submission that could not be graded at all."""
    return {"score": 0.0, "execution_time": math.ceil(seconds), "output": clean_text(message), "output_format": "text",
            "visibility": "visible", "stdout_visibility": "hidden", "tests": []}


def _write_atomically(path: str | Path, text: str) -> None:
    """Write `text` to `path` through a temporary file and `os.replace`, refusing a target
    that exists and is not a regular file (a FIFO would block, a symlink would redirect)."""
    path = Path(path)
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        mode = None
    if mode is not None and not stat.S_ISREG(mode):
        raise GraderError(f"{path} exists and is not a regular file; not writing there")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
            f.write(text)
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except BaseException:
        os.unlink(temporary)
        raise


def write_json(results: dict, path: str | Path) -> None:
    _write_atomically(path, json.dumps(results, indent=1) + "\n")


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(value) -> str:
    """A CSV cell that a spreadsheet shows as text: cleaned, and quoted against formulas."""
    text = clean_text(str(value)).replace("\n", " ")
    return "'" + text if text.startswith(_FORMULA_START) else text


def write_csv(entries: list[BatchEntry], path: str | Path) -> None:
    """One row per student: each question's points, the total, and an error column. A
    submission that could not be graded has an empty total and says why under error."""
    questions = question_columns(entries)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([_cell(c) for c in ["student", "file", "exercise", *questions, "total", "max_score", "seconds",
                                        "error"]])
    for entry in entries:
        r = entry.result
        points = r.by_question() if r else {}
        cells = [f"{points[q][0]:g}" if q in points else "" for q in questions]
        writer.writerow([_cell(c) for c in [entry.student, entry.path.name, r.exercise if r else "", *cells,
                                            f"{r.score:g}" if r else "", f"{r.max_score:g}" if r else "",
                                            f"{r.seconds:.2f}" if r else "", entry.error]])
    _write_atomically(path, out.getvalue())
