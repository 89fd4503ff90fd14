"""The course beyond a clone: the setup cell for Colab and JupyterHub, and links that open a notebook there.

Every lecture and solution (so every generated exercise) has, right after its title cell, a
setup cell tagged "arcourse-setup". Where `arcourse` imports (a clone, a class hub with the
course installed) it does nothing; elsewhere (a fresh Colab kernel) it pip-installs the
release tag of this repository with the extras that notebook needs, and says so. The tag
is `v` + `arcourse.__version__`, so a notebook always installs the library it was written
for; `scripts/setup_cells.py` rewrites the cells after a version bump, and a test checks
that every notebook carries the current cell.

Colab opens `.ipynb` files from GitHub, and the repository keeps only the Jupytext `.py`
sources, so the built notebooks are published on a branch of their own, NOTEBOOKS_BRANCH
(`scripts/publish_notebooks.py`); `colab_url` and `nbgitpuller_url` point there.
"""
from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import quote, urlencode

REPOSITORY = "https://github.com/arcourse/arcourse"  # a fork changes this, then runs scripts/setup_cells.py
NOTEBOOKS_BRANCH = "notebooks"
SETUP_TAG = "arcourse-setup"
# the site hides the cell: it is for running the notebook, not for reading it
_SETUP_HEADER = f'# %% tags=["{SETUP_TAG}", "remove-cell"]'
_CELL = re.compile(r"^# %%", re.MULTILINE)


def _repository_parts() -> tuple[str, str]:
    match = re.fullmatch(r"https://github\.com/([\w.-]+)/([\w.-]+)", REPOSITORY)
    if match is None:
        raise ValueError(f"REPOSITORY must be https://github.com/OWNER/NAME, got {REPOSITORY!r}")
    return match.group(1), match.group(2)


def release_tag(version: str | None = None) -> str:
    """The git tag of a release: "v" + the package version (see CHANGELOG.md)."""
    if version is None:
        from arcourse import __version__ as version
    return f"v{version}"


def extras_for(path: str | Path) -> str:
    """The pip extras a notebook needs beyond the core: panels for lectures, the grader for exercises."""
    folder = Path(path).parent.name
    if folder == "lectures":
        return "widgets"
    if folder in {"solutions", "exercises"}:
        return "grader"
    raise ValueError(f"setup cells are for lectures/, solutions/ and exercises/, got {path}")


def setup_cell(extras: str, version: str | None = None) -> str:
    """The percent-format text of the setup cell (header line included, no trailing blank line)."""
    requirement = f"arcourse[{extras}] @ git+{REPOSITORY}@{release_tag(version)}"
    return "\n".join([
        _SETUP_HEADER,
        "# Colab / JupyterHub: installs the course when this kernel does not have it (nothing happens where it does).",
        "try:",
        "    import arcourse",
        "except ImportError:",
        f"    print(\"arcourse is not installed here: installing {release_tag(version)} with pip, about a minute ...\")",
        f"    get_ipython().run_line_magic(\"pip\", \"install -q '{requirement}'\")  # %pip install ...",
        "    import arcourse",
    ])


def with_setup_cell(source: str, extras: str, version: str | None = None) -> str:
    """`source` with the setup cell right after its title cell (replacing an older one).

    Nothing else in the file changes: the cell is inserted (or its text swapped) between
    the first cell and the second.
    """
    cells = [m.start() for m in _CELL.finditer(source)]
    if len(cells) < 2:
        raise ValueError("a notebook needs a title cell and at least one more cell for the setup cell")
    cell = setup_cell(extras, version) + "\n\n"
    second = source[cells[1]:]
    if second.startswith(_SETUP_HEADER) or second.startswith(f'# %% tags=["{SETUP_TAG}"'):
        end = cells[2] if len(cells) > 2 else len(source)
        return source[:cells[1]] + cell + source[end:]
    return source[:cells[1]] + cell + second


def colab_url(path: str | Path) -> str:
    """Open in Colab: the built notebook `path` (e.g. "lectures/01_chain_rule.ipynb") on the notebooks branch."""
    owner, name = _repository_parts()
    path = Path(path).with_suffix(".ipynb").as_posix()
    return f"https://colab.research.google.com/github/{owner}/{name}/blob/{NOTEBOOKS_BRANCH}/{quote(path)}"


def nbgitpuller_url(hub: str, path: str | Path) -> str:
    """A JupyterHub link that pulls the notebooks branch into the user's home and opens `path` in JupyterLab.

    Args:
        hub: the hub's address, e.g. "https://hub.example.edu".
        path: a notebook of the course, e.g. "lectures/01_chain_rule.ipynb".
    """
    if not re.fullmatch(r"https?://[^/?#\s]+(/[^?#\s]*)?", hub):
        raise ValueError(f"hub must be an http(s) address such as https://hub.example.edu, got {hub!r}")
    _, name = _repository_parts()
    path = Path(path).with_suffix(".ipynb").as_posix()
    query = urlencode({"repo": REPOSITORY, "branch": NOTEBOOKS_BRANCH, "urlpath": f"lab/tree/{name}/{path}"})
    return f"{hub.rstrip('/')}/hub/user-redirect/git-pull?{query}"
