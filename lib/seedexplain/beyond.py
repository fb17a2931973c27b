"""Beyond univariate first-order explanations: other formats of the same attributions, and what they cost a reader.

Each transform maps one text's explanations ``a`` ``(n_words, n_seeds)`` to a ``(n_units, n_seeds)`` array whose
rows are the units a reader would see; :func:`seedexplain.snr.text_snr` then measures their stability across
seeds. :func:`plausibility_cost` prices a format for a reader, and :func:`format_table` puts both side by side.

Formats (:data:`FORMATS`):

- "word": the word-level attributions themselves (the paper's univariate first-order assumption);
- "magnitude": ``|a|``, importance without direction;
- "centred_square": ``(a - mean_w a)^2`` per seed, the second-order (variance) view of side-channel analysis;
- "ranks": the rank of each word within its seed column (average ties), invariant to any monotone distortion;
- "spans": sums over non-overlapping chunks of ``k`` consecutive words;
- "segments": sums over given units (sentences, syntactic chunks) given by their start positions;
- "pairwise_interactions": centred products of words ``lag`` apart, the second-order multivariate combination.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
from scipy import special
from scipy import stats as sps

from seedexplain.constraints import POSITIVE_INT, OneOf, check, validated
from seedexplain.snr import check_text, scale_columns, texts_snr

FORMATS = ("word", "magnitude", "centred_square", "ranks", "spans", "segments", "pairwise_interactions")
DEFAULT_FORMATS = ("word", "magnitude", "centred_square", "ranks", "spans", "pairwise_interactions")


def magnitude(a: np.ndarray) -> np.ndarray:
    """Return ``|a|``, ``(n_words, n_seeds)``."""
    return np.abs(check_text(a))


def centred_square(a: np.ndarray) -> np.ndarray:
    """Return ``(a_ws - mean_w a_ws)^2``, ``(n_words, n_seeds)``: each seed column centred over words, squared."""
    a = check_text(a)
    return (a - a.mean(axis=0)) ** 2


def ranks(a: np.ndarray) -> np.ndarray:
    """Return the rank (1 = smallest, average ties) of each word within its seed column, ``(n_words, n_seeds)``."""
    return sps.rankdata(check_text(a), axis=0)


@validated(k=POSITIVE_INT)
def spans(a: np.ndarray, k: int) -> np.ndarray:
    """Return sums over non-overlapping chunks of ``k`` consecutive words, ``(ceil(n_words / k), n_seeds)``.

    Chunks start at word 0 (words ``0..k-1``, ``k..2k-1``, ...); the last chunk holds the ``n_words mod k``
    remaining words when ``k`` does not divide ``n_words``. ``k = 1`` returns ``a``. Non-overlapping chunks keep
    units disjoint, so a reader sees each word once and the units' noises are independent.
    """
    a = check_text(a)
    return np.add.reduceat(a, np.arange(0, a.shape[0], k), axis=0)


def segments(a: np.ndarray, boundaries: Sequence[int]) -> np.ndarray:
    """Return sums over the segments starting at ``boundaries``, ``(len(boundaries), n_seeds)``.

    ``boundaries``: strictly increasing word indices starting with 0 and below ``n_words`` (e.g. the first word of
    each sentence); segment ``i`` covers words ``boundaries[i]`` to ``boundaries[i + 1] - 1``, the last one runs
    to the end of the text.
    """
    a = check_text(a)
    b = np.asarray(boundaries)
    if b.ndim != 1 or b.size == 0 or b[0] != 0 or np.any(np.diff(b) <= 0) or b[-1] >= a.shape[0]:
        raise ValueError(
            f"boundaries={list(boundaries)!r} must be strictly increasing word indices starting at 0 and below "
            f"n_words={a.shape[0]}"
        )
    return np.add.reduceat(a, b.astype(int), axis=0)


@validated(lag=POSITIVE_INT)
def pairwise_interactions(a: np.ndarray, *, lag: int = 1) -> np.ndarray:
    """Return the centred products of words ``lag`` apart, ``(n_words - lag, n_seeds)``.

    Row ``w`` is ``(a_w - mean_w a)(a_{w+lag} - mean_w a)`` per seed: the second-order combination of two
    leakage points in side-channel analysis, here two nearby words. Only pairs at one distance are kept so the
    number of units stays linear in ``n_words`` (all pairs would be quadratic). Needs ``n_words > lag``.
    """
    a = check_text(a)
    if a.shape[0] <= lag:
        raise ValueError(f"a has {a.shape[0]} words; pairwise_interactions with lag={lag} needs more than {lag}")
    centred = a - a.mean(axis=0)
    return centred[:-lag] * centred[lag:]


@dataclass(frozen=True)
class PlausibilityCost:
    """What a format asks of a reader for one text.

    ``n_units``: scores to inspect. ``words_per_unit``: mean words each score refers to. ``contiguous``: every
    unit is a run of consecutive words. ``signed``: each unit also carries a direction (+/-). ``order``: 1 for
    quantities linear in the attributions (or their ranks), 2 for magnitudes, squares and products. ``bits``:
    information a reader takes in to know the explanation fully, ``log2(n_units!) + n_units * signed`` (the
    ordering of the units by score, plus one sign bit per unit).
    """

    format: str
    n_units: int
    words_per_unit: float
    contiguous: bool
    signed: bool
    order: int
    bits: float


def _n_units(n_words: int, format: str, k: int, lag: int, n_segments: int | None) -> int:
    if format == "spans":
        return -(-n_words // k)
    if format == "segments":
        if n_segments is None or not 1 <= n_segments <= n_words:
            raise ValueError(f"format='segments' needs n_segments in 1..{n_words}; got {n_segments!r}")
        return n_segments
    if format == "pairwise_interactions":
        return max(n_words - lag, 0)
    return n_words


@validated(n_words=POSITIVE_INT, format=OneOf(FORMATS), k=POSITIVE_INT, lag=POSITIVE_INT)
def plausibility_cost(
    n_words: int, format: str, *, k: int = 3, lag: int = 1, n_segments: int | None = None
) -> PlausibilityCost:
    """Return the reading cost of a text of ``n_words`` words explained in ``format`` (see :class:`PlausibilityCost`).

    The cost is a proxy, chosen to be simple and to rank formats defensibly: the bits of the full signed ordering
    of the units grow with the number of units (finer formats say more and cost more to read), and the flags
    say how much structure the reader must handle (non-contiguous units, second-order quantities). ``k`` is the
    span length, ``lag`` the interaction distance, ``n_segments`` the number of segments of the text.
    """
    n_units = _n_units(n_words, format, k, lag, n_segments)
    signed = format in ("word", "spans", "segments", "pairwise_interactions")
    order = 2 if format in ("magnitude", "centred_square", "pairwise_interactions") else 1
    words_per_unit = {"spans": n_words / max(n_units, 1), "segments": n_words / max(n_units, 1)}.get(
        format, 2.0 if format == "pairwise_interactions" else 1.0
    )
    bits = float(special.gammaln(n_units + 1) / np.log(2) + n_units * signed)
    return PlausibilityCost(
        format=format,
        n_units=n_units,
        words_per_unit=float(words_per_unit),
        contiguous=not (format == "pairwise_interactions" and lag > 1),
        signed=signed,
        order=order,
        bits=bits,
    )


@validated(format=OneOf(FORMATS))
def to_format(
    a: np.ndarray, format: str, *, k: int = 3, lag: int = 1, boundaries: Sequence[int] | None = None
) -> np.ndarray:
    """Return ``a`` ``(n_words, n_seeds)`` in ``format``, ``(n_units, n_seeds)`` (see the module docstring)."""
    if format == "word":
        return check_text(a)
    if format == "spans":
        return spans(a, k)
    if format == "segments":
        if boundaries is None:
            raise ValueError("format='segments' needs boundaries (word indices where each segment starts)")
        return segments(a, boundaries)
    if format == "pairwise_interactions":
        return pairwise_interactions(a, lag=lag)
    transforms = {"magnitude": magnitude, "centred_square": centred_square, "ranks": ranks}
    return transforms[format](a)


def format_table(
    arrays: Sequence[np.ndarray],
    formats: Sequence[str] = DEFAULT_FORMATS,
    *,
    k: int = 3,
    lag: int = 1,
    boundaries: Sequence[Sequence[int]] | None = None,
    scale: str = "raw",
) -> pd.DataFrame:
    """Return one row per (format, text) with the SNR of the units and the format's plausibility cost.

    ``arrays``: list of ``(n_words_t, n_seeds)``. ``scale`` normalises every (text, seed) column of the word-level
    attributions before the transform (definition B), and the units' SNR is then definition A. ``boundaries[t]``
    are the segment starts of text ``t`` (needed for "segments"). Columns: ``format, label`` (the format with its
    parameter, e.g. "spans k=3"), ``text, n_words, n_units, signal, noise, snr, snr_naive, bits, words_per_unit,
    contiguous, signed, order``. Texts too short for a format (``n_words <= lag`` for interactions) are skipped; a
    format with one unit gives a NaN SNR.
    """
    for format in formats:
        check("format", format, OneOf(FORMATS))
    if boundaries is not None and len(boundaries) != len(arrays):
        raise ValueError(f"boundaries has {len(boundaries)} texts but arrays has {len(arrays)}")
    scaled = [scale_columns(a, scale) for a in arrays]
    labels = {"spans": f"spans k={k}", "pairwise_interactions": f"pairwise_interactions lag={lag}"}
    frames = []
    for format in formats:
        keep = [t for t, a in enumerate(scaled) if format != "pairwise_interactions" or a.shape[0] > lag]
        if not keep:
            continue
        units = [
            to_format(scaled[t], format, k=k, lag=lag, boundaries=None if boundaries is None else boundaries[t])
            for t in keep
        ]
        snr = texts_snr(units).reset_index(drop=True).drop(columns=["n_words", "signal_naive"])
        costs = pd.DataFrame(
            [asdict(plausibility_cost(scaled[t].shape[0], format, k=k, lag=lag, n_segments=len(u)))
             for t, u in zip(keep, units)]
        )
        extra = {"label": labels.get(format, format), "text": keep, "n_words": [scaled[t].shape[0] for t in keep]}
        frames.append(pd.concat([costs, snr], axis=1).assign(**extra))
    columns = ["format", "label", "text", "n_words", "n_units", "signal", "noise", "snr", "snr_naive", "bits",
               "words_per_unit", "contiguous", "signed", "order"]
    return pd.concat(frames, ignore_index=True)[columns]


TRADEOFF_FORMATS = (("word", {}), ("magnitude", {}), ("ranks", {}), ("centred_square", {}),
                    ("pairwise_interactions", {}), ("spans", {"k": 2}), ("spans", {"k": 3}), ("spans", {"k": 5}),
                    ("segments", {}))
"""Explanation formats compared in the SNR–cost trade-off (``segments`` are sentences)."""


def format_tradeoff(arrays: dict[str, Sequence[np.ndarray]], boundaries: Sequence[Sequence[int]], *,
                    scale: str = "raw") -> pd.DataFrame:
    """Return one row per (family, format, text): the SNR of the format's units and its cost for a reader.

    ``arrays`` maps a family to its ``(n_words, n_seeds)`` arrays, one per text; ``boundaries`` gives each text's
    sentence starts (word indices). Formats are :data:`TRADEOFF_FORMATS` (see :func:`format_table`).
    """
    frames = []
    for family, family_arrays in arrays.items():
        for name, options in TRADEOFF_FORMATS:
            table = format_table(family_arrays, formats=(name,), boundaries=boundaries, scale=scale, **options)
            frames.append(table.assign(family=family))
    return pd.concat(frames, ignore_index=True)


def tradeoff_summary(table: pd.DataFrame) -> pd.DataFrame:
    """Return per (family, split, label): median SNR, median bits (the description length) and units over texts."""
    summary = table.groupby(["family", "split", "label"])[["snr", "bits", "n_units"]].median().reset_index()
    summary["label"] = summary["label"].str.replace(" ", "_").str.replace("=", "")
    return summary


def formats_above_word(summary: pd.DataFrame, family: str, split: str) -> str:
    """Return the formats of :func:`tradeoff_summary` whose median SNR beats the word level for ``family`` on
    ``split``, as text (e.g. ``"ranks (12.4 vs 10.7)"``), best first; ``"none"`` when no format does."""
    rows = summary[(summary.family == family) & (summary.split == split)].set_index("label").snr
    if "word" not in rows.index:
        raise ValueError(f"no word-level row for family={family!r}, split={split!r}")
    better = rows[rows > rows["word"]].sort_values(ascending=False)
    return ", ".join(f"{label.replace('_', ' ')} ({snr:.1f} vs {rows['word']:.1f})"
                     for label, snr in better.items()) or "none"
