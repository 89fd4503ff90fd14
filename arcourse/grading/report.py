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
            lines.append(f"    {mark}  {t.what}{' (hidden check)' if t.hidden else ''} ({t.score:g}/{t.max_score:g})")
            lines += [f"          {line}" for line in clean_text(t.message).splitlines()]
    return "\n".join(lines + _reader_and_hidden_lines(result))


def _reader_and_hidden_lines(result: GradeResult) -> list[str]:
    """What the reader skipped, and the hidden checks a self-check did not run (hidden.py)."""
    lines = []
    if result.skipped:
        lines += ["", "Statements grading did not run (it runs imports, functions, classes and simple constants):"]
        lines += [f"  - {clean_text(s)}" for s in result.skipped]
    if result.hidden_pending:
        lines += ["", "Hidden checks (not in this self-check; they count only at grading):"]
        lines += [f"  - {q}: {n} hidden check{'s' if n != 1 else ''}, {p:g} point{'s' if p != 1 else ''}"
                  for q, (n, p) in result.hidden_pending.items()]
    return lines


def gradescope_results(result: GradeResult, hidden_visibility: str = "after_published") -> dict:
    """Gradescope's autograder results format (one entry per check); hidden checks get
    `hidden_visibility` (Gradescope: hidden, after_due_date, after_published, visible)."""
    tests = []
    for q, (question, group) in enumerate(_questions(result).items(), start=1):
        for n, t in enumerate(group, start=1):
            tests.append({"name": f"{question}: {t.what}", "number": f"{q}.{n}", "score": t.score,
                          "max_score": t.max_score, "status": "passed" if t.passed else "failed",
                          "output": clean_text(t.message) or "passed", "output_format": "text",
                          "visibility": hidden_visibility if t.hidden else "visible"})
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


def write_csv(entries: list[BatchEntry], path: str | Path, *, people: dict | None = None,
              written: dict | None = None) -> None:
    """One row per student: each question's points, the total, and an error column. A
    submission that could not be graded has an empty total and says why under error.

    `people` ({path: reports.Person}) adds the student's name, id and email; `written`
    ({path: {question: (points or None, max points, comment)}}, written.py) adds a column
    per written question, counted in the total once marked. Every cell is cleaned and
    quoted against spreadsheet formulas; the file is written atomically.
    """
    questions = question_columns(entries)
    extra = list(dict.fromkeys(q for marks in (written or {}).values() for q in marks))
    out = io.StringIO()
    writer = csv.writer(out)
    who = ["student", "id", "email"] if people else ["student"]
    writer.writerow([_cell(c) for c in [*who, "file", "exercise", *questions, *(f"{q} (written)" for q in extra),
                                        "total", "max_score", "seconds", "error"]])
    for entry in entries:
        r = entry.result
        points = r.by_question() if r else {}
        cells = [f"{points[q][0]:g}" if q in points else "" for q in questions]
        marks = (written or {}).get(entry.path, {})
        cells += ["" if marks.get(q, (None,))[0] is None else f"{marks[q][0]:g}" for q in extra]
        person = (people or {}).get(entry.path)
        names = [person.name, person.id, person.email] if person else [entry.student] + ([""] * 2 if people else [])
        total = f"{r.score + sum(p for p, _, _ in marks.values() if p is not None):g}" if r else ""
        most = f"{r.max_score + sum(m for _, m, _ in marks.values()):g}" if r else ""
        writer.writerow([_cell(c) for c in [*names, entry.path.name, r.exercise if r else "", *cells, total, most,
                                            f"{r.seconds:.2f}" if r else "", entry.error]])
    _write_atomically(path, out.getvalue())
