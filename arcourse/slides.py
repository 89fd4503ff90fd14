"""Lecture slides: a lecture's notebook as a reveal.js deck that works offline.

`render_slides` reads a lecture's Jupytext source, runs it (so plots are in the deck),
decides each cell's slide type and exports it with nbconvert's slides exporter through a
template whose scripts are all local: reveal.js from the `sphinx-revealjs` package and
MathJax from `jupyter-server-mathjax` (the `[slides]` extra), copied into `_static/` beside
the deck. Nothing is fetched when the deck opens, so it works in a lecture hall without a
network.

Slide types come from the cell metadata `slideshow={"slide_type": ...}` where a cell has
it (the lectures put it on their heading cells); other cells get one by their place:
    a heading cell "# ..." or "## ..."   -> "slide" (a new section, left to right)
    a heading cell "### ..."             -> "subslide" (down, within the section)
    other prose                          -> "subslide"
    code right after prose               -> "-" (on the prose's subslide: text, then its code)
    code after code                      -> "subslide"
    empty cells                          -> "skip"
"""
from __future__ import annotations

import re
import shutil
from importlib import resources
from pathlib import Path

SLIDE_TYPES = ("slide", "subslide", "fragment", "skip", "notes", "-")
MATHJAX_CONFIG = "TeX-AMS-MML_HTMLorMML-full,Safe"


class SlidesError(ValueError):
    """A lecture that cannot be found, or a missing slides dependency."""


def find_lecture(number: str | int, root: str | Path = ".") -> Path:
    """The Jupytext source lectures/NN_*.py of lecture `number` (1 or "01")."""
    text = str(number)
    if not re.fullmatch(r"\d{1,2}", text):
        raise SlidesError(f"a lecture number is one or two digits, got {number!r}")
    matches = sorted((Path(root) / "lectures").glob(f"{int(text):02d}_*.py"))
    if len(matches) != 1:
        raise SlidesError(f"expected one lectures/{int(text):02d}_*.py under {Path(root).resolve()}, "
                          f"found {len(matches)}")
    return matches[0]


def _heading_level(cell) -> int:
    """1, 2, 3 for a markdown cell whose first line is a #, ## or ### heading; else 0."""
    if cell.cell_type != "markdown":
        return 0
    match = re.match(r"(#{1,6})\s", cell.source.lstrip())
    return len(match.group(1)) if match else 0


def assign_slide_types(notebook) -> list[str]:
    """Give every cell a slide type (see the module docstring); return them in order.

    Modifies `notebook`'s cell metadata in place, keeping every type already there.
    """
    previous = None
    types = []
    for cell in notebook.cells:
        given = cell.metadata.get("slideshow", {}).get("slide_type")
        if given is not None and given not in SLIDE_TYPES:
            raise SlidesError(f"unknown slide_type {given!r} (expected one of {SLIDE_TYPES})")
        level = _heading_level(cell)
        if given is not None:
            kind = given
        elif not cell.source.strip():
            kind = "skip"
        elif level in (1, 2):
            kind = "slide"
        elif cell.cell_type == "markdown":
            kind = "subslide"
        else:
            kind = "-" if previous == "markdown" else "subslide"
        if previous is None and kind in ("-", "subslide", "fragment"):
            kind = "slide"  # the deck starts with a slide
        cell.metadata.setdefault("slideshow", {})["slide_type"] = kind
        types.append(kind)
        if kind != "skip":
            previous = cell.cell_type
    return types


def count_slides(types: list[str]) -> int:
    """Slides in a deck with these cell types: every slide and subslide, horizontal or vertical."""
    return sum(t in ("slide", "subslide") for t in types)


def _static_sources() -> tuple[Path, Path]:
    """The reveal.js and MathJax folders of the installed packages."""
    try:
        reveal = Path(str(resources.files("sphinx_revealjs") / "_static" / "revealjs"))
        mathjax = Path(str(resources.files("jupyter_server_mathjax") / "static"))
    except ModuleNotFoundError as err:
        raise SlidesError(f"slides need the `{err.name}` package: pip install 'arcourse[slides]'") from None
    for path, name in ((reveal / "dist" / "reveal.js", "sphinx-revealjs"), (mathjax / "MathJax.js", "jupyter-server-mathjax")):
        if not path.is_file():
            raise SlidesError(f"{path} is missing: reinstall {name}")
    return reveal, mathjax


def copy_static(out_dir: Path) -> Path:
    """Copy reveal.js and MathJax into out_dir/_static (once; later decks share it)."""
    reveal, mathjax = _static_sources()
    static = out_dir / "_static"
    skip = shutil.ignore_patterns("*.map", "*.scss", "*.esm.js", "localization")
    for source, name in ((reveal, "reveal"), (mathjax, "mathjax")):
        if not (static / name).is_dir():
            shutil.copytree(source, static / name, ignore=skip)
    return static


def render_slides(source: str | Path, out_dir: str | Path, *, execute: bool = True, timeout: int = 600) -> Path:
    """Write the deck of a lecture (a Jupytext .py or an .ipynb) into `out_dir`.

    Args:
        source: the lecture's notebook source.
        out_dir: where the deck (NAME.slides.html) and `_static/` go.
        execute: run the notebook first so the deck shows its outputs (plots, printed checks);
            False renders the prose, math and code only (seconds instead of a minute).
        timeout: seconds allowed per cell when executing.
    Returns:
        the path of the deck.
    """
    import jupytext
    from nbconvert import SlidesExporter

    source, out_dir = Path(source), Path(out_dir)
    if not source.is_file():
        raise SlidesError(f"no notebook at {source}")
    notebook = jupytext.read(source)
    assign_slide_types(notebook)
    if execute:
        from nbclient import NotebookClient

        NotebookClient(notebook, timeout=timeout, kernel_name="python3",
                       resources={"metadata": {"path": str(source.parent)}}).execute()
    out_dir.mkdir(parents=True, exist_ok=True)
    copy_static(out_dir)
    template_dir = Path(str(resources.files("arcourse") / "slides_template"))
    exporter = SlidesExporter(extra_template_basedirs=[str(template_dir)], template_name="arcourse_reveal",
                              reveal_url_prefix="_static/reveal", reveal_theme="white",
                              mathjax_url=f"_static/mathjax/MathJax.js?config={MATHJAX_CONFIG}")
    body, _ = exporter.from_notebook_node(notebook, resources={"metadata": {"name": source.stem}})
    deck = out_dir / f"{source.stem}.slides.html"
    deck.write_text(body, encoding="utf-8")
    return deck
