"""Every lecture's panel in a real browser: JupyterLab renders it, a control moves, the page changes.

One notebook builds the panels of lectures 01-06 and 08 (07's has its own test,
test_browser_decoding.py) in the session's JupyterLab (tests/browser_lab.py, started once
for all browser tests). Each test moves one control of one panel as a user does (types into
a slider's readout, picks from a menu, types into a box, clicks a button), waits for the
panel's readout to change, and checks the new readout against values computed here in the
test process. A screenshot of each panel goes to build/screenshots/panel_NN.png.
"""
from __future__ import annotations

import re

import numpy as np
import pytest
from browser_lab import assert_no_errors, close_notebook, open_notebook, screenshot, type_into_slider, wait_for_change, wait_idle

pytestmark = [pytest.mark.browser, pytest.mark.slow]

PANELS = {  # lecture -> (the panel's CSS class, the code that shows it)
    "01": ("arcourse-chain-rule-panel", "ChainRulePanel()"),
    "02": ("arcourse-information-panel", "InformationPanel()"),
    "03": ("arcourse-char-model-panel", "CharModelPanel.from_checkpoint(prefix='ma', n_samples=4)"),
    "04": ("arcourse-pixel-panel", "PixelPanel.from_checkpoint(rows=4, n_samples=4)"),
    "05": ("arcourse-receptive-field-panel", "ReceptiveFieldPanel.from_checkpoint(layers=4, seconds=0.25)"),
    "06": ("arcourse-attention-panel", "AttentionPanel.from_checkpoint(text='emma.olivia')"),
    "08": ("arcourse-speculative-panel", "SpeculativePanel.from_checkpoint(k=4, n_tokens=40)"),
}


@pytest.fixture(scope="module")
def page(browser, lab):
    import nbformat

    cells = [nbformat.v4.new_code_cell("import torch\ntorch.set_num_threads(1)\nfrom arcourse.widgets import *")]
    cells += [nbformat.v4.new_code_cell(f"panel_{n} = {code}\npanel_{n}.widget") for n, (_, code) in PANELS.items()]
    page = open_notebook(browser, lab, nbformat.v4.new_notebook(cells=cells), "panels_browser.ipynb", height=1400)
    for css, _ in PANELS.values():
        page.locator(f".{css} .arcourse-readout").wait_for(state="visible", timeout=120_000)
    wait_idle(page, 120_000)
    assert_no_errors(page)
    yield page
    close_notebook(page)


def panel_and_readout(page, lecture: str):
    panel = page.locator(f".{PANELS[lecture][0]}")
    readout = panel.locator(".arcourse-readout")
    panel.scroll_into_view_if_needed()
    assert panel.locator("img").first.evaluate("img => img.naturalWidth") > 0  # the chart is drawn
    return panel, readout, readout.inner_text()


def finish(page, panel, lecture: str) -> None:
    wait_idle(page)
    screenshot(panel, f"panel_{lecture}.png")


def test_01_choosing_an_order(page):
    panel, readout, before = panel_and_readout(page, "01")
    assert "order x1 → x2 → x3" in before and "23 parameters" in before
    panel.locator("select").select_option(label="x3 → x1 → x2")
    after = wait_for_change(page, readout, before)
    assert "order x3 → x1 → x2" in after and "p(x2 | x3, x1)" in after and "23 parameters" in after, after
    error = float(re.search(r"max \|rebuilt − joint\| = (\S+);", after).group(1))
    assert error < 1e-12  # the same joint in every order
    type_into_slider(page, panel, "context", "1")
    after = wait_for_change(page, readout, after)
    # p(x3): 3, p(x1 | x3): 1 x 4, p(x2 | x1): 2 x 2 free numbers
    assert "Markov assumption" in after and f"{3 + 4 + 4} parameters" in after, after
    finish(page, panel, "01")


def test_02_moving_q(page):
    panel, readout, before = panel_and_readout(page, "02")
    assert "H(p, q) = 2.0000 bits" in before, before
    type_into_slider(page, panel, "q weight 0", "0.5")
    after = wait_for_change(page, readout, before)
    p, q = np.array([0.5, 0.25, 0.125, 0.125]), np.array([0.5, 1, 1, 1]) / 3.5
    assert f"H(p, q) = {-(p * np.log2(q)).sum():.4f} bits" in after, after
    assert f"KL(p ‖ q) = {(p * np.log2(p / q)).sum():.4f} bits" in after, after
    finish(page, panel, "02")


def test_03_typing_a_prefix(page):
    from arcourse.widgets import CharModelPanel

    panel, readout, before = panel_and_readout(page, "03")
    box = panel.locator("input[type=text]")
    box.fill("jo")
    box.press("Enter")
    after = wait_for_change(page, readout, before)
    here = CharModelPanel.from_checkpoint(prefix="jo", n_samples=4)
    assert after.split("; hidden")[0] == here.readout.split("; hidden")[0], (after, here.readout)
    finish(page, panel, "03")


def test_04_rows_given(page):
    from arcourse.widgets import PixelPanel

    panel, readout, before = panel_and_readout(page, "04")
    assert "4 of 8 rows given" in before
    type_into_slider(page, panel, "rows given", "6")
    after = wait_for_change(page, readout, before)
    here = PixelPanel.from_checkpoint(rows=6, n_samples=4)
    assert after == here.readout, (after, here.readout)
    finish(page, panel, "04")


def test_05_layers_and_audio(page):
    panel, readout, before = panel_and_readout(page, "05")
    assert "= 16;" in before  # 4 layers: 1 + 1 + 2 + 4 + 8
    type_into_slider(page, panel, "layers per stack", "6")
    after = wait_for_change(page, readout, before)
    assert "(kernel − 1)·Σ dilations + 1 = 64;" in after and "non-zero on 64 inputs" in after, after
    audio_box = panel.locator(".arcourse-audio-readout")
    panel.get_by_role("button", name="generate audio").click()
    audio_text = wait_for_change(page, audio_box, audio_box.inner_text(), timeout=60_000)
    assert "2000 samples" in audio_text, audio_text
    duration = panel.locator("audio").evaluate(
        "a => new Promise(done => a.readyState >= 1 ? done(a.duration) : a.onloadedmetadata = () => done(a.duration))")
    assert duration == pytest.approx(0.25, abs=0.01)  # the browser decoded the generated WAV
    finish(page, panel, "05")


def test_06_layer_and_head(page):
    from arcourse.widgets import AttentionPanel

    panel, readout, before = panel_and_readout(page, "06")
    type_into_slider(page, panel, "layer", "1")
    after = wait_for_change(page, readout, before)
    here = AttentionPanel.from_checkpoint(text="emma.olivia", layer=1)
    assert after.split("; cached")[0] == here.readout.split("; cached")[0], (after, here.readout)
    assert f"× 12 positions ×" in after
    finish(page, panel, "06")


def test_08_draft_and_k(page):
    panel, readout, before = panel_and_readout(page, "08")
    panel.locator("select").select_option(index=len(panel.locator("select option").all()) - 1)  # the target itself
    after = wait_for_change(page, readout, before, timeout=60_000)
    assert "acceptance 1.000" in after, after
    type_into_slider(page, panel, "k (drafted", "7")
    after = wait_for_change(page, readout, after, timeout=60_000)
    assert "k = 7" in after and "40 tokens in 5 target calls = 8.00 per call" in after, after
    finish(page, panel, "08")
