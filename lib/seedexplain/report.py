"""Tables the book quotes, computed from a run's explanations, and a helper to glue them into a notebook.

Definitions: "A" raw per-text SNR, "B" the same after L2-normalising each (text, seed) explanation (a seed that only
rescales its explanation adds no noise), "C" corpus level over word types (see :mod:`seedexplain.snr`).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd

from seedexplain.config import Config, make_config
from seedexplain.pipeline import FAMILIES, SPLITS, Results, run
from seedexplain.snr import corpus_snr, snr_vs_n_seeds, texts_snr
from seedexplain.stats import bootstrap_ci, paired_comparison, texts_agreement

DEFINITIONS = {"A": "raw", "B": "l2"}
"""Per-text definitions and the column scaling each applies."""


def arrays_of(results: Results, family: str, split: str) -> list[np.ndarray]:
    """Return the (n_words, n_seeds) explanation arrays of every text of ``split`` for ``family``."""
    return [e.attributions for e in results.explanations(family, split)]


def snr_summary(results: Results, *, n_resamples: int = 1000, rng: int = 0) -> pd.DataFrame:
    """Return, per (definition, family, split), the median per-text SNR with a hierarchical bootstrap 95% CI.

    Rows also hold the median signal and noise, and for definition C the corpus-level SNR (no CI: one value per
    corpus). The CI resamples texts, then seeds ("both" in :func:`seedexplain.stats.bootstrap_ci`).
    """
    rows = []
    for family in FAMILIES:
        for split in SPLITS:
            explanations = results.explanations(family, split)
            arrays = [e.attributions for e in explanations]
            for definition, scale in DEFINITIONS.items():
                table = texts_snr(arrays, scale=scale)
                ci = bootstrap_ci(arrays, statistic=np.nanmedian, over="both", scale=scale,
                                  n_resamples=n_resamples, rng=rng)
                rows.append(dict(definition=definition, family=family, split=split,
                                 median_snr=float(table.snr.median()), ci_low=ci.low, ci_high=ci.high,
                                 median_signal=float(table.signal.median()),
                                 median_noise=float(table.noise.median()), n_texts=len(table)))
            corpus = corpus_snr(arrays, [e.words for e in explanations], min_count=2)
            rows.append(dict(definition="C", family=family, split=split, median_snr=corpus.snr, ci_low=np.nan,
                             ci_high=np.nan, median_signal=corpus.signal, median_noise=corpus.noise,
                             n_texts=len(arrays)))
    return pd.DataFrame(rows)


def family_tests(results: Results) -> pd.DataFrame:
    """Return paired tests of the linear model's per-text SNR against the transformer's, per split and definition.

    Both families explain the same texts, so each text is a pair: Wilcoxon signed-rank and a sign-flip permutation
    test (two-sided), with the matched-pairs rank-biserial correlation and the median log ratio of SNRs.
    """
    rows = []
    for split in SPLITS:
        for definition, scale in DEFINITIONS.items():
            linear = texts_snr(arrays_of(results, "linear", split), scale=scale).snr.to_numpy()
            transformer = texts_snr(arrays_of(results, "transformer", split), scale=scale).snr.to_numpy()
            keep = np.isfinite(linear) & np.isfinite(transformer)
            for method in ("wilcoxon", "permutation"):
                test = paired_comparison(linear[keep], transformer[keep], method=method, rng=0)
                rows.append(dict(split=split, definition=definition, test=method, p_value=test.p_value,
                                 n_pairs=test.n_pairs, rank_biserial=test.rank_biserial,
                                 median_log_ratio=test.median_log_ratio,
                                 share_linear_higher=float(np.mean(linear[keep] > transformer[keep]))))
    return pd.DataFrame(rows)


def seed_curve(results: Results, split: str = "test_short", *, n_resamples: int = 20, rng: int = 0) -> pd.DataFrame:
    """Return the median SNR (bias-corrected and naive) over texts for subsets of S seeds, S = 2..n_seeds."""
    frames = []
    for family in FAMILIES:
        grid = range(2, results.config.n_seeds + 1)
        curve = snr_vs_n_seeds(arrays_of(results, family, split), n_seeds_grid=grid, n_resamples=n_resamples,
                               rng=rng)
        frames.append(curve.assign(family=family))
    return pd.concat(frames, ignore_index=True)


def agreement_summary(results: Results, *, k: int = 3) -> pd.DataFrame:
    """Return the median over texts of between-seed Spearman, Kendall and top-``k`` overlap, per family and split."""
    rows = []
    for family in FAMILIES:
        for split in SPLITS:
            table = texts_agreement(arrays_of(results, family, split), k=k)
            rows.append(dict(family=family, split=split, **table.median(numeric_only=True).to_dict()))
    return pd.DataFrame(rows)


def glue_frame(frame: pd.DataFrame, keys: Iterable[str], prefix: str) -> None:
    """Glue every numeric cell of ``frame`` as ``<prefix>_<key values>_<column>`` (plain floats, not displayed).

    ``keys`` are the columns that identify a row; e.g. keys ("family", "split") and column "median_snr" give
    ``<prefix>_linear_test_short_median_snr``.
    """
    from myst_nb import glue

    keys = list(keys)
    for _, row in frame.iterrows():
        name = "_".join([prefix, *(str(row[k]) for k in keys)])
        for column, value in row.items():
            if column not in keys and isinstance(value, (int, float, np.number)) and not isinstance(value, bool):
                glue(f"{name}_{column}", float(value), display=False)


def data_summary(results: Results) -> pd.DataFrame:
    """Return per split: number of texts, of each class, of movies, and the median and mean words per text."""
    from seedexplain.data import LABEL_NAMES, n_words
    from seedexplain.pipeline import dataset

    data = dataset(results.config)
    rows = []
    for split in ("train", *SPLITS):
        part = data.split(split)
        lengths = np.array([n_words(t) for t in part.texts])
        counts = np.bincount(part.labels, minlength=len(LABEL_NAMES))
        classes = {f"n_{name}": int(c) for name, c in zip(LABEL_NAMES, counts)}
        rows.append(dict(split=split, n_texts=len(part), **classes,
                         n_movies=len(set(part.groups)), median_words=float(np.median(lengths)),
                         mean_words=float(lengths.mean())))
    return pd.DataFrame(rows)


def example_texts(results: Results, n: int = 3, split: str = "test_short", *, target_words: int = 18) -> list[int]:
    """Return the indices of ``n`` texts of ``split`` to show: those whose number of explained words is closest to
    ``target_words`` (earlier texts first on ties), with both classes among them when ``n >= 2``."""
    explanations = results.explanations("linear", split)
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


TRADEOFF_FORMATS = (("word", {}), ("magnitude", {}), ("ranks", {}), ("centred_square", {}),
                    ("pairwise_interactions", {}), ("spans", {"k": 2}), ("spans", {"k": 3}), ("spans", {"k": 5}),
                    ("segments", {}))
"""Explanation formats compared in the SNR–plausibility-cost tradeoff (``segments`` are sentences)."""


def format_tradeoff(results: Results, split: str, *, scale: str = "raw") -> pd.DataFrame:
    """Return one row per (family, format, text): the SNR of the format's units and its plausibility cost.

    Formats are :data:`TRADEOFF_FORMATS` (see :func:`seedexplain.beyond.format_table`); sentence boundaries come
    from :func:`seedexplain.data.sentence_starts`, clipped to the explained words.
    """
    from seedexplain.beyond import format_table
    from seedexplain.data import sentence_starts

    frames = []
    for family in FAMILIES:
        explanations = results.explanations(family, split)
        arrays = [e.attributions for e in explanations]
        boundaries = [[s for s in sentence_starts(e.text) if s < len(e.words)] for e in explanations]
        for name, options in TRADEOFF_FORMATS:
            table = format_table(arrays, formats=(name,), boundaries=boundaries, scale=scale, **options)
            frames.append(table.assign(family=family, split=split))
    return pd.concat(frames, ignore_index=True)


def tradeoff_summary(table: pd.DataFrame) -> pd.DataFrame:
    """Return per (family, split, label): median SNR and median bits (the cost) over texts."""
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


def method_snr(results: Results, methods: Iterable[str], split: str = "test_short") -> pd.DataFrame:
    """Return per-text SNR (definition A) of the transformer's explanations by each method: one row per text."""
    frames = [texts_snr([e.attributions for e in results.explanations("transformer", split, m)]).assign(method=m)
              for m in methods]
    return pd.concat(frames, ignore_index=True)


def method_snr_summary(table: pd.DataFrame) -> pd.DataFrame:
    """Return per method: median SNR, signal and noise over texts, and the number of texts with SNR ≤ 0."""
    return (table.assign(nonpositive=table.snr <= 0).groupby("method", sort=False)
            .agg(snr=("snr", "median"), signal=("signal", "median"), noise=("noise", "median"),
                 nonpositive=("nonpositive", "sum")).reset_index())


def sweep_results(folder: str | Path, notebook: str = "snr_short_long.ipynb") -> dict[str, Results]:
    """Return the results of every run of a sweep: ``{run folder name: Results}``, in folder-name order.

    ``folder`` holds one sub-folder per run (as ``make sweep`` writes them), each with an executed ``notebook``;
    a run's configuration is rebuilt from the parameters papermill recorded in that notebook, on top of the
    notebook's defaults, which are the profile's. Models and explanations come from the artifact cache.
    """
    import nbformat

    folder = Path(folder)
    runs = {}
    for path in sorted(folder.glob(f"*/{notebook}")):
        params = dict(nbformat.read(path, as_version=4).metadata.get("papermill", {}).get("parameters", {}))
        known = {k: v for k, v in params.items() if k in Config.__dataclass_fields__ and v is not None}
        runs[path.parent.name] = run(make_config(known.pop("profile", "full"), **known))
    if not runs:
        raise FileNotFoundError(f"no executed {notebook} under {folder}/*/: run `make sweep` first")
    return runs


def compare_runs(runs: dict[str, Results], *, n_resamples: int = 1000) -> pd.DataFrame:
    """Return one row per (run, family, split): median per-text SNR (definition A) with its 95% CI, mean accuracy,
    and the paired Wilcoxon p-value and share of texts where the linear model's SNR is higher (same per family)."""
    frames = []
    for name, results in runs.items():
        summary = snr_summary(results, n_resamples=n_resamples)
        summary = summary[summary.definition == "A"].drop(columns="definition")
        tests = family_tests(results)
        tests = tests[(tests.definition == "A") & (tests.test == "wilcoxon")][["split", "p_value",
                                                                               "share_linear_higher"]]
        accuracy = results.accuracy.groupby(["family", "split"], as_index=False).accuracy.mean()
        frames.append(summary.merge(accuracy, on=["family", "split"]).merge(tests, on="split")
                      .assign(run=name, seeds=f"{results.config.seeds[0]}-{results.config.seeds[-1]}"))
    table = pd.concat(frames, ignore_index=True)
    return table[["run", "seeds", *[c for c in table.columns if c not in ("run", "seeds")]]]


def verdict(summary: pd.DataFrame, tests: pd.DataFrame, split: str, *, definition: str = "A",
            alpha: float = 0.05) -> str:
    """Return, as a sentence, whether the paper's claim (the linear model's explanations have the higher SNR)
    holds on ``split``, from :func:`snr_summary` and :func:`family_tests` (Wilcoxon test, level ``alpha``).

    "supported" needs the paired test to reject equality with the linear model ahead (positive rank-biserial
    correlation, the direction the Wilcoxon test measures); the sentence says whether the medians' confidence
    intervals also separate. A significant difference the other way is "contradicted"; no significant difference
    is "not supported".
    """
    rows = summary[(summary.definition == definition) & (summary.split == split)].set_index("family")
    test = tests[(tests.split == split) & (tests.definition == definition) & (tests.test == "wilcoxon")]
    if rows.empty or test.empty:
        raise ValueError(f"split={split!r} / definition={definition!r} are not in the summary and tests")
    test = test.iloc[0]
    linear, transformer = rows.loc["linear"], rows.loc["transformer"]
    evidence = (f"median SNR {linear.median_snr:.2f} for the linear model vs {transformer.median_snr:.2f} for the "
                f"transformer, Wilcoxon p = {test.p_value:.2g}, "
                f"linear higher on {test.share_linear_higher:.0%} of the texts")
    if test.p_value >= alpha:
        return f"not supported: no significant difference at the {alpha:g} level ({evidence})"
    if test.rank_biserial <= 0:
        return f"contradicted: the transformer's explanations have the higher SNR ({evidence})"
    separate = linear.ci_low > transformer.ci_high
    return (f"supported ({evidence}); the medians' 95% confidence intervals "
            f"{'do not overlap' if separate else 'overlap'}")
