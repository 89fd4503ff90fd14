#!/usr/bin/env python3
"""Set up the course on a fresh machine and open it, or run its tests.

    python3 course.py lab     # install into .venv (the [lab] extra), build the notebooks, open JupyterLab
    python3 course.py test    # install into .venv (the [test] extra: everything), build, run the whole suite

`test` with no arguments runs the suite as two pytest processes side by side where the machine
has two cores or more (the notebooks, browser and install tests in one, the rest in the other;
the second streams here, the first's output follows it); arguments go to one pytest as given.

Only the Python standard library is used here, so this runs with nothing but Python >= 3.10.
Both commands are idempotent: a second run skips what is already installed and built.

PyTorch: the default is `torch==2.13.0` from the package index (on Linux that wheel is a CUDA
build; see README for a CPU-only or a specific CUDA build). If .venv already holds a torch,
it is left alone, so a build you installed yourself is kept.
    ARCOURSE_TORCH        pip requirement for torch (default "torch==2.13.0")
    ARCOURSE_TORCH_INDEX  extra index URL for torch, e.g. https://download.pytorch.org/whl/cu126
"""
from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PY = BIN / ("python.exe" if os.name == "nt" else "python")
STAMP = VENV / ".arcourse-install"


def _run(*cmd: str | Path) -> None:
    print("+", " ".join(str(c) for c in cmd), flush=True)
    subprocess.run([str(c) for c in cmd], cwd=ROOT, check=True)


def _has_torch() -> bool:
    probe = subprocess.run([str(PY), "-c", "import torch"], capture_output=True)
    return probe.returncode == 0


def install(extras: str) -> None:
    """Create .venv and install torch plus the course (editable), once per pyproject change."""
    if sys.version_info < (3, 10):
        sys.exit(f"arcourse needs Python >= 3.10, this is {sys.version.split()[0]}")
    if not PY.exists():
        print(f"creating virtual environment {VENV}", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    want = hashlib.sha256((ROOT / "pyproject.toml").read_bytes() + extras.encode()).hexdigest()
    if STAMP.exists() and STAMP.read_text() == want and _has_torch():
        return
    pip = [PY, "-m", "pip", "install", "--disable-pip-version-check"]
    target = f".[{extras}]" if extras else "."
    if _has_torch():
        _run(*pip, "-e", target)
    else:
        # torch in the same command as the course, so pip never resolves a different build
        torch_req = os.environ.get("ARCOURSE_TORCH", "torch==2.13.0")
        index = os.environ.get("ARCOURSE_TORCH_INDEX")
        _run(*pip, torch_req, "-e", target, *(["--extra-index-url", index] if index else []))
    STAMP.write_text(want)


# The half of the suite that runs beside the rest: the lecture notebooks with the claims and
# site tests that read their outputs (they must run in one process, after the notebooks), the
# browser tests (one JupyterLab) and Gradescope's fresh environment. The install tests' fresh
# environments run in the rest, which is the shorter half since sandboxes fork from a template.
NOTEBOOK_HALF = ["lectures", "solutions", "tests/test_lecture_claims.py", "tests/test_site.py",
                 "tests/test_browser_decoding.py", "tests/test_browser_panels.py", "tests/test_slides.py",
                 "tests/test_grading_gradescope.py"]


def _cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def _test(rest: list[str]) -> int:
    pytest = [str(PY), "-m", "pytest"]
    if rest or _cores() < 2:
        return subprocess.run([*pytest, *rest], cwd=ROOT).returncode
    log = ROOT / "build" / "test-notebooks.log"
    log.parent.mkdir(exist_ok=True)
    ignore = [f"--ignore={path}" for path in NOTEBOOK_HALF if path.startswith("tests/")]
    with open(log, "w") as out:
        notebooks = subprocess.Popen([*pytest, *NOTEBOOK_HALF], cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)
        try:
            print(f"course.py: the notebook half of the suite runs beside this one; its output: {log}", flush=True)
            rest_code = subprocess.run([*pytest, "tests", *ignore], cwd=ROOT).returncode
            if notebooks.poll() is None:
                print("course.py: waiting for the notebook half ...", flush=True)
            notebooks_code = notebooks.wait()
        finally:
            if notebooks.poll() is None:
                notebooks.kill()
    print(f"\n{'=' * 30} the notebook half ({log}) {'=' * 30}", flush=True)
    sys.stdout.write(log.read_text(errors="replace"))
    for name, code in (("the rest", rest_code), ("the notebook half", notebooks_code)):
        print(f"course.py: {name}: {'passed' if code == 0 else f'FAILED (exit {code})'}")
    return rest_code or notebooks_code


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in {"lab", "test", "install"}:
        print(__doc__)
        return 2
    command, rest = argv[0], argv[1:]
    install("lab" if command == "lab" else "test")  # pyproject extras: [test] holds all the suite needs
    _run(BIN / "arcourse", "build")
    if command == "lab":
        _run(BIN / "jupyter", "lab", "--notebook-dir", ROOT, *rest)
    elif command == "test":
        return _test(rest)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except subprocess.CalledProcessError as err:
        sys.exit(f"course.py: step failed with exit code {err.returncode}: {' '.join(map(str, err.cmd))}")
    except KeyboardInterrupt:
        sys.exit(130)
