"""Figures of the book. Each function takes tidy data and returns a matplotlib Figure (the caller shows it)."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

FAMILY_LABELS = {"transformer": "fine-tuned MiniLM", "linear": "logistic regression"}
SPLIT_LABELS = {"test_short": "short texts", "test_long": "long texts"}
COLOURS = {"transformer": "#c0504d", "linear": "#4f81bd"}


def snr_boxplots(table: pd.DataFrame, *, columns: tuple[str, ...] = ("signal", "noise", "snr")) -> Figure:
    """Return boxplots of per-text ``columns`` (log scale) by text length, one box per model family.

    ``table`` has one row per (family, split, text) and the columns ``family``, ``split`` and ``columns``.
    Non-positive values (a bias-corrected signal can be ≤ 0) cannot be drawn on a log axis and are counted in the
    panel title instead.
    """
    families = [f for f in FAMILY_LABELS if f in set(table.family)]
    splits = [s for s in SPLIT_LABELS if s in set(table.split)]
    fig, axes = plt.subplots(1, len(columns), figsize=(4.2 * len(columns), 3.8))
    width = 0.8 / len(families)
    for ax, column in zip(np.atleast_1d(axes), columns):
        n_dropped = 0
        for j, family in enumerate(families):
            data = []
            for split in splits:
                values = table.loc[(table.family == family) & (table.split == split), column].to_numpy(float)
                n_dropped += int(np.sum(~(values > 0)))
                data.append(values[values > 0])
            positions = np.arange(len(splits)) + (j - (len(families) - 1) / 2) * width
            parts = ax.boxplot(data, positions=positions, widths=width * 0.9, patch_artist=True, showfliers=False)
            for box in parts["boxes"]:
                box.set_facecolor(COLOURS[family])
                box.set_alpha(0.6)
        ax.set_yscale("log")
        ax.set_xticks(range(len(splits)), [SPLIT_LABELS[s] for s in splits])
        ax.set_title(column + (f" ({n_dropped} values ≤ 0 not shown)" if n_dropped else ""), fontsize=10)
    handles = [plt.Rectangle((0, 0), 1, 1, color=COLOURS[f], alpha=0.6) for f in families]
    fig.legend(handles, [FAMILY_LABELS[f] for f in families], loc="lower center", ncol=len(families), frameon=False)
    fig.tight_layout(rect=(0, 0.08, 1, 1))
    return fig


def word_heatmap(words: tuple[str, ...], attributions: Mapping[str, np.ndarray],
                 labels: Mapping[str, str] | None = None) -> Figure:
    """Return, for one text, each family's attributions per seed (heatmap) and their mean ± sd over seeds (bars).

    ``attributions`` maps a family to its array of shape (n_words, n_seeds), in the order to show them; ``labels``
    names the families in the titles (default :data:`FAMILY_LABELS`, else the family's name). Each family has its
    own colour scale (their units differ); the bars show mean ± one standard deviation across seeds.
    """
    labels = {**FAMILY_LABELS, **(labels or {})}
    families = list(attributions)
    n_words = len(words)
    fig, axes = plt.subplots(2, len(families), figsize=(max(6.0, 0.32 * n_words) * len(families) / 1.4, 5.2),
                             gridspec_kw={"height_ratios": [1.2, 1]}, squeeze=False)
    x = np.arange(n_words)
    for j, family in enumerate(families):
        a = np.asarray(attributions[family], dtype=float)
        limit = np.nanmax(np.abs(a)) or 1.0
        image = axes[0, j].imshow(a.T, aspect="auto", cmap="RdBu_r", vmin=-limit, vmax=limit)
        axes[0, j].set_title(labels.get(family, family), fontsize=10)
        axes[0, j].set_ylabel("seed")
        axes[0, j].set_yticks(range(a.shape[1]), [str(i + 1) for i in range(a.shape[1])], fontsize=7)
        axes[0, j].set_xticks([])
        fig.colorbar(image, ax=axes[0, j], fraction=0.03)
        mean, sd = a.mean(axis=1), a.std(axis=1, ddof=1)
        axes[1, j].bar(x, mean, yerr=sd, color=COLOURS.get(family, "grey"), alpha=0.7, capsize=2)
        axes[1, j].axhline(0, color="black", lw=0.5)
        axes[1, j].set_xticks(x, words, rotation=90, fontsize=8)
        axes[1, j].set_xlim(-0.5, n_words - 0.5)
        axes[1, j].set_ylabel("mean ± sd over seeds")
    fig.tight_layout()
    return fig


def save_figure(fig: Figure, name: str, folder: str) -> Path:
    """Return the path of ``<folder>/<name>.png`` after writing ``fig`` there atomically (for the book's figures)."""
    path = Path(folder) / f"{name}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp.png")
    fig.savefig(tmp, dpi=150, bbox_inches="tight")
    os.replace(tmp, path)
    return path


def seed_curve(curve: pd.DataFrame) -> Figure:
    """Return median-over-texts SNR against the number of seeds S (median and range over seed subsets).

    ``curve`` comes from :func:`seedexplain.report.seed_curve`: columns ``family``, ``n_seeds``, ``median_snr``,
    ``median_snr_naive``. The naive ratio is dashed: its upward bias shrinks as S grows.
    """
    fig, ax = plt.subplots(figsize=(5.5, 3.6))
    for family, part in curve.groupby("family"):
        for column, style in (("median_snr", "-"), ("median_snr_naive", "--")):
            stats = part.groupby("n_seeds")[column].agg(["median", "min", "max"])
            label = FAMILY_LABELS[family] + (" (naive)" if column.endswith("naive") else "")
            ax.plot(stats.index, stats["median"], style, color=COLOURS[family], label=label)
            if column == "median_snr":
                ax.fill_between(stats.index, stats["min"], stats["max"], color=COLOURS[family], alpha=0.15)
    ax.set_yscale("log")
    ax.set_xlabel("number of seeds S")
    ax.set_ylabel("median SNR over texts")
    ax.legend(fontsize=8, frameon=False)
    fig.tight_layout()
    return fig


def word_distributions(examples: Sequence[tuple[tuple[str, ...], Mapping[str, np.ndarray]]]) -> Figure:
    """Return boxplots over seeds of every word's attribution: one row per text, one panel per family.

    Each example is ``(words, attributions)`` with ``attributions`` mapping a family to its (n_words, n_seeds)
    array. A word whose box straddles zero has no stable sign across seeds.
    """
    families = [f for f in FAMILY_LABELS if f in examples[0][1]]
    width = max(6.0, 0.3 * max(len(words) for words, _ in examples)) * len(families) / 1.5
    fig, axes = plt.subplots(len(examples), len(families), figsize=(width, 3.4 * len(examples)), squeeze=False)
    for row, (words, attributions) in zip(axes, examples):
        for ax, family in zip(row, families):
            a = np.asarray(attributions[family], dtype=float)
            parts = ax.boxplot(a.T, patch_artist=True, showfliers=True, widths=0.6)
            for box in parts["boxes"]:
                box.set_facecolor(COLOURS[family])
                box.set_alpha(0.6)
            ax.axhline(0, color="black", lw=0.5)
            ax.set_xticks(range(1, len(words) + 1), words, rotation=90, fontsize=8)
            ax.set_title(FAMILY_LABELS[family], fontsize=10)
        row[0].set_ylabel("attribution across seeds")
    fig.tight_layout()
    return fig


def snr_vs_cost(summary: pd.DataFrame) -> Figure:
    """Return median SNR against the two costs of each explanation format, one column per split: the description
    length (bits, top row) and the resolution (share of words with a unit of their own, bottom row).

    ``summary`` comes from :func:`seedexplain.beyond.tradeoff_summary`. Up and to the left on top: more stable and
    shorter; up and to the right below: more stable and still word by word.
    """
    splits = [s for s in SPLIT_LABELS if s in set(summary.split)]
    fig, axes = plt.subplots(2, len(splits), figsize=(5.2 * len(splits), 7.6), squeeze=False, sharey=True)
    for column, split in enumerate(splits):
        for ax, x, label in ((axes[0, column], "bits", "description length (bits, median over texts)"),
                             (axes[1, column], "resolution", "resolution (share of words with a unit of their own)")):
            for family, part in summary[summary.split == split].groupby("family"):
                ax.scatter(part[x], part.snr.clip(lower=1e-3), color=COLOURS[family], label=FAMILY_LABELS[family])
                for _, row in part.iterrows():
                    ax.annotate(row["label"].replace("_", " "), (row[x], max(row.snr, 1e-3)), fontsize=7,
                                xytext=(3, 2), textcoords="offset points")
            ax.set_yscale("log")
            ax.set_xscale("log" if x == "bits" else "linear")
            ax.set_xlabel(label)
        axes[0, column].set_title(SPLIT_LABELS[split], fontsize=10)
    for row in axes:
        row[0].set_ylabel("median SNR over texts")
    axes[0, 0].legend(fontsize=8, frameon=False)
    fig.tight_layout()
    return fig


def cascading_randomisation(table: pd.DataFrame) -> Figure:
    """Return the median Spearman correlation with the randomised model's explanations against the number of
    re-initialised encoder layers (0: the head alone), per method: signed scores (solid) and magnitudes (dashed).

    ``table``: :func:`seedexplain.checks.cascading_randomisation` rows.
    """
    fig, ax = plt.subplots(figsize=(6.4, 3.8))
    for i, (method, rows) in enumerate(table.groupby("method", sort=False)):
        ax.plot(rows.n_layers, rows.spearman_signed, "o-", color=f"C{i}", label=method)
        ax.plot(rows.n_layers, rows.spearman_magnitude, "o--", color=f"C{i}", alpha=0.6)
    ax.axhline(0, color="black", lw=0.5)
    ax.set(xlabel="encoder layers re-initialised from the top (0: head only)",
           ylabel="median Spearman with the original", ylim=(-0.3, 1.05))
    ax.legend(frameon=False, fontsize=7, title="solid: signed, dashed: |score|", title_fontsize=7)
    fig.tight_layout()
    return fig


def method_agreement(agreement: pd.DataFrame) -> Figure:
    """Return a heatmap of the median Spearman correlation over texts between every pair of methods.

    ``agreement`` is square, indexed and columned by method (:func:`seedexplain.faithfulness.agreement_matrix`).
    """
    methods = list(agreement.index)
    values = agreement.to_numpy()
    fig, ax = plt.subplots(figsize=(6.2, 5.2))
    image = ax.imshow(values, vmin=-1, vmax=1, cmap="RdBu_r")
    ax.set_xticks(range(len(methods)), methods, rotation=45, ha="right")
    ax.set_yticks(range(len(methods)), methods)
    for (row, column), value in np.ndenumerate(values):
        ax.text(column, row, f"{value:.2f}", ha="center", va="center", fontsize=7)
    fig.colorbar(image, ax=ax, label="median Spearman correlation over texts")
    fig.tight_layout()
    return fig


def method_snr(table: pd.DataFrame) -> Figure:
    """Return boxplots of per-text SNR (log scale) for each attribution method of the transformer.

    ``table`` has one row per (method, text) with columns ``method`` and ``snr``; non-positive SNRs cannot be drawn
    on a log axis and are left out (the summary table counts them).
    """
    methods = list(dict.fromkeys(table.method))
    fig, ax = plt.subplots(figsize=(7, 3.6))
    ax.boxplot([table.snr[(table.method == m) & (table.snr > 0)] for m in methods], tick_labels=methods)
    ax.set_yscale("log")
    ax.axhline(1, color="grey", lw=0.8, ls=":")
    ax.set_ylabel("per-text SNR (bias-corrected)")
    ax.tick_params(axis="x", rotation=45)
    fig.tight_layout()
    return fig


def run_comparison(table: pd.DataFrame) -> Figure:
    """Return the median per-text SNR with its 95% CI for every run of a sweep, one panel per text length.

    ``table`` has one row per (run, family, split) with columns ``run``, ``family``, ``split``, ``median_snr``,
    ``ci_low`` and ``ci_high`` (as :func:`seedexplain.report.compare_runs` returns).
    """
    runs = list(dict.fromkeys(table.run))
    splits = [s for s in SPLIT_LABELS if s in set(table.split)]
    fig, axes = plt.subplots(1, len(splits), figsize=(4.2 * len(splits), 3.6), sharey=True, squeeze=False)
    for ax, split in zip(axes[0], splits):
        for j, family in enumerate(FAMILY_LABELS):
            rows = table[(table.split == split) & (table.family == family)].set_index("run").loc[runs]
            x = np.arange(len(runs)) + (j - 0.5) * 0.2
            ax.errorbar(x, rows.median_snr, yerr=[rows.median_snr - rows.ci_low, rows.ci_high - rows.median_snr],
                        fmt="o", color=COLOURS[family], label=FAMILY_LABELS[family], capsize=3)
        ax.set_xticks(np.arange(len(runs)), runs, rotation=30)
        ax.set_yscale("log")
        ax.set_title(SPLIT_LABELS[split])
    axes[0][0].set_ylabel("median per-text SNR (95% CI)")
    axes[0][-1].legend(frameon=False)
    fig.tight_layout()
    return fig


def training_budget(table: pd.DataFrame, transformer: pd.DataFrame) -> Figure:
    """Return median SNR and accuracy against the training budget: the linear model's SGD epochs (squares at the
    right: trained to convergence), per randomness setting, and the transformer's fine-tuning epochs.

    ``table``: :func:`seedexplain.checks.linear_budget` rows with a ``randomness`` column; ``transformer``:
    :func:`seedexplain.checks.transformer_budget` rows (one randomness setting, named in its ``randomness``
    column).
    """
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.8))
    for i, (randomness, group) in enumerate(table.groupby("randomness", sort=False)):
        sgd, converged = group[group.solver == "sgd"], group[group.solver == "lbfgs"]
        colour = f"C{i}"
        far = sgd.epochs.max() * 4
        left.errorbar(sgd.epochs, sgd.median_snr, yerr=[sgd.median_snr - sgd.ci_low, sgd.ci_high - sgd.median_snr],
                      fmt="o-", color=colour, label=f"linear, {randomness}")
        left.errorbar([far], converged.median_snr, fmt="s", color=colour, capsize=3,
                      yerr=[converged.median_snr - converged.ci_low, converged.ci_high - converged.median_snr])
        right.plot(sgd.epochs, sgd.accuracy, "o-", color=colour, label=f"linear, {randomness}")
        right.plot([far], converged.accuracy, "s", color=colour)
    label = f"transformer, {transformer.randomness.iloc[0]}"
    left.errorbar(transformer.epochs, transformer.median_snr, fmt="^--", color="k", capsize=3, label=label,
                  yerr=[transformer.median_snr - transformer.ci_low, transformer.ci_high - transformer.median_snr])
    right.plot(transformer.epochs, transformer.accuracy, "^--", color="k", label=label)
    left.set(xscale="log", yscale="log", xlabel="epochs (square: linear model trained to convergence)",
             ylabel="median per-text SNR (short texts)")
    right.set(xscale="log", xlabel="epochs (square: converged)", ylabel="short-text accuracy")
    left.legend(frameon=False, fontsize=7)
    right.legend(frameon=False, fontsize=7)
    fig.tight_layout()
    return fig


def multiverse_forest(effects: pd.DataFrame) -> Figure:
    """Return a forest plot of the seed-level effect, one row per (cell, split), sorted by effect and coloured by
    the factor the cell changes. ``effects``: :func:`seedexplain.multiverse.verdicts` rows (columns cell, factor,
    split, estimate, ci_low, ci_high, verdict); rows without an estimate are listed at the bottom, unplotted."""
    rows = effects.assign(label=effects.cell + ", " + effects.split.map(SPLIT_LABELS))
    rows = rows.sort_values("estimate", na_position="first").reset_index(drop=True)
    factors = list(dict.fromkeys(effects.factor))
    fig, ax = plt.subplots(figsize=(8, 0.32 * len(rows) + 1.4))
    for factor_index, factor in enumerate(factors):
        part = rows[(rows.factor == factor) & rows.estimate.notna()]
        ax.errorbar(part.estimate, part.index, xerr=[part.estimate - part.ci_low, part.ci_high - part.estimate],
                    fmt="o", color=f"C{factor_index}", capsize=2, label=factor)
    ax.axvline(0, color="grey", lw=0.8)
    ax.set_yticks(rows.index, [f"{label} ({verdict})" for label, verdict in zip(rows.label, rows.verdict)],
                  fontsize=7)
    ax.set_xlabel("log(median SNR linear / median SNR transformer), seed-level 95% interval (> 0: the claim)")
    ax.legend(frameon=False, fontsize=7, loc="lower right")
    fig.tight_layout()
    return fig


def accuracy_vs_snr(families: pd.DataFrame, split: str = "test_short") -> Figure:
    """Return each cell's mean accuracy against its median SNR (log scale, with its interval) on ``split``, one
    marker per family. ``families``: the ``families`` table of :func:`seedexplain.multiverse.run_grid`."""
    rows = families[families.split == split]
    fig, ax = plt.subplots(figsize=(6, 4))
    for family, part in rows.groupby("family"):
        colour = COLOURS.get(family)
        ax.errorbar(part.accuracy, part.median_snr, fmt="o", color=colour, capsize=2,
                    yerr=[np.clip(part.median_snr - part.ci_low, 0, None),
                          np.clip(part.ci_high - part.median_snr, 0, None)], label=FAMILY_LABELS.get(family, family))
    ax.set(yscale="symlog", xlabel=f"mean accuracy over seeds ({SPLIT_LABELS[split]})",
           ylabel="median per-text SNR, hierarchical 95% interval")
    ax.legend(frameon=False, fontsize=8)
    fig.tight_layout()
    return fig
