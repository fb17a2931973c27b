"""The results of a run as a value: accuracy per seed and every family's explanations, loaded once.

:func:`seedexplain.pipeline.run` builds a :class:`Results`; report functions read it (or plain arrays) and never
reach training code. Explanation arrays follow :mod:`seedexplain.snr`: one text is ``(n_words, n_seeds)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from seedexplain.config import Config
from seedexplain.constraints import SPLITS, OneOf, check
from seedexplain.data import Dataset
from seedexplain.snr import texts_snr


@dataclass(frozen=True)
class TextExplanations:
    """One text explained by every seed: ``attributions`` has shape (n_words, n_seeds), rows aligned to ``words``."""

    text: str
    label: int
    words: tuple[str, ...]
    attributions: np.ndarray


@dataclass(frozen=True, eq=False)
class Results:
    """Accuracy per (family, seed, split), the data, and the explanations of every (family, split, method).

    ``explained`` maps ``(family, split, method)`` to the list of the split's texts explained by every seed of the
    family; words that truncation hid from any family are dropped from all, so that every family explains the
    same words. ``truncation_table`` has one row per test split (see :meth:`truncation`).
    """

    config: Config
    data: Dataset
    accuracy: pd.DataFrame
    explained: dict[tuple[str, str, str], list[TextExplanations]]
    truncation_table: pd.DataFrame

    @property
    def families(self) -> tuple[str, ...]:
        """Return the names of the run's families, in the configuration's order."""
        return self.config.families

    @property
    def methods(self) -> tuple[str, ...]:
        """Return the attribution methods whose explanations the results hold."""
        return tuple(dict.fromkeys(method for _, _, method in self.explained))

    def explanations(self, family: str, split: str, method: str | None = None) -> list[TextExplanations]:
        """Return every text of ``split`` explained by the seeds of ``family`` with ``method`` (default: the run's)."""
        check("family", family, OneOf(self.families))
        check("split", split, OneOf(SPLITS))
        method = check("method", method or self.config.method, OneOf(self.methods))
        if (family, split, method) not in self.explained:
            explained = dict.fromkeys(s for _, s, m in self.explained if m == method)
            raise ValueError(f"method={method!r} was explained on {', '.join(explained)} only, not "
                             f"split={split!r}: run it with pipeline.run(..., method_splits=...) including {split!r}")
        return self.explained[family, split, method]

    def truncation(self) -> pd.DataFrame:
        """Return, per test split, how many texts a family saw only in part (cut at ``max_length`` tokens) and how
        many of their words it never saw; those words are left out of every family's explanations."""
        return self.truncation_table

    def arrays(self, family: str, split: str, method: str | None = None) -> list[np.ndarray]:
        """Return the ``(n_words, n_seeds)`` explanation arrays of every text of ``split`` for ``family``."""
        return [e.attributions for e in self.explanations(family, split, method)]

    def snr_table(self, method: str | None = None, *, scale: str = "raw") -> pd.DataFrame:
        """Return per-text signal, noise and SNR (definition A, ``scale`` as in definition B) of every family
        and split: one row per (family, split, text) with the columns of :func:`seedexplain.snr.texts_snr`."""
        frames = []
        for family in self.families:
            for split in SPLITS:
                explanations = self.explanations(family, split, method)
                frame = texts_snr([e.attributions for e in explanations], scale=scale)
                frames.append(frame.assign(family=family, split=split, text=np.arange(len(frame)),
                                           label=[e.label for e in explanations]))
        return pd.concat(frames, ignore_index=True)
