"""`arcourse gradescope`: the zip has Gradescope's layout, and its run_autograder, unpacked
into a temporary autograder root, grades a solution and a stub into results/results.json."""
from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from arcourse import cli
from arcourse.cli.build import make_exercise
from arcourse.grading.gradescope import LatePolicy, apply_late_policy, run_autograder
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


# ---------------------------------------------------------------- late policy, installed arcourse, a real install

ROOT = Path(__file__).resolve().parents[1]
DUE = {"assignment": {"due_date": "2026-03-01T23:59:00+00:00", "late_due_date": "2026-03-04T23:59:00+00:00"}}


def _late(created: str, policy: LatePolicy) -> dict:
    return apply_late_policy({"score": 10.0, "output": "report"}, {**DUE, "created_at": created}, policy)


def test_late_submissions_are_flagged_and_the_policy_applied():
    on_time = _late("2026-03-01T20:00:00+00:00", LatePolicy("penalty", 0.1))
    assert on_time == {"score": 10.0, "output": "report"}
    flagged = _late("2026-03-02T10:00:00+00:00", LatePolicy())
    assert flagged["score"] == 10.0 and flagged["output"].startswith("Late: submitted 1 day after")
    assert _late("2026-03-03T10:00:00+00:00", LatePolicy("penalty", 0.1))["score"] == 8.0       # 2 started days
    assert _late("2026-03-20T10:00:00+00:00", LatePolicy("penalty", 0.25))["score"] == 0.0      # never below 0
    assert _late("2026-03-03T10:00:00+00:00", LatePolicy("zero"))["score"] == 10.0               # before the late due date
    zero = _late("2026-03-05T10:00:00+00:00", LatePolicy("zero"))
    assert zero["score"] == 0.0 and "after the late due date" in zero["output"]
    with pytest.raises(ValueError, match="none, penalty or zero"):
        LatePolicy("half")


def test_run_autograder_reads_submission_metadata(tmp_path):
    with zipfile.ZipFile(_toy_zip(tmp_path, "--late-policy", "penalty", "--late-penalty", "0.5")) as zf:
        zf.extractall(tmp_path / "source")
    (tmp_path / "submission").mkdir()
    (tmp_path / "submission" / "ex99_mine.py").write_text(SOLUTION.read_text())
    (tmp_path / "submission_metadata.json").write_text(json.dumps({**DUE, "created_at": "2026-03-02T08:00:00Z"}))
    results = run_autograder(tmp_path, "ex99", checks=tmp_path / "source" / "checks")
    assert results["score"] == 5.0 and results["output"].startswith("Late: submitted 1 day")


def _toy_zip(tmp_path, *options):
    out = tmp_path / "toy.zip"
    assert cli.main(["gradescope", "ex99", "-o", str(out), "--checks", str(CHECKS), *options]) == 0
    return out


def test_the_zip_builds_from_an_installed_arcourse_without_pyproject(tmp_path):
    """A pip-installed arcourse has no pyproject.toml next to it: the zip must not need one."""
    site = tmp_path / "site-packages"
    shutil.copytree(ROOT / "arcourse", site / "arcourse", ignore=shutil.ignore_patterns("__pycache__"))
    out = tmp_path / "ex02.zip"
    code = ("import sys; from arcourse.grading.gradescope import build_autograder; "
            "build_autograder('ex02', sys.argv[1], hidden=sys.argv[2])")
    env = {**os.environ, "PYTHONPATH": str(site)}
    done = subprocess.run([sys.executable, "-c", code, str(out), str(ROOT / "grading" / "hidden")], cwd=tmp_path,
                          env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    with zipfile.ZipFile(out) as zf:
        names = set(zf.namelist())
        config = json.loads(zf.read("config.json"))
    assert {"checks/test_ex02.py", "hidden/test_ex02.py", "config.json"} <= names
    assert any(n.startswith("wheels/arcourse-") for n in names) and "pyproject.toml" not in names
    assert config["hidden_visibility"] == "after_published" and config["late_policy"]["kind"] == "none"


def _wheelhouses() -> list[str]:
    """Folders of wheels on this machine (ARCOURSE_WHEELHOUSE, else the machine's local
    package folders), when one of them holds torch 2.13.0."""
    listed = os.environ.get("ARCOURSE_WHEELHOUSE")
    folders = listed.split(os.pathsep) if listed else ["/opt/wheels", "/opt/pypi/files"]
    folders = [f for f in folders if Path(f).is_dir()]
    if not any(Path(f).glob("torch-2.13.0*.whl") for f in folders):
        return []
    return folders


@pytest.mark.slow
def test_setup_sh_installs_into_a_fresh_venv_from_local_wheels_and_grades(tmp_path):
    """Gradescope's whole path: unpack, setup.sh into a new venv (no index but local wheels),
    run_autograder on the solution (full marks, hidden checks included) and the stub (0)."""
    houses = _wheelhouses()
    if not houses:
        pytest.skip("no local folder of wheels with torch 2.13.0 (set ARCOURSE_WHEELHOUSE)")
    zip_path = tmp_path / "ex02.zip"
    assert cli.main(["gradescope", "ex02", "-o", str(zip_path)]) == 0
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    python = venv / "bin" / "python"
    roots = {}
    for name, text in (("full", (ROOT / "solutions" / "ex02_information.py").read_text()),
                       ("stub", (ROOT / "exercises" / "ex02_information.py").read_text())):
        root = tmp_path / name
        with zipfile.ZipFile(zip_path) as zf:
            zf.extractall(root / "source")
        (root / "submission").mkdir()
        (root / "submission" / "ex02_information.py").write_text(text)
        roots[name] = root
    options = " ".join(["--no-index", *(f"--find-links {h}" for h in houses)])
    env = {**os.environ, "ARCOURSE_PYTHON": str(python), "ARCOURSE_PIP_OPTIONS": options,
           "PIP_CONFIG_FILE": os.devnull}
    for name in ("PYTHONPATH", "ARCOURSE_CHECKS", "ARCOURSE_HIDDEN", "PIP_FIND_LINKS"):
        env.pop(name, None)
    setup = subprocess.run(["bash", str(roots["full"] / "source" / "setup.sh")], env=env, capture_output=True,
                           text=True, timeout=1200)
    assert setup.returncode == 0, setup.stderr[-3000:]
    version = subprocess.run([str(python), "-c", "import torch, arcourse; print(torch.__version__, arcourse.__file__)"],
                             capture_output=True, text=True, env=env, cwd=tmp_path)
    assert version.stdout.startswith("2.13.0") and "+cpu" in version.stdout.split()[0], version
    assert str(venv) in version.stdout                              # the wheel's arcourse, not this checkout's
    runs = {name: subprocess.Popen(["bash", str(root / "source" / "run_autograder")],
                                   env={**env, "ARCOURSE_AUTOGRADER_ROOT": str(root)}, stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, text=True) for name, root in roots.items()}
    results = {name: _results(process, roots[name]) for name, process in runs.items()}
    full, stub = results["full"], results["stub"]
    code = [t for t in full["tests"] if "written" not in t.get("tags", ())]   # written answers await a TA
    most = sum(t["max_score"] for t in code)
    assert full["score"] == most > 0, [t for t in code if t["status"] != "passed"]
    assert {t["name"] for t in full["tests"] if "written" in t.get("tags", ())} == \
        {"ce_decomposition (written answer)", "tokenisation (written answer)", "plugin_bias (written answer)"}
    assert any(t["visibility"] == "after_published" for t in full["tests"])
    assert stub["score"] == 0 and len(stub["tests"]) == len(full["tests"])
