"""The autograder: grade a student's exercise notebook with the exercise's pytest checks.

`grade(path)` runs `checks/test_exNN.py` in this process against the student's definitions,
which run in a separate, limited process inside an operating-system sandbox (`sandbox.py`,
`_isolation.py`, `_seccomp.py`, `_child.py`); `grade_many` grades a
folder in parallel; `report.py` writes the text report, Gradescope's results.json and a CSV;
`gradescope.py` packages an exercise's autograder for Gradescope.
"""
from arcourse._extras import require

require("pytest", "grader", "the autograder (arcourse.grading)")  # its checks are pytest tests
require("hypothesis", "grader", "the autograder (arcourse.grading)")

from arcourse.grading.api import check_close, points, question
from arcourse.grading.report import format_report, gradescope_results, write_csv
from arcourse.grading.runner import BatchEntry, GradeResult, TestResult, grade, grade_many
from arcourse.grading.sandbox import GraderError, Limits, StudentCrash, StudentError, StudentTimeout
from arcourse.grading.submission import SubmissionError, read_submission
from arcourse.grading.notebook import check_notebook  # the self-check inside a notebook

__all__ = ["BatchEntry", "GradeResult", "GraderError", "Limits", "StudentCrash", "StudentError", "StudentTimeout",
           "SubmissionError", "TestResult", "check_close", "check_notebook", "format_report", "grade", "grade_many",
           "gradescope_results", "points", "question", "read_submission", "write_csv"]
