"""The grading mechanism on the toy exercise ex99: full marks, stubs, one broken question,
notebooks, reports, Gradescope JSON, the command line and a class graded in parallel."""
from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from hypothesis import settings

from arcourse import cli
from arcourse.cli.build import make_exercise, to_notebook_json
from arcourse.grading import (GraderError, Limits, SubmissionError, format_report, grade, gradescope_results,
                              read_submission)
from grading_toy import CHECKS, POINTS, SOLUTION, variant


@pytest.fixture(scope="module")
def stub(tmp_path_factory):
    path = tmp_path_factory.mktemp("stub") / "ex99_toy.py"
    path.write_text(make_exercise(SOLUTION.read_text()))
    return path


@pytest.fixture(scope="module")
def solution_result():
    return grade(SOLUTION, checks=CHECKS)


def test_the_solution_gets_full_marks(solution_result):
    assert solution_result.score == solution_result.max_score == sum(POINTS.values())
    assert {q: most for q, (_, most) in solution_result.by_question().items()} == POINTS
    assert all(t.status == "passed" for t in solution_result.tests) and not solution_result.problems


def test_the_untouched_stub_gets_zero_and_not_implemented_per_question(stub):
    result = grade(stub, checks=CHECKS)
    assert result.score == 0 and result.max_score == 10
    assert {t.status for t in result.tests} == {"not_implemented"}
    report = format_report(result)
    assert report.count("not implemented yet") == len(POINTS)
    assert "(hint: subtract the row maximum, exponentiate, then normalise)" in report


def test_one_broken_question_loses_exactly_its_points(tmp_path):
    path = variant(tmp_path, "broken", {"softmax": "return x.exp() / x.exp().sum()"})
    result = grade(path, checks=CHECKS)
    assert result.by_question()["softmax"] == (0.0, 3.0)
    assert result.score == 10 - POINTS["softmax"]
    message = next(t.message for t in result.tests if t.name == "test_matches_torch")
    assert message.startswith("softmax(x) is wrong") and "expected tensor(4, 7)" in message
    assert "received tensor(4, 7)" in message and "x = tensor(4, 7)" in message
    random_rows = next(t.message for t in result.tests if t.name == "test_rows_sum_to_one")
    assert "rows=" in random_rows and "self=" not in random_rows      # hypothesis's failing input


def test_a_notebook_with_a_broken_cell(tmp_path):
    """An .ipynb works like the .py; a cell with a syntax error costs only what it defines,
    and an error points at the cell and line."""
    text = variant(tmp_path, "nb", {"running_mean": "xs = list(xs)\nraise ValueError('nope')"}).read_text()
    text = text.replace("def bigram_counts(text):", "def bigram_counts(text) oops:")
    path = tmp_path / "ex99_notebook.ipynb"
    path.write_text(to_notebook_json(text))
    result = grade(path, checks=CHECKS)
    assert result.score == POINTS["softmax"] + POINTS["running_stats"] + 1   # rejects_empty still passes
    assert any("syntax error" in p and "cell" in p and "was skipped" in p for p in result.problems)
    assert "does not define 'bigram_counts'" in "\n".join(t.message for t in result.tests)
    message = next(t.message for t in result.tests if t.name == "test_matches_cumsum")
    assert "raised ValueError: nope" in message and "ex99_notebook.ipynb, cell" in message
    assert "raise ValueError('nope')" in message


def test_gradescope_results_format(solution_result, stub):
    data = gradescope_results(grade(stub, checks=CHECKS))
    assert {"score", "execution_time", "output", "tests", "visibility", "output_format"} <= set(data)
    assert data["score"] == 0 and len(data["tests"]) == 7
    for test in data["tests"]:
        assert {"name", "score", "max_score", "status", "output", "output_format", "visibility"} <= set(test)
        assert test["status"] == "failed" and test["output"].startswith("not implemented yet")
    full = gradescope_results(solution_result)
    assert full["score"] == 10 and all(t["status"] == "passed" for t in full["tests"])
    assert full["tests"][0]["name"] == "softmax: agrees with torch.softmax on random logits"


def test_grading_leaves_the_callers_hypothesis_settings_and_no_files(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    grade(SOLUTION, checks=CHECKS)
    assert settings.get_current_profile_name() != "arcourse-grading"
    assert list(tmp_path.iterdir()) == []            # no .hypothesis/ where the student works


# ---------------------------------------------------------------- reading submissions

def test_which_exercise_a_file_is(tmp_path):
    assert read_submission(SOLUTION).exercise == "ex99"                   # from the header
    renamed = tmp_path / "alice.py"
    renamed.write_text(SOLUTION.read_text())
    assert read_submission(renamed).exercise == "ex99"
    notebook = tmp_path / "alice.ipynb"
    notebook.write_text(to_notebook_json(SOLUTION.read_text()))
    assert read_submission(notebook).exercise == "ex99"                   # from the notebook metadata
    headless = tmp_path / "ex42_something.py"
    headless.write_text("def f():\n    return 1\n")
    assert read_submission(headless).exercise == "ex42"                   # from the name
    assert read_submission(headless, exercise="ex07").exercise == "ex07"
    anonymous = tmp_path / "bob.py"
    anonymous.write_text("def f():\n    return 1\n")
    with pytest.raises(SubmissionError, match="cannot tell which exercise"):
        read_submission(anonymous)


@pytest.mark.parametrize("name, content, error", [
    ("ex99_a.txt", "x = 1", "a Jupytext .py or an .ipynb"),
    ("ex99_b.ipynb", "{not json", "not a readable notebook"),
    ("ex99_c.ipynb", '{"cells": 3}', "not a readable notebook"),
    ("ex99_d.py", b"\xff\xfe\x00garbage", "cannot read the file"),
])
def test_unreadable_files_get_a_clear_error(tmp_path, name, content, error):
    path = tmp_path / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    with pytest.raises(SubmissionError, match=error):
        read_submission(path)


def test_only_definitions_are_kept(tmp_path):
    path = tmp_path / "ex99_defs.py"
    path.write_text("import math\nN = 3\nM = N + 1\nprint('hi')\nfor i in range(3):\n    pass\n"
                    "@staticmethod\ndef f(x):\n    return x\n%matplotlib inline\n")
    kept = [s.code.splitlines()[0] for s in read_submission(path).statements]
    assert kept == ["import math", "N = 3", "M = N + 1", "@staticmethod"]    # a computed constant is kept too


# ---------------------------------------------------------------- the command line

def test_cli_grades_a_file_and_writes_json(tmp_path, capsys):
    out = tmp_path / "results.json"
    assert cli.main(["grade", str(SOLUTION), "--checks", str(CHECKS), "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "ex99_toy.py (exercise ex99): 10 / 10 points" in printed and "[4] running_stats: 2 / 2" in printed
    assert json.loads(out.read_text())["score"] == 10


def test_cli_errors_for_files_it_cannot_grade(tmp_path, capsys):
    assert cli.main(["grade", str(tmp_path / "missing.py"), "--checks", str(CHECKS)]) == 2
    assert "no such file" in capsys.readouterr().err
    unknown = tmp_path / "ex98_other.py"
    unknown.write_text("def f():\n    return 1\n")
    assert cli.main(["grade", str(unknown), "--checks", str(CHECKS)]) == 2
    assert "there are no checks for exercise 'ex98'; known exercises: ex99" in capsys.readouterr().err


def test_cli_grades_a_class_in_parallel_into_a_csv(tmp_path, stub, capsys):
    folder = tmp_path / "submissions"
    folder.mkdir()
    (folder / "alice.py").write_text(SOLUTION.read_text())
    (folder / "bob.py").write_text(stub.read_text())
    variant(folder, "carol", {"bigram_counts": "return {}"}).rename(folder / "carol.py")
    (folder / "dave.ipynb").write_text("{broken")
    out = tmp_path / "grades.csv"
    quick = ["--question-timeout", "10", "--timeout", "60"]
    assert cli.main(["grade", str(folder), "--checks", str(CHECKS), "--csv", str(out), "--jobs", "2", *quick]) == 0
    rows = {row["student"]: row for row in csv.DictReader(out.open())}
    assert list(rows) == ["alice", "bob", "carol", "dave"]
    assert rows["alice"]["total"] == "10" and rows["alice"]["softmax"] == "3" and rows["alice"]["error"] == ""
    assert rows["bob"]["total"] == "0" and rows["bob"]["running_stats"] == "0"
    assert rows["carol"]["total"] == "9" and rows["carol"]["bigram_counts"] == "1"
    assert rows["dave"]["total"] == "" and "not a readable notebook" in rows["dave"]["error"]
    assert "graded 3 of 4 submissions; 1 could not be graded" in capsys.readouterr().out


def test_limits_are_validated():
    with pytest.raises(ValueError, match="question_seconds > 0"):
        Limits(question_seconds=0)
    with pytest.raises(ValueError, match="memory_mb >= 1"):
        Limits(memory_mb=0.5)


def test_broken_checks_are_a_grader_error_not_a_zero(tmp_path, capsys):
    checks = tmp_path / "checks"
    checks.mkdir()
    (checks / "test_ex99.py").write_text("import not_a_module_for_checks\n")
    with pytest.raises(GraderError, match="could not be loaded(.|\n)*not_a_module_for_checks"):
        grade(SOLUTION, checks=checks)
    assert cli.main(["grade", str(SOLUTION), "--checks", str(checks)]) == 3
    assert "the grader failed" in capsys.readouterr().err
    (checks / "test_ex99.py").write_text("def helper():\n    pass\n")
    with pytest.raises(GraderError, match="holds no graded checks"):
        grade(SOLUTION, checks=checks)


def test_only_name_assignments_count_as_constants():
    """A scratch cell that stores into an array must not be taken as a definition; pure,
    cheap assignments, `try:` imports and small tables are."""
    from arcourse.grading.submission import _why_skipped
    import ast

    kept = [not _why_skipped(ast.parse(code).body[0]) for code in
            ["K = 3", "a, b = 1, 2", "known[:, 0] = True", "obj.attr = 1", "X: int = 4", "y = f(3)",
             "LN2 = math.log(2)", "SQUARES = {i: i * i for i in range(10)}",
             "try:\n    import scipy\nexcept ImportError:\n    scipy = None",
             "history = train(model, steps=500)", "for step in range(3):\n    pass"]]
    assert kept == [True, True, False, False, True, False, True, True, True, False, False]


def test_each_sandbox_starts_with_the_graders_font_list(tmp_path):
    """A batch builds matplotlib's font list once, in a trusted process, and every sandbox
    gets a copy (so importing pyplot there skips the font scan): the student's process
    finds the very same bytes in its folder."""
    import hashlib
    import subprocess
    import sys

    from arcourse.grading import sandbox

    fonts = sandbox.font_list()
    if fonts is None:
        pytest.skip("matplotlib cannot build a font list here")
    digest = hashlib.sha256(Path(fonts).read_bytes()).hexdigest()
    path = variant(tmp_path, "fonts", {"softmax": f"""import hashlib, os
found = [os.path.join(top, name) for top, _, names in os.walk(os.environ["HOME"]) for name in names
         if name.startswith("fontlist-v")]
same = len(found) == 1 and hashlib.sha256(open(found[0], "rb").read()).hexdigest() == {digest!r}
return x.softmax(-1) if same else x"""})
    code = ("from arcourse.grading import grade, sandbox; import sys; "
            "sandbox.keep_warm(sys.argv[1] if len(sys.argv) > 1 else None); "
            f"r = grade({str(path)!r}, checks={str(CHECKS)!r}); print(r.by_question()['softmax'][0])")
    given = subprocess.run([sys.executable, "-c", code, fonts], capture_output=True, text=True, timeout=600)
    alone = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600)
    assert given.stdout.split() == ["3.0"], given.stderr[-2000:]
    assert alone.stdout.split() == ["0.0"], alone.stderr[-2000:]   # its own, scanned in the sandbox
