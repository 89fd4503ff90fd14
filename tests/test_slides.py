"""`arcourse slides`: slide types, and decks that load offline in a real browser.

The browser tests open the deck from file:// in Chromium with every request that is not
a file:// URL recorded and aborted, and check that none was attempted, that reveal.js
counts the slides the cells' types call for, that MathJax typeset the math and that the
plot is an image in the page. Screenshot: build/screenshots/slides_01.png.
"""
from __future__ import annotations

import nbformat
import pytest
from browser_lab import ROOT, SCREENSHOTS

from arcourse.cli import main
from arcourse.slides import SlidesError, assign_slide_types, count_slides, find_lecture, render_slides


def _notebook(*cells):
    return nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell(s[3:]) if s.startswith("md:")
                                           else nbformat.v4.new_code_cell(s) for s in cells])


def test_unannotated_cells_get_types_by_their_place():
    nb = _notebook("md:# Title", "md:Some prose $x$", "x = 1", "y = 2", "md:## Section", "z = 3",
                   "md:### Detail", "md:more prose", "")
    assert assign_slide_types(nb) == ["slide", "subslide", "-", "subslide", "slide", "-", "subslide", "subslide",
                                      "skip"]
    assert count_slides(assign_slide_types(nb)) == 6


def test_given_types_are_kept_and_checked():
    nb = _notebook("md:# Title", "md:A point", "x = 1")
    nb.cells[1].metadata["slideshow"] = {"slide_type": "fragment"}
    nb.cells[2].metadata["slideshow"] = {"slide_type": "skip"}
    assert assign_slide_types(nb) == ["slide", "fragment", "skip"]
    nb.cells[2].metadata["slideshow"] = {"slide_type": "sideways"}
    with pytest.raises(SlidesError, match="sideways"):
        assign_slide_types(nb)
    assert assign_slide_types(_notebook("x = 1", "md:prose")) == ["slide", "subslide"]  # a deck starts with a slide


def test_lectures_annotate_only_their_heading_cells():
    import jupytext

    for n in range(1, 9):
        nb = jupytext.read(find_lecture(n, ROOT))
        annotated = [c for c in nb.cells if "slideshow" in c.metadata]
        assert annotated, f"lecture {n:02d} carries no slide metadata"
        for cell in annotated:
            assert cell.cell_type == "markdown" and cell.source.startswith("#"), cell.source[:60]
        assert nb.cells[0].metadata["slideshow"]["slide_type"] == "slide"


def test_find_lecture_errors(tmp_path):
    with pytest.raises(SlidesError, match="one or two digits"):
        find_lecture("x1")
    with pytest.raises(SlidesError, match="found 0"):
        find_lecture(3, tmp_path)
    assert main(["slides", "99", "--root", str(ROOT), "-o", str(tmp_path), "--no-execute"]) == 2


def _open_offline(browser, deck):
    """Open `deck` from file://, aborting and recording every other request."""
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    attempted = []

    def guard(route):
        if route.request.url.startswith("file://"):
            route.continue_()
        else:
            attempted.append(route.request.url)
            route.abort()

    page.route("**/*", guard)
    page.goto(deck.as_uri())
    page.wait_for_function("() => window.Reveal && Reveal.isReady()", timeout=60_000)
    page.wait_for_function("() => window.MathJax && MathJax.Hub && MathJax.Hub.queue.pending === 0 "
                           "&& document.querySelectorAll('.MathJax, .MathJax_Display, .MathJax_CHTML').length > 0",
                           timeout=60_000)
    return page, attempted


@pytest.mark.browser
@pytest.mark.slow
def test_an_executed_deck_has_plots_math_and_code_offline(browser, tmp_path):
    source = tmp_path / "demo.py"
    source.write_text("# %% [markdown]\n# # A demo deck\n#\n# $$p(x) = \\prod_i p(x_i \\mid x_{<i})$$\n\n"
                      "# %%\nimport matplotlib.pyplot as plt\nplt.plot([0, 1], [1, 0]); plt.show()\n\n"
                      "# %% [markdown]\n# ## Second\n#\n# inline $H(p) = -\\sum_x p(x) \\log p(x)$\n\n"
                      "# %%\nprint(sum(range(10)))\n")
    deck = render_slides(source, tmp_path / "out")
    page, attempted = _open_offline(browser, deck)
    assert attempted == []
    assert page.evaluate("Reveal.getTotalSlides()") == 2
    assert page.locator("section img[src^='data:image/png']").first.evaluate("img => img.naturalWidth") > 0
    assert "45" in page.locator(".reveal").inner_text()  # the printed output of a code cell
    assert page.locator(".reveal pre").count() >= 2  # the code, highlighted
    page.close()


@pytest.mark.browser
@pytest.mark.slow
def test_lecture_01_deck_loads_offline_with_its_slides(browser, tmp_path):
    import jupytext

    assert main(["slides", "01", "--root", str(ROOT), "-o", str(tmp_path), "--no-execute"]) == 0
    deck = tmp_path / "01_chain_rule.slides.html"
    page, attempted = _open_offline(browser, deck)
    assert attempted == []
    expected = count_slides(assign_slide_types(jupytext.read(find_lecture(1, ROOT))))
    assert page.evaluate("Reveal.getTotalSlides()") == expected
    assert page.evaluate("document.querySelectorAll('.MathJax_Display').length") > 0  # display math typeset
    raw = page.evaluate("Array.from(document.querySelectorAll('section.present')).map(s => s.innerText).join(' ')")
    assert "$$" not in raw and "\\prod" not in raw  # nothing left untypeset on the first slide
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "slides_01.png"))
    page.close()
