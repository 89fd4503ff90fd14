"""The slim install: the core dependency list, the extras, and what a missing extra says.

Fast tests read pyproject.toml and import the library with the extras' packages hidden.
The slow ones build the wheel and install it into a fresh virtual environment where only
torch (and IPython, as on Colab) is present: the core install pulls only the library's own
dependencies, every public module imports, and a notebook's setup cell installs the course
from the wheel and then does nothing on a second run.
"""
from __future__ import annotations

import json
import os
import pkgutil
import re
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import pytest

import arcourse
from arcourse.hosting import setup_cell

tomllib = pytest.importorskip("tomllib", reason="reading pyproject.toml needs Python >= 3.11")

ROOT = Path(__file__).resolve().parents[1]
CORE = {"numpy", "torch", "matplotlib", "tqdm", "names", "scikit-learn"}
# what must never come with `pip install arcourse`: it would change a host's Jupyter stack
NOT_CORE = {"jupyterlab", "notebook", "jupyter-server", "ipykernel", "ipywidgets", "jupytext", "nbformat",
            "pytest", "hypothesis", "nbval", "playwright", "sphinx", "myst-nb"}
EXTRA_PACKAGES = {"ipywidgets", "IPython", "pytest", "hypothesis", "jupytext", "nbformat", "sphinx", "myst_nb",
                  "jupyter_client", "jupyter_server", "jupyterlab", "ipykernel", "nbval", "playwright"}


def _name(requirement: str) -> str:
    return re.match(r"[A-Za-z0-9._-]+", requirement).group(0).lower().replace("_", "-")


def _project() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]


def test_core_dependencies_are_what_the_library_needs():
    core = {_name(r) for r in _project()["dependencies"]}
    assert core == CORE
    assert not core & NOT_CORE


def test_extras_hold_jupyter_the_grader_the_site_and_the_tests():
    extras = {key: {_name(r) for r in value} for key, value in _project()["optional-dependencies"].items()}
    assert {"jupyterlab", "ipykernel", "jupytext", "nbformat"} <= extras["lab"]
    assert {"pytest", "hypothesis"} <= extras["grader"]
    assert {"sphinx", "myst-nb", "django-static-mathjax"} <= extras["site"]
    assert {"ipywidgets"} == extras["widgets"]
    assert {"sphinx-revealjs", "jupyter-server-mathjax"} <= extras["slides"]
    test = _project()["optional-dependencies"]["test"]
    assert "arcourse[lab,grader,site,slides]" in test and {"nbval", "playwright"} <= extras["test"]
    assert "arcourse[widgets]" in _project()["optional-dependencies"]["lab"]


def test_course_py_installs_lab_for_lab_and_test_for_test():
    text = (ROOT / "course.py").read_text(encoding="utf-8")
    assert 'install("lab" if command == "lab" else "test")' in text


def _public_modules() -> list[str]:
    """Every module of the package a user may import (the grader's check files are pytest tests, not modules)."""
    return sorted(m.name for m in pkgutil.walk_packages(arcourse.__path__, "arcourse.")
                  if ".checks" not in m.name and not m.name.rsplit(".", 1)[-1].startswith("_"))


_HIDE = textwrap.dedent("""
    import importlib.abc, sys
    HIDDEN = set({hidden!r})
    class Hide(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in HIDDEN:
                raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
    sys.meta_path.insert(0, Hide())
""")


def _run_without_extras(code: str) -> subprocess.CompletedProcess:
    script = _HIDE.format(hidden=sorted(EXTRA_PACKAGES)) + textwrap.dedent(code)
    return subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT, timeout=300)


def test_library_imports_without_any_extra_and_missing_extras_are_named():
    needs_grader = [m for m in _public_modules() if m.startswith("arcourse.grading")]
    core = [m for m in _public_modules() if m not in needs_grader]
    done = _run_without_extras(f"""
        import importlib
        for name in {core!r}:
            importlib.import_module(name)
        for name in {needs_grader!r}:
            try:
                importlib.import_module(name)
            except ImportError as err:
                assert "pip install 'arcourse[grader]'" in str(err), str(err)
            else:
                raise AssertionError(name + " imported without pytest")
        from arcourse.widgets import DecodingPanel
        try:
            DecodingPanel(None, None)
        except ImportError as err:
            assert "pip install 'arcourse[widgets]'" in str(err), str(err)
        from arcourse.cli.build import to_notebook_json
        try:
            to_notebook_json("# %%\\n")
        except ImportError as err:
            assert "pip install 'arcourse[lab]'" in str(err), str(err)
        from arcourse.site import build_site
        try:
            build_site()
        except ImportError as err:
            assert "pip install 'arcourse[site]'" in str(err), str(err)
        print("ok", len({core!r}))
    """)
    assert done.returncode == 0 and done.stdout.startswith("ok"), done.stdout + done.stderr
    assert len(core) >= 10


def test_version_command():
    done = subprocess.run([sys.executable, "-m", "arcourse.cli", "--version"], capture_output=True, text=True)
    assert done.returncode == 0 and done.stdout.strip() == f"arcourse {arcourse.__version__}"
    assert re.fullmatch(r"\d+\.\d+\.\d+", arcourse.__version__)
    assert f"## [{arcourse.__version__}]" in (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")


def test_license_is_mit_as_pyproject_says():
    assert _project()["license"] == {"text": "MIT"}
    assert (ROOT / "LICENSE").read_text(encoding="utf-8").startswith("MIT License")


def test_environment_yml_uses_conda_forge_only():
    text = (ROOT / "environment.yml").read_text(encoding="utf-8")
    channels = re.search(r"^channels:\n((?:  - .*\n)+)", text, re.MULTILINE).group(1)
    assert [c.strip("- \n") for c in channels.splitlines()] == ["conda-forge", "nodefaults"]
    body = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))
    assert "pytorch-cuda" not in body and "nvidia" not in body


def test_constraints_pin_every_package_of_a_classroom_install():
    lines = [line for line in (ROOT / "constraints.txt").read_text(encoding="utf-8").splitlines()
             if line and not line.startswith("#")]
    pins = dict(line.split("==") for line in lines)
    assert all(re.fullmatch(r"[\w.+!-]+", v) for v in pins.values()), "every line is NAME==VERSION"
    names = {k.lower().replace("_", "-") for k in pins}
    assert CORE - {"torch"} <= names and {"jupyterlab", "ipywidgets", "pytest", "hypothesis"} <= names
    assert pins.get("torch") == "2.13.0"


# --- slow: a real wheel in a fresh environment ---------------------------------------------

@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(ROOT)],
                   check=True, capture_output=True, timeout=600)
    (path,) = out.glob("arcourse-*.whl")
    print(f"\nwheel {path.name}: {path.stat().st_size / 2**20:.1f} MiB")
    return path


@pytest.fixture(scope="module")
def colab_like(tmp_path_factory) -> Path:
    """A fresh venv holding only torch and IPython, as a Colab kernel has them."""
    venv = tmp_path_factory.mktemp("colab") / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    python = venv / "bin" / "python"
    subprocess.run([str(python), "-m", "pip", "install", "-q", "torch==2.13.0", "ipython"], check=True,
                   capture_output=True, timeout=900)
    return python


def _installed(python: Path) -> set[str]:
    done = subprocess.run([str(python), "-m", "pip", "list", "--format=json"], capture_output=True, text=True,
                          check=True)
    return {p["name"].lower().replace("_", "-") for p in json.loads(done.stdout)}


@pytest.mark.slow
def test_wheel_holds_the_license_checkpoints_and_checks(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    assert any(n.endswith(".dist-info/licenses/LICENSE") or n.endswith(".dist-info/LICENSE") for n in names), names
    assert any(n.startswith("arcourse/checkpoints/") for n in names)
    assert any(n.startswith("arcourse/grading/checks/test_ex") for n in names)
    metadata = zipfile.ZipFile(wheel).read(next(n for n in names if n.endswith(".dist-info/METADATA"))).decode()
    core = {_name(line.split(":", 1)[1].strip()) for line in metadata.splitlines()
            if line.startswith("Requires-Dist:") and "extra ==" not in line}
    assert core == CORE


@pytest.mark.slow
def test_core_install_resolves_to_the_library_dependencies_only(wheel, tmp_path):
    report = tmp_path / "report.json"
    subprocess.run([sys.executable, "-m", "pip", "install", "--dry-run", "--ignore-installed", "-q",
                    "--report", str(report), "torch==2.13.0", str(wheel)], check=True, capture_output=True,
                   timeout=600)
    packages = {p["metadata"]["name"].lower().replace("_", "-") for p in json.loads(report.read_text())["install"]}
    print(f"\ncore install: {len(packages)} packages including arcourse: {sorted(packages)}")
    assert CORE | {"arcourse"} <= packages
    assert not packages & NOT_CORE
    assert len(packages) <= 35


@pytest.mark.slow
def test_setup_cell_installs_the_course_on_a_colab_like_kernel_then_does_nothing(wheel, colab_like):
    cell = "\n".join(line for line in setup_cell("widgets").splitlines() if not line.startswith("# %%"))
    pinned = re.search(r"arcourse\[widgets\] @ git\+\S+@v[\d.]+", cell).group(0)
    cell = cell.replace(pinned, f"arcourse[widgets] @ {wheel.as_uri()}")  # the wheel instead of the tag
    cell += "\nprint('arcourse', arcourse.__version__, 'from', arcourse.__file__)"
    (colab_like.parent / "cell.py").write_text(cell)
    env = {k: v for k, v in os.environ.items() if k not in {"PYTHONPATH", "VIRTUAL_ENV"}}
    ipython = [str(colab_like), "-m", "IPython", "--no-banner", "--quick", str(colab_like.parent / "cell.py")]
    before = _installed(colab_like)
    first = subprocess.run(ipython, capture_output=True, text=True, env=env, cwd=colab_like.parent, timeout=900)
    assert first.returncode == 0, first.stdout + first.stderr
    assert "arcourse is not installed here: installing" in first.stdout
    assert f"arcourse {arcourse.__version__} from {colab_like.parents[1]}" in first.stdout, first.stdout
    added = _installed(colab_like) - before
    print(f"\nthe setup cell added {len(added)} packages: {sorted(added)}")
    assert "torch" not in added and not added & (NOT_CORE - {"ipywidgets"})

    second = subprocess.run(ipython, capture_output=True, text=True, env=env, cwd=colab_like.parent, timeout=300)
    assert second.returncode == 0 and "installing" not in second.stdout, second.stdout + second.stderr

    modules = [m for m in _public_modules() if not m.startswith("arcourse.grading")]
    check = subprocess.run([str(colab_like), "-c", textwrap.dedent(f"""
        import importlib
        for name in {modules!r}:
            importlib.import_module(name)
        try:
            import arcourse.grading
        except ImportError as err:
            print(err)
    """)], capture_output=True, text=True, env=env, cwd=colab_like.parent, timeout=300)
    assert check.returncode == 0, check.stderr
    assert "pip install 'arcourse[grader]'" in check.stdout
