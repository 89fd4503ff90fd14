"""Class reports (`reports.py`, `arcourse grade FOLDER -o REPORTS`): students named from a
roster or a file-name pattern, one Markdown and one self-contained HTML feedback page per
student, written answers collected for a TA and merged back from the marks sheet, and
gradebook files for Canvas and Moodle."""
from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from arcourse import cli
from arcourse.cli.build import make_exercise
from arcourse.grading import hidden
from arcourse.grading.reports import Person, identify, read_roster, write_class_reports
from arcourse.grading.runner import grade_many
from grading_toy import CHECKS, SOLUTION, variant

ANSWER = "\n# %% [markdown]\n# **Answer (written: why_max, 2 points):**\n# {}\n"
ROSTER = "name,id,email\nAlice Smith,1001,alice@uni.edu\nBob Jones,1002,bob@uni.edu\nCarol White,1003,cwhite@uni.edu\n"


@pytest.fixture(scope="module")
def manifest(tmp_path_factory):
    """The toy exercise ex99 with one written question of 2 points."""
    path = tmp_path_factory.mktemp("manifest") / "manifest.json"
    path.write_text(json.dumps({"hidden": {}, "written": {"ex99": {"why_max": 2.0}}}))
    patch = pytest.MonkeyPatch()
    patch.setattr(hidden, "MANIFEST", path)
    yield path
    patch.undo()


@pytest.fixture(scope="module")
def graded(tmp_path_factory, manifest):
    folder = tmp_path_factory.mktemp("class") / "submissions"
    folder.mkdir()
    (folder / "1001_ex99.py").write_text(SOLUTION.read_text() + ANSWER.format("The max keeps exp() from <overflowing>."))
    (folder / "1002_ex99.py").write_text(make_exercise(SOLUTION.read_text()))
    variant(folder, "cwhite", {"bigram_counts": "return {}"}).rename(folder / "cwhite_ex99.py")
    (folder / "1004_ex99.ipynb").write_text("{broken")
    roster = folder.parent / "roster.csv"
    roster.write_text(ROSTER)
    entries = grade_many(sorted(folder.iterdir()), jobs=2, checks=CHECKS)
    return folder, roster, entries


def _rows(path):
    return {row["student"]: row for row in csv.DictReader(path.open(encoding="utf-8"))}


def test_reports_name_students_and_give_each_one_feedback(graded, tmp_path):
    folder, roster, entries = graded
    written, warnings = write_class_reports(entries, tmp_path, roster=roster, lms="canvas", assignment="Homework 9")
    assert any("1004_ex99.ipynb: matches no roster" in w for w in warnings)
    rows = _rows(tmp_path / "grades.csv")
    assert rows["Alice Smith"]["id"] == "1001" and rows["Alice Smith"]["total"] == "10"
    assert rows["Alice Smith"]["max_score"] == "12"                  # 10 checked + 2 written, not marked yet
    assert rows["Carol White"]["email"] == "cwhite@uni.edu" and rows["Carol White"]["bigram_counts"] == "1"
    assert rows["Bob Jones"]["total"] == "0"
    md = (tmp_path / "feedback" / "1003.md").read_text()
    assert "# Carol White: cwhite_ex99.py" in md and "**9 / 12 points**" in md
    assert "| bigram_counts | 1 / 2 |" in md and "FAILED" in md and "why_max (written) | not marked yet / 2" in md
    html = (tmp_path / "feedback" / "1003.html").read_text()
    assert "Carol White" in html and "FAILED" in html and "<script" not in html and "http" not in html
    assert (tmp_path / "feedback" / "1002.html").is_file() and (tmp_path / "feedback" / "1004_ex99.md").is_file()
    assert "could not be graded" in (tmp_path / "feedback" / "1004_ex99.md").read_text()
    canvas = list(csv.reader((tmp_path / "canvas.csv").open()))
    assert canvas[0] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", "Homework 9"]
    assert ["Alice Smith", "1001", "1001", "alice@uni.edu", "", "10"] in canvas
    assert [row[-1] for row in canvas if row[0] == "1004_ex99"] == [""]   # not graded: nothing imported
    page = (tmp_path / "written" / "ex99_why_max.html").read_text()
    assert "The max keeps exp() from &lt;overflowing&gt;." in page and "1001" in page


def test_ta_marks_are_merged_into_the_totals_and_the_lms_file(graded, tmp_path):
    folder, roster, entries = graded
    write_class_reports(entries, tmp_path, roster=roster)
    sheet = tmp_path / "written" / "marks.csv"
    rows = list(csv.DictReader(sheet.open()))
    assert [(r["student"], r["question"], r["max_points"]) for r in rows] == [
        ("1001", "why_max", "2"), ("1002", "why_max", "2"), ("1003", "why_max", "2")]
    rows[0]["points"], rows[0]["comment"] = "1.5", "right idea; say why it does not change the result"
    with sheet.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    write_class_reports(entries, tmp_path, roster=roster, manual=sheet, lms="moodle")
    grades = _rows(tmp_path / "grades.csv")
    assert grades["Alice Smith"]["total"] == "11.5" and grades["Alice Smith"]["why_max (written)"] == "1.5"
    assert grades["Bob Jones"]["why_max (written)"] == ""
    assert "right idea" in (tmp_path / "feedback" / "1001.md").read_text()
    moodle = list(csv.reader((tmp_path / "moodle.csv").open()))
    assert moodle[0] == ["Email address", "ID number", "Full name", "ex99"]
    assert ["alice@uni.edu", "1001", "Alice Smith", "11.5"] in moodle


def test_anonymised_answers_map_back_to_students(graded, tmp_path):
    folder, roster, entries = graded
    write_class_reports(entries, tmp_path, roster=roster, anonymise=True)
    page = (tmp_path / "written" / "ex99_why_max.html").read_text()
    assert "student 1" in page and "Alice" not in page and "1001" not in page
    sheet = tmp_path / "written" / "marks.csv"
    text = sheet.read_text()
    assert "1001" not in text
    sheet.write_text(text.replace("student 1,why_max,,2,", "student 1,why_max,2,2,"))
    write_class_reports(entries, tmp_path, roster=roster, manual=sheet, anonymise=True)
    assert _rows(tmp_path / "grades.csv")["Alice Smith"]["total"] == "12"


def test_students_from_a_pattern_or_a_roster():
    paths = [Path("sub_1001_ex03.py"), Path("smith_alice.ipynb"), Path("sub_x.py")]
    people, warnings = identify(paths, pattern=r"sub_(?P<id>\d+)_")
    assert people[paths[0]] == Person("1001", "1001", "") and people[paths[1]] == Person("smith_alice")
    assert len(warnings) == 2
    roster = [Person("Alice Smith", "1001", "asmith@uni.edu"), Person("Smith Alice", "2002", "sa@uni.edu")]
    people, warnings = identify(paths, roster)
    assert people[paths[0]].name == "Alice Smith" and people[paths[1]].name == "Smith Alice"
    with pytest.raises(ValueError, match="named group"):
        identify(paths, pattern=r"\d+")


def test_the_roster_needs_its_columns(tmp_path):
    (tmp_path / "r.csv").write_text("name,email\nA,a@b\n")
    with pytest.raises(ValueError, match="name, id, email"):
        read_roster(tmp_path / "r.csv")


def test_cli_grades_a_folder_into_reports(graded, tmp_path, capsys):
    folder, roster, _ = graded
    out = tmp_path / "reports"
    assert cli.main(["grade", str(folder), "--checks", str(CHECKS), "-o", str(out), "--roster", str(roster),
                     "--lms", "canvas", "--jobs", "2", "--question-timeout", "10"]) == 0
    printed = capsys.readouterr().out
    assert "reports written to" in printed and "canvas.csv" in printed
    assert {"grades.csv", "canvas.csv", "feedback", "written"} <= {p.name for p in out.iterdir()}
