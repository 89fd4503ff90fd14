"""Public and hidden checks.

Every question has public checks, shipped with the package in `arcourse/grading/checks/`
(the self-check runs them), and hidden checks, which only the instructor's grading and the
Gradescope zip run. Hidden checks live outside the package, in the course folder's
`grading/hidden/test_exNN.py`, so neither the wheel nor the student edition carries them.
A hidden file holds classes with the same `@question` names as the public file; points
add up per question over both.

The self-check cannot read the hidden checks, so it tells the student how many each
question has from `checks/manifest.json`, which `arcourse build` writes from the hidden
files (a test keeps it current). The manifest also lists each exercise's written
questions and their points (`written.py`), read from `solutions/`.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

HIDDEN_ENV = "ARCOURSE_HIDDEN"
MANIFEST = Path(__file__).parent / "checks" / "manifest.json"
_COURSE = Path(__file__).resolve().parents[2]        # the course folder of a checkout


def hidden_folder(hidden: str | Path | bool | None = None) -> Path | None:
    """The folder of hidden check files, or None (public checks only).

    `hidden` is a folder, False for none, or None for: $ARCOURSE_HIDDEN, else the
    checkout's `grading/hidden`, else `./grading/hidden`, else none.
    """
    if hidden is False:
        return None
    candidates = [hidden] if hidden not in (None, True) else [
        os.environ.get(HIDDEN_ENV), _COURSE / "grading" / "hidden", Path.cwd() / "grading" / "hidden"]
    for candidate in candidates:
        if candidate and Path(candidate).is_dir():
            return Path(candidate).resolve()
    if hidden not in (None, True):
        raise FileNotFoundError(f"the hidden checks folder {hidden} does not exist")
    return None


def hidden_file(exercise: str, hidden: str | Path | bool | None = None) -> Path | None:
    folder = hidden_folder(hidden)
    path = folder / f"test_{exercise}.py" if folder else None
    return path if path is not None and path.is_file() else None


def count_checks(path: Path) -> dict[str, dict[str, float]]:
    """{question: {"checks": n, "points": p}} of a check file, read without running it
    (a parametrized check counts once per case, as the grader scores it)."""
    from arcourse.grading.outline import Outline, read_checks

    outline = Outline(path.stem)
    read_checks(path, outline)
    return {q.name: {"checks": q.checks, "points": q.points} for q in outline.questions.values()}


def manifest_from(root: Path) -> dict:
    """What `checks/manifest.json` holds for the course folder `root`: the hidden checks of
    `grading/hidden/` and the written questions of `solutions/`."""
    from arcourse.grading.written import declared_in

    hidden = root / "grading" / "hidden"
    written = {}
    for solution in sorted((root / "solutions").glob("ex[0-9][0-9]_*.py")):
        questions = declared_in(solution.read_text(encoding="utf-8"))
        if questions:
            written[solution.stem.split("_", 1)[0]] = questions
    return {"hidden": {p.stem.removeprefix("test_"): count_checks(p) for p in sorted(hidden.glob("test_ex*.py"))},
            "written": written}


def write_manifest(root: Path, target: Path = MANIFEST) -> bool:
    """Write `target` for the course folder `root`; True when it changed."""
    text = json.dumps(manifest_from(root), indent=1, sort_keys=True) + "\n"
    if target.is_file() and target.read_text(encoding="utf-8") == text:
        return False
    target.write_text(text, encoding="utf-8")
    return True


def manifest(section: str, exercise: str) -> dict:
    """One exercise's entry of a section ("hidden" or "written") of the shipped manifest."""
    try:
        return json.loads(MANIFEST.read_text(encoding="utf-8")).get(section, {}).get(exercise, {})
    except (OSError, ValueError, AttributeError):
        return {}


def pending(exercise: str) -> dict[str, tuple[int, float]]:
    """{question: (hidden checks, their points)} from the shipped manifest."""
    return {q: (int(v["checks"]), float(v["points"])) for q, v in manifest("hidden", exercise).items()}
