"""Gradescope: package an exercise's autograder, and the entry point Gradescope runs.

`build_autograder(exercise, "ex03_autograder.zip")` writes the zip Gradescope expects:
    setup.sh, run_autograder    at its root (executable)
    wheels/arcourse-*.whl       the arcourse package without any checks, built here, so the
                                zip is the same from a checkout and from an installed
                                (non-editable) arcourse
    checks/test_exNN.py         the exercise's public checks
    hidden/test_exNN.py         its hidden checks (hidden.py), when there are any
    config.json                 the exercise, the visibility of hidden checks, the late
                                policy and the written questions (points)
Never the solutions. Gradescope unpacks it into /autograder/source and runs setup.sh once
(as root) to build its image: it installs torch==2.13.0, CPU build, then the wheel. For
each submission it runs run_autograder, which grades the file in /autograder/submission/
and writes /autograder/results/results.json. `submission_metadata.json` is read for the
due dates: a late submission is flagged and the late policy applied (`LatePolicy`).

`ARCOURSE_AUTOGRADER_ROOT` replaces /autograder (a test unpacks the zip into a temporary
root), `ARCOURSE_PYTHON` the interpreter, and `ARCOURSE_PIP_OPTIONS` the package index
options of setup.sh (`--no-index --find-links DIR` installs from local wheels only).
"""
from __future__ import annotations

import argparse
import base64
import hashlib
import io
import json
import math
import sys
import time
import zipfile
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path

from arcourse.grading.hidden import hidden_file, manifest
from arcourse.grading.report import gradescope_error, gradescope_results, write_json
from arcourse.grading.runner import checks_for, grade
from arcourse.grading.sandbox import GraderError
from arcourse.grading.submission import SubmissionError

_PACKAGE = Path(__file__).resolve().parents[1]       # .../arcourse
TORCH = "torch==2.13.0"
TORCH_CPU_INDEX = "https://download.pytorch.org/whl/cpu"
GRADING_REQUIRES = ("numpy>=1.24", TORCH, "tqdm>=4.65", "pytest>=8", "hypothesis>=6.100")
VISIBILITIES = ("hidden", "after_due_date", "after_published", "visible")

SETUP_SH = """#!/usr/bin/env bash
# Gradescope runs this once, as root, when it builds the autograder image.
set -euo pipefail
SOURCE="$(cd "$(dirname "${{BASH_SOURCE[0]}}")" && pwd)"
PYTHON="${{ARCOURSE_PYTHON:-python3}}"
if ! command -v "$PYTHON" >/dev/null || ! "$PYTHON" -m pip --version >/dev/null 2>&1; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3 python3-pip
fi
export PIP_BREAK_SYSTEM_PACKAGES=1     # newer Ubuntu images mark the system Python as externally managed
# ARCOURSE_PIP_OPTIONS replaces the package indexes (a test installs from local wheels only)
read -r -a TORCH_INDEX <<< "${{ARCOURSE_PIP_OPTIONS:---index-url {cpu_index}}}"
read -r -a INDEX <<< "${{ARCOURSE_PIP_OPTIONS:-}}"
# torch first and pinned, the CPU build: enough for grading, and a fraction of the CUDA one
"$PYTHON" -m pip install --no-cache-dir "${{TORCH_INDEX[@]}}" "{torch}"
"$PYTHON" -m pip install --no-cache-dir ${{INDEX[@]+"${{INDEX[@]}}"}} "$SOURCE"/wheels/arcourse-*.whl
# bubblewrap sandboxes each submission where the container allows user namespaces; where it
# does not, the grader (root here) runs student code as uid 65534 instead, so what that uid
# can reach must not hold the checks or the results
command -v bwrap >/dev/null \
    || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq bubblewrap libseccomp2 \
    || {{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq bubblewrap libseccomp2; }} \
    || echo "setup.sh: bubblewrap could not be installed; student code will run as uid 65534 without a sandbox"
chmod -R go-rwx "$SOURCE"/checks "$SOURCE"/hidden 2>/dev/null || true
RESULTS="${{ARCOURSE_AUTOGRADER_ROOT:-/autograder}}/results"
mkdir -p "$RESULTS" && chmod 755 "$RESULTS"
"""

RUN_AUTOGRADER = """#!/usr/bin/env bash
# Gradescope runs this for every submission: grade what is in $ROOT/submission/ and
# write $ROOT/results/results.json (ROOT is /autograder unless ARCOURSE_AUTOGRADER_ROOT is set).
ROOT="${{ARCOURSE_AUTOGRADER_ROOT:-/autograder}}"
PYTHON="${{ARCOURSE_PYTHON:-python3}}"
cd "$ROOT/source" && exec "$PYTHON" -m arcourse.grading.gradescope --root "$ROOT" --exercise {exercise} \
    --checks "$ROOT/source/checks"
"""


@dataclass(frozen=True)
class LatePolicy:
    """What a late submission costs.

    kind: "none" (flagged only), "penalty" (`per_day` of the score per started day after
        the due date, never below 0), or "zero" (0 after the late due date; before it, as
        "none").
    """
    kind: str = "none"
    per_day: float = 0.1

    def __post_init__(self):
        if self.kind not in ("none", "penalty", "zero"):
            raise ValueError(f"late policy must be none, penalty or zero, got {self.kind!r}")
        if not 0 <= self.per_day <= 1:
            raise ValueError(f"late penalty per day must be in [0, 1], got {self.per_day!r}")


def _stamp(text) -> datetime | None:
    if not isinstance(text, str) or not text:
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


def apply_late_policy(results: dict, metadata: dict, policy: LatePolicy) -> dict:
    """Flag a late submission in `results` and apply `policy` (see LatePolicy)."""
    assignment = metadata.get("assignment") if isinstance(metadata.get("assignment"), dict) else {}
    created, due = _stamp(metadata.get("created_at")), _stamp(assignment.get("due_date"))
    late_due = _stamp(assignment.get("late_due_date"))
    if created is None or due is None or created <= due:
        return results
    days = math.ceil((created - due).total_seconds() / 86400)
    note = f"Late: submitted {days} day{'s' if days != 1 else ''} after the due date."
    score = results["score"]
    if policy.kind == "penalty":
        factor = max(0.0, 1 - policy.per_day * days)
        results["score"] = round(score * factor, 6)
        note += f" Late policy: {policy.per_day:.0%} off per day, {score:g} -> {results['score']:g} points."
    elif policy.kind == "zero" and late_due is not None and created > late_due:
        results["score"] = 0.0
        note += f" It came after the late due date too: 0 points (it would have earned {score:g})."
    results["output"] = note + "\n\n" + results.get("output", "")
    return results


def _wheel_files() -> list[tuple[str, bytes]]:
    """(name in the wheel, content) of the arcourse package without check files (the zip
    carries the one exercise's checks next to the wheel)."""
    out = []
    for path in sorted(_PACKAGE.rglob("*")):
        relative = path.relative_to(_PACKAGE.parent)
        if not path.is_file() or "__pycache__" in path.parts or path.suffix in {".pyc", ".pyo"}:
            continue
        if relative.parts[:3] == ("arcourse", "grading", "checks") and path.name.startswith("test_"):
            continue
        out.append((relative.as_posix(), path.read_bytes()))
    return out


def _version() -> str:
    import arcourse

    return getattr(arcourse, "__version__", "0.0.0")


def build_wheel() -> tuple[str, bytes]:
    """A pure-Python wheel of the package for grading (file name, bytes): written
    here rather than by a build backend, so it needs no pyproject.toml (an installed
    arcourse has none) and the same package always gives the same wheel."""
    version = _version()
    info = f"arcourse-{version}.dist-info"
    metadata = "\n".join(["Metadata-Version: 2.1", "Name: arcourse", f"Version: {version}",
                          "Summary: arcourse, packaged to grade one exercise on Gradescope",
                          *(f"Requires-Dist: {r}" for r in GRADING_REQUIRES)]) + "\n"
    files = _wheel_files() + [
        (f"{info}/METADATA", metadata.encode()),
        (f"{info}/WHEEL", b"Wheel-Version: 1.0\nGenerator: arcourse\nRoot-Is-Purelib: true\nTag: py3-none-any\n"),
        (f"{info}/top_level.txt", b"arcourse\n")]
    record = io.StringIO()
    for name, data in files:
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record.write(f"{name},sha256={digest},{len(data)}\n")
    record.write(f"{info}/RECORD,,\n")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in files + [(f"{info}/RECORD", record.getvalue().encode())]:
            zf.writestr(zipfile.ZipInfo(name, date_time=(2024, 1, 1, 0, 0, 0)), data)
    return f"arcourse-{version}-py3-none-any.whl", buffer.getvalue()


def build_autograder(exercise: str, output: str | Path, checks: str | Path | None = None, *,
                     hidden: str | Path | bool | None = None, hidden_visibility: str = "after_published",
                     late_policy: LatePolicy | None = None) -> Path:
    """Write Gradescope's autograder zip for `exercise` to `output` (see the module docstring)."""
    if hidden_visibility not in VISIBILITIES:
        raise ValueError(f"hidden_visibility must be one of {', '.join(VISIBILITIES)}, got {hidden_visibility!r}")
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    check_file = checks_for(exercise, checks)
    wheel_name, wheel = build_wheel()
    hidden_path = hidden_file(exercise, hidden)
    config = {"exercise": exercise, "hidden_visibility": hidden_visibility,
              "late_policy": asdict(late_policy or LatePolicy()), "written": manifest("written", exercise)}
    with zipfile.ZipFile(output, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, text in (("setup.sh", SETUP_SH.format(torch=TORCH, cpu_index=TORCH_CPU_INDEX)),
                           ("run_autograder", RUN_AUTOGRADER.format(exercise=exercise))):
            info = zipfile.ZipInfo(name, date_time=(2024, 1, 1, 0, 0, 0))
            info.external_attr = 0o100755 << 16          # executable, as Gradescope needs
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, text)
        zf.writestr(f"wheels/{wheel_name}", wheel)
        zf.write(check_file, f"checks/{check_file.name}")
        if (check_file.parent / "conftest.py").is_file():
            zf.write(check_file.parent / "conftest.py", "checks/conftest.py")
        zf.writestr("config.json", json.dumps(config, indent=1) + "\n")
        if hidden_path is not None:
            zf.write(hidden_path, f"hidden/{hidden_path.name}")
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


def _written_entries(submission: Path, written: dict[str, float]) -> list[dict]:
    """Gradescope test entries for the written questions: pending manual grading."""
    from arcourse.grading.written import answers_in

    try:
        answers = answers_in(submission)
    except SubmissionError:
        answers = {}
    return [{"name": f"{name} (written answer)", "score": 0.0, "max_score": float(worth), "status": "failed",
             "output": "Pending manual grading: a person marks this answer.\n\n" + (answers.get(name) or "(no answer)"),
             "output_format": "text", "visibility": "visible", "tags": ["written", "pending manual grading"]}
            for name, worth in written.items()]


def run_autograder(root: str | Path, exercise: str, checks: str | Path | None = None) -> dict:
    """Grade the submission under `root`/submission and write `root`/results/results.json,
    with the settings of `root`/source/config.json when there is one."""
    root = Path(root)
    start = time.perf_counter()
    try:
        config = json.loads((root / "source" / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        config = {}
    source_hidden = root / "source" / "hidden"
    try:
        submission = _find_submission(root / "submission", exercise)
        result = grade(submission, exercise=exercise, checks=checks, forbid=[root / "results", root / "source"],
                       hidden=source_hidden if source_hidden.is_dir() else None)
        results = gradescope_results(result, config.get("hidden_visibility", "after_published"))
        results["tests"] += _written_entries(submission, config.get("written", {}))
        try:
            metadata = json.loads((root / "submission_metadata.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            metadata = {}
        if isinstance(metadata, dict):
            results = apply_late_policy(results, metadata, LatePolicy(**config.get("late_policy", {})))
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
    parser.add_argument("--checks", type=Path, help="the folder of the exercise's public checks")
    args = parser.parse_args(argv)
    try:
        results = run_autograder(args.root, args.exercise, args.checks)
    except GraderError as err:
        print(f"autograder: {err}", file=sys.stderr)
        return 1
    print(f"{args.exercise}: {results['score']:g} points; results in {args.root / 'results' / 'results.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
