"""Reading a student's submission: which exercise it is, and its definitions.

Only the definitions are taken from a submission, cell by cell: imports, functions, classes,
pure and cheap assignments to names (`LN2 = math.log(2)`, a small table, a comprehension;
calls only to builtins, `math` and a few constructors, see `_PURE_CALLS`), and `try:` blocks
made of those (`try: import x` / `except ImportError: x = None`). Visible checks, training
runs and plots are skipped, so grading does not depend on a student's scratch cells, and a
cell with a syntax error costs only the functions defined in it. A skipped statement that
binds a name (`model = train(...)`) is listed in the report with the reason, since a
function that uses that name will fail at grading. Each definition keeps its place in the file (a line of a
Jupytext `.py`, or a cell and line of an `.ipynb`) so error messages point at the right line.

The file itself is only read, never changed.
"""
from __future__ import annotations

import ast
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

MAX_BYTES = 50 * 2**20             # the code of a submission (a notebook's saved outputs do not count)
MAX_FILE_BYTES = 500 * 2**20       # a notebook file, outputs included
RULE = ("Grading runs your imports, functions, classes and simple constants (such as `LN2 = math.log(2)`), "
        "not the other cells; its report lists what it skipped.")
_PURE_CALLS = frozenset({
    "abs", "all", "any", "bool", "bytes", "chr", "complex", "dict", "divmod", "enumerate", "float", "frozenset",
    "int", "len", "list", "max", "min", "ord", "pow", "range", "reversed", "round", "set", "sorted", "str",
    "sum", "tuple", "zip", "math.*", "string.*", "re.compile", "collections.namedtuple", "collections.Counter",
    "collections.OrderedDict", "collections.defaultdict", "functools.partial", "typing.*", "dataclasses.field",
    "torch.tensor", "torch.arange", "torch.linspace", "torch.zeros", "torch.ones", "torch.eye", "torch.full",
    "torch.finfo", "torch.iinfo", "torch.device", "np.array", "np.arange", "numpy.array", "numpy.arange",
})
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
    skipped: list[str] = field(default_factory=list)        # statements that bind names, left out, and why


@dataclass(frozen=True)
class _Cell:
    filename: str
    first_line: int     # line of the file where the cell's text starts (1 for notebook cells)
    label: str          # "cell 4" or "the cell at line 30"
    text: str


def _read_text(path: Path, problems: list[str]) -> str:
    """The file's text. Lines that are not UTF-8 (a cp1252 quote pasted into a comment) are
    read as cp1252 with a warning, rather than rejecting the whole file."""
    limit = MAX_FILE_BYTES if path.suffix == ".ipynb" else MAX_BYTES
    try:
        if path.stat().st_size > limit:
            raise SubmissionError(f"{path.name}: the file is larger than {limit // 2**20} MB")
        data = path.read_bytes()
    except OSError as err:
        raise SubmissionError(f"{path.name}: cannot read the file ({err})") from None
    if b"\x00" in data:
        raise SubmissionError(f"{path.name}: cannot read the file (it holds NUL bytes: binary, not text)")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    lines, bad = [], []
    for number, line in enumerate(data.splitlines(keepends=True), start=1):
        try:
            lines.append(line.decode("utf-8"))
        except UnicodeDecodeError:
            lines.append(line.decode("cp1252", errors="replace"))
            bad.append(number)
    shown = ", ".join(map(str, bad[:5])) + (", ..." if len(bad) > 5 else "")
    problems.append(f"warning: {path.name} is not all UTF-8 (line {shown}); those lines were read as cp1252 "
                    "(save the file as UTF-8)")
    return "".join(lines)


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


def _dotted(node: ast.expr) -> str:
    """`math.log` for the expression math.log; "" for anything that is not a dotted name."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        base = _dotted(node.value)
        return f"{base}.{node.attr}" if base else ""
    return ""


def _impure(expr: ast.expr) -> str:
    """Why evaluating `expr` at grading is not pure and cheap, or "" when it is."""
    for node in ast.walk(expr):
        if isinstance(node, (ast.Await, ast.Yield, ast.YieldFrom, ast.NamedExpr)):
            return f"it uses {type(node).__name__.lower()}"
        if isinstance(node, ast.Call):
            name = _dotted(node.func)
            module = name.rpartition(".")[0]
            if not name or not (name in _PURE_CALLS or f"{module}.*" in _PURE_CALLS):
                return (f"it calls {name}(), which grading does not run" if name else
                        "it calls a method of a computed value, which grading does not run")
    return ""


def _binds(node: ast.stmt) -> list[str]:
    """The names a top-level statement assigns (for the list of skipped statements)."""
    names = []
    for child in ast.walk(node):
        if isinstance(child, ast.Name) and isinstance(child.ctx, ast.Store):
            names.append(child.id)
    return list(dict.fromkeys(names))


def _why_skipped(node: ast.stmt) -> str:
    """"" when the reader keeps a top-level statement, else the reason it is skipped."""
    if isinstance(node, _KEEP) or isinstance(node, ast.Pass):
        return ""
    if isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
        if node.value is None:
            return ""          # `x: int`, a bare annotation
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        if not all(_names_only(t) for t in targets):
            return "it stores into an object"   # `known[:, 0] = True` needs objects the grader skipped
        return _impure(node.value)
    if isinstance(node, ast.Try):
        for child in [*node.body, *node.orelse, *node.finalbody, *(s for h in node.handlers for s in h.body)]:
            reason = _why_skipped(child)
            if reason:
                return f"its block holds a statement grading does not run ({reason})"
        return ""
    if isinstance(node, (ast.For, ast.AsyncFor, ast.While)):
        return "it is a loop (a training or scratch cell?)"
    if isinstance(node, (ast.With, ast.AsyncWith)):
        return "it is a `with` block"
    return f"it is {'an' if type(node).__name__[0] in 'AEIOU' else 'a'} {type(node).__name__} statement"


def _cell_statements(cell: _Cell, problems: list[str], skipped: list | None = None) -> list[Statement]:
    """The statements of a cell the reader keeps; syntax errors go to `problems`, skipped
    statements that bind names to `skipped` as (names, where, text, reason)."""
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
        first = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])])
        reason = _why_skipped(node)
        if reason:
            names = _binds(node)
            if names and skipped is not None:
                where = f"line {cell.first_line + first - 1}" if cell.first_line > 1 else f"{cell.label}, line {first}"
                head = (ast.get_source_segment(code, node) or "").strip().splitlines()[0][:70]
                skipped.append((names, where, head, reason))
            continue
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            text = "\n".join(lines[first - 1:node.end_lineno])   # compound statements own their lines
        else:
            text = ast.get_source_segment(code, node) or ast.unparse(node)
        lineno = cell.first_line + first - 1
        label = f"line {lineno}" if cell.first_line > 1 else f"{cell.label}, line {first}"
        out.append(Statement(cell.filename, lineno, label, text))
    return out


def read_cells(path: str | Path, kind: str = "code") -> list[str]:
    """The text of each code (or markdown) cell of a `.py` or `.ipynb`, in order; for the
    similarity report and the written answers, which need no definitions."""
    path = Path(path)
    text = _read_text(path, [])
    if path.suffix == ".ipynb":
        try:
            notebook = json.loads(text)
        except (json.JSONDecodeError, RecursionError) as err:
            raise SubmissionError(f"{path.name}: not a readable notebook (invalid JSON: {err})") from None
        cells = notebook.get("cells") if isinstance(notebook, dict) else None
        out = []
        for cell in cells if isinstance(cells, list) else []:
            if isinstance(cell, dict) and cell.get("cell_type") == kind:
                source = cell.get("source", "")
                source = "".join(s for s in source if isinstance(s, str)) if isinstance(source, list) else source
                out.append(source if isinstance(source, str) else "")
        return out
    if kind == "code":
        return [c.text for c in _percent_cells(path, text, [])[0]]
    return percent_markdown(text)


def percent_markdown(text: str) -> list[str]:
    """The markdown cells of Jupytext percent-format text, without their `# ` prefixes."""
    out, current = [], None
    for line in text.splitlines():
        match = _CELL.match(line)
        if match:
            if current is not None:
                out.append("\n".join(current))
            current = [] if re.search(r"\[(markdown|md)\]", match.group(1)) else None
        elif current is not None:
            current.append(line[2:] if line.startswith("# ") else line.lstrip("#"))
    if current is not None:
        out.append("\n".join(current))
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
    if sum(len(c.text) for c in cells) > MAX_BYTES:
        raise SubmissionError(f"{path.name}: its code is larger than {MAX_BYTES // 2**20} MB")
    submission = Submission(path=path, exercise=exercise or exercise_of(path, metadata), problems=problems)
    named = _NAME.match(path.name)
    if named and exercise is None and named.group(1) != submission.exercise:
        submission.problems.append(f"warning: the file is named for {named.group(1)} but its header says "
                                   f"{submission.exercise}; it was graded as {submission.exercise}")
    if path.suffix == ".py":
        submission.sources[path.name] = text
    skipped: list = []
    for cell in cells:
        if path.suffix == ".ipynb":
            submission.sources[cell.filename] = cell.text
        submission.statements.extend(_cell_statements(cell, submission.problems, skipped))
    submission.skipped = _describe_skipped(submission.statements, skipped)
    return submission


def _describe_skipped(kept: list[Statement], skipped: list) -> list[str]:
    """One line per skipped statement that binds names; those a kept function or class reads
    come first, since they fail at grading."""
    import symtable

    used, defined = set(), set()
    for statement in kept:
        try:
            table = symtable.symtable(statement.code, "<statement>", "exec")
        except (SyntaxError, ValueError):
            continue
        defined |= {s.get_name() for s in table.get_symbols() if s.is_assigned() or s.is_imported()}
        inner = list(table.get_children())
        while inner:                          # the module-level names functions and classes read
            scope = inner.pop()
            used |= {s.get_name() for s in scope.get_symbols() if s.is_global() and s.is_referenced()}
            inner += scope.get_children()
    first, rest = [], []
    for names, where, head, reason in skipped:
        needed = [n for n in names if n in used and n not in defined]
        if needed:
            first.append(f"{where}: `{head}` was not run ({reason}), but your code uses {', '.join(needed[:4])}: "
                         "that fails at grading (define it inside the function, or as a simple constant)")
        else:
            rest.append(f"{where}: `{head}` was not run ({reason})")
    return first + rest
