"""The course beyond a clone: setup cells, Colab and nbgitpuller links, the notebooks branch.

The install path of the setup cell (a fresh Colab-like venv) is in test_install.py; here is
what needs no new environment: every notebook carries the current cell right after its
title, the cell does nothing where arcourse imports, the README links every lecture and
exercise in Colab's format, and the publishing script commits what Colab opens.
"""
from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest

from arcourse import __version__
from arcourse.hosting import (NOTEBOOKS_BRANCH, REPOSITORY, SETUP_TAG, colab_url, extras_for, nbgitpuller_url,
                              setup_cell, with_setup_cell)

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = (sorted((ROOT / "lectures").glob("[0-9][0-9]_*.py")) + sorted((ROOT / "solutions").glob("ex[0-9][0-9]_*.py"))
             + sorted((ROOT / "exercises").glob("ex[0-9][0-9]_*.py")))
COLAB = re.compile(r"https://colab\.research\.google\.com/github/[\w.-]+/[\w.-]+/blob/" + NOTEBOOKS_BRANCH
                   + r"/(lectures|exercises)/[\w.-]+\.ipynb")


def _cells(text: str) -> list[str]:
    return re.split(r"^(?=# %%)", text, flags=re.MULTILINE)[1:]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_notebook_has_the_current_setup_cell_after_its_title(path):
    cells = _cells(path.read_text(encoding="utf-8"))
    assert cells[0].startswith("# %% [markdown]") and re.search(r"^# # ", cells[0], re.MULTILINE), \
        f"{path.name}: the first cell should be the title"
    assert cells[1].strip() == setup_cell(extras_for(path)).strip(), (
        f"{path.name}: the cell after the title is not the current setup cell; "
        "run `python scripts/setup_cells.py`")
    assert sum(SETUP_TAG in c.splitlines()[0] for c in cells) == 1


def test_the_setup_cell_pins_this_release_and_the_notebooks_extras():
    cell = setup_cell("widgets")
    assert f"git+{REPOSITORY}@v{__version__}'" in cell
    assert "arcourse[widgets]" in cell and "arcourse[grader]" in setup_cell("grader")
    assert extras_for("lectures/01_chain_rule.py") == "widgets"
    assert extras_for("solutions/ex01_chain_rule.py") == extras_for("exercises/ex01_chain_rule.py") == "grader"
    with pytest.raises(ValueError, match="setup cells are for"):
        extras_for("bench/bench_gpt.py")


def _cell_code(extras: str) -> str:
    return "\n".join(line for line in setup_cell(extras).splitlines() if not line.startswith("# %%"))


class _NoShell:
    def run_line_magic(self, *args):
        raise AssertionError(f"the setup cell tried to install although arcourse imports: {args}")


def test_the_setup_cell_does_nothing_where_arcourse_imports(capsys):
    namespace = {"get_ipython": _NoShell}
    exec(compile(_cell_code("widgets"), "<setup cell>", "exec"), namespace)
    assert namespace["arcourse"].__version__ == __version__
    assert capsys.readouterr().out == ""  # silent


def test_with_setup_cell_inserts_once_and_changes_nothing_else():
    source = "# ---\n# header\n# ---\n\n# %% [markdown]\n# # Title\n# text\n\n# %%\nx = 1\n\n# %% [markdown]\n# more\n"
    once = with_setup_cell(source, "widgets", "9.9.9")
    assert with_setup_cell(once, "widgets", "9.9.9") == once
    assert once.replace(setup_cell("widgets", "9.9.9") + "\n\n", "") == source
    assert with_setup_cell(once, "widgets", "10.0.0") == with_setup_cell(source, "widgets", "10.0.0")  # refreshed
    with pytest.raises(ValueError, match="title cell"):
        with_setup_cell("# %% [markdown]\n# # Title\n", "widgets")


def test_readme_opens_every_lecture_and_exercise_in_colab():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    links = re.findall(r"\]\((https://colab\.research\.google\.com/[^)]+)\)", readme)
    for link in links:
        assert COLAB.fullmatch(link), f"not a Colab link to the notebooks branch: {link}"
    for folder, pattern in (("lectures", "[0-9][0-9]_*.py"), ("exercises", "ex[0-9][0-9]_*.py")):
        for path in sorted((ROOT / folder).glob(pattern)):
            url = colab_url(path.relative_to(ROOT))
            assert COLAB.fullmatch(url)
            assert url in links, f"README has no 'Open in Colab' link for {folder}/{path.name}: add {url}"


def test_colab_and_nbgitpuller_links():
    owner, name = REPOSITORY.rsplit("/", 2)[-2:]
    assert colab_url("lectures/03_rnn.py") == (
        f"https://colab.research.google.com/github/{owner}/{name}/blob/{NOTEBOOKS_BRANCH}/lectures/03_rnn.ipynb")
    url = urlparse(nbgitpuller_url("https://hub.example.edu/", "lectures/03_rnn.ipynb"))
    assert (url.scheme, url.netloc, url.path) == ("https", "hub.example.edu", "/hub/user-redirect/git-pull")
    assert parse_qs(url.query) == {"repo": [REPOSITORY], "branch": [NOTEBOOKS_BRANCH],
                                   "urlpath": [f"lab/tree/{name}/lectures/03_rnn.ipynb"]}
    for bad in ("hub.example.edu", "ftp://hub", "https://hub example"):
        with pytest.raises(ValueError, match="hub must be"):
            nbgitpuller_url(bad, "lectures/03_rnn.ipynb")
    assert nbgitpuller_url("https://HUB", "lectures/01_chain_rule.ipynb").replace("https://HUB", "") in \
        (ROOT / "README.md").read_text(encoding="utf-8")


def test_citation_names_the_repository_and_version():
    citation = (ROOT / "CITATION.cff").read_text(encoding="utf-8")
    assert f'repository-code: "{REPOSITORY}"' in citation
    assert re.search(rf"^version: {re.escape(__version__)}$", citation, re.MULTILINE)


def _load_script(name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_setup_cells_script_reports_nothing_to_do():
    done = subprocess.run([sys.executable, str(ROOT / "scripts" / "setup_cells.py"), "--check"],
                          capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0, done.stdout + done.stderr


def test_publish_commits_lectures_and_exercises_to_the_notebooks_branch(tmp_path):
    publish = _load_script("publish_notebooks")
    repo = tmp_path / "course"
    for relative in ("lectures/01_a.ipynb", "exercises/ex01_a.ipynb", "solutions/ex01_a.ipynb", "README.md"):
        (repo / relative).parent.mkdir(parents=True, exist_ok=True)
        (repo / relative).write_text(f"{relative}\n")
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.org"]
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    subprocess.run([*git, "-C", str(repo), "commit", "-q", "--allow-empty", "-m", "start"], check=True)
    env_args = dict(GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@example.org", GIT_COMMITTER_NAME="t",
                    GIT_COMMITTER_EMAIL="t@example.org")
    with pytest.MonkeyPatch.context() as mp:
        for key, value in env_args.items():
            mp.setenv(key, value)
        first = publish.publish(repo, build=False)
        assert publish.publish(repo, build=False) == first  # nothing changed, no new commit
    files = subprocess.run(["git", "-C", str(repo), "ls-tree", "-r", "--name-only", NOTEBOOKS_BRANCH],
                           capture_output=True, text=True, check=True).stdout.split()
    assert files == ["README.md", "exercises/ex01_a.ipynb", "lectures/01_a.ipynb"]  # no solutions
    status = subprocess.run(["git", "-C", str(repo), "status", "--porcelain"], capture_output=True, text=True).stdout
    assert "README.md" in status and "lectures/" in status  # the checkout is untouched: still untracked
