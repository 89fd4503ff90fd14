"""Reading a student's submission: which exercise it is, and its definitions.

Only the definitions are taken from a submission: imports, functions, classes and constant
assignments, cell by cell. Visible checks, training runs and plots are skipped, so grading
does not depend on a student's scratch cells, and a cell with a syntax error costs only the
functions defined in it.
"""
from __future__ import annotations

import ast
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

_NAME = re.compile(r"(ex\d\d)(?:_|\b|\.)")
_KEEP = (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)


class SubmissionError(ValueError):
    """The file cannot be graded: unreadable, unknown exercise, or not a notebook."""


@dataclass
class Submission:
    path: Path
    exercise: str            # "ex03"
    source: str              # the definitions to execute
    problems: list[str] = field(default_factory=list)  # cells skipped, and why


def _cells(path: Path) -> tuple[list[str], dict]:
    if path.suffix not in {".py", ".ipynb"}:
        raise SubmissionError(f"{path.name}: a submission is a Jupytext .py or an .ipynb notebook")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise SubmissionError(f"{path.name}: cannot read the file ({err})") from None
    try:
        import jupytext

        notebook = jupytext.reads(text, fmt="ipynb" if path.suffix == ".ipynb" else "py:percent")
    except (json.JSONDecodeError, ValueError, KeyError, TypeError, AttributeError) as err:
        raise SubmissionError(f"{path.name}: not a readable notebook ({type(err).__name__}: {err})") from None
    cells = [c.source for c in notebook.cells if c.cell_type == "code"]
    return cells, dict(notebook.metadata)


def exercise_of(path: Path, metadata: dict) -> str:
    """The exercise id, from the notebook header (`arcourse: exercise: exNN`) or the file name."""
    header = (metadata.get("arcourse") or {}).get("exercise") if isinstance(metadata.get("arcourse"), dict) else None
    if isinstance(header, str) and re.fullmatch(r"ex\d\d", header):
        return header
    match = _NAME.match(path.name)
    if match:
        return match.group(1)
    raise SubmissionError(f"{path.name}: cannot tell which exercise this is; name it exNN_*.py/.ipynb "
                          "or keep the 'arcourse: exercise: exNN' header line")


def _is_constant(node: ast.stmt) -> bool:
    if not isinstance(node, (ast.Assign, ast.AnnAssign)) or node.value is None:
        return False
    try:
        ast.literal_eval(node.value)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return False
    return True


def definitions(cells: list[str]) -> tuple[str, list[str]]:
    """The imports, defs, classes and constants of the cells, and a note per skipped cell."""
    kept, problems = [], []
    for number, cell in enumerate(cells, start=1):
        code = "\n".join("" if line.lstrip().startswith(("%", "!")) else line for line in cell.splitlines())
        try:
            tree = ast.parse(code)
        except SyntaxError as err:
            problems.append(f"code cell {number} has a syntax error (line {err.lineno}: {err.msg}); it was skipped")
            continue
        body = [node for node in tree.body if isinstance(node, _KEEP) or _is_constant(node)]
        if body:
            kept.append(ast.unparse(ast.Module(body=body, type_ignores=[])))
    return "\n\n".join(kept) + "\n", problems


def read_submission(path: str | Path) -> Submission:
    """Load a submission file (see the module docstring)."""
    path = Path(path)
    if not path.is_file():
        raise SubmissionError(f"{path}: no such file")
    cells, metadata = _cells(path)
    source, problems = definitions(cells)
    return Submission(path=path, exercise=exercise_of(path, metadata), source=source, problems=problems)
