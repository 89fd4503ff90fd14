"""One JupyterLab and one headless Chromium for every browser test of the session.

`lab` starts JupyterLab on 127.0.0.1 (a free port, a random token) in a temporary folder,
once per test session; `browser` launches Debian's chromium through Playwright, once too;
`open_notebook` writes a notebook into the lab's folder, opens it in a new page and runs
all its cells. tests/conftest.py registers the fixtures; tests import the helpers from here.
Installs nothing: the fixtures skip, saying why, without a `chromium` binary or the
`playwright` package (`.ci/run` installs Debian's chromium).
"""
from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCREENSHOTS = ROOT / "build" / "screenshots"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


@dataclass
class Lab:
    folder: Path
    port: int
    token: str

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}/{path}?token={self.token}"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start_lab(folder: Path, port: int, token: str) -> subprocess.Popen:
    labconfig = folder / ".config" / "labconfig"
    labconfig.mkdir(parents=True)
    # no "get notified about Jupyter news?" pop-up over the panels
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


def chromium_path() -> str:
    """Debian's chromium, or a skip saying how to get it."""
    chromium = shutil.which("chromium")
    if chromium is None:
        pytest.skip("no `chromium` binary on PATH (apt-get install chromium; .ci/run does)")
    return chromium


@pytest.fixture(scope="session")
def browser():
    """A headless Chromium (Playwright), shared by the session's browser tests."""
    chromium = chromium_path()
    sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")
    playwright = sync_api.sync_playwright().start()
    try:
        instance = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        yield instance
        instance.close()
    finally:
        playwright.stop()


@pytest.fixture(scope="session")
def lab(tmp_path_factory, browser):
    """JupyterLab serving a temporary folder, started once for the session."""
    folder = tmp_path_factory.mktemp("lab")
    server = Lab(folder, _free_port(), secrets.token_hex(16))
    proc = _start_lab(folder, server.port, server.token)
    yield server
    _stop(proc)


def open_notebook(browser, lab: Lab, notebook, name: str, *, height: int = 1000):
    """Write `notebook` (an nbformat node) as `name` in the lab, open it in a new page, run
    all its cells, and return the page (kernel started, cells queued)."""
    import nbformat

    # without a kernelspec JupyterLab asks which kernel to start, and nothing runs
    notebook.metadata.setdefault("kernelspec", {"name": "python3", "display_name": "Python 3 (ipykernel)",
                                                "language": "python"})
    nbformat.write(notebook, lab.folder / name)
    page = browser.new_page(viewport={"width": 1280, "height": height})
    # a workspace of its own, reset: JupyterLab would otherwise reopen the notebooks of the
    # session's earlier pages, and one of those could be the current widget that runs
    page.goto(lab.url(f"lab/workspaces/{Path(name).stem}/tree/{name}") + "&reset")
    page.wait_for_function("name => { const w = window.jupyterapp?.shell.currentWidget;"
                           " return w?.context?.path === name && w.sessionContext?.session?.kernel; }",
                           arg=name, timeout=60_000)
    page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
    return page


def close_notebook(page) -> None:
    """Shut the notebook's kernel down (so it frees its memory and CPU for the next test) and close the page."""
    page.evaluate("() => window.jupyterapp.shell.currentWidget?.sessionContext?.shutdown()")
    page.close()


def wait_idle(page, timeout: int = 60_000) -> None:
    page.wait_for_function("() => window.jupyterapp.shell.currentWidget.sessionContext.session"
                           ".kernel.status === 'idle'", timeout=timeout)


def assert_no_errors(page) -> None:
    text = page.locator("body").inner_text()
    for failure in ("model not found", "Error displaying widget", "Traceback"):
        assert failure not in text, f"the page shows {failure!r}"


def type_into_slider(page, panel, label: str, value: str) -> None:
    """Type a value into the readout of the slider labelled `label` in `panel`, as a user does."""
    slider = panel.locator(".widget-slider", has=page.locator("label", has_text=label))
    field = slider.locator(".widget-readout")
    field.click()
    page.keyboard.press("Control+A")
    page.keyboard.type(value)
    page.keyboard.press("Enter")


def wait_for_change(page, locator, before: str, timeout: int = 30_000) -> str:
    """Wait until `locator`'s text differs from `before`; return the new text."""
    page.wait_for_function("([el, before]) => el.innerText !== before", arg=[locator.element_handle(), before],
                           timeout=timeout)
    return locator.inner_text()


def screenshot(locator, name: str) -> Path:
    """Save a screenshot of `locator` as build/screenshots/`name`."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / name
    locator.scroll_into_view_if_needed()
    locator.screenshot(path=str(path))
    return path
