"""`arcourse release`: the student edition holds lectures, exercise stubs and public checks,
and no solution, hidden check or instructor script; inside it the build and the self-check
work without solutions/."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from arcourse import cli
from arcourse.cli.build import BEGIN, END, BuildError
from arcourse.grading.written import declared_in
from arcourse.release import release

ROOT = Path(__file__).resolve().parents[1]
CHOSEN = ["ex02", "ex04"]


def _region_lines(text: str) -> set[str]:
    """Distinctive lines inside solution regions (long enough not to occur by chance)."""
    out, inside = set(), False
    for line in text.splitlines():
        marker = line.strip().removeprefix("# ")
        if marker == BEGIN:
            inside = True
        elif marker == END:
            inside = False
        elif inside and len(line.strip()) > 30 and not line.strip().startswith(("# HINT", "#HINT")):
            out.add(line.strip())
    return out


@pytest.fixture(scope="module")
def edition(tmp_path_factory):
    out = tmp_path_factory.mktemp("release") / "course"
    assert cli.main(["release", *CHOSEN, "-o", str(out), "--root", str(ROOT)]) == 0
    return out


def _texts(folder: Path):
    for path in folder.rglob("*"):
        if path.is_file() and path.suffix in {".py", ".ipynb", ".md", ".json", ".toml", ".txt", ".yml"}:
            yield path, path.read_text(encoding="utf-8")


def test_the_edition_has_what_students_need_and_nothing_else(edition):
    top = {p.name for p in edition.iterdir()}
    assert {"lectures", "exercises", "arcourse", "course.py", "pyproject.toml", "README.md"} <= top
    assert not {"solutions", "grading", "tests", "bench", "scripts", ".ci", "conftest.py"} & top
    assert sorted(p.name for p in (edition / "exercises").iterdir()) == [
        "ex02_information.ipynb", "ex02_information.py", "ex04_pixelcnn.ipynb", "ex04_pixelcnn.py"]
    lectures = sorted(p.name for p in (edition / "lectures").glob("*.py"))
    assert lectures == sorted(p.name for p in (ROOT / "lectures").glob("*.py"))
    assert all((edition / "lectures" / f"{Path(n).stem}.ipynb").is_file() for n in lectures)
    checks = sorted(p.name for p in (edition / "arcourse" / "grading" / "checks").glob("test_*.py"))
    assert checks == ["test_ex02.py", "test_ex04.py"]
    manifest = json.loads((edition / "arcourse" / "grading" / "checks" / "manifest.json").read_text())
    written = {e: w for e in CHOSEN if (w := declared_in(next((ROOT / "solutions").glob(f"{e}_*.py")).read_text()))}
    assert sorted(manifest["hidden"]) == CHOSEN and manifest["written"] == written
    assert manifest["written"]["ex02"] == {"ce_decomposition": 2.0, "tokenisation": 2.0, "plugin_bias": 2.0}
    assert manifest["written"]["ex04"] == {"mask_types": 2.0, "blind_spot": 3.0}
    readme = (edition / "README.md").read_text()
    assert "python3 course.py lab" in readme and "arcourse grade exercises/" in readme and "hidden" in readme


def test_no_solution_region_and_no_hidden_check_is_in_the_edition(edition):
    secrets = set()
    for solution in (ROOT / "solutions").glob("ex*.py"):
        secrets |= _region_lines(solution.read_text(encoding="utf-8"))
    public = [*(ROOT / "lectures").glob("*.py"), *(p for p in (ROOT / "arcourse").rglob("*.py") if "checks" not in p.parts)]
    shown = "".join(p.read_text(encoding="utf-8") for p in public)
    secrets = {s for s in secrets if s not in shown}         # a line the lectures or the library show is no secret
    hidden = set()
    for check in (ROOT / "grading" / "hidden").glob("test_ex*.py"):
        hidden |= {line.strip() for line in check.read_text().splitlines() if line.strip().startswith("def test_")}
    assert len(secrets) > 50 and len(hidden) >= 8           # the search looks for something real
    for path, text in _texts(edition):
        leaked = [s for s in secrets | hidden if s in text or json.dumps(s)[1:-1] in text]
        assert not leaked, f"{path.relative_to(edition)} holds {leaked[:3]}"


def test_release_refuses_unknown_exercises_and_the_course_folder(tmp_path):
    with pytest.raises(BuildError, match="no exercise 'ex42'"):
        release(ROOT, tmp_path / "out", ["ex42"])
    with pytest.raises(BuildError, match="course folder itself"):
        release(ROOT, ROOT)
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "notes.txt").write_text("mine")
    with pytest.raises(BuildError, match="not an earlier release"):
        release(ROOT, tmp_path / "busy")


def _run(edition: Path, *args: str) -> subprocess.CompletedProcess:
    """The edition's own arcourse (not this checkout's), as a student who installed it runs it."""
    env = {**os.environ, "PYTHONPATH": str(edition), "OMP_NUM_THREADS": "1"}
    for name in ("ARCOURSE_CHECKS", "ARCOURSE_HIDDEN"):
        env.pop(name, None)
    return subprocess.run([sys.executable, "-m", "arcourse.cli", *args], cwd=edition, env=env, text=True,
                          capture_output=True, timeout=600)


def test_build_and_self_check_work_inside_the_edition(edition):
    before = {p: p.read_bytes() for p in (edition / "exercises").iterdir()}
    built = _run(edition, "build")
    assert built.returncode == 0, built.stderr
    assert "already up to date" in built.stdout
    assert {p: p.read_bytes() for p in (edition / "exercises").iterdir()} == before     # left alone
    (edition / "lectures" / "02_information.ipynb").unlink()
    assert _run(edition, "build").returncode == 0 and (edition / "lectures" / "02_information.ipynb").is_file()
    check = _run(edition, "grade", "exercises/ex02_information.py")
    assert check.returncode == 0, check.stderr
    assert "ex02_information.py (exercise ex02): 0 /" in check.stdout
    assert "not implemented yet" in check.stdout and "(hidden check)" not in check.stdout
    assert "Hidden checks (not in this self-check; they count only at grading)" in check.stdout
    assert "logsumexp: 1 hidden check, 1 point" in check.stdout
    usage = subprocess.run([sys.executable, "course.py"], cwd=edition, capture_output=True, text=True)
    assert usage.returncode == 2 and "course.py lab" in usage.stdout
