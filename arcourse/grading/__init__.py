"""The autograder: grade a student's exercise notebook with the exercise's pytest checks."""
from arcourse.grading.api import check_close, points, question
from arcourse.grading.runner import GradeResult, format_report, grade
from arcourse.grading.submission import SubmissionError, read_submission

__all__ = ["GradeResult", "SubmissionError", "check_close", "format_report", "grade", "points", "question",
           "read_submission"]
