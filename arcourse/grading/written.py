"""Written answers: questions a person marks.

The convention (one for the whole course): a written question is a markdown cell that
asks it, followed by a markdown answer cell whose first line is the marker

    **Answer (written: NAME, N points):**

NAME is the question's id (letters, digits, `_`), N its points. In `solutions/` the answer
cell holds the model answer between `### BEGIN SOLUTION` / `### END SOLUTION` (as
`# ### BEGIN SOLUTION` lines in the Jupytext source), which the build turns into
"YOUR ANSWER HERE" in the exercise; the student writes below the marker. The points come
from the instructor's source (`checks/manifest.json`), never from the student's copy.

The grader collects every student's answer to each question into one HTML page for a TA
(`answers_page`, anonymised on request), writes a marks sheet to fill in
(`write_marks_template`) and merges the filled sheet into the totals (`read_marks`).
"""
from __future__ import annotations

import csv
import html
import re
from dataclasses import dataclass
from pathlib import Path

MARKER = re.compile(r"^\s*\*\*Answer \(written: ([A-Za-z_][A-Za-z0-9_]*), (\d+(?:\.\d+)?) points?\):\*\*\s*$")
_PLACEHOLDER = "YOUR ANSWER HERE"


def _answer_cells(markdown_cells: list[str]) -> dict[str, tuple[float, str]]:
    """{name: (points, text after the marker)} of the answer cells among markdown cells."""
    out = {}
    for cell in markdown_cells:
        lines = cell.strip("\n").splitlines()
        if lines and MARKER.match(lines[0]):
            name, worth = MARKER.match(lines[0]).groups()
            out.setdefault(name, (float(worth), "\n".join(lines[1:]).strip()))
    return out


def declared_in(solution: str) -> dict[str, float]:
    """{name: points} of the written questions of a solution's Jupytext source."""
    from arcourse.grading.submission import percent_markdown

    return {name: worth for name, (worth, _) in _answer_cells(percent_markdown(solution)).items()}


def answers_in(path: Path) -> dict[str, str]:
    """{name: the student's answer} ("" for none) in a submission."""
    from arcourse.grading.submission import read_cells

    out = {}
    for name, (_, text) in _answer_cells(read_cells(path, "markdown")).items():
        text = "\n".join(line for line in text.splitlines()
                         if line.strip() not in (_PLACEHOLDER, f"# {_PLACEHOLDER}")).strip()
        out[name] = text
    return out


@dataclass
class Answer:
    student: str       # who wrote it (or "student 3" when anonymised)
    text: str


def answers_page(exercise: str, name: str, points: float, answers: list[Answer]) -> str:
    """A self-contained page with every answer to one written question, for a TA."""
    rows = "".join(f"<section><h2>{html.escape(a.student)}</h2><pre>{html.escape(a.text) or '<em>no answer</em>'}"
                   f"</pre><p class='mark'>mark: ____ / {points:g}</p></section>" for a in answers)
    return ("<!doctype html><meta charset='utf-8'><title>" + html.escape(f"{exercise} {name}") + "</title><style>"
            "body{font-family:sans-serif;margin:1.5em;max-width:60em}section{border-top:1px solid #ccc;padding:.5em 0}"
            "pre{white-space:pre-wrap;font-family:inherit;background:#f6f6f6;padding:.6em}.mark{color:#666}</style>"
            f"<h1>{html.escape(exercise)}: written question {html.escape(name)} ({points:g} points)</h1>"
            f"<p>{len(answers)} answers. Enter marks in the marks sheet (student, question, points, comment), then "
            f"run <code>arcourse grade FOLDER -o REPORTS --manual marks.csv</code>.</p>{rows}")


MARK_COLUMNS = ("student", "question", "points", "max_points", "comment")


def write_marks_template(rows: list[tuple[str, str, float]], path: Path) -> None:
    """A marks sheet with one empty row per (student, question, max points)."""
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(MARK_COLUMNS)
        for student, question, most in rows:
            writer.writerow([student, question, "", f"{most:g}", ""])


def read_marks(path: Path, maxima: dict[str, float]) -> dict[tuple[str, str], tuple[float, str]]:
    """{(student, question): (points, comment)} from a filled marks sheet; empty points are
    left out (not marked yet). ValueError names the row of a bad entry."""
    out = {}
    with open(path, newline="", encoding="utf-8-sig") as f:
        reader = csv.DictReader(f)
        missing = {"student", "question", "points"} - set(reader.fieldnames or ())
        if missing:
            raise ValueError(f"{path}: the marks sheet needs the columns student, question, points "
                             f"(missing: {', '.join(sorted(missing))})")
        for number, row in enumerate(reader, start=2):
            question, text = (row.get("question") or "").strip(), (row.get("points") or "").strip()
            if not text:
                continue
            if question not in maxima:
                raise ValueError(f"{path}, row {number}: unknown written question {question!r} "
                                 f"(known: {', '.join(sorted(maxima)) or 'none'})")
            try:
                value = float(text)
            except ValueError:
                raise ValueError(f"{path}, row {number}: points must be a number, got {text!r}") from None
            if not 0 <= value <= maxima[question]:
                raise ValueError(f"{path}, row {number}: points for {question} must be in [0, {maxima[question]:g}], "
                                 f"got {value:g}")
            out[((row.get("student") or "").strip(), question)] = (value, (row.get("comment") or "").strip())
    return out
