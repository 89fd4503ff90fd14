"""The self-check from inside a notebook: `arcourse.grading.check_notebook()`.

A student on Colab or a JupyterHub has no terminal for `arcourse grade`, and the notebook's
file on disk is only as new as its last save. So by default this grades the cells the kernel
has run, in the order they ran (IPython's input history), which is exactly what the student
sees working; `path=` grades a saved file instead. Either way it is a thin wrapper around
`grade` and `format_report`: the same checks, sandbox and report as the command line.
"""
from __future__ import annotations

import json
import os
import re
import tempfile
from pathlib import Path

from arcourse.grading.report import format_report
from arcourse.grading.runner import GradeResult, grade
from arcourse.grading.sandbox import Limits
from arcourse.grading.submission import SubmissionError

_EXERCISE = re.compile(r"(ex\d\d)(?:_|\b|\.)")


def _shell():
    try:
        from IPython import get_ipython
    except ImportError:
        return None
    return get_ipython()


def _running_exercise(shell) -> str | None:
    """exNN from the running notebook's file name, where the front end tells it."""
    names = [shell.user_ns.get("__session__"), shell.user_ns.get("__vsc_ipynb_file__"),
             os.environ.get("JPY_SESSION_NAME")]
    for name in names:
        if isinstance(name, str) and (match := _EXERCISE.search(Path(name).name)):
            return match.group(1)
    return None


def _history_notebook(cells: list[str], folder: Path, exercise: str) -> Path:
    """The run cells as an .ipynb whose cell N is input N, so messages say the cell number the student sees."""
    notebook = {"cells": [{"cell_type": "code", "metadata": {}, "source": text, "outputs": [],
                           "execution_count": None} for text in cells],
                "metadata": {"arcourse": {"exercise": exercise}}, "nbformat": 4, "nbformat_minor": 5}
    path = folder / f"{exercise}_cells.ipynb"
    path.write_text(json.dumps(notebook), encoding="utf-8")
    return path


def check_notebook(exercise: str | None = None, *, path: str | Path | None = None,
                   limits: Limits | None = None, show: bool = True) -> GradeResult:
    """Grade this notebook from inside it, and print the report.

    Args:
        exercise: "exNN"; by default taken from the notebook's file name where the front end
            tells it (JupyterLab, VS Code), so on Colab pass it: `check_notebook("ex03")`.
        path: grade this saved file instead of the cells that have run.
        limits: time and memory limits (`Limits()` by default, as `arcourse grade`).
        show: print the report (points per question, and what failed).
    Returns:
        the GradeResult (`.score`, `.max_score`, `.tests`).
    """
    if path is not None:
        result = grade(path, exercise=exercise, limits=limits)
    else:
        shell = _shell()
        if shell is None or "In" not in shell.user_ns:
            raise SubmissionError("check_notebook() grades the cells run in a notebook; outside one, "
                                  "pass path= or use `arcourse grade FILE`")
        exercise = exercise or _running_exercise(shell)
        if exercise is None:
            raise SubmissionError("cannot tell which exercise this is from the notebook's name: "
                                  "pass it, e.g. check_notebook('ex03')")
        cells = list(shell.user_ns["In"][1:-1])  # In[0] is empty; the last input is this call's own cell
        with tempfile.TemporaryDirectory(prefix="arcourse-check-") as folder:
            result = grade(_history_notebook(cells, Path(folder), exercise), exercise=exercise, limits=limits)
    if show:
        print(format_report(result))
    return result
