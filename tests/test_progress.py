"""Progress bars: hidden under CI, drawn on the real standard error when the Makefile asks for the terminal."""

import io
import sys

from seedexplain import progress


def test_bars_are_hidden_under_ci(monkeypatch):
    monkeypatch.setenv("CI", "true")
    assert progress.quiet() and progress.progress(range(3), desc="x").disable


def test_terminal_bars_write_to_the_process_stderr_not_the_notebook(monkeypatch):
    terminal, notebook = io.StringIO(), io.StringIO()
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.setenv(progress.PROGRESS_VARIABLE, "terminal")
    monkeypatch.setattr(sys, "__stderr__", terminal)
    monkeypatch.setattr(sys, "stderr", notebook)
    assert list(progress.progress(range(3), desc="seeds")) == [0, 1, 2]
    assert "seeds" in terminal.getvalue() and "3/3" in terminal.getvalue()
    assert notebook.getvalue() == ""
