"""The decoding panel in a real browser: JupyterLab renders the widgets and a slider works.

Starts JupyterLab on 127.0.0.1 (a free port, a random token) in a temporary folder holding
the cells of lectures/07_decoding.py tagged "browser" (imports, the trained model, the panel),
opens that notebook in Chromium through Playwright, runs it, moves the temperature slider and
checks that the displayed next-token distribution changed. A screenshot is saved to
build/browser-decoding.png. Installs nothing: it skips, saying why, without a `chromium`
binary or the `playwright` package (`.ci/run` installs Debian's chromium).
"""
from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LECTURE = ROOT / "lectures" / "07_decoding.py"
SCREENSHOT = ROOT / "build" / "browser-decoding.png"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _browser_notebook(folder: Path) -> Path:
    """The lecture's cells tagged "browser", as a notebook in `folder`."""
    import jupytext
    import nbformat

    notebook = jupytext.read(LECTURE)
    notebook.cells = [c for c in notebook.cells if "browser" in c.metadata.get("tags", [])]
    assert len(notebook.cells) >= 3, "the lecture should tag its import, model and panel cells 'browser'"
    path = folder / "decoding_browser.ipynb"
    nbformat.write(notebook, path)
    return path


def _start_lab(folder: Path, port: int, token: str) -> subprocess.Popen:
    labconfig = folder / ".config" / "labconfig"
    labconfig.mkdir(parents=True)
    # no "get notified about Jupyter news?" pop-up over the panel
    (labconfig / "page_config.json").write_text(
        json.dumps({"disabledExtensions": {"@jupyterlab/apputils-extension:announcements": True}}))
    env = dict(os.environ, JUPYTER_CONFIG_DIR=str(folder / ".config"), JUPYTER_RUNTIME_DIR=str(folder / ".runtime"),
               JUPYTERLAB_SETTINGS_DIR=str(folder / ".settings"), JUPYTERLAB_WORKSPACES_DIR=str(folder / ".ws"))
    command = [sys.executable, "-m", "jupyter", "lab", "--no-browser", "--ServerApp.ip=127.0.0.1",
               f"--ServerApp.port={port}", f"--IdentityProvider.token={token}",
               f"--ServerApp.root_dir={folder}", "--LabApp.expose_app_in_browser=True",
               "--allow-root", "--LabApp.news_url=None", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"]
    log = open(folder / "jupyterlab.log", "w")
    proc = subprocess.Popen(command, cwd=folder, env=env, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"JupyterLab exited: {(folder / 'jupyterlab.log').read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/status?token={token}", timeout=2):
                return proc
        except OSError:
            time.sleep(0.5)
    proc.kill()
    raise RuntimeError("JupyterLab did not answer within 60 s")


def _stop(proc: subprocess.Popen) -> None:
    proc.terminate()  # the server shuts its kernels down on SIGTERM
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _top_probability(readout: str) -> float:
    """The largest renormalised probability in the readout ("most probable after: r 0.594, ...")."""
    values = re.findall(r"(\d\.\d{3})", readout.split("most probable after:")[1])
    return max(float(v) for v in values)


def test_temperature_slider_changes_the_distribution_in_jupyterlab(tmp_path):
    chromium = shutil.which("chromium")
    if chromium is None:
        pytest.skip("no `chromium` binary on PATH (apt-get install chromium; .ci/run does)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")

    notebook = _browser_notebook(tmp_path)
    port, token = _free_port(), secrets.token_hex(16)
    lab = _start_lab(tmp_path, port, token)
    try:
        with sync_api.sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1280, "height": 1000})
            page.goto(f"http://127.0.0.1:{port}/lab/tree/{notebook.name}?token={token}")
            page.wait_for_function("() => window.jupyterapp?.shell.currentWidget?.sessionContext?.session?.kernel",
                                   timeout=60_000)
            page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
            readout = page.locator(".arcourse-readout")
            readout.wait_for(state="visible", timeout=90_000)
            page.locator(".arcourse-samples code").first.wait_for(timeout=30_000)
            before = readout.inner_text()
            assert "Temperature(1)" in before and "kept 27 of 27 tokens" in before, before

            text_now = page.locator("body").inner_text()
            for failure in ("model not found", "Error displaying widget", "Traceback"):
                assert failure not in text_now, f"the page shows {failure!r}"
            assert page.locator(".arcourse-decoding-panel img").first.evaluate("img => img.naturalWidth") > 0

            # type a new value into the slider's readout, as a user does
            temperature = page.locator(".widget-slider", has=page.locator("label", has_text="temperature"))
            field = temperature.locator(".widget-readout")
            field.click()
            page.keyboard.press("Control+A")
            page.keyboard.type("0.3")
            page.keyboard.press("Enter")
            page.wait_for_function("before => document.querySelector('.arcourse-readout').innerText !== before",
                                   arg=before, timeout=30_000)
            after = readout.inner_text()
            assert "Temperature(0.3" in after, after
            assert _top_probability(after) > _top_probability(before), (before, after)  # colder: more peaked

            page.wait_for_function("() => window.jupyterapp.shell.currentWidget.sessionContext.session"
                                   ".kernel.status === 'idle'", timeout=30_000)
            SCREENSHOT.parent.mkdir(exist_ok=True)
            page.locator(".arcourse-decoding-panel").scroll_into_view_if_needed()
            page.screenshot(path=str(SCREENSHOT), full_page=False)
            browser.close()
    finally:
        _stop(lab)
