"""Progress bars for long work: training steps, seeds, attribution batches.

Bars are hidden when ``CI`` is set (CI and the test suite). When ``SEEDEXPLAIN_PROGRESS=terminal`` (set by the
Makefile for papermill runs) they are drawn on the process's own standard error — the terminal that runs
``make`` — instead of inside the executed notebook, whose pages in the book would otherwise carry every redraw.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable
from typing import Any

from tqdm.auto import tqdm

PROGRESS_VARIABLE = "SEEDEXPLAIN_PROGRESS"


def quiet() -> bool:
    """Return True when progress bars should be hidden (``CI`` is set)."""
    return bool(os.environ.get("CI"))


def progress(iterable: Iterable[Any] | None = None, **options: Any) -> tqdm:
    """Return a tqdm bar over ``iterable`` (or a manual one with ``total=``), placed as the module docstring says.

    ``options`` are tqdm's (``desc``, ``total``, ``leave``, ...).
    """
    if os.environ.get(PROGRESS_VARIABLE) == "terminal":
        from tqdm import tqdm as plain

        return plain(iterable, file=sys.__stderr__, disable=quiet(), **options)
    return tqdm(iterable, disable=quiet(), **options)
