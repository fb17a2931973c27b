"""End to end: `make book` on the quick profile in a copy of the project (notebooks with papermill, then the book)."""

import os
import subprocess

from tests.conftest import ROOT


def test_make_book_executes_notebooks_and_builds_html(built_book):
    html = built_book / "_build" / "html"
    assert (html / "index.html").is_file()
    assert (html / "book" / "results.html").is_file()
    results = (html / "book" / "results.html").read_text()
    assert "median SNR" in results and "<img" in results


def test_make_is_idempotent(built_book):
    env = {k: v for k, v in os.environ.items() if k != "MPLBACKEND"}
    dry = subprocess.run(["make", "-n", "book", "PROFILE=quick", f"VENV={ROOT / '.venv'}",
                          f"ARTIFACTS={built_book / 'artifacts'}"], cwd=built_book, env=env, capture_output=True,
                         text=True, check=True)
    assert "papermill" not in dry.stdout and "jupyter-book" not in dry.stdout


def test_changed_parameter_reruns_notebooks(built_book):
    env = {k: v for k, v in os.environ.items() if k != "MPLBACKEND"}
    dry = subprocess.run(["make", "-n", "book", "PROFILE=full", f"VENV={ROOT / '.venv'}",
                          f"ARTIFACTS={built_book / 'artifacts'}"], cwd=built_book, env=env, capture_output=True,
                         text=True, check=True)
    assert "papermill" in dry.stdout
