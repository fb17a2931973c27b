"""End to end: `make book` on the quick profile in a copy of the project (notebooks with papermill, then the book)."""

import os
import subprocess

from tests.conftest import ROOT


def make_dry_run(project, profile: str) -> str:
    """Return what `make -n book` would run in ``project`` with ``profile`` (the environment taken as it is)."""
    env = {k: v for k, v in os.environ.items() if k != "MPLBACKEND"}
    command = ["make", "-n", "-o", str(ROOT / ".venv" / ".installed"), "book", f"PROFILE={profile}",
               f"VENV={ROOT / '.venv'}", f"ARTIFACTS={project / 'artifacts'}"]
    return subprocess.run(command, cwd=project, env=env, capture_output=True, text=True, check=True).stdout


def test_make_book_executes_notebooks_and_builds_html(built_book):
    html = built_book / "_build" / "html"
    assert (html / "index.html").is_file()
    results = (html / "book" / "results.html").read_text()
    assert "median SNR" in results and "snr_boxplots" in results
    assert (built_book / "book" / "figures" / "snr_boxplots.png").stat().st_size > 10_000


def test_make_is_idempotent(built_book):
    assert "papermill" not in make_dry_run(built_book, "quick")
    assert "jupyter-book" not in make_dry_run(built_book, "quick")


def test_changed_parameter_reruns_notebooks(built_book):
    stamp = (built_book / "_build" / "stamps" / "notebook-params.txt").read_text()
    assert "papermill" in make_dry_run(built_book, "full")
    # A dry run records nothing: the quick build stays up to date (else every notebook would re-run next time).
    assert (built_book / "_build" / "stamps" / "notebook-params.txt").read_text() == stamp
    assert "papermill" not in make_dry_run(built_book, "quick")


def test_api_reference_documents_the_library(built_book):
    api = (built_book / "_build" / "html" / "book" / "api.html").read_text()
    for name in ("seedexplain.snr.text_snr", "seedexplain.config.make_config", "seedexplain.pipeline.run",
                 "seedexplain.attribution.word_attributions", "seedexplain.data.csv_units"):
        assert f'id="{name}"' in api, name


def test_sweep_runs_each_value_and_compares_them(built_book):
    """`make sweep` over the attribution method, reusing the quick build's cached models."""
    import nbformat

    env = {k: v for k, v in os.environ.items() if k != "MPLBACKEND"}
    command = ["make", "-o", str(ROOT / ".venv" / ".installed"), "sweep", "PARAM=method",
               "VALUES=lrp grad_x_input", "PROFILE=quick", f"VENV={ROOT / '.venv'}",
               f"ARTIFACTS={built_book / 'artifacts'}"]
    result = subprocess.run(command, cwd=built_book, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    sweep = built_book / "_build" / "sweeps" / "method"
    assert sorted(p.name for p in sweep.glob("method-*")) == ["method-grad_x_input", "method-lrp"]
    compare = nbformat.read(sweep / "compare.ipynb", as_version=4)
    cell = next(c for c in compare.cells if "compare_runs" in c.source)
    table = next(o["data"]["text/plain"] for o in cell.outputs if "data" in o)
    assert "method-grad_x_input" in table and "method-lrp" in table
    assert (sweep / "figures" / "run_comparison.png").stat().st_size > 10_000
