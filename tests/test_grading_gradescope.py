"""`arcourse gradescope`: the zip has Gradescope's layout, and its run_autograder, unpacked
into a temporary autograder root, grades a solution and a stub into results/results.json."""
from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import zipfile

import pytest

from arcourse import cli
from arcourse.build import make_exercise
from arcourse.grading.gradescope import run_autograder
from grading_toy import CHECKS, SOLUTION


@pytest.fixture(scope="module")
def autograder(tmp_path_factory):
    out = tmp_path_factory.mktemp("zip") / "ex99_autograder.zip"
    assert cli.main(["gradescope", "ex99", "-o", str(out), "--checks", str(CHECKS)]) == 0
    return out


def test_the_zip_has_gradescopes_layout(autograder):
    with zipfile.ZipFile(autograder) as zf:
        names = zf.namelist()
        modes = {i.filename: i.external_attr >> 16 for i in zf.infolist()}
        setup = zf.read("setup.sh").decode()
    assert {"setup.sh", "run_autograder", "config.json", "checks/test_ex99.py"} <= set(names)
    assert modes["setup.sh"] & 0o111 and modes["run_autograder"] & 0o111
    assert not any(n.startswith("solutions/") or "__pycache__" in n for n in names)
    assert [n for n in names if "test_ex" in n] == ["checks/test_ex99.py"]
    wheels = [n for n in names if n.startswith("wheels/") and n.endswith("-py3-none-any.whl")]
    assert len(wheels) == 1
    with zipfile.ZipFile(autograder) as zf, zipfile.ZipFile(io.BytesIO(zf.read(wheels[0]))) as wheel:
        inside = wheel.namelist()
    assert "arcourse/grading/runner.py" in inside and not any("test_ex" in n for n in inside)
    assert "pip install" in setup and '"torch==2.13.0"' in setup and "download.pytorch.org/whl/cpu" in setup
    assert subprocess.run(["bash", "-n"], input=setup, text=True).returncode == 0


def test_an_unknown_exercise_is_refused(tmp_path, capsys):
    assert cli.main(["gradescope", "ex98", "-o", str(tmp_path / "x.zip"), "--checks", str(CHECKS)]) == 2
    assert "no checks for exercise 'ex98'" in capsys.readouterr().err


def _start(autograder, root, name, text):
    """Unpack the zip into `root`/source, submit `text` as `name`, start run_autograder."""
    with zipfile.ZipFile(autograder) as zf:
        zf.extractall(root / "source")
    (root / "submission").mkdir(parents=True)
    (root / "submission" / name).write_text(text)
    env = {**os.environ, "ARCOURSE_AUTOGRADER_ROOT": str(root), "ARCOURSE_PYTHON": sys.executable}
    env.pop("ARCOURSE_CHECKS", None)
    return subprocess.Popen(["bash", str(root / "source" / "run_autograder")], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def _results(process, root):
    _, err = process.communicate(timeout=300)
    assert process.returncode == 0, err
    return json.loads((root / "results" / "results.json").read_text())


def test_run_autograder_grades_a_solution_and_a_stub(autograder, tmp_path):
    # both at once: each is a cold start (imports, sandbox), as on Gradescope
    runs = [_start(autograder, tmp_path / "a", "my_notebook.py", SOLUTION.read_text()),
            _start(autograder, tmp_path / "b", "ex99_toy.py", make_exercise(SOLUTION.read_text()))]
    full, stub = _results(runs[0], tmp_path / "a"), _results(runs[1], tmp_path / "b")
    assert full["score"] == 10 and all(t["status"] == "passed" for t in full["tests"])
    assert stub["score"] == 0 and len(stub["tests"]) == 7
    assert all(t["output"].startswith("not implemented yet") for t in stub["tests"])


def test_a_missing_submission_gets_results_that_say_so(tmp_path):
    (tmp_path / "submission").mkdir()
    (tmp_path / "submission" / "notes.txt").write_text("no notebook here")
    run_autograder(tmp_path, "ex99", checks=CHECKS)
    results = json.loads((tmp_path / "results" / "results.json").read_text())
    assert results["score"] == 0 and results["tests"] == []
    assert "no .py or .ipynb file was submitted" in results["output"]


def test_several_files_are_narrowed_to_the_exercise(tmp_path):
    (tmp_path / "submission").mkdir()
    (tmp_path / "submission" / "helper.py").write_text("x = 1\n")
    (tmp_path / "submission" / "ex99_mine.py").write_text(SOLUTION.read_text())
    assert run_autograder(tmp_path, "ex99", checks=CHECKS)["score"] == 10
