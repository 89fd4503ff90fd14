"""A toy exercise (ex99, four questions, 10 points) for testing the grader's mechanism.

`variant(tmp_path, name, {function: body})` writes a copy of the solution with the bodies of
some functions (or methods) replaced, and `extra` code appended, for the attack tests.
"""
from __future__ import annotations

import ast
import textwrap
from pathlib import Path

HERE = Path(__file__).resolve().parent
SOLUTION = HERE / "solutions" / "ex99_toy.py"
CHECKS = HERE / "checks"
POINTS = {"softmax": 3.0, "running_mean": 3.0, "bigram_counts": 2.0, "running_stats": 2.0}


def replace_bodies(source: str, bodies: dict[str, str]) -> str:
    """`source` with the body of each named function or method (`Class.method`) replaced."""
    tree = ast.parse(source)
    lines = source.splitlines()
    targets = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef):
            for item in node.body:
                if isinstance(item, ast.FunctionDef) and f"{node.name}.{item.name}" in bodies:
                    targets.append((item, bodies[f"{node.name}.{item.name}"]))
        elif isinstance(node, ast.FunctionDef) and node.name in bodies and node.col_offset == 0:
            targets.append((node, bodies[node.name]))
    if len(targets) != len(bodies):
        raise KeyError(f"not all of {sorted(bodies)} were found")
    for node, body in sorted(targets, key=lambda t: -t[0].lineno):
        indent = " " * (node.col_offset + 4)
        first = node.body[0]
        start = first.end_lineno if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) else \
            node.lineno
        lines[start:node.end_lineno] = textwrap.indent(textwrap.dedent(body).strip("\n"), indent).splitlines()
    return "\n".join(lines) + "\n"


def variant(folder: Path, name: str, bodies: dict[str, str] | None = None, extra: str = "") -> Path:
    """Write `folder/ex99_{name}.py`: the solution with `bodies` replaced and `extra` appended."""
    source = replace_bodies(SOLUTION.read_text(), bodies or {})
    if extra:
        source += "\n# %%\n" + textwrap.dedent(extra).strip("\n") + "\n"
    path = folder / f"ex99_{name}.py"
    path.write_text(source)
    return path
