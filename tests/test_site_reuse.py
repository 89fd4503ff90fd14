"""`arcourse site` takes a lecture's outputs from build/executed/ when they are current.

A one-lecture course in a temporary folder: the test suite's executed copy of the lecture
(as the root conftest.py writes it) carries an output the code could never print, so the
page shows which one the site used. Current (newer than the source, same code): the lecture
is not executed and its page shows that output. Older than the source, or with other code:
the lecture runs again and the page shows what the code prints. A plot among the outputs
reaches the page as an image file.
"""
from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from arcourse.cli.build import to_notebook_json
from arcourse.site import build_site

pytestmark = pytest.mark.slow  # each build starts a kernel or Sphinx

LECTURE = '''# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Lecture 01 — Tiny
#
# One cell, one line of output.

# %%
print("computed", 6 * 7)
'''
SEEDED = "seeded-from-the-test-suite"
PIXEL = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="  # 1x1 PNG


@pytest.fixture
def course(tmp_path):
    pytest.importorskip("myst_nb", reason="the site's packages are not installed (pip install 'arcourse[site]')")
    pytest.importorskip("jupytext", reason="the site's packages are not installed (pip install 'arcourse[site]')")
    (tmp_path / "README.md").write_text("# Tiny course\n\nA course of one lecture.\n", encoding="utf-8")
    (tmp_path / "lectures").mkdir()
    (tmp_path / "solutions").mkdir()
    source = tmp_path / "lectures" / "01_tiny.py"
    source.write_text(LECTURE, encoding="utf-8")
    return tmp_path


def _executed_copy(course: Path, code: str | None = None) -> Path:
    """build/executed/01_tiny.ipynb as conftest.py writes it, with a marker as the output."""
    import nbformat

    notebook = nbformat.reads(to_notebook_json(LECTURE, "01_tiny.py"), as_version=4)
    cell = next(c for c in notebook.cells if c.cell_type == "code")
    if code is not None:
        cell.source = code
    cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=SEEDED + "\n"),
                    nbformat.v4.new_output("display_data", data={"image/png": PIXEL})]  # a plot, as nbval keeps it
    path = course / "build" / "executed" / "01_tiny.ipynb"
    path.parent.mkdir(parents=True)
    nbformat.write(notebook, path)
    return path


def _page(report) -> str:
    return (report.output / "lectures" / "01_tiny.html").read_text(encoding="utf-8")


def _make_older(path: Path, than: Path) -> None:
    stamp = than.stat().st_mtime - 60
    os.utime(path, (stamp, stamp))


def test_a_current_executed_notebook_is_not_run_again(course):
    _executed_copy(course)
    report = build_site(course, course / "site")
    assert report.executed == [] and report.reused == ["01_tiny"]
    page = _page(report)
    assert SEEDED in page and "computed 42" not in page
    images = re.findall(r'<img[^>]*src="([^"]+)"', page)
    assert len(images) == 1 and (report.output / "lectures" / images[0]).resolve().is_file(), images
    again = build_site(course, course / "site")  # the cache now holds it: nothing to take over
    assert again.executed == [] and again.reused == [] and SEEDED in _page(again)
    fresh = build_site(course, course / "site", fresh=True)  # --fresh runs every lecture
    assert fresh.executed == ["01_tiny"] and fresh.reused == [] and "computed 42" in _page(fresh)


def test_a_stale_executed_notebook_is_executed_again(course):
    executed = _executed_copy(course)
    _make_older(executed, than=course / "lectures" / "01_tiny.py")
    report = build_site(course, course / "site")
    assert report.executed == ["01_tiny"] and report.reused == []
    page = _page(report)
    assert "computed 42" in page and SEEDED not in page


def test_an_executed_notebook_of_other_code_is_executed_again(course):
    _executed_copy(course, code='print("computed", 6 * 9)')  # newer, but of another version of the lecture
    report = build_site(course, course / "site")
    assert report.executed == ["01_tiny"] and report.reused == []
    assert "computed 42" in _page(report) and SEEDED not in _page(report)
