"""The course website in a real browser: `arcourse site` builds it, Chromium reads every page.

Builds the site into a temporary folder, reusing the executed notebooks of build/site-cache
(the first build runs every lecture, later ones only those whose code changed) and the
lectures the suite has just run under nbval (build/executed/; the root conftest.py orders
this test after the notebooks, so a full suite runs each lecture once), serves it
from 127.0.0.1 and opens the front page and every lecture page in Chromium through
Playwright: each loads, shows its plots (decoded images with alt text), has its math
typeset by the site's own MathJax without errors, shows no traceback, and makes no request
to any other host. Every link of every page resolves to a file of the site, exercise pages
hold the stubs and none of the solutions' code, and search finds a lecture. Skips, saying
why, without a `chromium` binary or the site's packages.
"""
from __future__ import annotations

import functools
import html
import html.parser
import http.server
import re
import threading
import time
from pathlib import Path
from urllib.parse import unquote, urljoin, urlparse

import pytest

from arcourse.site import build_site, lecture_sources

ROOT = Path(__file__).resolve().parents[1]
BUILD_BUDGET_S = 600.0

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    pytest.importorskip("myst_nb", reason="the site's packages are not installed (pip install 'arcourse[site]')")
    out = tmp_path_factory.mktemp("site")
    report = build_site(ROOT, out, cache=ROOT / "build" / "site-cache")
    ran = ", ".join(report.executed) or "none, all from the cache or build/executed/"
    print(f"\nsite build: {report.seconds:.1f} s (lectures executed: {ran}; "
          f"taken from build/executed/: {', '.join(report.reused) or 'none'})")
    if report.executed:  # the budget is for a full build from scratch, which this one was in part
        assert report.seconds < BUILD_BUDGET_S, f"the site took {report.seconds:.0f} s to build"
    return report


class _Links(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.links: list[str] = []
        self.ids: set[str] = set()

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if "id" in attrs:
            self.ids.add(attrs["id"])
        for key in ("href", "src"):
            if attrs.get(key) and tag in {"a", "link", "script", "img"}:
                self.links.append(attrs[key])


def _parse(path: Path) -> _Links:
    parser = _Links()
    parser.feed(path.read_text(encoding="utf-8"))
    return parser


def test_every_link_of_every_page_resolves(site):
    pages = sorted(p for p in site.output.rglob("*.html") if "_static" not in p.parts)  # _static: theme templates
    assert len(pages) >= 1 + len(site.lectures) + len(site.exercises)
    parsed = {page: _parse(page) for page in pages}
    broken = []
    for page, links in parsed.items():
        for link in links.links:
            url = urlparse(link)
            if url.scheme in {"http", "https"}:
                continue  # the browser test below checks that nothing is fetched from outside
            if url.scheme in {"mailto", "data", "javascript"} or not (url.path or url.fragment):
                continue
            target = (page.parent / unquote(url.path)).resolve() if url.path else page
            if target.is_dir():
                target = target / "index.html"
            if not target.exists():
                broken.append(f"{page.relative_to(site.output)}: {link}")
            elif url.fragment and target.suffix == ".html" and url.fragment not in parsed[target].ids:
                broken.append(f"{page.relative_to(site.output)}: {link} (no such anchor)")
    assert not broken, "broken links:\n" + "\n".join(broken[:30])


def test_pages_are_discovered_by_glob_and_exercises_show_no_solution(site):
    assert [Path(p).stem for p in site.lectures] == [p.stem for p in lecture_sources(ROOT)]
    solutions = sorted((ROOT / "solutions").glob("ex[0-9][0-9]_*.py"))
    assert [Path(p).stem for p in site.exercises] == [p.stem for p in solutions]
    for solution in solutions:
        page = (site.output / "exercises" / f"{solution.stem}.html").read_text(encoding="utf-8")
        assert "NotImplementedError" in page
        hidden, inside = [], False
        stub = (ROOT / "exercises" / solution.name).read_text(encoding="utf-8")
        for line in solution.read_text(encoding="utf-8").splitlines():
            stripped = line.strip()
            marker = stripped[2:].strip() if stripped.startswith("# ###") else stripped  # as the build reads it
            if marker == "### BEGIN SOLUTION":
                inside = True
            elif marker == "### END SOLUTION":
                inside = False
            elif inside and len(stripped) > 25 and not stripped.startswith("#") and stripped not in stub:
                hidden.append(stripped)  # a solution line the student's version does not have
        assert hidden, f"{solution.name} has no solution code to hide"
        text = html.unescape(re.sub(r"<[^>]+>", "", page))
        leaked = [line for line in hidden if line in text]
        assert not leaked, f"exercises/{solution.stem}.html shows solution code: {leaked[:3]}"


def test_math_is_served_by_the_site(site):
    assert (site.output / "_static" / "mathjax" / "tex-svg-full.js").stat().st_size > 1_000_000
    page = (site.output / site.lectures[0]).read_text(encoding="utf-8")
    assert "_static/mathjax/tex-svg-full.js" in page
    assert "cdn.jsdelivr" not in page and "unpkg.com" not in page and "cdnjs" not in page


@pytest.fixture(scope="module")
def server(site):
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(site.output))
    handler.log_message = lambda *args: None
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    httpd.shutdown()


def _open(browser, url: str):
    """A page at `url`, with every request to a host other than 127.0.0.1 blocked and recorded."""
    page = browser.new_page(viewport={"width": 1200, "height": 900})
    outside: list[str] = []

    def route(r):
        host = urlparse(r.request.url)
        if host.scheme in {"data", "blob", "about"} or host.hostname == "127.0.0.1":
            r.continue_()
        else:
            outside.append(r.request.url)
            r.abort()

    page.route("**/*", route)
    errors: list[str] = []
    page.on("pageerror", lambda err: errors.append(str(err)))
    page.goto(url, wait_until="load")
    return page, outside, errors


def _typeset(page) -> None:
    page.wait_for_function("() => window.MathJax && MathJax.startup && MathJax.startup.promise", timeout=60_000)
    page.evaluate("() => MathJax.startup.promise")


def test_front_page_and_every_lecture_in_the_browser(site, server, browser):
    checked = []
    front, outside, errors = _open(browser, server)
    assert "Course map" in front.locator("body").inner_text()
    for stem in [Path(p).stem for p in site.lectures]:
        assert front.locator(f'a[href*="lectures/{stem}.html"]').count() >= 1, f"the front page does not link {stem}"
    assert not outside and not errors, (outside, errors)
    front.close()
    checked.append("index.html")

    for number, path in enumerate(site.lectures):
        page, outside, errors = _open(browser, urljoin(server, path))
        _typeset(page)
        text = page.locator("article").inner_text()
        assert "Traceback (most recent call last)" not in text and "Error" not in page.title(), path
        math = page.locator("mjx-container").count()
        assert math > 0, f"{path}: no typeset math"
        assert page.locator('mjx-container [data-mml-node="merror"]').count() == 0, f"{path}: a formula failed"
        assert "\\frac" not in text and "$$" not in text, f"{path}: raw TeX left on the page"
        plots = page.locator(".cell_output img")
        assert plots.count() > 0, f"{path}: no plots"
        for i in range(plots.count()):
            img = plots.nth(i)
            img.scroll_into_view_if_needed()
            assert img.evaluate("img => img.complete && img.naturalWidth > 0"), f"{path}: plot {i} did not load"
            assert (img.get_attribute("alt") or "").strip(), f"{path}: plot {i} has no alt text"
        if number + 1 < len(site.lectures):  # next/previous navigation
            nxt = page.locator("a.right-next")
            assert Path(site.lectures[number + 1]).name in nxt.get_attribute("href"), path
        assert page.locator("a.left-prev").count() == 1, f"{path}: no link to the previous page"
        sidebar = page.locator("nav.bd-docs-nav a.reference")  # the course's table of contents
        assert sidebar.count() >= len(site.lectures) + len(site.exercises), f"{path}: no table of contents"
        assert page.locator("nav.page-toc a").count() > 0, f"{path}: no contents of the page itself"
        assert not outside, f"{path} asked for {outside}"
        assert not errors, f"{path}: JavaScript errors {errors}"
        page.close()
        checked.append(path)

    for path in site.exercises[:1] + ["instructors.html"]:
        page, outside, errors = _open(browser, urljoin(server, path))
        assert not outside and not errors, (path, outside, errors)
        page.close()
        checked.append(path)
    print(f"\npages checked in the browser: {len(checked)}: {', '.join(checked)}")


def test_search_finds_a_lecture(site, server, browser):
    page, outside, errors = _open(browser, urljoin(server, "search.html?q=perplexity"))
    results = page.locator("#search-results a, ul.search a")
    deadline = time.monotonic() + 60
    while results.count() == 0 and time.monotonic() < deadline:
        page.wait_for_timeout(250)
    hrefs = [results.nth(i).get_attribute("href") for i in range(results.count())]
    assert any("lectures/02_information" in h for h in hrefs), hrefs
    assert not outside and not errors, (outside, errors)
    page.close()
