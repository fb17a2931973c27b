"""Uncertainty and tests for per-text explanation statistics.

- :func:`bootstrap_ci`: bootstrap confidence interval of a statistic (default: the median) of a per-text quantity
  (default: the bias-corrected SNR), resampling texts, seeds, or both (hierarchical);
- :func:`corpus_bootstrap_ci`: the same for the corpus SNR of definition C (texts, then seeds);
- :func:`paired_comparison`: two models explained on the same texts, Wilcoxon signed-rank or sign-flip
  permutation test with effect sizes;
- :func:`seed_spearman`, :func:`seed_kendall`, :func:`seed_top_k_overlap`, :func:`texts_agreement`: agreement
  between the seeds' word rankings of one text.

Arrays follow :mod:`seedexplain.snr`: one text is ``(n_words, n_seeds)``, a corpus a list of those.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats as sps

from seedexplain.constraints import POSITIVE_INT, PROBABILITY, Integer, OneOf, validated
from seedexplain.snr import check_text, corpus_moments, corpus_occurrences, stack_texts, stacked_snr

OVER = ("texts", "seeds", "both")
QUANTITIES = ("snr", "signal", "noise")
CI_METHODS = ("basic", "percentile")
TEST_METHODS = ("wilcoxon", "permutation")
ALTERNATIVES = ("two-sided", "greater", "less")
OVERLAP_MEASURES = ("jaccard", "fraction")
_CHUNK_ELEMENTS = 2_000_000

Statistic = Callable[..., np.ndarray]


@dataclass(frozen=True)
class BootstrapCI:
    """A bootstrap confidence interval; ``replicates`` holds the ``(n_resamples,)`` bootstrap statistics."""

    estimate: float
    low: float
    high: float
    level: float
    over: str
    method: str
    replicates: np.ndarray = field(repr=False, compare=False)


def seed_resamples(n_seeds: int, n_resamples: int, rng: np.random.Generator) -> np.ndarray:
    """Return ``(n_resamples, n_seeds)`` multinomial seed counts, redrawing rows that use a single seed."""
    weights = rng.multinomial(n_seeds, np.full(n_seeds, 1 / n_seeds), size=n_resamples)
    while (single := np.flatnonzero(weights.max(axis=1) == n_seeds)).size:
        weights[single] = rng.multinomial(n_seeds, np.full(n_seeds, 1 / n_seeds), size=single.size)
    return weights


@validated(quantity=OneOf(QUANTITIES), over=OneOf(OVER), n_resamples=POSITIVE_INT, level=PROBABILITY,
           method=OneOf(CI_METHODS))
def bootstrap_ci(
    arrays: Sequence[np.ndarray],
    *,
    statistic: Statistic = np.median,
    quantity: str = "snr",
    over: str = "texts",
    n_resamples: int = 1000,
    level: float = 0.95,
    method: str = "percentile",
    scale: str = "raw",
    rng: int | np.random.Generator = 0,
) -> BootstrapCI:
    """Return a bootstrap CI of ``statistic`` over texts of the per-text ``quantity`` ("snr", "signal", "noise").

    ``statistic(values, axis=...)`` reduces along an axis (``numpy.median``, ``numpy.mean``, ``numpy.nanmedian``
    ...). ``over`` chooses what is resampled, with replacement:

    - "texts": texts, each keeping its per-text estimate; the target is the statistic over the population of texts
      of the per-text estimate at this number of seeds;
    - "seeds": the seed columns, one draw shared by all texts (a seed is one trained model); the target is the
      statistic over these texts of the per-text value at infinitely many seeds;
    - "both": texts, then seeds (hierarchical); the target is the statistic over the population of texts of the
      value at infinitely many seeds. This is the scheme for real models, whose seed effects are shared by all
      texts; when seed noise is independent between texts (as in :mod:`seedexplain.synthetic`) the text
      resampling already carries it, so "both" counts it twice and is conservative.

    A seed resample is a vector of counts ``c`` (multinomial, redrawn if it uses one seed only) and the per-text
    values are computed with ``c`` as reliability weights (:func:`seedexplain.snr.stacked_snr`), so duplicated
    seeds neither shrink the noise nor break the bias correction. With ``q_lo, q_hi`` the bootstrap quantiles at
    ``(1 -/+ level) / 2`` and ``est`` the estimate: "percentile" gives ``[q_lo, q_hi]`` and "basic" gives
    ``[2 est - q_hi, 2 est - q_lo]``. Percentile covered better in our synthetic checks (the median of texts is
    a skewed statistic), hence the default. Resampling seeds needs at least 3 of them.
    """
    rng = np.random.default_rng(rng)
    x, lengths = stack_texts(arrays, scale=scale)
    n_texts, n_seeds = len(lengths), x.shape[1]
    base = stacked_snr(x, lengths)
    estimate = float(statistic(base[quantity], axis=0))
    if over == "texts":
        replicates = statistic(base[quantity][rng.integers(0, n_texts, (n_resamples, n_texts))], axis=1)
    else:
        if n_seeds < 3:
            raise ValueError(f"over={over!r} resamples seeds and needs at least 3 of them; the texts have {n_seeds}")
        per_text = stacked_snr(x, lengths, seed_weights=seed_resamples(n_seeds, n_resamples, rng))[quantity]
        if over == "both":
            per_text = np.take_along_axis(per_text, rng.integers(0, n_texts, (n_texts, n_resamples)), axis=0)
        replicates = statistic(per_text, axis=0)
    q_lo, q_hi = np.quantile(replicates, [(1 - level) / 2, (1 + level) / 2])
    low, high = (q_lo, q_hi) if method == "percentile" else (2 * estimate - q_hi, 2 * estimate - q_lo)
    return BootstrapCI(estimate, float(low), float(high), level, over, method, np.asarray(replicates))


def _resampled_occurrences(lengths: np.ndarray, texts: np.ndarray) -> np.ndarray:
    """Return the row indices, in stacked texts of ``lengths``, of the words of the texts ``texts`` (in order)."""
    starts = np.cumsum(lengths) - lengths
    sizes = lengths[texts]
    offsets = np.arange(sizes.sum()) - np.repeat(np.cumsum(sizes) - sizes, sizes)
    return np.repeat(starts[texts], sizes) + offsets


@validated(min_count=POSITIVE_INT, n_resamples=POSITIVE_INT, level=PROBABILITY)
def corpus_bootstrap_ci(
    arrays: Sequence[np.ndarray],
    words: Sequence[Sequence[str]],
    *,
    scale: str = "raw",
    min_count: int = 2,
    n_resamples: int = 1000,
    level: float = 0.95,
    rng: int | np.random.Generator = 0,
) -> BootstrapCI:
    """Return a hierarchical bootstrap CI of the corpus SNR (definition C, :func:`seedexplain.snr.corpus_snr`).

    Each resample draws the texts with replacement (a text's words stay together: its occurrences come with it),
    then the seeds (multinomial counts, used as reliability weights as in :func:`bootstrap_ci`), and recomputes
    the word types, their counts and ``min_count`` filter on the resampled corpus. The target is the corpus SNR of
    the population of texts and of seeds. The interval is that of :func:`seed_level_comparison`, for the same
    reason (few seeds): on the log scale, ``log SNR ± t_{S−1} · se`` with the bootstrap standard error inflated by
    ``sqrt(S/(S−1))``, then exponentiated (a plain percentile interval covered 72% on the oracle with per-seed
    noise scales of ``tests/test_snr.py``). Resamples that keep fewer than 2 types or have an SNR ≤ 0 are left
    out; an estimate ≤ 0 gives a NaN interval.
    """
    rng = np.random.default_rng(rng)
    x, codes, _, lengths = corpus_occurrences(arrays, words, scale=scale)
    n_texts, n_seeds = len(lengths), x.shape[1]
    if n_seeds < 3:
        raise ValueError(f"the corpus bootstrap resamples seeds and needs at least 3 of them; the texts have {n_seeds}")
    estimate = float(corpus_moments(x, codes, min_count=min_count)["snr"])
    weights = seed_resamples(n_seeds, n_resamples, rng)
    replicates = np.full(n_resamples, np.nan)
    for b, texts in enumerate(rng.integers(0, n_texts, (n_resamples, n_texts))):
        rows = _resampled_occurrences(lengths, texts)
        if np.count_nonzero(np.bincount(codes[rows]) >= min_count) >= 2:
            replicates[b] = corpus_moments(x[rows], codes[rows], min_count=min_count, seed_weights=weights[b])["snr"]
    logs = np.log(replicates[replicates > 0])
    dof = n_seeds - 1
    se = float(np.std(logs, ddof=1) * np.sqrt((dof + 1) / dof)) if logs.size > 1 else float("nan")
    half = float(sps.t.ppf((1 + level) / 2, dof)) * se
    with np.errstate(invalid="ignore", divide="ignore"):
        low, high = np.exp(np.log(estimate) - half), np.exp(np.log(estimate) + half)
    return BootstrapCI(estimate, float(low), float(high), level, "both", "log-t", replicates)


@dataclass(frozen=True)
class PairedComparison:
    """A paired test of model A against model B on the same texts, with effect sizes.

    ``statistic``: scipy's Wilcoxon statistic, or the mean difference for the permutation test.
    ``rank_biserial``: matched-pairs rank-biserial correlation in [-1, 1] (positive: A larger).
    ``median_log_ratio``: median of ``log(x / y)`` over the ``n_log_ratio`` pairs where both are positive.
    """

    method: str
    alternative: str
    statistic: float
    p_value: float
    n_pairs: int
    median_difference: float
    rank_biserial: float
    median_log_ratio: float
    n_log_ratio: int


def _check_pairs(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if x.ndim != 1 or x.shape != y.shape or x.size == 0:
        raise ValueError(f"x and y must be non-empty 1-D arrays of the same length; got shapes {x.shape}, {y.shape}")
    for name, v in (("x", x), ("y", y)):
        if not np.isfinite(v).all():
            raise ValueError(f"{name} contains {int(np.sum(~np.isfinite(v)))} non-finite values; drop those texts")
    return x, y


def rank_biserial(d: np.ndarray) -> float:
    """Return the matched-pairs rank-biserial correlation ``(R+ - R-) / (R+ + R-)`` of differences ``d``.

    ``R+`` (``R-``) is the sum of the ranks of ``|d|`` over positive (negative) differences; zeros are dropped.
    NaN when every difference is zero.
    """
    d = np.asarray(d, dtype=float)
    d = d[d != 0]
    if d.size == 0:
        return float("nan")
    ranks = sps.rankdata(np.abs(d))
    return float((ranks[d > 0].sum() - ranks[d < 0].sum()) / ranks.sum())


@validated(method=OneOf(TEST_METHODS), alternative=OneOf(ALTERNATIVES), n_permutations=POSITIVE_INT)
def paired_comparison(
    x: np.ndarray,
    y: np.ndarray,
    *,
    method: str = "wilcoxon",
    alternative: str = "two-sided",
    n_permutations: int = 9999,
    rng: int | np.random.Generator = 0,
) -> PairedComparison:
    """Return a paired test of ``x`` against ``y`` (``(n_texts,)``, e.g. per-text SNR of two models) with effects.

    The null hypothesis is that the differences ``d = x - y`` are symmetric around zero. ``method``:
    "wilcoxon" (scipy's signed-rank test, zeros dropped) or "permutation" (sign-flip test of the mean difference
    with ``n_permutations`` random sign vectors; ``p = (1 + #{T* at least as extreme}) / (1 + n_permutations)``).
    ``alternative``: "two-sided", "greater" (``x`` larger) or "less".
    """
    x, y = _check_pairs(x, y)
    d = x - y
    if method == "wilcoxon":
        if np.all(d == 0):
            statistic, p_value = 0.0, 1.0
        else:
            result = sps.wilcoxon(d, zero_method="wilcox", alternative=alternative)
            statistic, p_value = float(result.statistic), float(result.pvalue)
    else:
        rng = np.random.default_rng(rng)
        statistic = float(d.mean())
        per_chunk = max(1, _CHUNK_ELEMENTS // d.size)
        null = np.concatenate(
            [
                (rng.choice([-1.0, 1.0], (min(per_chunk, n_permutations - lo), d.size)) * d).mean(axis=1)
                for lo in range(0, n_permutations, per_chunk)
            ]
        )
        tol = 1e-12 * max(abs(statistic), np.abs(d).max())  # equal sums up to rounding count as ties
        extreme = {
            "two-sided": np.abs(null) >= abs(statistic) - tol,
            "greater": null >= statistic - tol,
            "less": null <= statistic + tol,
        }[alternative]
        p_value = float((1 + extreme.sum()) / (1 + n_permutations))
    positive = (x > 0) & (y > 0)
    log_ratio = np.log(x[positive] / y[positive])
    return PairedComparison(
        method=method,
        alternative=alternative,
        statistic=statistic,
        p_value=p_value,
        n_pairs=int(d.size),
        median_difference=float(np.median(d)),
        rank_biserial=rank_biserial(d),
        median_log_ratio=float(np.median(log_ratio)) if log_ratio.size else float("nan"),
        n_log_ratio=int(log_ratio.size),
    )


def _mean_over_seed_pairs(matrix: np.ndarray) -> np.ndarray:
    """Return the mean of the strict upper triangle of ``(n_texts, n_seeds, n_seeds)`` matrices, ``(n_texts,)``."""
    upper = np.triu_indices(matrix.shape[-1], 1)
    return matrix[:, upper[0], upper[1]].mean(axis=1)


def _spearman(batch: np.ndarray) -> np.ndarray:
    """Return the mean pairwise Spearman correlation for a ``(n_texts, n_words, n_seeds)`` batch."""
    ranks = sps.rankdata(batch, axis=1)
    ranks -= ranks.mean(axis=1, keepdims=True)
    cov = np.matmul(ranks.transpose(0, 2, 1), ranks)
    sd = np.sqrt(np.diagonal(cov, axis1=1, axis2=2))
    with np.errstate(divide="ignore", invalid="ignore"):
        return _mean_over_seed_pairs(cov / (sd[:, :, None] * sd[:, None, :]))


def _kendall(batch: np.ndarray) -> np.ndarray:
    """Return the mean pairwise Kendall tau-b for a ``(n_texts, n_words, n_seeds)`` batch."""
    first, second = np.triu_indices(batch.shape[1], 1)
    signs = np.sign(batch[:, first, :] - batch[:, second, :])  # (n_texts, n_word_pairs, n_seeds)
    concordance = np.matmul(signs.transpose(0, 2, 1), signs)  # concordant - discordant word pairs
    untied = np.abs(signs).sum(axis=1)  # word pairs not tied within each seed
    with np.errstate(divide="ignore", invalid="ignore"):
        return _mean_over_seed_pairs(concordance / np.sqrt(untied[:, :, None] * untied[:, None, :]))


def _top_k(batch: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Return the mean pairwise top-k Jaccard index and overlap fraction for a ``(n_texts, n_words, n_seeds)`` batch."""
    k = min(k, batch.shape[1])
    top = np.argsort(-np.abs(batch), axis=1, kind="stable")[:, :k, :]
    member = np.zeros(batch.shape)
    np.put_along_axis(member, top, 1.0, axis=1)
    shared = np.matmul(member.transpose(0, 2, 1), member)
    return _mean_over_seed_pairs(shared / (2 * k - shared)), _mean_over_seed_pairs(shared / k)


def seed_spearman(a: np.ndarray) -> float:
    """Return the mean over seed pairs of the Spearman correlation of ``a``'s ``(n_words, n_seeds)`` columns.

    Ranks use average ties; a pair involving a constant column is undefined and makes the mean NaN.
    """
    return float(_spearman(check_text(a)[None])[0])


def seed_kendall(a: np.ndarray) -> float:
    """Return the mean over seed pairs of the Kendall tau-b of ``a``'s ``(n_words, n_seeds)`` columns.

    tau-b = (concordant - discordant) / sqrt(untied pairs in column s x untied pairs in column u); NaN for a pair
    involving a constant column.
    """
    return float(_kendall(check_text(a)[None])[0])


@validated(k=POSITIVE_INT, measure=OneOf(OVERLAP_MEASURES))
def seed_top_k_overlap(a: np.ndarray, k: int, *, measure: str = "jaccard") -> float:
    """Return the mean over seed pairs of the overlap of the ``k`` words with the largest ``|a|`` per seed.

    ``a``: ``(n_words, n_seeds)``. ``measure``: "jaccard" ``|A ∩ B| / |A ∪ B|`` or "fraction" ``|A ∩ B| / k``.
    Ties in ``|a|`` go to the earlier word; ``k`` larger than ``n_words`` is clipped to it (overlap 1).
    """
    jaccard, fraction = _top_k(check_text(a)[None], k)
    return float((jaccard if measure == "jaccard" else fraction)[0])


@validated(k=POSITIVE_INT)
def texts_agreement(arrays: Sequence[np.ndarray], *, k: int = 3) -> pd.DataFrame:
    """Return one row per text with the seed agreement ``spearman, kendall, top_k_jaccard, top_k_fraction``.

    Each value is the per-text function above (:func:`seed_spearman` ...), plus ``n_words``. Texts are processed
    in batches of equal length, vectorised.
    """
    x, lengths = stack_texts(arrays)
    starts = np.cumsum(lengths) - lengths
    out = np.empty((len(lengths), 4))
    for n_words in np.unique(lengths):
        ids = np.flatnonzero(lengths == n_words)
        per_batch = max(1, _CHUNK_ELEMENTS // (n_words * n_words * x.shape[1]))
        for lo in range(0, ids.size, per_batch):
            chunk = ids[lo : lo + per_batch]
            batch = x[starts[chunk][:, None] + np.arange(n_words)]
            out[chunk] = np.column_stack([_spearman(batch), _kendall(batch), *_top_k(batch, k)])
    frame = pd.DataFrame(out, columns=["spearman", "kendall", "top_k_jaccard", "top_k_fraction"])
    frame["n_words"] = lengths
    frame.index.name = "text"
    return frame


@dataclass(frozen=True)
class SeedLevelComparison:
    """The seed-level comparison of two families' explanation SNR (see :func:`seed_level_comparison`).

    ``estimate``: ``log(median SNR first / median SNR second)`` on the data; ``ci_low, ci_high``: its interval;
    ``p_value``: two-sided, for equal median SNRs; ``se``: the bootstrap standard error (small-sample corrected);
    ``n_valid``: resamples in which both medians were positive.
    """

    estimate: float
    ci_low: float
    ci_high: float
    p_value: float
    se: float
    level: float
    n_texts: int
    n_seeds_first: int
    n_seeds_second: int
    n_valid: int


def _log_median_snr(x: np.ndarray, lengths: np.ndarray, seed_weights: np.ndarray,
                    text_rows: np.ndarray) -> np.ndarray:
    """Return ``log(median over resampled texts of the per-text SNR)`` per resample (NaN where it is <= 0).

    ``seed_weights`` is ``(R, n_seeds)`` and ``text_rows`` ``(R, n_texts)`` indices of the resampled texts.
    """
    snr = stacked_snr(x, lengths, seed_weights=seed_weights)["snr"]  # (n_texts, R)
    medians = np.median(np.take_along_axis(snr, text_rows.T, axis=0), axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(medians > 0, np.log(np.where(medians > 0, medians, 1.0)), np.nan)


@validated(n_resamples=Integer(50), level=PROBABILITY)
def seed_level_comparison(
    first: Sequence[np.ndarray],
    second: Sequence[np.ndarray],
    *,
    n_resamples: int = 2000,
    seed: int = 0,
    level: float = 0.95,
    scale: str = "raw",
) -> SeedLevelComparison:
    """Return the comparison of two families' median per-text SNR with the trained models as sampled units.

    ``first`` and ``second`` list the same texts in the same order, each text a ``(n_words, n_seeds)`` array (the
    families may have different numbers of seeds). Paired multi-bootstrap (Sellam et al. 2022): each resample
    draws the texts once, with replacement, for both families, and each family's seeds independently, with
    replacement (multinomial counts used as reliability weights, :func:`seedexplain.snr.stacked_snr`, so repeated
    seeds keep the noise estimate unbiased); every text's bias-corrected SNR is recomputed from the resampled
    seeds and ``T* = log(median SNR first) − log(median SNR second)``.

    What it is about: the population of models each family's training procedure produces (other seeds) and the
    population of texts of the task (other texts); not the particular models trained. A seed effect shared by every
    text (a noisier model, a word type's coefficient) moves all texts at once, so the texts are not independent
    units and the seeds carry most of the uncertainty.

    Interval: with few seeds a bootstrap over seeds under-states the spread (the resampled seeds' variance is
    ``(S−1)/S`` of theirs), so the bootstrap standard error is inflated by ``sqrt(S/(S−1))`` with ``S`` the smaller
    seed count, and the interval and p-value use Student's t with ``S − 1`` degrees of freedom:
    ``estimate ± t · se`` and ``p = 2 P(T_{S−1} > |estimate| / se)``. Its level and coverage on an oracle with
    shared seed effects are tested in ``tests/test_seed_level.py`` and shown in the estimators chapter.
    A median SNR ≤ 0 (no signal left after the bias correction) has no logarithm: the estimate is then NaN.
    """
    x1, lengths = stack_texts(first, scale=scale)
    x2, lengths2 = stack_texts(second, scale=scale)
    if not np.array_equal(lengths, lengths2):
        raise ValueError("first and second must explain the same texts: their numbers of texts or words differ")
    s1, s2 = x1.shape[1], x2.shape[1]
    if min(s1, s2) < 3:
        raise ValueError(f"resampling seeds needs at least 3 per family; first has {s1}, second {s2}")
    rng = np.random.default_rng(seed)
    n_texts = len(lengths)
    text_rows = rng.integers(0, n_texts, (n_resamples, n_texts))
    replicates = (_log_median_snr(x1, lengths, seed_resamples(s1, n_resamples, rng), text_rows)
                  - _log_median_snr(x2, lengths, seed_resamples(s2, n_resamples, rng), text_rows))
    identity = np.arange(n_texts)[None, :]
    estimate = float(_log_median_snr(x1, lengths, np.ones((1, s1)), identity)[0]
                     - _log_median_snr(x2, lengths, np.ones((1, s2)), identity)[0])
    valid = replicates[np.isfinite(replicates)]
    dof = min(s1, s2) - 1
    se = float(np.std(valid, ddof=1) * np.sqrt((dof + 1) / dof)) if valid.size > 1 else float("nan")
    quantile = float(sps.t.ppf((1 + level) / 2, dof))
    if np.isfinite(estimate) and se > 0:
        p_value = float(2 * sps.t.sf(abs(estimate) / se, dof))
    else:
        p_value = float("nan")
    return SeedLevelComparison(estimate, estimate - quantile * se, estimate + quantile * se, p_value, se, level,
                               n_texts, s1, s2, int(valid.size))


def holm(p_values: Sequence[float]) -> np.ndarray:
    """Return Holm's step-down adjusted p-values (same order as ``p_values``; NaN stays NaN).

    With the m finite p-values sorted, ``p_(i)`` becomes ``max_{j <= i} min(1, (m − j + 1) p_(j))``; rejecting
    where the adjusted value is below α controls the family-wise error rate at α (Holm 1979).
    """
    p = np.asarray(p_values, dtype=float)
    out = np.full(p.shape, np.nan)
    finite = np.flatnonzero(np.isfinite(p))
    order = finite[np.argsort(p[finite], kind="stable")]
    m = order.size
    adjusted = np.minimum(1.0, np.maximum.accumulate((m - np.arange(m)) * p[order]))
    out[order] = adjusted
    return out
