"""Signal, noise and SNR of word-level explanations across training seeds (definitions A, B and C).

One text's explanations are a float array ``a`` of shape ``(n_words, n_seeds)``: row ``w`` holds the attribution of
word ``w`` by the model trained with each seed. A corpus is a list of such arrays (same ``n_seeds``).

Definition A (per text, raw attributions), with ``S = n_seeds`` and ``n = n_words``::

    m_w = (1/S) sum_s a_ws                      per-word mean over seeds
    v_w = 1/(S-1) sum_s (a_ws - m_w)^2          per-word variance over seeds
    N   = (1/n) sum_w v_w                       noise
    S_naive = 1/(n-1) sum_w (m_w - mean_w m)^2  naive signal
    S*  = S_naive - N / S                       bias-corrected signal, E[S_naive] = S_true + N/S
    SNR = S* / N,  SNR_naive = S_naive / N

Definition B: the same after normalising every (text, seed) column (``scale`` = "l1", "l2" or "zscore"), so that a
seed which only rescales its explanation adds no noise. Definition C: the signal over the word types of a corpus
instead of the words of one text, against the seed noise of one word occurrence (:func:`corpus_snr`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from seedexplain.constraints import POSITIVE_INT, SCALES, OneOf, validated

STAT_COLUMNS = ("signal", "signal_naive", "noise", "snr", "snr_naive")
_CHUNK_ELEMENTS = 4_000_000  # bound on (n_words_total x n_resamples) work arrays


@dataclass(frozen=True)
class TextSNR:
    """Signal, noise and SNR of one text's explanations (definition A, or B with a scale)."""

    signal: float
    signal_naive: float
    noise: float
    snr: float
    snr_naive: float
    n_words: int
    n_seeds: int


@dataclass(frozen=True)
class CorpusSNR:
    """Signal, noise and SNR over the word types of a corpus (definition C, see :func:`corpus_snr`).

    ``type_noise`` is the mean over types of the seed variance of a type's mean (what corrects the signal; it
    shrinks with a type's count when occurrences' noises are independent, not when they are shared, as a linear
    model's coefficient is). ``types`` has one row per kept word type (index: the lower-cased word) with columns
    ``count`` (occurrences), ``mean`` (mean over seeds of the per-seed type mean), ``var`` (variance over seeds of
    it, ddof = 1) and ``occurrence_noise`` (mean over its occurrences of their variance over seeds).
    """

    signal: float
    signal_naive: float
    noise: float
    type_noise: float
    snr: float
    snr_naive: float
    n_types: int
    n_seeds: int
    types: pd.DataFrame


def check_text(a: np.ndarray, name: str = "a") -> np.ndarray:
    """Return ``a`` as a float array after checking it is one text's explanations, ``(n_words, n_seeds)``.

    Raises ``ValueError`` naming ``name`` if ``a`` is not 2-D, has fewer than 2 seeds or no word, or is not finite.
    """
    a = np.asarray(a, dtype=float)
    if a.ndim != 2:
        raise ValueError(f"{name} must be a 2-D array of shape (n_words, n_seeds); got shape {a.shape}")
    if a.shape[1] < 2:
        raise ValueError(f"{name} has shape {a.shape}: at least 2 seeds (columns) are needed to estimate noise")
    if a.shape[0] < 1:
        raise ValueError(f"{name} has shape {a.shape}: a text needs at least 1 word (row)")
    n_bad = int(a.size - np.count_nonzero(np.isfinite(a)))
    if n_bad:
        raise ValueError(f"{name} contains {n_bad} non-finite values (NaN or inf); explanations must be finite")
    return a


def _starts(lengths: np.ndarray) -> np.ndarray:
    return np.cumsum(lengths) - lengths


def _safe_divide(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """Return num / den with x/0 = inf for x > 0 and 0/0 = NaN, without warnings."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return num / den


def _scale_stacked(x: np.ndarray, lengths: np.ndarray, scale: str) -> np.ndarray:
    """Return ``x`` (stacked texts, ``(n_words_total, n_seeds)``) with every (text, seed) column normalised."""
    if scale == "raw":
        return x
    starts = _starts(lengths)
    if scale == "zscore":
        centre = np.add.reduceat(x, starts, axis=0) / lengths[:, None]
        x = x - np.repeat(centre, lengths, axis=0)
        norm = np.sqrt(np.add.reduceat(x**2, starts, axis=0) / lengths[:, None])
    elif scale == "l1":
        norm = np.add.reduceat(np.abs(x), starts, axis=0)
    else:
        norm = np.sqrt(np.add.reduceat(x**2, starts, axis=0))
    # A zero-norm column is all zeros (all equal for zscore, now centred to zeros): it stays zeros.
    norm = np.where(norm > 0, norm, 1.0)
    return x / np.repeat(norm, lengths, axis=0)


@validated(scale=OneOf(SCALES))
def scale_columns(a: np.ndarray, scale: str = "raw") -> np.ndarray:
    """Return ``a`` ``(n_words, n_seeds)`` with each seed column normalised over words (definition B).

    ``scale``: "raw" (unchanged), "l1" (``a_s / sum_w |a_ws|``), "l2" (``a_s / sqrt(sum_w a_ws^2)``) or "zscore"
    (``(a_s - mean_w a_ws) / sd_w a_ws``, population sd). A column with zero norm (zero spread for "zscore") is
    mapped to zeros.
    """
    a = check_text(a, "a")
    return _scale_stacked(a, np.array([a.shape[0]]), scale)


@validated(scale=OneOf(SCALES))
def stack_texts(arrays: Sequence[np.ndarray], *, scale: str = "raw") -> tuple[np.ndarray, np.ndarray]:
    """Return ``(x, lengths)``: the texts stacked row-wise, ``(n_words_total, n_seeds)``, and ``(n_texts,)`` lengths.

    Each array is validated like :func:`text_snr`'s ``a`` and normalised per (text, seed) column by ``scale``.
    """
    if len(arrays) == 0:
        raise ValueError("arrays is empty; give at least one (n_words, n_seeds) array")
    arrays = [np.asarray(a, dtype=float) for a in arrays]
    check_text(arrays[0], "arrays[0]")
    for i, a in enumerate(arrays):
        if a.ndim != 2 or a.shape[0] < 1 or a.shape[1] != arrays[0].shape[1]:
            check_text(a, f"arrays[{i}]")
            raise ValueError(
                f"arrays[{i}] has shape {a.shape} but arrays[0] has {arrays[0].shape[1]} seeds; "
                "all texts need the same n_seeds"
            )
    x = np.concatenate(arrays, axis=0)
    lengths = np.array([a.shape[0] for a in arrays])
    if not np.isfinite(x).all():
        first = int(np.searchsorted(np.cumsum(lengths), np.flatnonzero(~np.isfinite(x).all(axis=1))[0], "right"))
        check_text(arrays[first], f"arrays[{first}]")
    check_text(x, "arrays")
    return _scale_stacked(x, lengths, scale), lengths


def stacked_snr(
    x: np.ndarray, lengths: np.ndarray, *, seed_weights: np.ndarray | None = None
) -> dict[str, np.ndarray]:
    """Return per-text ``signal, signal_naive, noise, snr, snr_naive`` arrays from stacked texts.

    ``x`` is ``(n_words_total, n_seeds)`` and ``lengths`` ``(n_texts,)``, as from :func:`stack_texts`. Without
    ``seed_weights`` each value has shape ``(n_texts,)``. With ``seed_weights`` of shape ``(n_resamples, n_seeds)``
    (non-negative counts; 0/1 selects a subset of seeds, multinomial counts are a bootstrap resample) each value is
    ``(n_texts, n_resamples)`` and row ``r`` uses the weights ``c = seed_weights[r]`` as reliability weights, with
    ``V1 = sum_s c_s`` and ``V2 = sum_s c_s^2``::

        m_w = sum_s c_s a_ws / V1,   v_w = sum_s c_s (a_ws - m_w)^2 / (V1 - V2 / V1),   S* = S_naive - N V2 / V1^2

    which is definition A for 0/1 weights, and keeps ``v_w`` unbiased and the correction exact (``var(m_w) =
    v_w V2 / V1^2``) when seeds are duplicated. A row with fewer than 2 seeds of positive weight gives NaN.
    Vectorised over texts and resamples.
    """
    squeeze = seed_weights is None
    weights = np.ones((1, x.shape[1])) if squeeze else np.asarray(seed_weights, dtype=float)
    if weights.ndim != 2 or weights.shape[1] != x.shape[1] or not np.all(np.isfinite(weights) & (weights >= 0)):
        raise ValueError(
            f"seed_weights must be a non-negative array of shape (n_resamples, {x.shape[1]}); got {weights.shape}"
        )
    v1 = weights.sum(axis=1)
    v2 = (weights**2).sum(axis=1)
    starts = _starts(lengths)
    # Work with d = a - (first seed): equal columns give d = 0 and an exactly zero noise, and sums of squares of d
    # do not cancel. Per word, sum_s c_s (a_s - m)^2 = sum_s c_s d_s^2 - V1 mean_c(d)^2, and the first term summed
    # over words needs only per-text sums of d^2. einsum (a plain C loop) rather than BLAS: the seed dimension is
    # tiny and BLAS threads thrash on a busy machine.
    first = x[:, 0].copy()
    d = x - first[:, None]
    d2_sums = np.add.reduceat(d**2, starts, axis=0)  # (n_texts, n_seeds)
    first -= np.repeat(np.add.reduceat(first, starts) / lengths, lengths)  # centred per text, for the signal
    chunk = max(1, _CHUNK_ELEMENTS // max(1, x.shape[0]))
    parts: dict[str, list[np.ndarray]] = {"signal_naive": [], "noise": []}
    with np.errstate(divide="ignore", invalid="ignore"):
        for lo in range(0, weights.shape[0], chunk):
            w, s1, s2 = weights[lo : lo + chunk].T, v1[lo : lo + chunk], v2[lo : lo + chunk]
            mean_d = np.einsum("ws,sb->wb", d, w) / s1
            within = np.einsum("ts,sb->tb", d2_sums, w) - s1 * np.add.reduceat(mean_d**2, starts, axis=0)
            parts["noise"].append(np.maximum(within, 0.0) / (s1 - s2 / s1) / lengths[:, None])
            m = mean_d + first[:, None]  # per-word seed mean, up to a constant per text
            sums = np.add.reduceat(m, starts, axis=0)
            ss = np.maximum(np.add.reduceat(m**2, starts, axis=0) - sums**2 / lengths[:, None], 0.0)
            parts["signal_naive"].append(ss / (lengths - 1)[:, None])
    signal_naive = np.concatenate(parts["signal_naive"], axis=1)
    noise = np.concatenate(parts["noise"], axis=1)
    signal_naive[lengths < 2] = np.nan  # one word: no variance over words
    signal = signal_naive - noise * v2 / v1**2
    out = {
        "signal": signal,
        "signal_naive": signal_naive,
        "noise": noise,
        "snr": _safe_divide(signal, noise),
        "snr_naive": _safe_divide(signal_naive, noise),
    }
    return {k: v[:, 0] for k, v in out.items()} if squeeze else out


@validated(scale=OneOf(SCALES))
def text_snr(a: np.ndarray, *, scale: str = "raw") -> TextSNR:
    """Return the signal, noise and SNR of one text's explanations ``a`` of shape ``(n_words, n_seeds)``.

    With ``S = n_seeds``, ``m_w`` the mean and ``v_w`` the variance (ddof = 1) of row ``w`` over seeds:

    - ``noise`` :math:`N = \\frac{1}{n}\\sum_w v_w`;
    - ``signal_naive`` :math:`S_{naive} = \\operatorname{var}_w(m_w)` (ddof = 1);
    - ``signal`` :math:`S^* = S_{naive} - N/S`, unbiased because :math:`E[S_{naive}] = S_{true} + N/S`
      (the seed mean keeps noise of variance :math:`v_w/S`); it can be negative when the signal is weak;
    - ``snr`` :math:`S^*/N` and ``snr_naive`` :math:`S_{naive}/N`.

    ``scale`` normalises each seed column first (definition B, see :func:`scale_columns`).

    Edge cases: fewer than 2 seeds, non-finite values or a non-2-D ``a`` raise ``ValueError``; a single word gives
    ``signal``, ``signal_naive``, ``snr`` and ``snr_naive`` NaN (no variance over one word; ``noise`` is defined);
    zero noise gives ``snr = inf`` when the signal is positive and NaN when it is zero too.
    """
    a = check_text(a, "a")
    lengths = np.array([a.shape[0]])
    stats = stacked_snr(_scale_stacked(a, lengths, scale), lengths)
    return TextSNR(**{k: float(v[0]) for k, v in stats.items()}, n_words=a.shape[0], n_seeds=a.shape[1])


@validated(scale=OneOf(SCALES))
def texts_snr(arrays: Sequence[np.ndarray], *, scale: str = "raw") -> pd.DataFrame:
    """Return one row per text with columns ``signal, signal_naive, noise, snr, snr_naive, n_words``.

    ``arrays``: list of ``(n_words_t, n_seeds)`` arrays; each row equals :func:`text_snr` of that text with the
    same ``scale``. Vectorised over texts (the texts are stacked and reduced by segment).
    """
    x, lengths = stack_texts(arrays, scale=scale)
    frame = pd.DataFrame(stacked_snr(x, lengths))
    frame["n_words"] = lengths
    frame.index.name = "text"
    return frame


def corpus_moments(x: np.ndarray, codes: np.ndarray, *, min_count: int,
                   seed_weights: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """Return the moments of definition C from occurrences ``x`` ``(n_occurrences, n_seeds)`` of word types
    ``codes`` ``(n_occurrences,)`` (integers ``0..K-1``), keeping types with at least ``min_count`` occurrences.

    Keys: ``signal``, ``signal_naive``, ``noise`` (per occurrence), ``type_noise``, ``snr``, ``snr_naive`` (floats as
    0-d arrays), and per kept type ``keep`` (the kept codes), ``count``, ``type_means`` ``(n_kept, n_seeds)`` and
    ``occurrence_noise``. ``seed_weights`` ``(n_seeds,)`` are seed counts of a bootstrap resample, used as
    reliability weights as in :func:`stacked_snr` (variances over ``V1 − V2/V1``, correction ``V2/V1²``), so that
    duplicated seeds neither shrink the noise nor break the correction. Fewer than 2 kept types give a NaN signal.
    """
    n_seeds = x.shape[1]
    c = np.ones(n_seeds) if seed_weights is None else np.asarray(seed_weights, dtype=float)
    v1, v2 = c.sum(), (c**2).sum()
    counts = np.bincount(codes)
    keep = np.flatnonzero(counts >= min_count)
    if len(keep) == 0:
        raise ValueError(f"no word type occurs at least min_count={min_count} times")
    kept = np.isin(codes, keep)
    x, codes = x[kept], np.searchsorted(keep, codes[kept])
    count = counts[keep]
    order = np.argsort(codes, kind="stable")
    type_means = np.add.reduceat(x[order], _starts(count), axis=0) / count[:, None]

    def seed_variance(values: np.ndarray) -> np.ndarray:
        d = values - values[:, :1]  # equal seeds give exactly zero variance
        mean = d @ c / v1
        return ((d - mean[:, None]) ** 2) @ c / (v1 - v2 / v1)

    occurrence = seed_variance(x)
    type_noise = seed_variance(type_means).mean()
    noise = occurrence.mean()
    m = type_means @ c / v1
    signal_naive = m.var(ddof=1) if len(keep) > 1 else np.nan
    signal = signal_naive - type_noise * v2 / v1**2
    moments = dict(signal=signal, signal_naive=signal_naive, noise=noise, type_noise=type_noise,
                   snr=_safe_divide(signal, noise), snr_naive=_safe_divide(signal_naive, noise))
    return {**{k: np.asarray(v, dtype=float) for k, v in moments.items()}, "keep": keep, "count": count,
            "type_means": type_means,
            "occurrence_noise": np.bincount(codes, weights=occurrence, minlength=len(keep)) / count}


def corpus_occurrences(arrays: Sequence[np.ndarray], words: Sequence[Sequence[str]], *,
                       scale: str = "raw") -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Return ``(x, codes, types, lengths)``: the stacked occurrences (after ``scale``), the code of each
    occurrence's lower-cased word type, the types (sorted) and the texts' lengths; ``words[t]`` lists the words of
    ``arrays[t]``."""
    x, lengths = stack_texts(arrays, scale=scale)
    if len(words) != len(lengths):
        raise ValueError(f"words has {len(words)} texts but arrays has {len(lengths)}")
    for i, (ws, n) in enumerate(zip(words, lengths)):
        if len(ws) != n:
            raise ValueError(f"words[{i}] has {len(ws)} words but arrays[{i}] has {n} rows")
    tokens = pd.Series([w for ws in words for w in ws], dtype=object).str.lower().to_numpy()
    codes, types = pd.factorize(tokens, sort=True)
    return x, codes, np.asarray(types, dtype=object), lengths


@validated(min_count=POSITIVE_INT)
def corpus_snr(
    arrays: Sequence[np.ndarray], words: Sequence[Sequence[str]], *, scale: str = "raw", min_count: int = 2
) -> CorpusSNR:
    """Return the signal, noise and SNR over the word types of a corpus (definition C).

    Occurrences are grouped by lower-cased word type across texts; types with fewer than ``min_count``
    occurrences are dropped. With ``a_is`` the attribution of occurrence ``i`` under seed ``s`` (after ``scale``,
    applied per text and seed), ``M_ks`` the mean over the occurrences of type ``k`` under seed ``s``,
    ``m_k = mean_s M_ks`` (variances ddof = 1)::

        noise        = mean_i var_s a_is               the seed noise of one occurrence (every kept occurrence)
        type_noise   = mean_k var_s M_ks               the seed noise of a type's mean
        signal_naive = var_k m_k
        signal       = signal_naive - type_noise / S   unbiased for the variance over types of their expected mean

    The noise is per occurrence, not per type mean: a linear model's attribution is the same at every occurrence
    of a type, so averaging occurrences does not reduce its noise, while a contextual model's independent
    per-occurrence noise would shrink with the count; a per-type-mean noise would favour whichever family's
    noise averages out, and depend on the corpus size. ``words[t]`` lists the ``n_words_t`` words of
    ``arrays[t]``. Fewer than 2 kept types give a NaN signal.
    """
    x, codes, uniques, _ = corpus_occurrences(arrays, words, scale=scale)
    moments = corpus_moments(x, codes, min_count=min_count)
    means = moments["type_means"]
    types = pd.DataFrame(
        {"count": moments["count"], "mean": means.mean(axis=1),
         "var": (means - means[:, :1]).var(axis=1, ddof=1), "occurrence_noise": moments["occurrence_noise"]},
        index=pd.Index(uniques[moments["keep"]], name="word"),
    )
    scalars = {k: float(moments[k]) for k in ("signal", "signal_naive", "noise", "type_noise", "snr", "snr_naive")}
    return CorpusSNR(**scalars, n_types=len(types), n_seeds=x.shape[1], types=types)


@validated(n_resamples=POSITIVE_INT)
def snr_vs_n_seeds(
    arrays: Sequence[np.ndarray],
    *,
    n_seeds_grid: Sequence[int],
    n_resamples: int,
    rng: int | np.random.Generator,
    scale: str = "raw",
) -> pd.DataFrame:
    """Return the median over texts of the per-text statistics for random subsets of ``S`` seeds.

    For every ``S`` in ``n_seeds_grid`` (each in ``2..n_seeds``) draw ``n_resamples`` subsets of ``S`` distinct
    seeds (the same subset for all texts: a seed is one trained model) and compute the per-text statistics on those
    columns. One row per (``n_seeds``, ``resample``) with columns ``median_snr, median_snr_naive, median_signal,
    median_signal_naive, median_noise``. Texts with one word have NaN statistics and make the medians NaN.
    """
    rng = np.random.default_rng(rng)
    x, lengths = stack_texts(arrays, scale=scale)
    n_seeds = x.shape[1]
    rows = []
    for s in n_seeds_grid:
        if not 2 <= s <= n_seeds:
            raise ValueError(f"n_seeds_grid contains {s}; values must be in 2..{n_seeds} (the seeds available)")
        chosen = np.argsort(rng.random((n_resamples, n_seeds)), axis=1)[:, :s]
        weights = np.zeros((n_resamples, n_seeds))
        np.put_along_axis(weights, chosen, 1.0, axis=1)
        stats = stacked_snr(x, lengths, seed_weights=weights)
        medians = {f"median_{k}": np.median(v, axis=0) for k, v in stats.items()}
        rows.append(pd.DataFrame({"n_seeds": s, "resample": np.arange(n_resamples), **medians}))
    return pd.concat(rows, ignore_index=True)


def common_mode_variance(arrays: Sequence[np.ndarray]) -> pd.DataFrame:
    """Return per text the variance over seeds of the offset every word of the text shares (the common mode).

    With ``a[w, s] = m[w] + c[s] + e[w, s]`` (``c`` the per (text, seed) offset, ``e`` the word noise of variance
    ``σ_e²``), the per-text mean over words ``ā[s]`` has variance over seeds ``σ_c² + σ_e²/n`` and the raw noise
    ``N = σ_c² + σ_e²`` (definition A), so ``σ_c² = (n var_s(ā) − N) / (n − 1)`` is an unbiased estimate of the
    common-mode variance. Columns: ``common_mode`` (that estimate; it may be negative when there is none),
    ``noise`` (N) and ``share`` (common_mode / N: the part of the raw noise that the z-scoring of definition B
    removes), one row per text. Texts need at least 2 words.
    """
    x, lengths = stack_texts(arrays)
    starts = _starts(lengths)
    offsets = np.add.reduceat(x, starts, axis=0) / lengths[:, None]  # (n_texts, n_seeds)
    noise = stacked_snr(x, lengths)["noise"]
    spread = offsets.var(axis=1, ddof=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        common = np.where(lengths > 1, (lengths * spread - noise) / (lengths - 1), np.nan)
        frame = pd.DataFrame({"common_mode": common, "noise": noise, "share": _safe_divide(common, noise)})
    frame.index.name = "text"
    return frame
