"""The built book, read as a reader would: every page opened in a real headless Chromium, served from 127.0.0.1.

Each page must load (HTTP 200) without a console error, a page error or a failed request, and declare a favicon
(else the browser's request for /favicon.ico is a 404 in the console); every image must have rendered; every equation
must have been typeset by MathJax without a TeX error, and no stray ``$`` may be left in the prose; every internal
link (and its anchor) must resolve; the search must find the chapters; the results page must show glued numbers.
Requests that leave 127.0.0.1 are blocked and reported: the book must read offline (no CDN).

Debian's ``chromium`` is driven by the ``playwright`` package (playwright cannot download its own browser here).
Without ``/usr/bin/chromium`` the module is skipped on a developer's machine and fails under CI (``CI`` set in the
environment pytest was started with), where ``scripts/install-browser.sh`` must have installed it.
Screenshots of the landing page and the results page go to ``$SEEDEXPLAIN_SCREENSHOTS`` (else a temporary folder)."""

from __future__ import annotations

import functools
import http.server
import os
import re
import threading
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urldefrag, urljoin, urlsplit

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
LANDING = "book/index.html"
RESULTS = "book/results.html"
SEARCH = "search.html?q=seed"  # a search a reader would run; every chapter is about seeds
SEARCH_FINISHED_JS = "() => typeof Search !== 'undefined' && Search.title?.innerText === 'Search Results'"
NUMBER = re.compile(r"[-−]?\d+(\.\d+)?(e[-+]?\d+)?%?")  # a glued number as the book prints it
NOT_A_VALUE = {"", "nan", "-nan", "inf", "-inf", "none", "null"}
NOT_PAGES = ("_static", "_sources", "_images", "_downloads")  # folders of assets, not pages of the book


def _started_under_ci() -> bool:
    """Whether ``CI`` was set when pytest started (tests/conftest.py sets a default ``CI`` for progress bars)."""
    try:
        initial = Path("/proc/self/environ").read_bytes().split(b"\0")
    except OSError:
        return bool(os.environ.get("CI"))
    return any(entry.startswith(b"CI=") and entry != b"CI=" for entry in initial)


if not CHROMIUM.exists() and not _started_under_ci():
    pytest.skip(f"{CHROMIUM} is missing (install it with scripts/install-browser.sh, as root)",
                allow_module_level=True)

from playwright.sync_api import TimeoutError as PlaywrightTimeoutError  # noqa: E402
from playwright.sync_api import sync_playwright  # noqa: E402
from scripts.print_pdf import SETTLE as SETTLE_JS  # noqa: E402  (images loaded, MathJax typeset)

INSPECT_JS = r"""() => ({
  images: Array.from(document.images).map(i => ({src: i.currentSrc || i.src, width: i.naturalWidth})),
  links: Array.from(document.querySelectorAll('a[href]')).map(a => a.href),
  ids: Array.from(document.querySelectorAll('[id], a[name]')).map(e => e.id || e.getAttribute('name')),
  untypeset: Array.from(document.querySelectorAll('.math')).filter(m => !m.querySelector('mjx-container'))
    .map(m => m.textContent.trim().slice(0, 80)),
  tex_errors: Array.from(document.querySelectorAll('mjx-merror'))
    .map(e => (e.getAttribute('data-mjx-error') || e.textContent).slice(0, 80)),
  stray_dollars: (() => {
    const found = [], walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
    while (walker.nextNode()) {
      const node = walker.currentNode;
      if (node.textContent.includes('$') && !node.parentElement.closest(
          'code, pre, kbd, samp, script, style, textarea, mjx-container, .highlight')) {
        const at = node.textContent.indexOf('$');
        found.push(node.textContent.slice(Math.max(0, at - 40), at + 40).replace(/\s+/g, ' ').trim());
      }
    }
    return found;
  })(),
  rows: Array.from(document.querySelectorAll('table tr'))
    .map(tr => Array.from(tr.cells).map(c => c.textContent.replace(/\s+/g, ' ').trim())),
  pasted: Array.from(document.querySelectorAll('.pasted-text')).map(e => e.textContent.trim()),
  icons: Array.from(document.querySelectorAll('link[rel~="icon"]')).map(l => l.href),
})"""


@dataclass
class Visit:
    """What one page showed the browser."""

    status: int | None = None
    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    failed_requests: list[str] = field(default_factory=list)
    external_requests: list[str] = field(default_factory=list)
    images: list[dict] = field(default_factory=list)
    links: list[str] = field(default_factory=list)
    ids: set[str] = field(default_factory=set)
    untypeset_math: list[str] = field(default_factory=list)
    tex_errors: list[str] = field(default_factory=list)
    stray_dollars: list[str] = field(default_factory=list)
    table_rows: list[list[str]] = field(default_factory=list)
    pasted: list[str] = field(default_factory=list)
    icons: list[str] = field(default_factory=list)
    final_url: str = ""


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 (the base class's name)
        pass


class _Ids(HTMLParser):
    """Collects the ``id`` and ``name`` attributes of an HTML document (anchors of a page the browser did not open)."""

    def __init__(self):
        super().__init__()
        self.ids: set[str] = set()

    def handle_starttag(self, tag, attrs):
        for key, value in attrs:
            if key == "id" or (tag == "a" and key == "name"):
                self.ids.add(value or "")


def _pages(html: Path) -> list[str]:
    """Every HTML page of the built book, relative to ``html``, in a stable order."""
    return sorted(p.relative_to(html).as_posix() for p in html.rglob("*.html")
                  if p.relative_to(html).parts[0] not in NOT_PAGES)


def _redirect_target(path: Path) -> str | None:
    """The target of a ``<meta http-equiv="Refresh">`` page (the root index.html of a Jupyter Book), else None."""
    match = re.search(r'http-equiv="Refresh"[^>]*url=([^"]+)"', path.read_text(errors="replace"), re.IGNORECASE)
    return match.group(1).strip() if match else None


def _keep_local(visit: Visit, origin: str):
    """A route handler that blocks, and records, every request leaving ``origin`` (a reader offline has no CDN)."""

    def handle(route):
        url = route.request.url
        if url.startswith(("http:", "https:")) and urlsplit(url).netloc != origin:
            visit.external_requests.append(url)
            route.abort("blockedbyclient")
        else:
            route.continue_()

    return handle


@pytest.fixture(scope="session", autouse=True)  # session: fail before the (session) book is built
def chromium_installed() -> None:
    """Under CI a missing browser is a failure of every test here, not a skip."""
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing under CI: `make test` must install it (scripts/install-browser.sh)",
                    pytrace=False)


@pytest.fixture(scope="module")
def html_root(built_book) -> Path:
    return built_book / "_build" / "html"


@pytest.fixture(scope="module")
def base_url(html_root):
    """Serve the built book on 127.0.0.1 (a free port) for the module; stopped at the end."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0),
                                             functools.partial(_QuietHandler, directory=str(html_root)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@pytest.fixture(scope="module")
def screenshot_dir(tmp_path_factory) -> Path:
    folder = Path(os.environ.get("SEEDEXPLAIN_SCREENSHOTS") or tmp_path_factory.mktemp("screenshots"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture(scope="module")
def visits(html_root, base_url, screenshot_dir) -> dict[str, Visit]:
    """Open every page of the book in Chromium once; return what each page showed, by path."""
    origin = urlsplit(base_url).netloc
    results: dict[str, Visit] = {}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(viewport={"width": 1280, "height": 900}, service_workers="block")
            for path in _pages(html_root):
                visit = results[path] = Visit()
                page = context.new_page()

                page.route("**/*", _keep_local(visit, origin))
                page.on("console", lambda msg, visit=visit: msg.type == "error" and visit.console_errors.append(
                    f"{msg.text} (at {msg.location.get('url', '?')}:{msg.location.get('lineNumber', '?')})"))
                page.on("pageerror", lambda error, visit=visit: visit.page_errors.append(str(error)))
                page.on("requestfailed", lambda request, visit=visit: visit.failed_requests.append(
                    f"{request.url}: {request.failure}"))
                page.on("response", lambda response, visit=visit: response.status >= 400
                        and visit.failed_requests.append(f"{response.url}: HTTP {response.status}"))
                response = page.goto(base_url + path, wait_until="load")
                visit.status = response.status if response else None
                target = _redirect_target(html_root / path)
                if target:  # follow the redirect as a reader's browser does
                    page.wait_for_url(urljoin(base_url + path, target), wait_until="load")
                page.wait_for_load_state("networkidle")
                page.evaluate(SETTLE_JS)
                seen = page.evaluate(INSPECT_JS)
                visit.images, visit.links = seen["images"], seen["links"]
                visit.ids, visit.untypeset_math = set(seen["ids"]), seen["untypeset"]
                visit.tex_errors, visit.stray_dollars = seen["tex_errors"], seen["stray_dollars"]
                visit.table_rows, visit.pasted, visit.icons = seen["rows"], seen["pasted"], seen["icons"]
                visit.final_url = page.url
                if path in (LANDING, RESULTS):
                    page.screenshot(path=str(screenshot_dir / (path.replace("/", "_")[:-5] + ".png")),
                                    full_page=True)
                page.close()
            results[SEARCH] = _search(context, base_url, origin)
        finally:
            browser.close()
    return results


def _search(context, base_url: str, origin: str) -> Visit:
    """Search the book for a word of every chapter, as a reader would; the hits are the links of the visit."""
    visit = Visit()
    page = context.new_page()
    page.route("**/*", _keep_local(visit, origin))
    page.on("console", lambda msg: msg.type == "error" and visit.console_errors.append(msg.text))
    page.on("pageerror", lambda error: visit.page_errors.append(str(error)))
    response = page.goto(base_url + SEARCH, wait_until="load")
    visit.status = response.status if response else None
    try:  # Sphinx lists the hits one by one, then sets the title (searchtools.js, _finishSearch)
        page.wait_for_function(SEARCH_FINISHED_JS, timeout=30_000)
    except PlaywrightTimeoutError:
        visit.page_errors.append("the search did not finish within 30 s")
    visit.links = page.eval_on_selector_all("ul.search li a", "els => els.map(a => a.href)")
    visit.final_url = page.url
    page.close()
    return visit


def _report(problems: dict[str, list[str]]) -> str:
    """One line per problem, grouped by page; empty when there is none."""
    return "\n".join(f"{page}:\n  " + "\n  ".join(items) for page, items in problems.items() if items)


def test_every_toc_chapter_is_a_page(visits, built_book):
    import yaml  # installed with jupyter-book

    def files(entries):
        for entry in entries:
            if "file" in entry:
                yield entry["file"]
            for key in ("parts", "chapters", "sections"):
                yield from files(entry.get(key, []))

    toc = yaml.safe_load((built_book / "_toc.yml").read_text())
    chapters = [toc["root"], *files(toc.get("parts", []) + toc.get("chapters", []))]
    missing = [c for c in chapters if f"{Path(c).with_suffix('')}.html" not in visits]
    assert not missing, f"chapters of _toc.yml without a page: {missing}"
    assert LANDING in visits and RESULTS in visits


def test_every_page_declares_a_favicon(visits):
    """Without ``<link rel="icon">`` every browser asks for /favicon.ico, a 404 in the reader's console."""
    problems: dict[str, list[str]] = {}
    for page, visit in visits.items():
        if page == SEARCH:  # search.html itself is visited as a page
            continue
        if not visit.icons:
            problems[page] = ["no <link rel=icon> (set html.favicon in _config.yml)"]
        for icon in visit.icons:
            try:
                urllib.request.urlopen(icon, timeout=30).close()
            except urllib.error.HTTPError as error:
                problems.setdefault(page, []).append(f"favicon {icon}: HTTP {error.code}")
    report = _report(problems)
    assert not report, "\n" + report


def test_search_finds_the_chapters(visits, base_url):
    hits = {urlsplit(link).path.lstrip("/") for link in visits[SEARCH].links}
    assert {"book/question.html", "book/results.html"} <= hits, f"search for 'seed' found only {sorted(hits)}"


def test_every_page_loads(visits):
    bad = {p: [f"HTTP {v.status}"] for p, v in visits.items() if v.status != 200}
    report = _report(bad)
    assert not report, "\n" + report


def test_no_console_error_page_error_or_failed_request(visits):
    problems = {p: [f"console error: {e}" for e in v.console_errors] + [f"page error: {e}" for e in v.page_errors]
                + [f"failed request: {e}" for e in v.failed_requests] for p, v in visits.items()}
    report = _report(problems)
    assert not report, "\n" + report


def test_no_request_leaves_the_machine(visits):
    """A reader offline sees the same book: no CDN script, font or stylesheet (MathJax must be served locally)."""
    problems = {p: [f"external request: {u}" for u in v.external_requests] for p, v in visits.items()}
    report = _report(problems)
    assert not report, "\n" + report


def test_every_image_rendered(visits):
    problems = {p: [f"image not rendered: {i['src']}" for i in v.images if not i["width"] > 0]
                for p, v in visits.items()}
    report = _report(problems)
    assert not report, "\n" + report


def test_every_equation_typeset_without_error(visits):
    """MathJax typeset every equation, reported no TeX error, and no ``$`` is left over in the prose."""
    problems = {p: [f"equation not typeset by MathJax: {m}" for m in v.untypeset_math]
                + [f"TeX error shown to the reader: {e}" for e in v.tex_errors]
                + [f"stray $ in the text (unbalanced or mangled math?): {t!r}" for t in v.stray_dollars]
                for p, v in visits.items()}
    report = _report(problems)
    assert not report, "\n" + report


def test_every_internal_link_and_anchor_resolves(visits, base_url):
    origin = urlsplit(base_url).netloc
    by_url = {v.final_url: v for v in visits.values()} | {base_url + p: v for p, v in visits.items()}
    fetched: dict[str, tuple[int, set[str] | None]] = {}

    def fetch(url: str) -> tuple[int, set[str] | None]:
        if url not in fetched:
            try:
                with urllib.request.urlopen(url, timeout=30) as response:
                    status, body = response.status, response.read()
                    html = response.headers.get_content_type() == "text/html"
            except urllib.error.HTTPError as error:
                status, body, html = error.code, b"", False
            ids = None
            if html:
                parser = _Ids()
                parser.feed(body.decode(errors="replace"))
                ids = parser.ids
            fetched[url] = (status, ids)
        return fetched[url]

    problems: dict[str, list[str]] = {}
    for page, visit in visits.items():
        for link in sorted(set(visit.links)):
            if urlsplit(link).scheme not in ("http", "https") or urlsplit(link).netloc != origin:
                continue
            url, anchor = urldefrag(link)
            status, ids = fetch(url)
            if status != 200:
                problems.setdefault(page, []).append(f"broken link: {link} (HTTP {status})")
            elif anchor:
                target_ids = by_url[url].ids if url in by_url else ids
                if target_ids is None or anchor not in target_ids:
                    problems.setdefault(page, []).append(f"missing anchor: {link}")
    report = _report(problems)
    assert not report, "\n" + report


def test_results_page_shows_glued_numbers(visits):
    """The numbers of the results chapter are pasted from the executed notebooks (myst-nb glue), in tables."""
    results = visits[RESULTS]
    numbers = [value for value in results.pasted if NUMBER.fullmatch(value)]
    assert len(numbers) >= 8, f"too few glued numbers on {RESULTS}: {results.pasted}"
    tables_of_numbers = [row for row in results.table_rows
                         if len(row) > 1 and all(re.search(r"\d\.\d", cell) for cell in row[1:])]
    assert tables_of_numbers, f"no table row of decimal numbers on {RESULTS}: {results.table_rows}"
    assert any(image["width"] > 0 for image in results.images), f"no rendered figure on {RESULTS}"


def test_no_glued_value_is_missing_or_not_a_number(visits):
    problems = {p: [f"glued value {value!r}" for value in v.pasted if value.strip().lower() in NOT_A_VALUE]
                for p, v in visits.items()}
    report = _report(problems)
    assert not report, "\n" + report


def test_screenshots_saved(visits, screenshot_dir):
    for path in (LANDING, RESULTS):
        shot = screenshot_dir / (path.replace("/", "_")[:-5] + ".png")
        assert shot.is_file() and shot.stat().st_size > 10_000, f"screenshot missing or empty: {shot}"


EXPLANATIONS = "book/explanations.html"


def _tooltip_numbers(row: str) -> tuple[float, list[float]]:
    """Return (mean, per-seed values) from a tooltip row "label: mean m ± sd over n seeds; seeds: a, b, ..."."""
    mean = float(re.search(r"mean (\S+) ±", row).group(1).replace("−", "-"))
    seeds = [float(v.replace("−", "-")) for v in row.split("seeds: ", 1)[1].split(",")]
    return mean, seeds


def test_hovering_or_focusing_a_word_shows_every_seed_of_both_families(built_book, base_url):
    """The explanations chapter's interactive heatmap: a word's tooltip holds the notebook's arrays (3 digits)."""
    from seedexplain import pipeline, report
    from seedexplain.config import make_config

    results = pipeline.run(make_config("quick", artifacts=str(built_book / "artifacts")))
    first = report.example_texts(results, n=3)[0]  # the explorer lists the examples first
    word = 1
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda error: errors.append(str(error)))
            page.goto(base_url + EXPLANATIONS, wait_until="load")
            page.hover(f'.se-family[data-family="linear"] .se-word[data-i="{word}"]')
            rows = {family: page.inner_text(f'.se-tip .se-row[data-family="{family}"]')
                    for family in results.families}
            page.mouse.move(0, 0)
            page.focus(f'.se-family[data-family="transformer"] .se-word[data-i="{word}"]')  # the keyboard's way
            focused = page.is_visible(".se-tip")
        finally:
            browser.close()
    assert not errors and focused
    for family, row in rows.items():
        values = results.explanations(family, "test_short")[first].attributions[word]
        mean, seeds = _tooltip_numbers(row)
        assert mean == pytest.approx(values.mean(), rel=5e-3, abs=1e-9), row
        assert seeds == pytest.approx(list(values), rel=5e-3, abs=1e-9), row
