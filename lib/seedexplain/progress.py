"""Progress bars for long work: training steps, seeds, attribution batches.

Bars are hidden when ``CI`` is set (CI and the test suite) or when ``SEEDEXPLAIN_PROGRESS=off``. The Makefile
sets the latter for its papermill runs: a kernel captures everything written to its standard error, so every
redraw of a bar would land in the executed notebook and on its page in the book. There, progress is followed in
the log lines that papermill streams to the terminal (``--log-output``) instead.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Any

from tqdm import tqdm  # not tqdm.auto: in a kernel without ipywidgets it warns on every import

PROGRESS_VARIABLE = "SEEDEXPLAIN_PROGRESS"


def quiet() -> bool:
    """Return True when progress bars should be hidden (``CI`` set, or ``SEEDEXPLAIN_PROGRESS=off``)."""
    return bool(os.environ.get("CI")) or os.environ.get(PROGRESS_VARIABLE) == "off"


def progress(iterable: Iterable[Any] | None = None, **options: Any) -> tqdm:
    """Return a tqdm bar over ``iterable`` (or a manual one with ``total=``), hidden when :func:`quiet`.

    ``options`` are tqdm's (``desc``, ``total``, ``leave``, ...).
    """
    return tqdm(iterable, disable=quiet(), **options)
