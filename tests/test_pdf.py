"""`make pdf`: the quick book as one PDF, with every chapter, the glued headline numbers and the figures."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.conftest import ROOT

pypdf = pytest.importorskip("pypdf")
if not Path("/usr/bin/chromium").exists() and not os.environ.get("CI"):
    pytest.skip("/usr/bin/chromium is missing (scripts/install-browser.sh, as root)", allow_module_level=True)

HEADLINE = ("snr_A_linear_test_short_median_snr", "snr_A_transformer_test_short_median_snr")
"""Glued values of the landing page's abstract (printed with two decimals)."""


def glued(notebook: Path, name: str) -> float:
    """Return the value glued as ``name`` in an executed notebook."""
    for cell in json.loads(notebook.read_text())["cells"]:
        for output in cell.get("outputs", []):
            if output.get("metadata", {}).get("scrapbook", {}).get("name") == name:
                return float(output["data"]["application/papermill.record/text/plain"])
    raise KeyError(name)


@pytest.fixture(scope="module")
def pdf(built_book) -> Path:
    env = {k: v for k, v in os.environ.items() if k != "MPLBACKEND"}
    result = subprocess.run(["make", "-o", str(ROOT / ".venv" / ".installed"), "pdf", "PROFILE=quick",
                             f"VENV={ROOT / '.venv'}", f"ARTIFACTS={built_book / 'artifacts'}"],
                            cwd=built_book, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    return built_book / "_build" / "pdf" / "seedexplain.pdf"


def chapter_titles(project: Path) -> list[str]:
    """Return the first heading of every markdown chapter of the table of contents."""
    toc = yaml.safe_load((project / "_toc.yml").read_text())
    files = [toc["root"]] + [c["file"] for part in toc["parts"] for c in part["chapters"]]
    titles = []
    for file in files:
        path = project / f"{file}.md"
        if path.exists():
            titles.append(next(line[2:].strip() for line in path.read_text().splitlines() if line.startswith("# ")))
    return titles


def test_the_pdf_holds_every_chapter_the_headline_numbers_and_the_figures(pdf, built_book):
    reader = pypdf.PdfReader(pdf)
    text = re.sub(r"\s+", " ", " ".join(page.extract_text() for page in reader.pages)).replace("ﬁ", "fi")
    assert len(reader.pages) >= 20
    missing = [title for title in chapter_titles(built_book) if title not in text]
    assert not missing, f"chapters missing from the PDF: {missing}"
    for name in HEADLINE:
        value = f"{glued(built_book / 'notebooks' / 'snr_short_long.ipynb', name):.2f}"
        assert value in text, f"glued {name} = {value} is not in the PDF"
    figures = len(list((built_book / "book" / "figures").glob("*.png")))
    assert sum(len(page.images) for page in reader.pages) >= figures > 5
    assert "\\(" not in text and "\\frac" not in text, "an equation was printed before MathJax typeset it"
