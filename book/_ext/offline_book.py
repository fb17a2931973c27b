"""Local Sphinx fixes so that the book reads offline and without console errors (Jupyter Book 1.x, Sphinx 7.4).

1. MathJax 3 is served by the book itself from ``_static/mathjax/`` instead of cdn.jsdelivr.net: the files come from
   the ``django-static-mathjax`` wheel (MathJax 3.2.2 as package data; Django is not needed).
2. Inline scripts that extensions add after the builder starts (sphinx-thebe's ``const THEBE_JS_URL = ...``) are written
   once, not twice: Sphinx 7.4 registers them once with the file name ``None`` and once with ``''``, so a page declares
   the constant twice and the browser reports "Identifier 'THEBE_JS_URL' has already been declared" (fixed upstream
   in Sphinx 8, sphinx-doc/sphinx#13402, which Jupyter Book 1 cannot use).
"""

from __future__ import annotations

import shutil
from pathlib import Path

MATHJAX_FOLDER = "mathjax"  # under the book's _static/


def _mathjax_files() -> Path:
    import mathjax  # the django-static-mathjax wheel

    return Path(mathjax.__file__).parent / "static" / "mathjax" / "es5"


def _use_local_mathjax(app, config) -> None:
    config.mathjax_path = f"{MATHJAX_FOLDER}/tex-mml-chtml.js"  # relative to _static/
    _mathjax_files()  # fail at the start of the build, not at its end, if the package is missing


def _write_inline_scripts_once(app) -> None:
    add_js_file = getattr(app.builder, "add_js_file", None)
    if add_js_file is not None:
        app.builder.add_js_file = lambda filename, **kwargs: add_js_file(filename or "", **kwargs)


def _copy_mathjax(app, exception) -> None:
    if exception is None and app.builder.format == "html":
        shutil.copytree(_mathjax_files(), Path(app.outdir) / "_static" / MATHJAX_FOLDER, dirs_exist_ok=True)


def setup(app):
    app.connect("config-inited", _use_local_mathjax)
    app.connect("builder-inited", _write_inline_scripts_once, priority=100)  # before other extensions add scripts
    app.connect("build-finished", _copy_mathjax)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
