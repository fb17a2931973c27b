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

:func:`compare_format` decides whether a format beats words: the SNR of its units with a bias correction that
holds for dependent units (:func:`units_snr`), against a null computed from the same explanations with the
between-word signal removed, and a paired, seed-level interval of (format SNR − word SNR).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
from scipy import special
from scipy import stats as sps

from seedexplain.constraints import POSITIVE_INT, PROBABILITY, OneOf, check, validated
from seedexplain.snr import check_text, scale_columns, stack_texts, stacked_snr, texts_snr
from seedexplain.stats import seed_resamples

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
    description length of the explanation, ``log2(n_units!) + n_units * signed`` (the ordering of the units by
    score, plus one sign bit per unit): it depends on the number of units only, so every coarser format is
    cheaper by it. ``resolution``: what coarsening loses, the share of the text's words that have a unit of their
    own, whose individual score the reader can still see (1 for one unit per word, 0 for pairs; NaN for segments
    without their sizes).
    """

    format: str
    n_units: int
    words_per_unit: float
    contiguous: bool
    signed: bool
    order: int
    bits: float
    resolution: float


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
    n_words: int, format: str, *, k: int = 3, lag: int = 1, n_segments: int | None = None,
    segment_sizes: Sequence[int] | None = None,
) -> PlausibilityCost:
    """Return the reading cost of a text of ``n_words`` words explained in ``format`` (see :class:`PlausibilityCost`).

    The cost is a proxy, chosen to be simple and to rank formats defensibly: the bits of the full signed ordering
    of the units grow with the number of units (finer formats say more and cost more to read), and the flags
    say how much structure the reader must handle (non-contiguous units, second-order quantities). ``k`` is the
    span length, ``lag`` the interaction distance, ``n_segments`` the number of segments of the text and
    ``segment_sizes`` their numbers of words (for the resolution).
    """
    n_units = _n_units(n_words, format, k, lag, n_segments)
    signed = format in ("word", "spans", "segments", "pairwise_interactions")
    order = 2 if format in ("magnitude", "centred_square", "pairwise_interactions") else 1
    words_per_unit = {"spans": n_words / max(n_units, 1), "segments": n_words / max(n_units, 1)}.get(
        format, 2.0 if format == "pairwise_interactions" else 1.0
    )
    bits = float(special.gammaln(n_units + 1) / np.log(2) + n_units * signed)
    if format == "spans":
        own = n_words if k == 1 else int(n_words % k == 1)
    elif format == "segments":
        own = np.nan if segment_sizes is None else int(np.sum(np.asarray(segment_sizes) == 1))
    else:
        own = 0 if format == "pairwise_interactions" else n_words
    return PlausibilityCost(
        format=format,
        n_units=n_units,
        words_per_unit=float(words_per_unit),
        contiguous=not (format == "pairwise_interactions" and lag > 1),
        signed=signed,
        order=order,
        bits=bits,
        resolution=float(own / n_words),
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


def format_label(format: str, *, k: int = 3, lag: int = 1) -> str:
    """Return the name of ``format`` with its parameter, as tables and glue names use it (e.g. ``spans_k3``)."""
    return {"spans": f"spans_k{k}", "pairwise_interactions": f"pairwise_interactions_lag{lag}"}.get(format, format)


def _segment_sizes(boundaries: Sequence[Sequence[int]] | None, text: int, n_words: int) -> list[int] | None:
    """Return the numbers of words of text ``text``'s segments (None without boundaries)."""
    if boundaries is None:
        return None
    return list(np.diff([*boundaries[text], n_words]))


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
    are the segment starts of text ``t`` (needed for "segments"). Columns: ``format, label`` (:func:`format_label`),
    ``text, n_words, n_units, signal, noise, snr, snr_naive, bits, resolution, words_per_unit, contiguous, signed,
    order``.
    Texts too short for a format (``n_words <= lag`` for interactions) are skipped; a format with one unit gives a
    NaN SNR.
    """
    for format in formats:
        check("format", format, OneOf(FORMATS))
    if boundaries is not None and len(boundaries) != len(arrays):
        raise ValueError(f"boundaries has {len(boundaries)} texts but arrays has {len(arrays)}")
    scaled = [scale_columns(a, scale) for a in arrays]
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
            [asdict(plausibility_cost(scaled[t].shape[0], format, k=k, lag=lag, n_segments=len(u),
                                      segment_sizes=_segment_sizes(boundaries, t, scaled[t].shape[0])))
             for t, u in zip(keep, units)]
        )
        extra = {"label": format_label(format, k=k, lag=lag), "text": keep,
                 "n_words": [scaled[t].shape[0] for t in keep]}
        frames.append(pd.concat([costs, snr], axis=1).assign(**extra))
    columns = ["format", "label", "text", "n_words", "n_units", "signal", "noise", "snr", "snr_naive", "bits",
               "resolution", "words_per_unit", "contiguous", "signed", "order"]
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
    """Return per (family, split, label): median SNR, bits (the description length), resolution and units over
    texts."""
    columns = ["snr", "bits", "resolution", "n_units"]
    return table.groupby(["family", "split", "label"])[columns].median().reset_index()


def units_snr(x: np.ndarray, lengths: np.ndarray, seed_weights: np.ndarray | None = None) -> np.ndarray:
    """Return the per-text SNR of stacked units ``x`` ``(n_units_total, n_seeds)`` (texts of ``lengths`` units),
    with a bias correction that holds when the units' seed noises are correlated.

    Definition A subtracts ``N / S`` from the naive signal, which is exact for independent units only. For any
    covariance of the units' noises, ``E[S_naive] = S_true + (n/(n−1)) · mean_u var_s(x_us − x̄_s) / S``, where
    ``x̄_s`` is the mean over the text's units in seed ``s``: units that share words (pairwise interactions) or
    whose sum is fixed (ranks: ``n(n+1)/2`` per seed, which makes the plain correction ``n/(n−1)`` too small) are
    corrected exactly, and independent units get ``N / S`` in expectation. The noise is the mean over units of
    their seed variance. ``seed_weights`` ``(n_resamples, n_seeds)`` are reliability weights as in
    :func:`seedexplain.snr.stacked_snr` (the correction then uses ``V2 / V1²`` for ``1 / S``); the result is
    ``(n_texts,)``, or ``(n_texts, n_resamples)`` with weights.
    """
    weights = np.ones((1, x.shape[1])) if seed_weights is None else np.asarray(seed_weights, dtype=float)
    starts = np.cumsum(lengths) - lengths
    centred = x - np.repeat(np.add.reduceat(x, starts, axis=0) / lengths[:, None], lengths, axis=0)
    raw = stacked_snr(x, lengths, seed_weights=weights)
    within = stacked_snr(centred, lengths, seed_weights=weights)["noise"]
    factor = (weights**2).sum(axis=1) / weights.sum(axis=1) ** 2
    n = lengths[:, None].astype(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        snr = (raw["signal_naive"] - n / (n - 1) * within * factor) / raw["noise"]
    return snr[:, 0] if seed_weights is None else snr


@dataclass(frozen=True)
class FormatComparison:
    """A format against the word level on the same explanations (see :func:`compare_format`).

    ``format_snr`` and ``word_snr``: medians over the ``n_texts`` texts where the format has at least 2 units, both
    with the correction of :func:`units_snr`; ``ci_low``, ``ci_high``: the interval of ``format_snr − word_snr``;
    ``null_snr``: the format's median SNR with the between-word signal removed (median over null draws) and
    ``null_high`` its 95th percentile over the draws; ``beats_null``: ``format_snr > null_high``; ``above_word``:
    the interval lies above 0 and the format beats its null.
    """

    format: str
    format_snr: float
    word_snr: float
    null_snr: float
    null_high: float
    ci_low: float
    ci_high: float
    beats_null: bool
    above_word: bool
    n_texts: int


def _units(arrays: Sequence[np.ndarray], format: str, options: dict) -> tuple[list[np.ndarray], np.ndarray]:
    """Return every text's units in ``format`` and the indices of the texts that have at least 2 units."""
    boundaries = options.pop("boundaries", None)
    units = []
    for t, a in enumerate(arrays):
        short = format == "pairwise_interactions" and a.shape[0] <= options.get("lag", 1)
        units.append(None if short else to_format(a, format, **options,
                                                  boundaries=None if boundaries is None else boundaries[t]))
    keep = np.array([t for t, u in enumerate(units) if u is not None and u.shape[0] >= 2], dtype=int)
    return units, keep


def _null_draws(a: np.ndarray, n_null: int, rng: np.random.Generator) -> np.ndarray:
    """Return ``n_null`` null copies of ``a`` side by side, ``(n_words, n_null · n_seeds)``: fresh normal noise with
    each word's own seed variance (ddof 1) and no between-word signal. A format's SNR on them is what it reports
    from the noise structure alone; the estimated variances vary more between words than the true ones, so the
    null is, if anything, favourable to formats that feed on noise differences (magnitudes, squares)."""
    sd = a.std(axis=1, ddof=1, keepdims=True)
    return np.tile(sd, n_null * a.shape[1]) * rng.standard_normal((a.shape[0], n_null * a.shape[1]))


@validated(format=OneOf(FORMATS), n_resamples=POSITIVE_INT, n_null=POSITIVE_INT, level=PROBABILITY)
def compare_format(arrays: Sequence[np.ndarray], format: str, *, n_resamples: int = 1000, seed: int = 0,
                   n_null: int = 100, level: float = 0.95, **options: object) -> FormatComparison:
    """Return whether ``format`` (one of :data:`FORMATS`, with ``options`` such as ``k=3`` or ``boundaries``) beats
    the word level on the explanations ``arrays`` (one ``(n_words, n_seeds)`` array per text).

    Both are measured on the texts where the format has at least 2 units (segments are one unit on most short
    texts), with :func:`units_snr`. Interval: a paired multi-bootstrap over the texts and the seeds, the same draws
    for the format and the words (they are computed from the same models), of the difference of the two medians;
    as in :func:`seedexplain.stats.seed_level_comparison`, its standard error is inflated by ``sqrt(S/(S−1))`` and
    the interval uses Student's t with ``S − 1`` degrees of freedom. Null: :func:`_null_draws`, whose format SNR
    is what the format reports when words do not differ at all (a magnitude gains "signal" from words whose noise
    differs). Seeds are resampled, so at least 3 are needed.
    """
    rng = np.random.default_rng(seed)
    arrays = [check_text(a, f"arrays[{t}]") for t, a in enumerate(arrays)]
    n_seeds = arrays[0].shape[1]
    if n_seeds < 3:
        raise ValueError(f"compare_format resamples seeds and needs at least 3; the arrays have {n_seeds}")
    units, keep = _units(arrays, format, dict(options))
    if keep.size == 0:
        raise ValueError(f"format={format!r} gives fewer than 2 units on every text; nothing to compare")
    x_format, lengths_format = stack_texts([units[t] for t in keep])
    x_word, lengths_word = stack_texts([arrays[t] for t in keep])
    format_snr = float(np.nanmedian(units_snr(x_format, lengths_format)))
    word_snr = float(np.nanmedian(units_snr(x_word, lengths_word)))
    weights = seed_resamples(n_seeds, n_resamples, rng)
    texts = rng.integers(0, keep.size, (keep.size, n_resamples))

    def medians(x: np.ndarray, lengths: np.ndarray) -> np.ndarray:
        per_text = np.take_along_axis(units_snr(x, lengths, weights), texts, axis=0)
        return np.nanmedian(per_text, axis=0)

    differences = medians(x_format, lengths_format) - medians(x_word, lengths_word)
    dof = n_seeds - 1
    se = float(np.nanstd(differences, ddof=1) * np.sqrt(n_seeds / dof))
    half = float(sps.t.ppf((1 + level) / 2, dof)) * se
    null_units, null_keep = _units([_null_draws(arrays[t], n_null, rng) for t in keep], format, dict(options,
                                   boundaries=None if options.get("boundaries") is None
                                   else [options["boundaries"][t] for t in keep]))
    x_null, lengths_null = stack_texts([null_units[t] for t in null_keep])
    null = np.array([np.nanmedian(units_snr(x_null[:, d * n_seeds:(d + 1) * n_seeds], lengths_null))
                     for d in range(n_null)])
    null_snr, null_high = float(np.median(null)), float(np.quantile(null, 0.95))
    difference = format_snr - word_snr
    beats_null = format != "word" and format_snr > null_high
    low, high = difference - half, difference + half
    return FormatComparison(format, format_snr, word_snr, null_snr, null_high, float(low), float(high),
                            bool(beats_null), bool(beats_null and low > 0), int(keep.size))
