"""The student edition of the course: `arcourse release [exNN ...] -o DIR`.

DIR gets what a student needs and nothing an instructor keeps back:
    lectures/      the lecture sources and their built notebooks
    exercises/     the chosen exercises as stubs (.py and .ipynb), made afresh from solutions/
    arcourse/      the library, with the public checks of the chosen exercises only
    course.py, pyproject.toml, environment.yml, and a student README.md
No `solutions/`, no hidden checks (`grading/hidden/`), no tests, benchmarks or scripts.
Inside DIR, `python3 course.py lab` installs and opens the course, `arcourse build` builds
the lecture notebooks (it leaves the exercises alone: there are no solutions to make them
from), and `arcourse grade exercises/exNN_*.ipynb` is the self-check.
"""
from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

from arcourse.cli.build import MANIFEST, BuildError, BuildReport, _Writer, make_exercise, to_notebook_json

TOP_FILES = ("course.py", "pyproject.toml", "environment.yml", "LICENSE", ".gitignore")
_SKIP_PARTS = {"__pycache__", ".ipynb_checkpoints"}

STUDENT_README = """# {title} — student edition

Lectures and exercises of an open course on autoregressive generative models.

## Start

With Python >= 3.10:

```bash
python3 course.py lab
```

creates `.venv`, installs PyTorch and the course library, builds the notebooks and opens
JupyterLab. Lectures are in `lectures/`, your exercises in `exercises/`.

## Exercises

{exercises}

Work in `exercises/exNN_*.ipynb` (or the `.py`). Check yourself at any time:

```bash
.venv/bin/arcourse grade exercises/ex02_information.ipynb
```

This self-check runs the public checks and prints the points per question, what each check
tested and, on a failure, the input with the expected and the received value. Your
instructor grades with more checks (hidden ones, other inputs and edge cases); the
self-check says how many each question has. They count only at grading.

How grading reads your file: {rule} Some questions ask you to write a function the
library or PyTorch already has; calling that function there earns no points.

`arcourse build` rebuilds the lecture notebooks; it never overwrites a notebook you have
edited, and it leaves your exercises alone.
"""


def _exercise_name(stem: str) -> str:
    return stem.split("_", 1)[0]


def release(root: str | Path, output: str | Path, exercises: list[str] | None = None, *,
            force: bool = False) -> BuildReport:
    """Write the student edition of the course folder `root` to `output` (see the module
    docstring). `exercises` ("ex02", ...) chooses the exercises; all of them by default."""
    from arcourse.grading.hidden import MANIFEST as HIDDEN_MANIFEST   # its name; the file is root's
    from arcourse.grading.submission import RULE

    root, output = Path(root).resolve(), Path(output).resolve()
    if not (root / "solutions").is_dir() or not (root / "lectures").is_dir():
        raise BuildError(f"{root} is not an instructor's course folder (it needs lectures/ and solutions/)")
    if output == root:
        raise BuildError(f"the student edition cannot go into the course folder itself ({output})")
    if output.exists() and any(output.iterdir()) and not (output / MANIFEST).is_file() and not force:
        raise BuildError(f"{output} exists and is not an earlier release; choose an empty folder (or --force)")
    solutions = {_exercise_name(p.stem): p for p in sorted((root / "solutions").glob("ex[0-9][0-9]_*.py"))}
    chosen = exercises or sorted(solutions)
    for name in chosen:
        if not re.fullmatch(r"ex\d\d", name) or name not in solutions:
            raise BuildError(f"no exercise {name!r}; the course has {', '.join(sorted(solutions))}")
    output.mkdir(parents=True, exist_ok=True)
    report = BuildReport()
    writer = _Writer(output, force, report)
    for source in sorted((root / "lectures").glob("*.py")):
        text = source.read_text(encoding="utf-8")
        writer.write(output / "lectures" / source.name, text)
        writer.write(output / "lectures" / f"{source.stem}.ipynb", to_notebook_json(text, str(source)))
    for name in chosen:
        solution = solutions[name]
        text = make_exercise(solution.read_text(encoding="utf-8"), str(solution))
        writer.write(output / "exercises" / solution.name, text)
        writer.write(output / "exercises" / f"{solution.stem}.ipynb", to_notebook_json(text, str(solution)))
    package = root / "arcourse"
    checks = package / "grading" / "checks"
    for path in sorted(package.rglob("*")):
        relative = path.relative_to(root)
        if not path.is_file() or _SKIP_PARTS & set(relative.parts) or path.suffix in {".pyc", ".pyo"}:
            continue
        if path.parent == checks and path.name.startswith("test_ex") and path.stem.removeprefix("test_") not in chosen:
            continue
        if path == checks / HIDDEN_MANIFEST.name:
            sections = json.loads(path.read_text(encoding="utf-8"))
            kept = {name: {k: v for k, v in section.items() if k in chosen} for name, section in sections.items()}
            writer.write(output / relative, json.dumps(kept, indent=1, sort_keys=True) + "\n")
            continue
        target = output / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, target)
        report.written.append(target)
    for name in TOP_FILES:
        if (root / name).is_file():
            shutil.copy2(root / name, output / name)
            report.written.append(output / name)
    lines = []
    for name in chosen:
        stem = solutions[name].stem
        title = _first_heading(solutions[name].read_text(encoding="utf-8"), "# # ") or stem
        lines.append(f"- `exercises/{stem}.ipynb`: {title}")
    writer.write(output / "README.md", STUDENT_README.format(title=_first_heading((root / "README.md").read_text(
        encoding="utf-8"), "# ") or "arcourse", exercises="\n".join(lines), rule=RULE))
    writer.save()
    return report


def _first_heading(text: str, prefix: str) -> str:
    match = re.search(rf"^{re.escape(prefix)}(.+)$", text, re.M)
    return match.group(1).strip() if match else ""
