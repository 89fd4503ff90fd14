"""Render the course as an offline static website: `arcourse site -o build/site`.

Sphinx with MyST-NB reads the lectures (converted from their Jupytext sources by the same
function as `arcourse build`), executes them through jupyter-cache, so a lecture whose code
did not change is not run again, and writes plain HTML: each lecture with its outputs and
plots, the course map of README.md as the front page, one page per exercise with what the
student gets (the generated stub from `exercises/`, never a solution), and the instructor
guide. Math is typeset by a MathJax copied into the site (the `mathjax` package of
django-static-mathjax) instead of Sphinx's default CDN; search is Sphinx's own index. So
the site works from a folder, offline, and needs no server.

A lecture the test suite has just run needs no second run: the root conftest.py writes each
lecture that passed under nbval, with its outputs, to build/executed/; when that notebook is
newer than the lecture's source and holds the same code, its outputs are put into the
jupyter-cache as if MyST-NB had run it (`_reuse_executed`).

Lectures and exercises are found by glob (`lectures/NN_*.py`, `solutions/exNN_*.py`), so a
new lecture appears on the site without a change here.

This module is also the Sphinx extension the generated conf.py loads (`setup`): it copies
MathJax and gives every plot an alt text from the figure's title in the cell's code.
"""
from __future__ import annotations

import io
import re
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from arcourse._extras import require

LECTURE_GLOB = "[0-9][0-9]_*.py"
MATHJAX_FILE = "tex-svg-full.js"  # one self-contained file: SVG output needs no web fonts
_TITLE_CALL = re.compile(r"""\b(?:set_title|suptitle|title)\(\s*f?(["'])(.+?)\1""")
_TITLE = re.compile(r"^# # (.+)$", re.MULTILINE)  # a markdown "# Title" line in a percent-format source


class SiteError(RuntimeError):
    """The site could not be built: a lecture failed to run, or Sphinx reported an error."""


@dataclass
class SiteReport:
    output: Path                                      # the folder holding index.html
    seconds: float                                    # wall-clock time of the whole build
    lectures: list[str] = field(default_factory=list)   # page paths, e.g. "lectures/01_chain_rule.html"
    exercises: list[str] = field(default_factory=list)
    executed: list[str] = field(default_factory=list)   # lectures run in this build (not from the cache)
    reused: list[str] = field(default_factory=list)     # lectures whose outputs came from build/executed/


def lecture_sources(root: str | Path) -> list[Path]:
    """The lecture sources in course order: every lectures/NN_topic.py."""
    return sorted((Path(root) / "lectures").glob(LECTURE_GLOB))


def _notebook_title(source: str, fallback: str) -> str:
    match = _TITLE.search(source)
    return match.group(1).strip() if match else fallback


def _course_map(readme: str, pages: dict[str, str]) -> str:
    """README's "Course map" section, with each `lectures/NAME.py` turned into a page link."""
    match = re.search(r"^## Course map\n(.*?)(?=^## )", readme, re.MULTILINE | re.DOTALL)
    if match is None:
        return ""
    text = match.group(1).strip()
    for stem, title in pages.items():
        text = text.replace(f"`lectures/{stem}.py`", f"[{title}](lectures/{stem}.ipynb)")
    return text


def _front_page(root: Path, lectures: dict[str, str], exercises: dict[str, str], guide: bool) -> str:
    readme = (root / "README.md").read_text(encoding="utf-8")
    title = readme.splitlines()[0].lstrip("# ").strip()
    intro = readme.split("\n\n")[1].strip()  # the paragraph under the title
    lines = [f"# {title}", "", intro, "", "## Course map", "", _course_map(readme, lectures), ""]
    lines += ["Each lecture has an exercise notebook, graded automatically; its page here shows the "
              "instructions and the code you start from.", ""]
    for caption, folder, names in (("Lectures", "lectures", lectures), ("Exercises", "exercises", exercises)):
        lines += ["```{toctree}", ":maxdepth: 1", f":caption: {caption}", ""]
        lines += [f"{folder}/{stem}" for stem in names] + ["```", ""]
    if guide:
        lines += ["```{toctree}", ":maxdepth: 1", ":caption: Teaching", "", "instructors", "```", ""]
    return "\n".join(lines)


def _conf(title: str, version: str, jupyter_cache: Path) -> str:
    settings = {
        "project": title,
        "release": version,
        "extensions": ["myst_nb", "arcourse.site"],
        "myst_enable_extensions": ["dollarmath", "amsmath"],
        "html_theme": "sphinx_book_theme",
        "html_title": title,
        "html_theme_options": {"show_toc_level": 2, "use_download_button": False},
        "html_last_updated_fmt": None,
        "html_copy_source": False,
        "exclude_patterns": ["_build", "jupyter_execute", ".jupyter_cache"],
        "nb_execution_mode": "cache",
        "nb_execution_cache_path": str(jupyter_cache),
        "nb_execution_excludepatterns": ["exercises/*"],
        "nb_execution_timeout": 600,
        "nb_execution_raise_on_error": True,
        "nb_merge_streams": True,
        # a live panel needs a kernel, and its widget manager would come from a CDN: the site
        # leaves panels out (the notebook has them)
        "nb_ipywidgets_js": {},
        "mathjax_path": f"mathjax/{MATHJAX_FILE}",
        "suppress_warnings": ["mystnb.unknown_mime_type"],
    }
    body = "\n".join(f"{key} = {value!r}" for key, value in settings.items())
    return f'"""Sphinx settings of the course website; written by `arcourse site`."""\n{body}\n'


def _stage(root: Path, src: Path, jupyter_cache: Path) -> tuple[dict[str, str], dict[str, str]]:
    """Write the Sphinx sources of the site into `src`; return the lecture and exercise titles."""
    import arcourse
    from arcourse.cli.build import exercise_sources, to_notebook_json

    wanted: set[Path] = set()

    def put(relative: str, text: str) -> None:
        (src / relative).parent.mkdir(parents=True, exist_ok=True)
        (src / relative).write_text(text, encoding="utf-8")
        wanted.add(src / relative)

    lectures, exercises = {}, {}
    for source in lecture_sources(root):
        text = source.read_text(encoding="utf-8")
        lectures[source.stem] = _notebook_title(text, source.stem)
        put(f"lectures/{source.stem}.ipynb", to_notebook_json(text, str(source)))
    for target, text in exercise_sources(root).items():  # the stubs students get, never the solutions
        exercises[target.stem] = _notebook_title(text, target.stem)
        put(f"exercises/{target.stem}.ipynb", to_notebook_json(text, str(target)))
    guide = root / "docs" / "INSTRUCTORS.md"
    if guide.exists():
        put("instructors.md", guide.read_text(encoding="utf-8"))
    title = (root / "README.md").read_text(encoding="utf-8").splitlines()[0].lstrip("# ").strip()
    put("index.md", _front_page(root, lectures, exercises, guide.exists()))
    put("conf.py", _conf(title, arcourse.__version__, jupyter_cache))
    for stale in [p for p in src.rglob("*") if p.is_file() and p not in wanted]:
        if stale.suffix in {".ipynb", ".md"}:
            stale.unlink()  # a lecture or exercise that no longer exists
    return lectures, exercises


def build_site(root: str | Path = ".", output: str | Path = "build/site", *, cache: str | Path | None = None,
               fresh: bool = False, quiet: bool = True) -> SiteReport:
    """Execute the lectures (cached) and render the course website into `output`.

    Args:
        root: the course folder (with lectures/, solutions/, README.md).
        output: where the HTML goes; open output/index.html in a browser.
        cache: where executed notebooks and Sphinx's state are kept between builds
            (default build/site-cache under root). An unchanged lecture is not run again,
            nor one the test suite has just run (a current build/executed/NAME.ipynb).
        fresh: forget the cache and run every lecture (build/executed/ included).
        quiet: keep Sphinx's progress messages to itself (warnings are still shown).
    Returns:
        a SiteReport with the pages written and the build time.
    """
    require("sphinx", "site", "arcourse site")
    require("myst_nb", "site", "arcourse site")
    from sphinx.application import Sphinx

    started = time.perf_counter()
    root = Path(root).resolve()
    if not (root / "lectures").is_dir() or not (root / "solutions").is_dir():
        raise SiteError(f"{root} is not a course folder (it needs lectures/ and solutions/)")
    cache = Path(cache).resolve() if cache is not None else root / "build" / "site-cache"
    output = Path(output).resolve()
    if fresh and cache.exists():
        shutil.rmtree(cache)
    src, doctrees = cache / "src", cache / "doctrees"
    lectures, exercises = _stage(root, src, cache / "jupyter-cache")
    reused = [] if fresh else _reuse_executed(root, src, cache / "jupyter-cache", lectures)
    executed = _not_cached(src, cache / "jupyter-cache", lectures)
    # a fresh Sphinx environment each time (reading a cached notebook takes a moment): MyST-NB
    # keeps plots beside the output folder, so an environment from a build elsewhere would
    # point at another build's files
    app = Sphinx(str(src), str(src), str(output), str(doctrees), "html",
                 status=io.StringIO() if quiet else sys.stdout, freshenv=True)
    app.build()
    if app.statuscode:
        raise SiteError(f"Sphinx stopped with status {app.statuscode}; see the messages above")
    return SiteReport(output=output, seconds=time.perf_counter() - started,
                      lectures=[f"lectures/{stem}.html" for stem in lectures],
                      exercises=[f"exercises/{stem}.html" for stem in exercises], executed=executed, reused=reused)


def _not_cached(src: Path, cache: Path, stems) -> list[str]:
    """The lectures MyST-NB will run: those whose code jupyter-cache has no record of."""
    import nbformat
    from jupyter_cache import get_cache

    store = get_cache(str(cache))
    missing = []
    for stem in stems:
        try:
            store.match_cache_notebook(nbformat.read(src / "lectures" / f"{stem}.ipynb", as_version=4))
        except KeyError:
            missing.append(stem)
    return missing


def _code(notebook) -> list[str]:
    return [cell.source for cell in notebook.cells if cell.cell_type == "code"]


def _reuse_executed(root: Path, src: Path, cache: Path, stems) -> list[str]:
    """Cache the outputs of build/executed/STEM.ipynb for each lecture not cached yet whose
    executed notebook is newer than lectures/STEM.py and has the same code cells; return
    the lectures so taken over.

    The staged notebook (markdown, metadata and all) is cached with the executed one's
    outputs, so jupyter-cache matches it exactly as it matches a notebook it ran itself.
    """
    import nbformat
    from jupyter_cache import get_cache
    from jupyter_cache.base import CacheBundleIn

    store = get_cache(str(cache))
    reused = []
    for stem in _not_cached(src, cache, stems):
        done = root / "build" / "executed" / f"{stem}.ipynb"
        source = root / "lectures" / f"{stem}.py"
        if not done.exists() or done.stat().st_mtime <= source.stat().st_mtime:
            continue
        staged = nbformat.read(src / "lectures" / f"{stem}.ipynb", as_version=4)
        ran = nbformat.read(done, as_version=4)
        if _code(ran) != _code(staged):
            continue  # built from another version of the lecture
        outputs = iter([cell.get("outputs", []) for cell in ran.cells if cell.cell_type == "code"])
        for count, cell in enumerate((c for c in staged.cells if c.cell_type == "code"), start=1):
            cell.outputs = next(outputs)
            cell.execution_count = count
        store.cache_notebook_bundle(CacheBundleIn(staged, str(done)), check_validity=False, overwrite=True)
        reused.append(stem)
    return reused


# --- the Sphinx extension -----------------------------------------------------------------

def _alt_text(code: str, heading: str, number: int) -> str:
    """A plot's alt text: the titles its cell sets, else the section it belongs to."""
    titles = [re.sub(r"\{[^}]*\}", "…", m.group(2)) for m in _TITLE_CALL.finditer(code)]
    if titles:
        return "Plot: " + "; ".join(dict.fromkeys(titles))
    return f"Plot {number} of the section “{heading}”" if heading else f"Plot {number}"


def _add_alt_text(app, doctree) -> None:
    """Give every image a notebook cell produced an alt text (HTML images need one)."""
    from docutils import nodes

    number = 0
    for image in doctree.findall(nodes.image):
        if image.get("alt"):
            continue
        number += 1
        cell = image.parent
        while cell is not None and "cell" not in cell.get("classes", []):
            cell = cell.parent
        code = ""
        if cell is not None:
            blocks = list(cell.findall(nodes.literal_block))
            code = blocks[0].astext() if blocks else ""
        section = image.parent
        while section is not None and not isinstance(section, nodes.section):
            section = section.parent
        heading = section[0].astext() if section is not None and len(section) else ""
        image["alt"] = _alt_text(code, heading, number)


def _copy_mathjax(app, exception) -> None:
    """Put MathJax into the site, where `mathjax_path` points, instead of loading it from a CDN."""
    if exception is not None or app.builder.format != "html":
        return
    mathjax = require("mathjax", "site", "the website's math (django-static-mathjax)")
    source = Path(mathjax.__file__).parent / "static" / "mathjax" / "es5" / MATHJAX_FILE
    target = Path(app.outdir) / "_static" / "mathjax" / MATHJAX_FILE
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, target)


def setup(app):
    """Sphinx entry point (conf.py lists "arcourse.site" among its extensions)."""
    app.connect("doctree-read", _add_alt_text)
    app.connect("build-finished", _copy_mathjax)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
