"""Written answers (`written.py`): the one marker convention, answers read from .py and
.ipynb submissions, the TA's page, and the marks sheet's validation."""
from __future__ import annotations

from pathlib import Path

import pytest

from arcourse.cli.build import make_exercise, to_notebook_json
from arcourse.grading.written import Answer, answers_in, answers_page, declared_in, read_marks

ROOT = Path(__file__).resolve().parents[1]


def test_the_solutions_declare_their_written_questions():
    assert declared_in((ROOT / "solutions" / "ex04_pixelcnn.py").read_text()) == {"mask_types": 2.0, "blind_spot": 3.0}
    assert declared_in((ROOT / "solutions" / "ex02_information.py").read_text()) == {
        "ce_decomposition": 2.0, "tokenisation": 2.0, "plugin_bias": 2.0}


def _student_copy(tmp_path, suffix):
    exercise = make_exercise((ROOT / "solutions" / "ex04_pixelcnn.py").read_text())
    answer = "Type B would let an output see its own input & <copy> it."
    text = exercise.replace("# **Answer (written: mask_types, 2 points):**\n# YOUR ANSWER HERE",
                            f"# **Answer (written: mask_types, 2 points):**\n# {answer}")
    assert answer in text
    path = tmp_path / f"ex04_pixelcnn{suffix}"
    path.write_text(to_notebook_json(text) if suffix == ".ipynb" else text)
    return path, answer


@pytest.mark.parametrize("suffix", [".py", ".ipynb"])
def test_answers_are_read_from_scripts_and_notebooks(tmp_path, suffix):
    path, answer = _student_copy(tmp_path, suffix)
    assert answers_in(path) == {"mask_types": answer, "blind_spot": ""}
    stub = tmp_path / "stub.py"
    stub.write_text(make_exercise((ROOT / "solutions" / "ex04_pixelcnn.py").read_text()))
    assert answers_in(stub) == {"mask_types": "", "blind_spot": ""}   # the placeholder is no answer


def test_the_page_escapes_answers_and_shows_who_wrote_them():
    page = answers_page("ex04", "mask_types", 2, [Answer("student 1", "<b>bold</b> & more"), Answer("student 2", "")])
    assert "&lt;b&gt;bold&lt;/b&gt; &amp; more" in page and "<b>bold</b>" not in page
    assert "student 2" in page and "no answer" in page and "/ 2" in page


def test_the_marks_sheet_is_validated(tmp_path):
    sheet = tmp_path / "marks.csv"
    sheet.write_text("student,question,points,max_points,comment\nalice,mask_types,1.5,2,good\nbob,mask_types,,2,\n")
    assert read_marks(sheet, {"mask_types": 2.0}) == {("alice", "mask_types"): (1.5, "good")}
    for row, message in [("carol,mask_types,3,2,", r"must be in \[0, 2\]"), ("carol,other,1,2,", "unknown written"),
                         ("carol,mask_types,lots,2,", "must be a number")]:
        sheet.write_text("student,question,points,max_points,comment\n" + row + "\n")
        with pytest.raises(ValueError, match=message):
            read_marks(sheet, {"mask_types": 2.0})
    sheet.write_text("who,points\nalice,1\n")
    with pytest.raises(ValueError, match="needs the columns"):
        read_marks(sheet, {"mask_types": 2.0})
