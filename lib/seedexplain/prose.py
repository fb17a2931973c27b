"""Sentences and glued values for the book: the computed verdict, and numbers glued into notebooks.

Prose that depends on a result is computed here from the tables of :mod:`seedexplain.report`, so that the book's
text cannot contradict a new run.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

from seedexplain.constraints import PROBABILITY, validated


def glue_frame(frame: pd.DataFrame, keys: Iterable[str], prefix: str) -> None:
    """Glue every numeric cell of ``frame`` as ``<prefix>_<key values>_<column>`` (plain floats, not displayed).

    ``keys`` are the columns that identify a row; e.g. keys ("family", "split") and column "median_snr" give
    ``<prefix>_linear_test_short_median_snr``. Characters other than letters, digits and ``_`` in key values
    become ``_`` (``seed+data`` → ``seed_data``).
    """
    from myst_nb import glue

    keys = list(keys)
    for _, row in frame.iterrows():
        name = "_".join([prefix, *(glue_name(row[k]) for k in keys)])
        for column, value in row.items():
            if column not in keys and isinstance(value, (int, float, np.number)) and not isinstance(value, bool):
                glue(f"{name}_{column}", float(value), display=False)


def glue_name(value: object) -> str:
    """Return ``value`` as a part of a glue name: letters, digits and ``_`` only."""
    return "".join(c if c.isalnum() or c == "_" else "_" for c in str(value))


@validated(alpha=PROBABILITY)
def verdict(tests: pd.DataFrame, summary: pd.DataFrame, split: str, *, definition: str = "A",
            alpha: float = 0.05) -> str:
    """Return, as a sentence, whether the paper's claim (the linear model's explanations have the higher SNR)
    holds on ``split``, from :func:`seedexplain.report.seed_level_tests` and :func:`seedexplain.report.snr_summary`.

    "supported" needs the seed-level test to reject equal median SNRs at level ``alpha`` after Holm's adjustment
    over the table's tests (``p_holm``), with the linear model ahead; the same rejection the other way is
    "contradicted"; no rejection is "not supported". The sentence quotes the ratio of median SNRs with its 95%
    interval and both p-values.
    """
    test = tests[(tests.split == split) & (tests.definition == definition)]
    rows = summary[(summary.definition == definition) & (summary.split == split)].set_index("family")
    if test.empty or rows.empty:
        raise ValueError(f"split={split!r} / definition={definition!r} are not in the tests and summary")
    test = test.iloc[0]
    first, second = rows.loc[test["first"]], rows.loc[test["second"]]
    evidence = (f"median SNR {first.median_snr:.3g} for the linear model vs {second.median_snr:.3g} for the "
                f"transformer; ratio {test.ratio:.3g} [95% CI {test.ratio_low:.3g}, {test.ratio_high:.3g}] over seeds "
                f"and texts, seed-level p = {test.p_value:.2g}, Holm-adjusted p = {test.p_holm:.2g}")
    if not test.p_holm < alpha:
        return f"not supported: no significant difference at the {alpha:g} level after Holm's adjustment ({evidence})"
    if test.estimate < 0:
        return f"contradicted: the transformer's explanations have the higher SNR ({evidence})"
    return f"supported ({evidence})"


def replication_sentence(table: pd.DataFrame, *, alpha: float = 0.05) -> str:
    """Return whether the seed-level verdict of :func:`seedexplain.report.replication_table` agrees between its
    runs (disjoint seed sets), per split, as a sentence."""
    parts = []
    for split, rows in table.groupby("split", sort=False):
        calls = ["linear higher" if p < alpha and e > 0 else "transformer higher" if p < alpha else "no difference"
                 for p, e in zip(rows.p_value, rows.estimate)]
        ratios = ", ".join(f"{r:.3g} [{lo:.3g}, {hi:.3g}] on seeds {s}"
                           for r, lo, hi, s in zip(rows.ratio, rows.ratio_low, rows.ratio_high, rows.seeds))
        same = "the same call" if len(set(calls)) == 1 else "different calls"
        parts.append(f"{split.replace('test_', '')} texts: {same} ({'; '.join(calls)}; ratios {ratios})")
    return "; ".join(parts)


def accuracy_filter_sentence(table: pd.DataFrame, split: str = "test_short") -> str:
    """Return what keeping only seeds of similar accuracy does to the seed-level comparison on ``split``, from
    :func:`seedexplain.report.accuracy_filter`, as a sentence."""
    rows = table[table.split == split].set_index("seeds")
    every, kept = rows.iloc[0], rows.iloc[1]
    counts = f"{kept.n_seeds_linear:.0f} linear and {kept.n_seeds_transformer:.0f} transformer models"
    if not np.isfinite(kept.estimate):
        return f"{counts} qualify: too few to resample (at least 3 per family are needed), so no comparison"
    return (f"{counts} qualify; their log ratio of median SNRs is {kept.estimate:.2f} [{kept.ci_low:.2f}, "
            f"{kept.ci_high:.2f}] (p = {kept.p_value:.2g}), against {every.estimate:.2f} [{every.ci_low:.2f}, "
            f"{every.ci_high:.2f}] with every seed")


def transformer_budget_sentence(table: pd.DataFrame) -> str:
    """Return the transformer's median SNR and accuracy per number of fine-tuning epochs, from
    :func:`seedexplain.checks.transformer_budget`, and whether the intervals at the fewest and the most epochs are
    disjoint, as a sentence (a description of these intervals, not a test)."""
    rows = table.sort_values("epochs")
    values = "; ".join(f"{r.median_snr:.3g} [{r.ci_low:.3g}, {r.ci_high:.3g}] after {r.epochs:.0f} "
                       f"epoch{'s' if r.epochs != 1 else ''} (accuracy {r.accuracy:.3f})" for r in rows.itertuples())
    first, last = rows.iloc[0], rows.iloc[-1]
    if last.ci_low > first.ci_high:
        change = "the interval at the most epochs lies above the one at the fewest"
    elif last.ci_high < first.ci_low:
        change = "the interval at the most epochs lies below the one at the fewest"
    else:
        change = "the intervals at the fewest and the most epochs overlap"
    return f"{values}: {change}"


def corpus_sensitivity_sentence(table: pd.DataFrame, split: str = "test_short") -> str:
    """Return, per family, the range of definition C's SNR over the ``min_count`` values of
    :func:`seedexplain.report.corpus_sensitivity` on ``split``, and whether every interval overlaps the one at
    the smallest ``min_count``, as a sentence."""
    parts = []
    for family, rows in table[table.split == split].groupby("family", sort=False):
        rows = rows.sort_values("min_count")
        first = rows.iloc[0]
        overlap = bool(((rows.ci_low <= first.ci_high) & (rows.ci_high >= first.ci_low)).all())
        parts.append(f"{family}: {rows.snr.min():.3g} to {rows.snr.max():.3g} for min_count "
                     f"{rows.min_count.min():.0f} to {rows.min_count.max():.0f} ({rows.n_types.max():.0f} to "
                     f"{rows.n_types.min():.0f} types), intervals "
                     f"{'all overlapping' if overlap else 'not all overlapping'} the one at min_count "
                     f"{first.min_count:.0f}")
    return "; ".join(parts)


def formats_conclusion(table: pd.DataFrame) -> str:
    """Return what :func:`seedexplain.report.format_comparisons` answers to the paper's open question, as a
    sentence: which (family, length) pairs have a format that beats words, and how many formats only looked better
    (a higher median SNR that does not beat its null or whose interval reaches 0)."""
    beaten = table[table.above_word]
    looked = table[(table.format_snr > table.word_snr) & ~table.above_word]
    where = sorted({f"{r.family} on {r.split.replace('test_', '')} texts" for r in beaten.itertuples()})
    found = (f"a format beats words for {', '.join(where)}" if where
             else "no format beats words for either family or length")
    return (f"{found}; {len(looked)} of the {len(table)} comparisons had a higher median SNR than words that does "
            "not survive the null or the seed-level interval")


def cells_not_run(cells: pd.DataFrame) -> str:
    """Return which multiverse cells did not run and why, from :func:`seedexplain.multiverse.run_grid`'s ``cells``
    table, as text ("every cell ran" when all did)."""
    missing = cells[cells.status != "ok"]
    return "; ".join(f"{r.cell} ({r.status})" for r in missing.itertuples()) or "every cell ran"


def multiverse_sentence(effects: pd.DataFrame, share: dict[str, float], *, alpha: float = 0.05) -> str:
    """Return where the claim holds in the multiverse, from :func:`seedexplain.multiverse.verdicts` and
    :func:`seedexplain.multiverse.share_supported`, as a sentence naming the cells that support or contradict it."""
    def listed(verdict: str) -> str:
        rows = effects[effects.verdict == verdict]
        return ", ".join(f"{r.cell} ({r.split.replace('test_', '')}, ratio {np.exp(r.estimate):.3g})"
                         for r in rows.itertuples())

    parts = [f"of {share['n_tests']} seed-level tests (every cell that ran, short and long texts; Holm-adjusted "
             f"over all of them, level {alpha:g}), {share['n_supported']} support the claim, "
             f"{share['n_contradicted']} contradict it and {share['n_not_supported']} find no difference"]
    if share["n_no_estimate"]:
        parts.append(f"{share['n_no_estimate']} have no estimate (a median SNR ≤ 0)")
    for verdict in ("supported", "contradicted"):
        if share[f"n_{verdict}"]:
            parts.append(f"{verdict}: {listed(verdict)}")
    return "; ".join(parts)


def accuracy_snr_sentence(families: pd.DataFrame, split: str = "test_short") -> str:
    """Return how accuracy and median SNR go together across the multiverse's cells on ``split`` (Spearman's rank
    correlation per family, descriptive: a handful of cells), as a sentence."""
    from scipy.stats import spearmanr

    parts = []
    for family, rows in families[families.split == split].groupby("family", sort=False):
        ranges = (f"accuracy {rows.accuracy.min():.3f}–{rows.accuracy.max():.3f}, median SNR "
                  f"{rows.median_snr.min():.3g}–{rows.median_snr.max():.3g}")
        if len(rows) < 3 or rows.accuracy.nunique() < 2 or rows.median_snr.nunique() < 2:
            parts.append(f"{family}: no correlation over {len(rows)} cells ({ranges}: too few, or constant)")
            continue
        rho = spearmanr(rows.accuracy, rows.median_snr).statistic
        parts.append(f"{family}: Spearman ρ = {rho:.2f} over {len(rows)} cells ({ranges})")
    return "; ".join(parts)


def _transformer_rows(families: pd.DataFrame, split: str) -> pd.DataFrame:
    """Return the transformer's rows of the multiverse's families table on ``split``, indexed by cell."""
    return families[(families.family == "transformer") & (families.split == split)].set_index("cell")


def plateau_sentence(families: pd.DataFrame, reference: str | None, longer: str | None,
                     split: str = "test_short") -> str:
    """Return whether the transformer of cell ``reference`` trains to its plateau, from the cell ``longer`` that
    trains it longer (the multiverse's regime cell): their mean accuracy over seeds with its range, on ``split``."""
    rows = _transformer_rows(families, split)
    if reference not in rows.index or longer not in rows.index:
        return "the grid has no cell that trains the transformer longer: its plateau is not measured here"
    short, long = rows.loc[reference], rows.loc[longer]

    def accuracy(row: pd.Series) -> str:
        return f"{row.accuracy:.3f} ({row.accuracy_min:.3f}–{row.accuracy_max:.3f})"

    verdict = ("every seed of the longer training beats every seed of the shorter one: the reference is short of "
               "the transformer's plateau, and the longer cell is the comparison at the plateau"
               if long.accuracy_min > short.accuracy_max else
               "the ranges over seeds overlap: the reference is within the seeds' spread of the longer training")
    return (f"the transformer's mean accuracy is {accuracy(short)} in “{reference}” and {accuracy(long)} in "
            f"“{longer}”; {verdict}")


def precision_sentence(families: pd.DataFrame, reference: str | None, autocast: str | None,
                       split: str = "test_short") -> str:
    """Return whether fine-tuning under bfloat16 autocast (cell ``autocast``) moves the transformer's mean accuracy
    outside the range over the float32 ``reference`` cell's seeds, or its median SNR outside the reference's 95%
    interval, on ``split``; with the training seconds of both cells as they were built."""
    rows = _transformer_rows(families, split)
    if reference not in rows.index or autocast not in rows.index:
        return "the grid has no cell that trains in bfloat16: its effect is not measured here"
    ref, bf16 = rows.loc[reference], rows.loc[autocast]
    outside = [name for name, inside in (
        ("accuracy", ref.accuracy_min <= bf16.accuracy <= ref.accuracy_max),
        ("median SNR", ref.ci_low <= bf16.median_snr <= ref.ci_high)) if not inside]
    verdict = (f"{' and '.join(outside)} outside the reference's: bfloat16 training is not a drop-in for float32 here"
               if outside else "both within the reference's: at these seeds bfloat16 training moves neither")
    return (f"fine-tuned under bfloat16 autocast, the transformer's mean accuracy is {bf16.accuracy:.3f} against "
            f"{ref.accuracy:.3f} ({ref.accuracy_min:.3f}–{ref.accuracy_max:.3f} over the seeds of “{reference}”) and "
            f"its median SNR {bf16.median_snr:.2f} against {ref.median_snr:.2f} [{ref.ci_low:.2f}, {ref.ci_high:.2f}]"
            f"; {verdict} (its seeds trained in {bf16.train_seconds:.0f} s against {ref.train_seconds:.0f} s, as "
            f"built, on a machine whose load the book does not control)")
