"""Progress bars: shown by default, hidden under CI and when the Makefile turns them off for papermill runs."""

from seedexplain import progress


def test_bars_are_shown_by_default(monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.delenv(progress.PROGRESS_VARIABLE, raising=False)
    assert not progress.quiet()


def test_bars_are_hidden_under_ci_or_when_turned_off(monkeypatch):
    monkeypatch.setenv("CI", "true")
    assert progress.quiet() and progress.progress(range(3), desc="x").disable
    monkeypatch.delenv("CI")
    monkeypatch.setenv(progress.PROGRESS_VARIABLE, "off")
    bar = progress.progress(range(3), desc="x")
    assert bar.disable and list(bar) == [0, 1, 2]
