"""The decoding panel in a real browser: JupyterLab renders the widgets and a slider works.

Writes the cells of lectures/07_decoding.py tagged "browser" (imports, the trained model,
the panel) into the session's JupyterLab (tests/browser_lab.py), opens that notebook in
Chromium, runs it, moves the temperature slider and checks that the displayed next-token
distribution changed. Screenshots: build/browser-decoding.png and build/screenshots/panel_07.png.
"""
from __future__ import annotations

import re
from pathlib import Path

import pytest
from browser_lab import ROOT, assert_no_errors, close_notebook, open_notebook, screenshot, type_into_slider, wait_idle

LECTURE = ROOT / "lectures" / "07_decoding.py"
SCREENSHOT = ROOT / "build" / "browser-decoding.png"

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def _browser_notebook():
    """The lecture's cells tagged "browser", as a notebook."""
    import jupytext

    notebook = jupytext.read(LECTURE)
    notebook.cells = [c for c in notebook.cells if "browser" in c.metadata.get("tags", [])]
    assert len(notebook.cells) >= 3, "the lecture should tag its import, model and panel cells 'browser'"
    return notebook


def _top_probability(readout: str) -> float:
    """The largest renormalised probability in the readout ("most probable after: r 0.594, ...")."""
    values = re.findall(r"(\d\.\d{3})", readout.split("most probable after:")[1])
    return max(float(v) for v in values)


def test_temperature_slider_changes_the_distribution_in_jupyterlab(browser, lab):
    page = open_notebook(browser, lab, _browser_notebook(), "decoding_browser.ipynb")
    readout = page.locator(".arcourse-decoding-panel .arcourse-readout")
    readout.wait_for(state="visible", timeout=240_000)  # the lecture's cells, on a busy machine
    page.locator(".arcourse-samples code").first.wait_for(timeout=30_000)
    before = readout.inner_text()
    assert "Temperature(1)" in before and "kept 27 of 27 tokens" in before, before
    assert_no_errors(page)
    assert page.locator(".arcourse-decoding-panel img").first.evaluate("img => img.naturalWidth") > 0

    type_into_slider(page, page.locator(".arcourse-decoding-panel"), "temperature", "0.3")
    page.wait_for_function("before => document.querySelector('.arcourse-decoding-panel .arcourse-readout')"
                           ".innerText !== before", arg=before, timeout=30_000)
    after = readout.inner_text()
    assert "Temperature(0.3" in after, after
    assert _top_probability(after) > _top_probability(before), (before, after)  # colder: more peaked

    wait_idle(page, 30_000)
    SCREENSHOT.parent.mkdir(exist_ok=True)
    page.locator(".arcourse-decoding-panel").scroll_into_view_if_needed()
    page.screenshot(path=str(SCREENSHOT), full_page=False)
    screenshot(page.locator(".arcourse-decoding-panel"), "panel_07.png")
    close_notebook(page)
