"""Gradescope: package an exercise's autograder, and the entry point Gradescope runs.

`build_autograder(exercise, "ex03_autograder.zip")` writes the zip Gradescope expects:
`setup.sh` and `run_autograder` at its root, next to a copy of the `arcourse` package with
only this exercise's checks (never the solutions). Gradescope unpacks it into
/autograder/source, runs setup.sh once to build its image, then for each submission runs
run_autograder, which grades the file in /autograder/submission/ and writes
/autograder/results/results.json. `ARCOURSE_AUTOGRADER_ROOT` replaces /autograder (a test
unpacks the zip into a temporary root) and `ARCOURSE_PYTHON` the interpreter.
"""
from __future__ import annotations

import argparse
import sys
import time
import zipfile
from pathlib import Path

from arcourse.grading.report import gradescope_error, gradescope_results, write_json
from arcourse.grading.runner import checks_for, grade
from arcourse.grading.sandbox import GraderError
from arcourse.grading.submission import SubmissionError

_PACKAGE = Path(__file__).resolve().parents[1]       # .../arcourse

SETUP_SH = """#!/usr/bin/env bash
# Gradescope runs this once, as root, when it builds the autograder image.
set -euo pipefail
cd /autograder/source
if ! command -v python3 >/dev/null || ! python3 -m pip --version >/dev/null 2>&1; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3 python3-pip
fi
export PIP_BREAK_SYSTEM_PACKAGES=1     # newer Ubuntu images mark the system Python as externally managed
# the CPU build of torch is enough for grading and much smaller than the CUDA one
python3 -m pip install --no-cache-dir torch --index-url https://download.pytorch.org/whl/cpu
python3 -m pip install --no-cache-dir /autograder/source
# bubblewrap sandboxes each submission where the container allows user namespaces; where it
# does not, the grader (root here) runs student code as uid 65534 instead, so what that uid
# can reach must not hold the checks or the results
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq bubblewrap libseccomp2 \
    || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq bubblewrap libseccomp2; } \
    || echo "setup.sh: bubblewrap could not be installed; student code will run as uid 65534 without a sandbox"
chmod -R go-rwx /autograder/source/arcourse/grading/checks
mkdir -p /autograder/results && chmod 755 /autograder/results
"""

RUN_AUTOGRADER = """#!/usr/bin/env bash
# Gradescope runs this for every submission: grade what is in $ROOT/submission/ and
# write $ROOT/results/results.json (ROOT is /autograder unless ARCOURSE_AUTOGRADER_ROOT is set).
ROOT="${{ARCOURSE_AUTOGRADER_ROOT:-/autograder}}"
PYTHON="${{ARCOURSE_PYTHON:-python3}}"
export PYTHONPATH="$ROOT/source${{PYTHONPATH:+:$PYTHONPATH}}"
cd "$ROOT/source" && exec "$PYTHON" -m arcourse.grading.gradescope --root "$ROOT" --exercise {exercise}
"""

PYPROJECT_FILES = ("pyproject.toml", "README.md")


def _package_files(exercise: str, checks: Path):
    """(name in the zip, file on disk) for the arcourse package with only `exercise`'s checks."""
    check_file = checks_for(exercise, checks)
    for path in sorted(_PACKAGE.rglob("*")):
        relative = path.relative_to(_PACKAGE.parent)
        if not path.is_file() or "__pycache__" in path.parts or path.suffix in {".pyc", ".pyo"}:
            continue
        if relative.parts[:3] == ("arcourse", "grading", "checks") and path.name != "conftest.py":
            continue      # other exercises' checks stay out; this one's comes from `checks`
        yield relative.as_posix(), path
    yield f"arcourse/grading/checks/{check_file.name}", check_file
    for name in PYPROJECT_FILES:
        if (_PACKAGE.parent / name).is_file():
            yield name, _PACKAGE.parent / name


def build_autograder(exercise: str, output: str | Path, checks: str | Path | None = None) -> Path:
    """Write Gradescope's autograder zip for `exercise` to `output` (see the module docstring)."""
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    files = list(_package_files(exercise, checks))
    with zipfile.ZipFile(output, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, text in (("setup.sh", SETUP_SH), ("run_autograder", RUN_AUTOGRADER.format(exercise=exercise))):
            info = zipfile.ZipInfo(name, date_time=(2024, 1, 1, 0, 0, 0))
            info.external_attr = 0o100755 << 16          # executable, as Gradescope needs
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, text)
        for name, path in files:
            zf.write(path, name)
    return output


def _find_submission(folder: Path, exercise: str) -> Path:
    candidates = sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix in {".py", ".ipynb"}
                        and not any(part.startswith(".") for part in p.relative_to(folder).parts))
    if not candidates:
        raise SubmissionError(f"no .py or .ipynb file was submitted (expected the notebook of {exercise})")
    if len(candidates) > 1:
        named = [p for p in candidates if p.name.startswith(exercise)]
        notebooks = [p for p in candidates if p.suffix == ".ipynb"]
        candidates = named or notebooks or candidates
        if len(candidates) > 1:
            raise SubmissionError("several files were submitted (" + ", ".join(p.name for p in candidates)
                                  + f"); submit only the notebook of {exercise}")
    return candidates[0]


def run_autograder(root: str | Path, exercise: str, checks: str | Path | None = None) -> dict:
    """Grade the submission under `root`/submission and write `root`/results/results.json."""
    root = Path(root)
    start = time.perf_counter()
    try:
        submission = _find_submission(root / "submission", exercise)
        result = grade(submission, exercise=exercise, checks=checks, forbid=[root / "results"])
        results = gradescope_results(result)
    except SubmissionError as err:
        results = gradescope_error(f"This submission could not be graded: {err}", time.perf_counter() - start)
    except GraderError as err:
        results = gradescope_error(f"The autograder failed (not your fault; tell the staff): {err}",
                                   time.perf_counter() - start)
    write_json(results, root / "results" / "results.json")    # refuses a FIFO or a symlink there
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m arcourse.grading.gradescope", description=__doc__)
    parser.add_argument("--root", type=Path, default=Path("/autograder"))
    parser.add_argument("--exercise", required=True)
    args = parser.parse_args(argv)
    try:
        results = run_autograder(args.root, args.exercise)
    except GraderError as err:
        print(f"autograder: {err}", file=sys.stderr)
        return 1
    print(f"{args.exercise}: {results['score']:g} points; results in {args.root / 'results' / 'results.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
