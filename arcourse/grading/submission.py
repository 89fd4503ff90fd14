"""Reading a student's submission: which exercise it is, and its definitions.

Only the definitions are taken from a submission: imports, functions, classes and constant
assignments (literals), cell by cell. Visible checks, training runs and plots are skipped, so
grading does not depend on a student's scratch cells, and a cell with a syntax error costs
only the functions defined in it. Each definition keeps its place in the file (a line of a
Jupytext `.py`, or a cell and line of an `.ipynb`) so error messages point at the right line.

The file itself is only read, never changed.
"""
from __future__ import annotations

import ast
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

MAX_BYTES = 50 * 2**20
_NAME = re.compile(r"(ex\d\d)(?:_|\b|\.)")
_CELL = re.compile(r"^# %%(.*)$")
_KEEP = (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)


class SubmissionError(ValueError):
    """The file cannot be graded: unreadable, unknown exercise, or not a notebook."""


@dataclass(frozen=True)
class Statement:
    filename: str   # the name tracebacks show: "alice.py", or "alice.ipynb, cell 4"
    lineno: int     # its first line in that file or cell
    label: str      # for messages: "line 12" or "cell 4, line 2"
    code: str


@dataclass
class Submission:
    path: Path
    exercise: str                                    # "ex03"
    statements: list[Statement] = field(default_factory=list)
    sources: dict[str, str] = field(default_factory=dict)   # filename -> text, for tracebacks
    problems: list[str] = field(default_factory=list)       # cells skipped, and why


@dataclass(frozen=True)
class _Cell:
    filename: str
    first_line: int     # line of the file where the cell's text starts (1 for notebook cells)
    label: str          # "cell 4" or "the cell at line 30"
    text: str


def _read_text(path: Path, problems: list[str]) -> str:
    """The file's text. Bytes that are not UTF-8 (a stray byte in a comment) become U+FFFD
    and are reported in `problems`, rather than costing the whole file; a binary file (one
    with NUL bytes) is refused."""
    try:
        if path.stat().st_size > MAX_BYTES:
            raise SubmissionError(f"{path.name}: the file is larger than {MAX_BYTES // 2**20} MB")
        data = path.read_bytes()
    except OSError as err:
        raise SubmissionError(f"{path.name}: cannot read the file ({err})") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        if b"\0" in data:
            raise SubmissionError(f"{path.name}: cannot read the file (it is not text: {err})") from None
        line = data[:err.start].count(b"\n") + 1
        problems.append(f"line {line}: bytes that are not UTF-8 text were replaced by \ufffd")
        return data.decode("utf-8", "replace")


def _notebook_cells(path: Path, text: str, problems: list[str]) -> tuple[list[_Cell], dict]:
    try:
        notebook = json.loads(text)
    except (json.JSONDecodeError, RecursionError) as err:
        raise SubmissionError(f"{path.name}: not a readable notebook (invalid JSON: {err})") from None
    if not isinstance(notebook, dict) or not isinstance(notebook.get("cells"), list):
        raise SubmissionError(f"{path.name}: not a readable notebook (no list of cells)")
    cells = []
    for number, cell in enumerate(notebook["cells"], start=1):
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        source = cell.get("source", "")
        if isinstance(source, list) and all(isinstance(line, str) for line in source):
            source = "".join(source)
        if isinstance(source, str):
            cells.append(_Cell(f"{path.name}, cell {number}", 1, f"cell {number}", source))
        else:
            problems.append(f"cell {number}: its source is not text (a {type(source).__name__}); it was skipped")
    metadata = notebook.get("metadata")
    return cells, metadata if isinstance(metadata, dict) else {}


def _header_metadata(text: str) -> dict:
    """The `arcourse: exercise: exNN` entry of a Jupytext header (`# ---` ... `# ---`).

    Read with a pattern rather than jupytext, whose import costs seconds; a damaged header
    only loses the header (the file name can still tell the exercise).
    """
    match = re.match(r"\s*# ---\s*\n(.*?)\n# ---\s*(\n|$)", text, re.S)
    if not match:
        return {}
    header = "\n".join(line[2:] if line.startswith("# ") else line.lstrip("#") for line in match.group(1).splitlines())
    exercise = re.search(r"^(\s*)arcourse:\s*\n\1\s+exercise:\s*['\"]?(ex\d\d)['\"]?\s*$", header, re.M)
    return {"arcourse": {"exercise": exercise.group(2)}} if exercise else {}


def _percent_cells(path: Path, text: str, problems: list[str]) -> tuple[list[_Cell], dict]:
    """Cells of a Jupytext percent-format file, each with the line where it starts."""
    metadata = _header_metadata(text)
    cells, start, lines, kind = [], 1, [], ""
    for number, line in enumerate(text.splitlines(), start=1):
        match = _CELL.match(line)
        if match:
            if lines and not kind:
                cells.append(_Cell(path.name, start, f"the cell at line {start}", "\n".join(lines)))
            kind = "markdown" if re.search(r"\[(markdown|md|raw)\]", match.group(1)) else ""
            start, lines = number + 1, []
        else:
            lines.append(line)
    if lines and not kind:
        cells.append(_Cell(path.name, start, f"the cell at line {start}", "\n".join(lines)))
    return cells, metadata


def exercise_of(path: Path, metadata: dict) -> str:
    """The exercise id, from the notebook header (`arcourse: exercise: exNN`) or the file name."""
    section = metadata.get("arcourse")
    header = section.get("exercise") if isinstance(section, dict) else None
    if isinstance(header, str) and re.fullmatch(r"ex\d\d", header):
        return header
    match = _NAME.match(path.name)
    if match:
        return match.group(1)
    raise SubmissionError(f"{path.name}: cannot tell which exercise this is; name it exNN_*.py/.ipynb "
                          "or keep the 'arcourse: exercise: exNN' header line")


def _names_only(target: ast.expr) -> bool:
    """True for `x` or `x, y`: a constant binds names, it never stores into an object."""
    if isinstance(target, (ast.Tuple, ast.List)):
        return all(_names_only(t) for t in target.elts)
    return isinstance(target, ast.Name)


def _is_constant(node: ast.stmt) -> bool:
    if not isinstance(node, (ast.Assign, ast.AnnAssign)) or node.value is None:
        return False
    targets = node.targets if isinstance(node, ast.Assign) else [node.target]
    if not all(_names_only(t) for t in targets):
        return False  # `known[:, 0] = True` in a scratch cell needs objects the grader skipped
    try:
        ast.literal_eval(node.value)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return False
    return True


def _cell_statements(cell: _Cell, problems: list[str]) -> list[Statement]:
    # magics and shell escapes (`%matplotlib inline`, `!pip ...`) are not Python: blank them out
    code = "\n".join("" if line.startswith(("%", "!")) else line for line in cell.text.splitlines())
    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError) as err:
        line = cell.first_line + (getattr(err, "lineno", None) or 1) - 1
        where = f"line {line}" if cell.first_line > 1 else f"{cell.label}, line {getattr(err, 'lineno', '?')}"
        problems.append(f"{where}: syntax error ({getattr(err, 'msg', err)}); {cell.label} was skipped")
        return []
    except (RecursionError, MemoryError):
        problems.append(f"{cell.label} is nested too deeply to read; it was skipped")
        return []
    lines = code.splitlines()
    out = []
    for node in tree.body:
        if not (isinstance(node, _KEEP) or _is_constant(node)):
            continue
        first = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])])
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            text = "\n".join(lines[first - 1:node.end_lineno])   # compound statements own their lines
        else:
            text = ast.get_source_segment(code, node) or ast.unparse(node)
        lineno = cell.first_line + first - 1
        label = f"line {lineno}" if cell.first_line > 1 else f"{cell.label}, line {first}"
        out.append(Statement(cell.filename, lineno, label, text))
    return out


def read_submission(path: str | Path, exercise: str | None = None) -> Submission:
    """Load a submission file (see the module docstring). `exercise` overrides what the
    header and the name say."""
    path = Path(path)
    if not path.is_file():
        raise SubmissionError(f"{path}: no such file")
    if path.suffix not in {".py", ".ipynb"}:
        raise SubmissionError(f"{path.name}: a submission is a Jupytext .py or an .ipynb notebook")
    if exercise is not None and not re.fullmatch(r"ex\d\d", exercise):
        raise SubmissionError(f"exercise must look like 'ex03', got {exercise!r}")
    problems: list[str] = []
    text = _read_text(path, problems)
    cells, metadata = (_notebook_cells if path.suffix == ".ipynb" else _percent_cells)(path, text, problems)
    submission = Submission(path=path, exercise=exercise or exercise_of(path, metadata), problems=problems)
    if path.suffix == ".py":
        submission.sources[path.name] = text
    for cell in cells:
        if path.suffix == ".ipynb":
            submission.sources[cell.filename] = cell.text
        submission.statements.extend(_cell_statements(cell, submission.problems))
    return submission
