"""Synthetic explanations with a planted truth: the oracle for every estimator, and the experiments that use it.

The model, for text ``t``, word ``w`` and seed ``s``::

    a[t, w, s] = c[t, s] * (mu[t, w] + sqrt(noise_var * r[t]) * g[s] * eps[t, w, s]),   mu ~ N(0, signal_var)

with ``eps`` of unit variance (normal, or Student t with 3 degrees of freedom divided by sqrt(3)), a per text
noise level ``r = exp(noise_spread * z - noise_spread^2 / 2)`` (mean 1; ``r = 1`` when ``noise_spread = 0``), a
per (text, seed) scale ``c = exp(scale_jitter * z')`` (``c = 1`` when ``scale_jitter = 0``) and a per-seed noise
scale shared by every text, ``g = exp(seed_scale * z'' - seed_scale^2)`` (E g² = 1; ``g = 1`` when
``seed_scale = 0``), ``z, z', z'' ~ N(0, 1)``. With word types, a share ``type_share`` of ``eps``'s variance is a
per (word type, seed) draw shared by every occurrence of the type, in every text (as a linear model's coefficient
is), the rest is drawn per occurrence. The truth of text ``t`` is what infinitely many seeds would give without
scale jitter: signal = the realised variance over its words of ``mu`` (ddof = 1), noise = ``noise_var * r[t]``,
SNR = their ratio.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from seedexplain.constraints import NON_NEGATIVE, POSITIVE_INT, SHARE, OneOf, Real, validated
from seedexplain.snr import SCALES, stacked_snr, texts_snr
from seedexplain.stats import OVER, bootstrap_ci

TAILS = ("normal", "t3")


@dataclass(frozen=True)
class PlantedCorpus:
    """Synthetic explanations and their truth.

    ``arrays``: ``n_texts`` arrays ``(n_words_t, n_seeds)``. ``truth``: one row per text with ``n_words, signal,
    noise, snr``. ``words``: the words of each text when asked for (word types ``w0, w1, ...``, first word of each
    text capitalised), else None. ``type_effects``: the planted ``mu`` of each (lower-cased) word type, else None.
    """

    arrays: list[np.ndarray]
    truth: pd.DataFrame
    words: list[list[str]] | None
    type_effects: pd.Series | None


def _draw_lengths(n_texts: int, n_words: int | range, rng: np.random.Generator) -> np.ndarray:
    if isinstance(n_words, range):
        if len(n_words) == 0 or min(n_words) < 1:
            raise ValueError(f"n_words={n_words!r} must be a non-empty range of positive lengths")
        return rng.choice(np.array(n_words), n_texts)
    if isinstance(n_words, (int, np.integer)) and n_words >= 1:
        return np.full(n_texts, int(n_words))
    raise ValueError(f"n_words={n_words!r} must be a positive integer or a range of them")


def _noise(shape: tuple[int, int], tails: str, rng: np.random.Generator) -> np.ndarray:
    if tails == "t3":
        return rng.standard_t(3, shape) / np.sqrt(3.0)  # t with 3 dof has variance 3
    return rng.standard_normal(shape)


_SIZES = dict(n_texts=POSITIVE_INT, n_seeds=POSITIVE_INT, signal_var=NON_NEGATIVE, noise_var=NON_NEGATIVE)
"""Constraints of the parameters every generator shares."""


def _truth(mu: np.ndarray, lengths: np.ndarray, noise: np.ndarray) -> pd.DataFrame:
    stats = stacked_snr(np.column_stack([mu, mu]), lengths)  # the two equal columns give var_w(mu), noise 0
    with np.errstate(divide="ignore", invalid="ignore"):
        snr = stats["signal"] / noise
    truth = pd.DataFrame({"n_words": lengths, "signal": stats["signal"], "noise": noise, "snr": snr})
    truth.index.name = "text"
    return truth


@validated(**_SIZES, scale_jitter=NON_NEGATIVE, noise_spread=NON_NEGATIVE, tails=OneOf(TAILS),
           n_types=POSITIVE_INT, seed_scale=NON_NEGATIVE, type_share=SHARE)
def planted_explanations(
    n_texts: int,
    n_words: int | range,
    n_seeds: int,
    signal_var: float,
    noise_var: float,
    *,
    rng: int | np.random.Generator,
    scale_jitter: float = 0.0,
    noise_spread: float = 0.0,
    tails: str = "normal",
    words: bool = False,
    n_types: int = 200,
    seed_scale: float = 0.0,
    type_share: float = 0.0,
) -> PlantedCorpus:
    """Return synthetic explanations of ``n_texts`` texts by ``n_seeds`` seeds with a planted truth.

    ``n_words``: the length of every text, or a ``range`` to draw each length from uniformly. With ``words``, the
    words are drawn from ``n_types`` types with Zipf frequencies (``p_k`` proportional to ``1/(k+1)``) and
    ``mu`` is a property of the type (same value at every occurrence), so definition C has a known truth too;
    ``type_share`` > 0 needs ``words``. See the module docstring for the model.
    """
    if type_share > 0 and not words:
        raise ValueError(f"type_share={type_share!r} needs words=True (the noise it shares is per word type)")
    rng = np.random.default_rng(rng)
    lengths = _draw_lengths(n_texts, n_words, rng)
    total = int(lengths.sum())
    noise = noise_var * np.exp(noise_spread * rng.standard_normal(n_texts) - noise_spread**2 / 2)
    type_effects, word_lists = None, None
    if words:
        type_effects = pd.Series(rng.normal(0.0, np.sqrt(signal_var), n_types), index=[f"w{k}" for k in range(n_types)])
        frequency = 1.0 / np.arange(1, n_types + 1)
        ids = rng.choice(n_types, total, p=frequency / frequency.sum())
        mu = type_effects.to_numpy()[ids]
        tokens = type_effects.index.to_numpy()[ids].astype(object)
        starts = np.cumsum(lengths) - lengths
        tokens[starts] = [t.capitalize() for t in tokens[starts]]  # exercises the lower-casing of definition C
        word_lists = [list(t) for t in np.split(tokens, starts[1:])]
    else:
        mu = rng.normal(0.0, np.sqrt(signal_var), total)
    eps = _noise((total, n_seeds), tails, rng)
    if type_share > 0:
        eps = np.sqrt(type_share) * _noise((n_types, n_seeds), tails, rng)[ids] + np.sqrt(1 - type_share) * eps
    if seed_scale > 0:
        eps *= np.exp(seed_scale * rng.standard_normal(n_seeds) - seed_scale**2)
    a = mu[:, None] + np.sqrt(np.repeat(noise, lengths))[:, None] * eps
    if scale_jitter > 0:
        a *= np.repeat(np.exp(scale_jitter * rng.standard_normal((n_texts, n_seeds))), lengths, axis=0)
    arrays = np.split(a, np.cumsum(lengths)[:-1])
    return PlantedCorpus(arrays, _truth(mu, lengths, noise), word_lists, type_effects)


@validated(**_SIZES, noise_ratio=NON_NEGATIVE)
def paired_models(
    n_texts: int,
    n_words: int | range,
    n_seeds: int,
    signal_var: float,
    noise_var: float,
    *,
    rng: int | np.random.Generator,
    noise_ratio: float = 1.0,
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Return explanations of the same texts by two models, A and B, each a list of ``(n_words_t, n_seeds)``.

    Both share the texts' ``mu`` (the pairing); their seed noises are independent, of variance ``noise_var`` for
    A and ``noise_ratio * noise_var`` for B. ``noise_ratio = 1`` is the null: A and B have the same per-text SNR
    distribution and every difference is symmetric around zero.
    """
    rng = np.random.default_rng(rng)
    lengths = _draw_lengths(n_texts, n_words, rng)
    mu = rng.normal(0.0, np.sqrt(signal_var), int(lengths.sum()))[:, None]
    split = np.cumsum(lengths)[:-1]
    models = []
    for var in (noise_var, noise_ratio * noise_var):
        models.append(np.split(mu + np.sqrt(var) * rng.standard_normal((mu.size, n_seeds)), split))
    return models[0], models[1]


def recovery_table(
    n_texts: int,
    n_words: int | range,
    n_seeds_grid: Sequence[int],
    signal_var: float,
    noise_var: float,
    *,
    rng: int | np.random.Generator,
    noise_spread: float = 0.0,
    tails: str = "normal",
) -> pd.DataFrame:
    """Return per-text estimates next to the truth for each number of seeds in ``n_seeds_grid``.

    One corpus is drawn with ``max(n_seeds_grid)`` seeds (see :func:`planted_explanations` for ``noise_spread``
    and ``tails``); ``S`` seeds are its first ``S`` columns. Columns: ``text, true_signal, true_noise, true_snr,
    signal, signal_naive, noise, snr, snr_naive, n_words, n_seeds``.
    """
    if len(n_seeds_grid) == 0 or min(n_seeds_grid) < 2:
        raise ValueError(f"n_seeds_grid={list(n_seeds_grid)!r} must be non-empty with values >= 2")
    corpus = planted_explanations(
        n_texts, n_words, max(n_seeds_grid), signal_var, noise_var, rng=rng, noise_spread=noise_spread, tails=tails
    )
    truth = corpus.truth.drop(columns="n_words").add_prefix("true_")
    frames = []
    for s in n_seeds_grid:
        estimates = texts_snr([a[:, :s] for a in corpus.arrays])
        frames.append(pd.concat([truth, estimates], axis=1).reset_index().assign(n_seeds=s))
    return pd.concat(frames, ignore_index=True)


def bias_by_n_seeds(recovery: pd.DataFrame) -> pd.DataFrame:
    """Return the relative bias of the naive and corrected signal per number of seeds, from :func:`recovery_table`.

    ``bias_naive = mean(signal_naive) / mean(true_signal) - 1`` (and ``bias_corrected`` alike), with the expected
    naive bias ``mean(true_noise) / (S mean(true_signal))``; indexed by ``n_seeds``.
    """
    grouped = recovery.groupby("n_seeds")
    true_signal = grouped.true_signal.mean()
    return pd.DataFrame(
        {
            "bias_naive": grouped.signal_naive.mean() / true_signal - 1,
            "bias_corrected": grouped.signal.mean() / true_signal - 1,
            "expected_naive": grouped.true_noise.mean() / (true_signal * true_signal.index),
        }
    )


def coverage_experiment(
    *,
    n_reps: int,
    n_texts: int,
    n_words: int | range,
    n_seeds: int,
    signal_var: float,
    noise_var: float,
    rng: int | np.random.Generator,
    noise_spread: float = 0.0,
    over: Sequence[str] = OVER,
    statistic: Callable[..., np.ndarray] = np.median,
    level: float = 0.95,
    method: str = "percentile",
    n_resamples: int = 200,
    n_population: int = 20_000,
) -> pd.DataFrame:
    """Return one row per (repetition, scheme) saying whether the bootstrap CI covered its target.

    Each repetition draws a corpus of ``n_texts`` texts (:func:`planted_explanations`) and computes
    :func:`seedexplain.stats.bootstrap_ci` of ``statistic`` of the per-text SNR for each scheme in ``over``.
    Targets (see ``bootstrap_ci``): "texts", the statistic of the per-text estimate at ``n_seeds`` seeds over
    ``n_population`` fresh texts; "seeds", the statistic of the true SNR of the drawn texts; "both", the statistic
    of the true SNR over the ``n_population`` texts. Columns: ``rep, over, estimate, low, high, target, covered``.
    """
    rng = np.random.default_rng(rng)
    draw = {"n_words": n_words, "n_seeds": n_seeds, "signal_var": signal_var, "noise_var": noise_var,
            "noise_spread": noise_spread}
    population = planted_explanations(n_population, **draw, rng=rng)
    population_target = {
        "texts": float(statistic(texts_snr(population.arrays).snr.to_numpy(), axis=0)),
        "both": float(statistic(population.truth.snr.to_numpy(), axis=0)),
    }
    rows = []
    for rep in range(n_reps):
        corpus = planted_explanations(n_texts, **draw, rng=rng)
        for scheme in over:
            ci = bootstrap_ci(
                corpus.arrays, statistic=statistic, over=scheme, n_resamples=n_resamples, level=level,
                method=method, rng=rng,
            )
            if scheme == "seeds":
                target = float(statistic(corpus.truth.snr.to_numpy(), axis=0))
            else:
                target = population_target[scheme]
            rows.append((rep, scheme, ci.estimate, ci.low, ci.high, target, ci.low <= target <= ci.high))
    return pd.DataFrame(rows, columns=["rep", "over", "estimate", "low", "high", "target", "covered"])


@validated(n_reps=POSITIVE_INT, n_texts=POSITIVE_INT, n_seeds=POSITIVE_INT, n_types=POSITIVE_INT,
           n_resamples=POSITIVE_INT)
def corpus_coverage(
    *,
    n_reps: int,
    n_texts: int,
    n_words: int | range,
    n_seeds: int,
    seed_scales: Sequence[float],
    rng: int,
    n_types: int = 80,
    type_share: float = 0.5,
    tails: str = "t3",
    n_resamples: int = 200,
) -> pd.DataFrame:
    """Return the coverage of definition C's interval (:func:`seedexplain.stats.corpus_bootstrap_ci`) per per-seed
    noise scale spread in ``seed_scales``, next to that of a plain percentile interval of the same replicates.

    Corpora come from :func:`planted_explanations` with word types (signal and noise variance 1, noise shared by a
    type's occurrences in the share ``type_share``, per-seed scales ``seed_scale``); the target of each corpus is
    its planted SNR: the variance of the kept types' effects over the noise variance (1). Columns:
    ``seed_scale, coverage, percentile_coverage, median_ratio`` (estimate over target), ``n_reps``.
    """
    from seedexplain.snr import corpus_snr
    from seedexplain.stats import corpus_bootstrap_ci

    rows = []
    for seed_scale in seed_scales:
        hits, percentile, ratios = [], [], []
        for rep in range(n_reps):
            corpus = planted_explanations(n_texts, n_words, n_seeds, 1.0, 1.0, rng=[rng, rep], words=True,
                                          n_types=n_types, seed_scale=seed_scale, type_share=type_share, tails=tails)
            kept = corpus_snr(corpus.arrays, corpus.words).types.index
            target = float(corpus.type_effects.loc[kept].var(ddof=1))
            ci = corpus_bootstrap_ci(corpus.arrays, corpus.words, n_resamples=n_resamples, rng=[rng, rep])
            low, high = np.nanquantile(ci.replicates, [0.025, 0.975])
            hits.append(ci.low <= target <= ci.high)
            percentile.append(low <= target <= high)
            ratios.append(ci.estimate / target)
        rows.append(dict(seed_scale=seed_scale, coverage=float(np.mean(hits)),
                         percentile_coverage=float(np.mean(percentile)), median_ratio=float(np.median(ratios)),
                         n_reps=n_reps))
    return pd.DataFrame(rows)


def scale_jitter_table(
    jitters: Sequence[float],
    *,
    n_texts: int,
    n_words: int | range,
    n_seeds: int,
    signal_var: float,
    noise_var: float,
    rng: int | np.random.Generator,
    noise_spread: float = 0.0,
    scales: Sequence[str] = SCALES,
) -> pd.DataFrame:
    """Return the median per-text SNR under each ``scale`` for corpora drawn with each seed-scale jitter.

    One row per (``jitter``, ``scale``) with ``median_snr`` and ``median_true_snr`` (the planted truth, which has no
    jitter). SNR is scale-free, so normalised and raw attributions are comparable.
    """
    rng = np.random.default_rng(rng)
    rows = []
    for jitter in jitters:
        corpus = planted_explanations(
            n_texts, n_words, n_seeds, signal_var, noise_var, rng=rng, scale_jitter=jitter, noise_spread=noise_spread
        )
        for scale in scales:
            rows.append((jitter, scale, texts_snr(corpus.arrays, scale=scale).snr.median(), corpus.truth.snr.median()))
    return pd.DataFrame(rows, columns=["jitter", "scale", "median_snr", "median_true_snr"])


@validated(**_SIZES, noise_ratio=NON_NEGATIVE, seed_scale=NON_NEGATIVE, type_share=Real(0.0, 1.0),
           n_types=POSITIVE_INT, tails=OneOf(TAILS))
def shared_effect_families(
    n_texts: int,
    n_words: int | range,
    n_seeds: int,
    *,
    rng: int | np.random.Generator,
    noise_ratio: float = 1.0,
    signal_var: float = 1.0,
    noise_var: float = 0.5,
    seed_scale: float = 0.5,
    type_share: float = 0.5,
    n_types: int = 60,
    tails: str = "t3",
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Return explanations of the same texts by two families whose seed noise is shared across texts.

    Both families explain texts whose words come from ``n_types`` types (Zipf frequencies) with a planted effect
    per type plus one per occurrence (the signal, shared by the families: the pairing). For family ``f`` and seed
    ``s``::

        a[t, w, s] = mu[t, w] + sqrt(v_f) * c[s] * (sqrt(type_share) e[type(w), s] + sqrt(1 − type_share) u[t, w, s])

    with ``c[s] = exp(seed_scale z_s − seed_scale²)`` a per-seed noise scale shared by every text (E c² = 1), ``e`` a
    per (word type, seed) noise shared by every text that contains the type (like a linear model's coefficient),
    ``u`` per-occurrence noise, both of unit variance with ``tails`` ("normal" or "t3"); ``v_first = noise_var``
    and ``v_second = noise_ratio · noise_var``. Every text's infinite-seed SNR of the second family is that of the
    first divided by ``noise_ratio``, so the true log ratio of median SNRs (first over second) is exactly
    ``log(noise_ratio)``; ``noise_ratio = 1`` is the null (two families from one generator).
    """
    rng = np.random.default_rng(rng)
    lengths = _draw_lengths(n_texts, n_words, rng)
    total = int(lengths.sum())
    frequency = 1.0 / np.arange(1, n_types + 1)
    types = rng.choice(n_types, total, p=frequency / frequency.sum())
    mu = (rng.normal(0.0, np.sqrt(signal_var / 2), n_types)[types]
          + rng.normal(0.0, np.sqrt(signal_var / 2), total))[:, None]
    split = np.cumsum(lengths)[:-1]
    families = []
    for var in (noise_var, noise_ratio * noise_var):
        c = np.exp(seed_scale * rng.standard_normal(n_seeds) - seed_scale**2)
        shared = _noise((n_types, n_seeds), tails, rng)[types]
        own = _noise((total, n_seeds), tails, rng)
        noise = np.sqrt(var) * c * (np.sqrt(type_share) * shared + np.sqrt(1 - type_share) * own)
        families.append(np.split(mu + noise, split))
    return families[0], families[1]


def comparison_calibration(
    *,
    n_reps: int,
    n_texts: int,
    n_words: int | range,
    n_seeds: int,
    rng: int | np.random.Generator,
    noise_ratio: float = 1.0,
    n_resamples: int = 300,
    alpha: float = 0.05,
    **generator: float,
) -> pd.DataFrame:
    """Return, per repetition of :func:`shared_effect_families`, the decisions of the old and new procedures.

    Columns: ``rep``; ``wilcoxon_reject`` (paired Wilcoxon over texts at ``alpha``: texts as units);
    ``texts_covered`` (texts-only percentile bootstrap 95% interval of the log ratio of median SNRs covers
    ``log(noise_ratio)``); ``seed_level_reject`` and ``seed_level_covered`` (:func:`seed_level_comparison`).
    Under ``noise_ratio = 1`` the rejection rates are the tests' levels.
    """
    from seedexplain.stats import paired_comparison, seed_level_comparison

    rng = np.random.default_rng(rng)
    truth = np.log(noise_ratio)
    rows = []
    for rep in range(n_reps):
        first, second = shared_effect_families(n_texts, n_words, n_seeds, rng=rng, noise_ratio=noise_ratio,
                                               **generator)
        snr1, snr2 = texts_snr(first).snr.to_numpy(), texts_snr(second).snr.to_numpy()
        wilcoxon = paired_comparison(snr1, snr2, method="wilcoxon")
        rows_ = rng.integers(0, n_texts, (n_resamples, n_texts))
        with np.errstate(divide="ignore", invalid="ignore"):
            texts_only = np.log(np.median(snr1[rows_], axis=1)) - np.log(np.median(snr2[rows_], axis=1))
        low, high = np.nanquantile(texts_only, [0.025, 0.975])
        test = seed_level_comparison(first, second, n_resamples=n_resamples, seed=int(rng.integers(2**31)))
        rows.append((rep, wilcoxon.p_value < alpha, low <= truth <= high, test.p_value < alpha,
                     test.ci_low <= truth <= test.ci_high))
    return pd.DataFrame(rows, columns=["rep", "wilcoxon_reject", "texts_covered", "seed_level_reject",
                                       "seed_level_covered"])
