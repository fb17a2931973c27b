"""Tables the book quotes, computed from a run's :class:`~seedexplain.results.Results` (a value: no training here).

Definitions: "A" raw per-text SNR, "B" the same after z-scoring each (text, seed) explanation over its words (a
seed that only shifts or rescales its explanation adds no noise), "C" corpus level over word types (see
:mod:`seedexplain.snr`). Family comparisons come in two kinds, labelled in every table:

- ``seed_level_tests``: the inference the verdict reads. The seeds are the replications: a paired multi-bootstrap
  (:func:`seedexplain.stats.seed_level_comparison`) resamples texts and each family's trained models, so its
  interval and p-value are about the two families (any seeds, any texts of the task), not these models;
- ``family_tests``: descriptive paired tests over texts (Wilcoxon, sign flips) *for these trained models*; texts
  explained by the same models are not independent, so their p-values say nothing about the families.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import asdict

import numpy as np
import pandas as pd

from seedexplain.beyond import TRADEOFF_FORMATS, compare_format, format_label
from seedexplain.constraints import POSITIVE_INT, SPLITS, Integer, OneOf, OrNone, Real, validated
from seedexplain.data import n_words
from seedexplain.results import Results
from seedexplain.snr import common_mode_variance, corpus_snr, snr_vs_n_seeds, texts_snr
from seedexplain.stats import (
    bootstrap_ci,
    corpus_bootstrap_ci,
    holm,
    paired_comparison,
    seed_level_comparison,
    texts_agreement,
)

DEFINITIONS = {"A": "raw", "B": "zscore"}
"""Per-text definitions and the column scaling each applies."""
CORPUS_MIN_COUNT = 2
"""Definition C keeps the word types seen at least this many times (:func:`corpus_sensitivity` varies it)."""
CLAIM = ("linear", "transformer")
"""The paper's claim compares these two families: the first (simple) should have the higher SNR."""


def snr_summary(results: Results, *, n_resamples: int = 1000, rng: int = 0) -> pd.DataFrame:
    """Return, per (definition, family, split), the median per-text SNR with a hierarchical bootstrap 95% CI.

    Rows also hold the median signal and noise, the median share of the raw noise that is common mode (a per
    (text, seed) offset shared by the text's words, :func:`seedexplain.snr.common_mode_variance`; definition B
    removes it), and for definition C the corpus-level SNR (types seen at least :data:`CORPUS_MIN_COUNT` times)
    with the interval of :func:`seedexplain.stats.corpus_bootstrap_ci`. The CI of A and B resamples texts, then
    seeds ("both" in :func:`seedexplain.stats.bootstrap_ci`).
    """
    rows = []
    for family in results.families:
        for split in SPLITS:
            explanations = results.explanations(family, split)
            arrays = [e.attributions for e in explanations]
            common = float(common_mode_variance(arrays).share.median())
            for definition, scale in DEFINITIONS.items():
                table = texts_snr(arrays, scale=scale)
                ci = bootstrap_ci(arrays, statistic=np.nanmedian, over="both", scale=scale,
                                  n_resamples=n_resamples, rng=rng)
                rows.append(dict(definition=definition, family=family, split=split,
                                 median_snr=float(table.snr.median()), ci_low=ci.low, ci_high=ci.high,
                                 median_signal=float(table.signal.median()),
                                 median_noise=float(table.noise.median()), n_texts=len(table),
                                 median_common_mode_share=common))
            words = [e.words for e in explanations]
            corpus = corpus_snr(arrays, words, min_count=CORPUS_MIN_COUNT)
            ci = corpus_bootstrap_ci(arrays, words, min_count=CORPUS_MIN_COUNT, n_resamples=n_resamples, rng=rng)
            rows.append(dict(definition="C", family=family, split=split, median_snr=corpus.snr, ci_low=ci.low,
                             ci_high=ci.high, median_signal=corpus.signal, median_noise=corpus.noise,
                             n_texts=len(arrays)))
    return pd.DataFrame(rows)


def corpus_sensitivity(results: Results, *, min_counts: Sequence[int] = (2, 3, 5, 10), n_resamples: int = 1000,
                       rng: int = 0) -> pd.DataFrame:
    """Return definition C per (family, split, ``min_count``): the corpus SNR with its interval
    (:func:`seedexplain.stats.corpus_bootstrap_ci`), signal, per-occurrence noise, type noise and the number of
    kept types, to show how much C depends on which word types it keeps."""
    rows = []
    for family in results.families:
        for split in SPLITS:
            explanations = results.explanations(family, split)
            arrays, words = [e.attributions for e in explanations], [e.words for e in explanations]
            for min_count in min_counts:
                corpus = corpus_snr(arrays, words, min_count=min_count)
                ci = corpus_bootstrap_ci(arrays, words, min_count=min_count, n_resamples=n_resamples, rng=rng)
                rows.append(dict(family=family, split=split, min_count=min_count, snr=corpus.snr, ci_low=ci.low,
                                 ci_high=ci.high, signal=corpus.signal, noise=corpus.noise,
                                 type_noise=corpus.type_noise, n_types=corpus.n_types))
    return pd.DataFrame(rows)


@validated(n_resamples=POSITIVE_INT, definition=OrNone(OneOf(tuple(DEFINITIONS))))
def seed_level_tests(results: Results, *, pair: tuple[str, str] = CLAIM, n_resamples: int = 2000,
                     seed: int = 0, definition: str | None = None) -> pd.DataFrame:
    """Return the seed-level comparison of ``pair`` per (split, definition A/B, or only ``definition``): one row
    each with the estimate ``log(median SNR first / median SNR second)``, its 95% interval, the two-sided p-value,
    the smaller family's number of seeds and ``ratio`` = exp(estimate) with its interval, plus ``p_holm``:
    Holm-adjusted over the rows of this table."""
    first, second = pair
    rows = []
    definitions = {k: v for k, v in DEFINITIONS.items() if definition in (None, k)}
    for split in SPLITS:
        for definition, scale in definitions.items():
            test = seed_level_comparison(results.arrays(first, split), results.arrays(second, split),
                                         n_resamples=n_resamples, seed=seed, scale=scale)
            rows.append(dict(split=split, definition=definition, first=first, second=second,
                             estimate=test.estimate, ci_low=test.ci_low, ci_high=test.ci_high,
                             p_value=test.p_value, n_seeds=min(test.n_seeds_first, test.n_seeds_second),
                             ratio=float(np.exp(test.estimate)),
                             ratio_low=float(np.exp(test.ci_low)), ratio_high=float(np.exp(test.ci_high))))
    return adjust_holm(pd.DataFrame(rows))


def adjust_holm(table: pd.DataFrame, column: str = "p_value") -> pd.DataFrame:
    """Return ``table`` with ``p_holm``: the Holm step-down adjustment of ``column`` over all its rows (the family
    of tests whose conclusions the book combines)."""
    return table.assign(p_holm=holm(table[column].to_numpy()))


def family_tests(results: Results, *, pair: tuple[str, str] = CLAIM) -> pd.DataFrame:
    """Return descriptive paired tests of per-text SNR of ``pair`` *for these trained models*, per split and
    definition: Wilcoxon signed-rank and sign-flip permutation tests over texts, with the matched-pairs
    rank-biserial correlation and the median log ratio (see the module docstring for what they cannot say)."""
    first, second = pair
    rows = []
    for split in SPLITS:
        for definition, scale in DEFINITIONS.items():
            x = texts_snr(results.arrays(first, split), scale=scale).snr.to_numpy()
            y = texts_snr(results.arrays(second, split), scale=scale).snr.to_numpy()
            keep = np.isfinite(x) & np.isfinite(y)
            for method in ("wilcoxon", "permutation"):
                test = paired_comparison(x[keep], y[keep], method=method, rng=0)
                rows.append(dict(split=split, definition=definition, test=method, scope="these trained models",
                                 p_value=test.p_value, n_pairs=test.n_pairs, rank_biserial=test.rank_biserial,
                                 median_log_ratio=test.median_log_ratio,
                                 share_first_higher=float(np.mean(x[keep] > y[keep]))))
    return pd.DataFrame(rows)


@validated(epsilon=Real(0.0, 1.0), n_resamples=Integer(50))
def accuracy_filter(results: Results, *, epsilon: float = 0.01, split: str = "test_short",
                    n_resamples: int = 2000) -> pd.DataFrame:
    """Return, per family, the seeds whose accuracy on ``split`` lies within ``epsilon`` of the family's best, and
    the seed-level comparison (definition A, each split) recomputed on those seeds only, next to all seeds.

    The predecessor study kept only seeds of similar accuracy; this says whether that choice moves the verdict.
    """
    kept = {}
    for family in CLAIM:
        table = results.accuracy[(results.accuracy.family == family) & (results.accuracy.split == split)]
        best = table.accuracy.max()
        kept[family] = [results.config.seeds.index(s) for s in table.seed[table.accuracy >= best - epsilon]]
    rows = []
    for test_split in SPLITS:
        arrays = {f: results.arrays(f, test_split) for f in CLAIM}
        for subset, columns in (("all seeds", None), (f"within {epsilon:g} of best accuracy", kept)):
            chosen = {f: arrays[f] if columns is None else [a[:, columns[f]] for a in arrays[f]] for f in CLAIM}
            if min(a[0].shape[1] for a in chosen.values()) < 3:
                rows.append(dict(split=test_split, seeds=subset, n_seeds_linear=chosen["linear"][0].shape[1],
                                 n_seeds_transformer=chosen["transformer"][0].shape[1], estimate=np.nan,
                                 ci_low=np.nan, ci_high=np.nan, p_value=np.nan))
                continue
            test = seed_level_comparison(chosen["linear"], chosen["transformer"], n_resamples=n_resamples, seed=0)
            rows.append(dict(split=test_split, seeds=subset, n_seeds_linear=chosen["linear"][0].shape[1],
                             n_seeds_transformer=chosen["transformer"][0].shape[1], estimate=test.estimate,
                             ci_low=test.ci_low, ci_high=test.ci_high, p_value=test.p_value))
    return pd.DataFrame(rows)


def seed_curve(results: Results, split: str = "test_short", *, n_resamples: int = 20, rng: int = 0) -> pd.DataFrame:
    """Return the median SNR (bias-corrected and naive) over texts for subsets of S seeds, S = 2..n_seeds."""
    frames = []
    for family in results.families:
        grid = range(2, results.config.n_seeds + 1)
        curve = snr_vs_n_seeds(results.arrays(family, split), n_seeds_grid=grid, n_resamples=n_resamples, rng=rng)
        frames.append(curve.assign(family=family))
    return pd.concat(frames, ignore_index=True)


def agreement_summary(results: Results, *, k: int = 3) -> pd.DataFrame:
    """Return the median over texts of between-seed Spearman, Kendall and top-``k`` overlap, per family and split.

    Words scored exactly 0 by every seed (a bag-of-words model's out-of-vocabulary words) tie in every seed and
    inflate rank agreement; the columns ``*_nonzero`` are the same medians without them (over the texts left with
    at least 2 words), and ``zero_share`` is the share of words that are 0 in every seed.
    """
    rows = []
    for family in results.families:
        for split in SPLITS:
            arrays = results.arrays(family, split)
            zero = [np.all(a == 0, axis=1) for a in arrays]
            kept = [a[~z] for a, z in zip(arrays, zero) if (~z).sum() >= 2]
            every = texts_agreement(arrays, k=k).median(numeric_only=True)
            nonzero = texts_agreement(kept, k=k).drop(columns="n_words").median().add_suffix("_nonzero")
            rows.append(dict(family=family, split=split, **every.to_dict(), **nonzero.to_dict(),
                             zero_share=float(np.concatenate(zero).mean()), n_texts_nonzero=len(kept)))
    return pd.DataFrame(rows)


def data_summary(results: Results) -> pd.DataFrame:
    """Return per split: number of texts, of each class, of groups, and the median and mean words per text."""
    from seedexplain.data import LABEL_NAMES

    label_names = getattr(results.data, "label_names", LABEL_NAMES)
    rows = []
    for split in ("train", *SPLITS):
        part = results.data.split(split)
        lengths = np.array([n_words(t) for t in part.texts])
        counts = np.bincount(part.labels, minlength=len(label_names))
        classes = {f"n_{name}": int(c) for name, c in zip(label_names, counts)}
        rows.append(dict(split=split, n_texts=len(part), **classes,
                         n_movies=len(set(part.groups)), median_words=float(np.median(lengths)),
                         mean_words=float(lengths.mean())))
    return pd.DataFrame(rows)


def example_texts(results: Results, n: int = 3, split: str = "test_short", *, target_words: int = 18) -> list[int]:
    """Return the indices of ``n`` texts of ``split`` to show: those whose number of explained words is closest to
    ``target_words`` (earlier texts first on ties), with both classes among them when ``n >= 2``."""
    explanations = results.explanations(results.families[0], split)
    if not 1 <= n <= len(explanations):
        raise ValueError(f"n={n!r} must be between 1 and the {len(explanations)} texts of {split}")
    distance = np.abs(np.array([len(e.words) for e in explanations]) - target_words)
    order = [int(i) for i in np.argsort(distance, kind="stable")]
    labels = [explanations[i].label for i in order]
    chosen = {order[labels.index(y)] for y in set(labels)} if n >= 2 else set()
    for i in order:
        if len(chosen) >= n:
            break
        chosen.add(i)
    return sorted(chosen, key=order.index)


def method_snr(results: Results, methods: Iterable[str], split: str = "test_short",
               family: str = "transformer") -> pd.DataFrame:
    """Return per-text SNR (definition A) of ``family``'s explanations by each method: one row per text."""
    frames = [texts_snr(results.arrays(family, split, m)).assign(method=m) for m in methods]
    return pd.concat(frames, ignore_index=True)


def method_snr_summary(table: pd.DataFrame) -> pd.DataFrame:
    """Return per method: median SNR, signal and noise over texts, and the number of texts with SNR ≤ 0."""
    return (table.assign(nonpositive=table.snr <= 0).groupby("method", sort=False)
            .agg(snr=("snr", "median"), signal=("signal", "median"), noise=("noise", "median"),
                 nonpositive=("nonpositive", "sum")).reset_index())


def replication_table(runs: dict[str, Results], *, n_resamples: int = 2000) -> pd.DataFrame:
    """Return the seed-level comparison (definition A) of each run in ``runs`` (label → results on its own seeds),
    one row per (run, split), with the seeds it used and the median SNR of each family."""
    frames = []
    for label, results in runs.items():
        tests = seed_level_tests(results, n_resamples=n_resamples)
        tests = tests[tests.definition == "A"]
        medians = {f: {s: float(texts_snr(results.arrays(f, s)).snr.median()) for s in SPLITS} for f in CLAIM}
        frames.append(tests.assign(run=label, seeds=f"{results.config.seeds[0]}-{results.config.seeds[-1]}",
                                   randomness=results.config.randomness,
                                   median_snr_linear=[medians["linear"][s] for s in tests.split],
                                   median_snr_transformer=[medians["transformer"][s] for s in tests.split]))
    return pd.concat(frames, ignore_index=True)


def per_seed_accuracy(results: Results, splits: Sequence[str] = SPLITS) -> pd.DataFrame:
    """Return mean, sd, min and max accuracy over seeds per (family, split)."""
    table = results.accuracy[results.accuracy.split.isin(splits)]
    return table.groupby(["family", "split"]).accuracy.agg(["mean", "std", "min", "max"]).reset_index()


def format_comparisons(results: Results, boundaries: dict[str, Sequence[Sequence[int]]], *,
                       n_resamples: int = 1000, n_null: int = 100, seed: int = 0) -> pd.DataFrame:
    """Return :func:`seedexplain.beyond.compare_format` of every format of
    :data:`seedexplain.beyond.TRADEOFF_FORMATS` but words, per family and split: one row each with ``label``
    (as in :func:`seedexplain.beyond.tradeoff_summary`) and the comparison's fields. ``boundaries[split]``: each
    text's sentence starts (for segments)."""
    rows = []
    for family in results.families:
        for split in SPLITS:
            arrays = results.arrays(family, split)
            for name, options in TRADEOFF_FORMATS:
                if name == "word":
                    continue
                extra = {"boundaries": boundaries[split]} if name == "segments" else {}
                comparison = compare_format(arrays, name, n_resamples=n_resamples, n_null=n_null, seed=seed,
                                            **options, **extra)
                rows.append(dict(family=family, split=split, label=format_label(name, **options),
                                 **asdict(comparison)))
    return pd.DataFrame(rows).drop(columns="format")


def formats_above_word(table: pd.DataFrame, family: str, split: str) -> str:
    """Return the formats of :func:`format_comparisons` that beat words for ``family`` on ``split`` (interval of
    format − word SNR above 0 and above their null), as text, largest difference first; ``"no format beats words"``
    when none does.
    """
    rows = table[(table.family == family) & (table.split == split)]
    if rows.empty:
        raise ValueError(f"no comparison for family={family!r}, split={split!r}")
    better = rows[rows.above_word].assign(difference=lambda t: t.format_snr - t.word_snr)
    listed = ", ".join(f"{r.label.replace('_', ' ')} (+{r.difference:.2f} [{r.ci_low:.2f}, {r.ci_high:.2f}])"
                       for r in better.sort_values("difference", ascending=False).itertuples())
    return listed or "no format beats words"
