"""Print the single-page HTML book (``jupyter-book build --builder singlehtml``) to one PDF, offline.

Debian's Chromium (the browser test's, installed by ``scripts/install-browser.sh``) opens the page from a local
server, waits until every image has loaded and MathJax has typeset every equation, hides the sidebars and
navigation that only a screen needs, and prints A4 pages with their backgrounds:

    .venv/bin/python scripts/print_pdf.py _build/singlehtml _build/pdf/seedexplain.pdf

Why this and not LaTeX: the HTML book is what the tests check (MathJax, glued numbers, figures), and printing it
keeps one rendering; a LaTeX build would need Debian's TeX packages (hundreds of MB) and a second rendering of
every glued value and figure directive.
"""

from __future__ import annotations

import argparse
import functools
import http.server
import os
import threading
from pathlib import Path

from playwright.sync_api import sync_playwright

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]
SETTLE = """async () => {
  const imgs = Array.from(document.images);
  imgs.forEach(i => { if (i.loading === 'lazy') i.loading = 'eager'; });
  await Promise.all(imgs.map(i => i.complete ? null : new Promise(r => { i.onload = i.onerror = r; })));
  if (window.MathJax && window.MathJax.startup && window.MathJax.startup.promise) {
    await window.MathJax.startup.promise;
  }
}"""
PRINT_CSS = """
.bd-header, .bd-sidebar-primary, .bd-sidebar-secondary, .bd-footer, .bd-footer-article, .prev-next-area,
.header-article, .bd-header-article, .skip-link, .headerlink, #pst-back-to-top { display: none !important; }
.bd-main .bd-content .bd-article-container { max-width: 100% !important; }
.bd-container, .bd-page-width { max-width: 100% !important; }
figure, img { break-inside: avoid; }
.cell_input, .tag_remove-input { display: none !important; }
table { font-size: 7pt; }
.output { overflow: visible !important; }
h1 { break-before: page; }
h1:first-of-type { break-before: auto; }
"""


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 (the base class's name)
        """Serve without printing a line per request."""


def print_pdf(folder: Path, out: Path, page_path: str = "book/index.html") -> Path:
    """Print ``folder / page_path`` (the page of a single-page HTML build; ``index.html`` only redirects to it) to
    ``out``, written atomically: a failed print leaves no partial file."""
    if not (folder / page_path).is_file():
        raise FileNotFoundError(f"{folder / page_path} is missing: build it with "
                                "`jupyter-book build . --builder singlehtml` first")
    if not CHROMIUM.exists():
        raise FileNotFoundError(f"{CHROMIUM} is missing: install it with scripts/install-browser.sh (as root)")
    handler = functools.partial(_Quiet, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(f".{out.name}.partial")
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
            page = browser.new_page()
            # The single page lands in book/ while its links to _static/ are written for the build's root:
            # a <base> at the root makes both those and its ../_images/ links resolve.
            html = (folder / page_path).read_text(encoding="utf-8").replace("<head>", '<head><base href="/">', 1)
            page.route(f"**/{page_path}", lambda route: route.fulfill(body=html, content_type="text/html"))
            page.goto(f"http://127.0.0.1:{server.server_address[1]}/{page_path}", wait_until="load")
            page.evaluate(SETTLE)
            page.add_style_tag(content=PRINT_CSS)
            page.emulate_media(media="print")
            page.pdf(path=str(partial), format="A4", print_background=True,
                     margin={"top": "18mm", "bottom": "18mm", "left": "16mm", "right": "16mm"})
            browser.close()
        os.replace(partial, out)
    finally:
        partial.unlink(missing_ok=True)
        server.shutdown()
        server.server_close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path, help="the single-page HTML build (holds index.html)")
    parser.add_argument("out", type=Path, help="the PDF to write")
    args = parser.parse_args()
    print(f"pdf: {print_pdf(args.folder, args.out)}")


if __name__ == "__main__":
    main()
