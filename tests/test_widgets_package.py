"""The widgets package's boundaries: panels never import training code, models never import widgets."""
import ast
from pathlib import Path

import arcourse.widgets

PACKAGE = Path(arcourse.widgets.__file__).parents[1]


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_panels_never_import_training_code():
    for path in (PACKAGE / "widgets").glob("*.py"):
        for name in imported_modules(path):
            assert not name.startswith(("arcourse.training", "scripts")), f"{path.name} imports {name}"


ALLOWED = ("arcourse._checks", "arcourse._extras", "arcourse.device", "arcourse.metrics", "arcourse.data",
           "arcourse.models", "arcourse.decoding", "arcourse.checkpoint", "arcourse.widgets")  # ARCHITECTURE.md


def test_panels_import_only_the_parts_architecture_allows():
    for path in (PACKAGE / "widgets").glob("*.py"):
        for name in imported_modules(path):
            if name.startswith("arcourse"):
                assert name.startswith(ALLOWED), f"{path.name} imports {name}"


def test_models_never_import_widgets():
    for path in (PACKAGE / "models").glob("*.py"):
        assert not any(n.startswith("arcourse.widgets") for n in imported_modules(path)), path.name


def test_one_panel_per_lecture_and_the_old_import_path():
    from arcourse.widgets import DecodingPanel  # noqa: F401  (the lectures' import before the package)

    panels = [name for name in arcourse.widgets.__all__ if name.endswith("Panel")]
    assert len(panels) == 8
    for name in panels:
        assert getattr(arcourse.widgets, name).__doc__
