"""Build the course's notebooks from their Jupytext sources, and exercises from solutions.

Sources are percent-format `.py` files (readable diffs, no outputs). `arcourse build` makes
    lectures/NAME.py   -> lectures/NAME.ipynb
    solutions/NAME.py  -> solutions/NAME.ipynb
    solutions/NAME.py  -> exercises/NAME.py -> exercises/NAME.ipynb
where an exercise is its solution with every `### BEGIN SOLUTION` ... `### END SOLUTION`
region replaced by a stub that raises NotImplementedError (the nbgrader convention).

In a student edition (`arcourse release`) there is no `solutions/`: the build then makes the
lecture notebooks and leaves `exercises/` as they were released. In the instructor's course
folder it also refreshes what the self-check reports about grading it cannot see
(`arcourse/grading/checks/manifest.json`: counts of hidden checks, written questions).

Nothing a student wrote is lost: a generated file is replaced only while it still holds
what the build last wrote there (recorded in `.arcourse-build.json`). A file that was edited
since is kept, with a message, unless `force=True`, which first copies it to a backup.
"""
from __future__ import annotations

import hashlib
import json
import re
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

from arcourse._extras import require

BEGIN, END, HINT = "### BEGIN SOLUTION", "### END SOLUTION", "# HINT:"
MANIFEST = ".arcourse-build.json"
DEFAULT_HINT = "replace this line with your code"
_EXERCISE_NAME = re.compile(r"^ex\d\d_[a-z0-9_]+$")


class BuildError(ValueError):
    """A source file the build cannot turn into a notebook or an exercise."""


@dataclass
class BuildReport:
    written: list[Path] = field(default_factory=list)
    unchanged: list[Path] = field(default_factory=list)
    kept: list[Path] = field(default_factory=list)      # edited by someone: left alone
    backups: list[Path] = field(default_factory=list)   # edited, replaced under force


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def make_exercise(solution: str, source: str = "<solution>") -> str:
    """The student's version of a solution file: solution regions become stubs.

    A region's first `# HINT: ...` line becomes the NotImplementedError message. In a
    markdown cell (`# ### BEGIN SOLUTION`) the region becomes "YOUR ANSWER HERE".
    """
    out: list[str] = []
    start = None  # (line number, indent, is_markdown, hint)
    for number, line in enumerate(solution.splitlines(), start=1):
        stripped = line.strip()
        marker = stripped[2:].strip() if stripped.startswith("# ###") else stripped
        if marker == BEGIN:
            if start is not None:
                raise BuildError(f"{source}:{number}: '{BEGIN}' inside the region opened on line {start[0]}")
            start = (number, line[: len(line) - len(line.lstrip())], stripped.startswith("# ###"), None)
        elif marker == END:
            if start is None:
                raise BuildError(f"{source}:{number}: '{END}' without a '{BEGIN}' before it")
            _, indent, markdown, hint = start
            if markdown:
                out.append(f"{indent}# YOUR ANSWER HERE")
            else:
                out.append(f"{indent}# YOUR CODE HERE")
                out.append(f"{indent}raise NotImplementedError({(hint or DEFAULT_HINT)!r})")
            start = None
        elif start is not None:
            if stripped.startswith(HINT) and start[3] is None:
                start = (*start[:3], stripped[len(HINT):].strip())
        else:
            out.append(line)
    if start is not None:
        raise BuildError(f"{source}:{start[0]}: '{BEGIN}' is never closed by '{END}'")
    return "\n".join(out) + "\n"


def to_notebook_json(source: str, name: str = "<source>") -> str:
    """Convert percent-format Jupytext text to .ipynb JSON (no outputs)."""
    jupytext = require("jupytext", "lab", "arcourse build")  # imported here: only the build needs it
    nbformat = require("nbformat", "lab", "arcourse build")

    notebook = jupytext.reads(source, fmt="py:percent")
    if "kernelspec" not in notebook.metadata:
        raise BuildError(f"{name}: the Jupytext header has no kernelspec; nbval and JupyterLab need one")
    for number, cell in enumerate(notebook.cells):
        cell["id"] = f"cell-{number}"  # stable ids, so an unchanged source builds the same file
    return nbformat.writes(notebook) + "\n"


class _Writer:
    """Writes generated files, refusing to overwrite what someone edited unless forced."""

    def __init__(self, root: Path, force: bool, report: BuildReport):
        self.root, self.force, self.report = root, force, report
        self.path = root / MANIFEST
        self.manifest: dict[str, str] = json.loads(self.path.read_text()) if self.path.exists() else {}

    def write(self, target: Path, content: str) -> None:
        key = target.relative_to(self.root).as_posix()
        if target.exists():
            current = target.read_text(encoding="utf-8")
            if current == content:
                self.manifest[key] = _sha(content)
                self.report.unchanged.append(target)
                return
            if self.manifest.get(key) != _sha(current):
                if not self.force:
                    self.report.kept.append(target)
                    return
                backup = target.with_name(f"{target.name}.bak-{time.strftime('%Y%m%d-%H%M%S')}")
                shutil.copy2(target, backup)
                self.report.backups.append(backup)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(content, encoding="utf-8")
        self.manifest[key] = _sha(content)
        self.report.written.append(target)

    def save(self) -> None:
        self.path.write_text(json.dumps(self.manifest, indent=1, sort_keys=True) + "\n")


def exercise_sources(root: Path) -> dict[Path, str]:
    """What the build writes to exercises/NAME.py for each solutions/NAME.py."""
    out = {}
    for solution in sorted((root / "solutions").glob("*.py")):
        if not _EXERCISE_NAME.match(solution.stem):
            raise BuildError(f"{solution}: exercise files are named exNN_topic.py")
        out[root / "exercises" / solution.name] = make_exercise(solution.read_text(encoding="utf-8"), str(solution))
    return out


def build(root: str | Path = ".", *, force: bool = False) -> BuildReport:
    """Build every notebook and exercise under `root` (see the module docstring)."""
    root = Path(root).resolve()
    if not (root / "lectures").is_dir():
        raise BuildError(f"{root} is not a course folder (it needs lectures/, and solutions/ for the exercises)")
    instructor = (root / "solutions").is_dir()
    report = BuildReport()
    writer = _Writer(root, force, report)
    for folder in ("lectures", "solutions") if instructor else ("lectures",):
        for source in sorted((root / folder).glob("*.py")):
            writer.write(source.with_suffix(".ipynb"), to_notebook_json(source.read_text(encoding="utf-8"), str(source)))
    for target, text in (exercise_sources(root) if instructor else {}).items():
        writer.write(target, text)
        writer.write(target.with_suffix(".ipynb"), to_notebook_json(text, str(target)))
    writer.save()
    manifest = root / "arcourse" / "grading" / "checks" / "manifest.json"
    if instructor and manifest.parent.is_dir():
        from arcourse.grading.hidden import write_manifest

        if write_manifest(root, manifest):
            report.written.append(manifest)
    return report
