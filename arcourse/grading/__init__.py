"""The autograder: grade a student's exercise notebook with the exercise's pytest checks.

`grade(path)` runs `checks/test_exNN.py` in this process against the student's definitions,
which run in a separate, limited process inside an operating-system sandbox (`sandbox.py`,
`_isolation.py`, `_seccomp.py`, `_child.py`); `grade_many` grades a
folder in parallel; `report.py` writes the text report, Gradescope's results.json and a CSV;
`gradescope.py` packages an exercise's autograder for Gradescope.

It needs the `grader` extra (pytest runs the checks, hypothesis draws their cases). The names
below are imported on first use (PEP 562), so that the sandbox's process, which needs only
`codec` and `_seccomp`, starts without loading pytest and hypothesis (half a second per
submission).
"""
import importlib
import importlib.util

from arcourse._extras import require


def _require_without_importing(module: str) -> None:
    """Raise `require`'s ImportError (how to install the extra) when `module` is absent."""
    try:
        present = importlib.util.find_spec(module) is not None
    except ImportError:
        present = False
    if not present:
        require(module, "grader", "the autograder (arcourse.grading)")


_require_without_importing("pytest")      # its checks are pytest tests
_require_without_importing("hypothesis")

_HOME = {"check_close": "api", "points": "api", "question": "api",
         "format_report": "report", "gradescope_results": "report", "write_csv": "report",
         "BatchEntry": "runner", "GradeResult": "runner", "TestResult": "runner", "grade": "runner",
         "grade_many": "runner",
         "GraderError": "sandbox", "Limits": "sandbox", "StudentCrash": "sandbox", "StudentError": "sandbox",
         "StudentTimeout": "sandbox",
         "SubmissionError": "submission", "read_submission": "submission",
         "check_notebook": "notebook"}  # the self-check inside a notebook

__all__ = sorted(_HOME)


def __getattr__(name: str):
    if name not in _HOME:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{_HOME[name]}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_HOME))
