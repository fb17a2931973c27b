"""The study's multiverse: is the paper's claim a property of the families or of the headline setting?

A :class:`Cell` is the headline configuration with a few parameters changed (:data:`GRID`, one factor at a time
plus the crossings that matter). Every cell runs through one code path, :func:`seedexplain.pipeline.run` in this
process, so its models and explanations are cached and resumable like the headline's; :func:`run_cell` turns a
cell's results into one row per (family, split) — accuracy, median per-text SNR with its hierarchical interval,
cost — and one seed-level comparison per split (:func:`seedexplain.stats.seed_level_comparison`: the seeds are
the replications). A cell whose data is absent is "not run"; a cell that fails is reported by name, with its
error, and the others still run (:func:`run_grid`). :func:`verdicts` adjusts the p-values of every (cell, split)
for multiplicity (Holm) before it counts where the claim holds; :func:`factorial` fits a linear mixed model of
per-text log SNR.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from seedexplain.config import Config
from seedexplain.constraints import PROBABILITY, SPLITS, Integer, OneOf, check, validated
from seedexplain.data import available
from seedexplain.registry import TASKS, TRANSFORMERS
from seedexplain.report import CLAIM

log = logging.getLogger(__name__)

FACTORS = ("headline", "seeds", "task", "model", "method", "regime", "linear", "randomness", "crossing")
"""What a cell changes from the headline setting (the forest plot's colours)."""
FACTORIAL_SEEDS = 5
"""Seeds per family that enter the factorial analysis (the cells' smallest count, so that every per-text SNR is
estimated from as many seeds)."""


@dataclass(frozen=True)
class Cell:
    """One setting of the multiverse: ``overrides`` of the headline configuration, and what they change."""

    name: str
    factor: str
    overrides: Mapping[str, Any] = field(default_factory=dict)
    note: str = ""

    def __post_init__(self) -> None:
        check("factor", self.factor, OneOf(FACTORS))

    def config(self, headline: Config) -> Config:
        """Return the cell's configuration: ``headline`` with the cell's overrides."""
        return dataclasses.replace(headline, **self.overrides)


REDUCED = {"n_seeds": 5}
"""What every full-profile cell but the headline reduces: the seeds, 5 per family, not the texts. The cells keep
the headline's training texts so that each transformer trains as long as the headline's (fewer training texts left
it short of its plateau on a harder task: the comparison would then be of an under-trained model), and its test
texts, so that the cells on the headline's task explain the same texts. The cell "seeds: 5" is the headline's
first 5 seeds: every other cell differs from it by the one factor it names, and it differs from the headline by
the seeds alone (its models and explanations are the headline's)."""
GRID: dict[str, tuple[Cell, ...]] = {
    "full": (
        Cell("headline", "headline", {}, "subjectivity, MiniLM-L6 fine-tuned 1 epoch, LRP, bag of words, seed+data"),
        Cell("seeds: 5", "seeds", REDUCED, "the headline's first 5 seeds: the reference of the cells below"),
        Cell("task: polarity", "task", {**REDUCED, "dataset": "polarity"}),
        Cell("task: BBC business vs politics", "task", {**REDUCED, "dataset": "bbc"}),
        Cell("model: MiniLM-L3", "model", {**REDUCED, "transformer": "minilm-l3"}, "3 layers"),
        Cell("model: multilingual-e5-small", "model", {**REDUCED, "transformer": "e5-small"}, "12 layers"),
        Cell("task: French reviews (e5-small)", "crossing",
             {**REDUCED, "dataset": "amazon-fr", "transformer": "e5-small"},
             "French needs the multilingual encoder; compare with the e5-small cell"),
        Cell("model: SmolLM2-135M decoder, head only", "model",
             {**REDUCED, "transformer": "smollm2-135m", "fine_tune": "head", "learning_rate": 3e-3},
             "30-layer Llama decoder; only the head is trained, so the seed moves the head, the data order and the "
             "resample, not the body"),
        Cell("method: gradient × input", "method", {**REDUCED, "method": "grad_x_input"}),
        Cell("method: integrated gradients", "method",
             {**REDUCED, "method": "integrated_gradients", "n_test_short": 50, "n_test_long": 10},
             "on fewer test texts (50 short, 10 long; the training texts are the reference's): 50 path points, each "
             "a forward and a backward pass, per text"),
        Cell("regime: 3 epochs", "regime", {**REDUCED, "epochs": 3}),
        Cell("regime: bfloat16 training", "regime", {**REDUCED, "training_precision": "bfloat16"},
             "the forward pass of fine-tuning under bfloat16 autocast; weights and explanations float32"),
        Cell("linear: linguistic features", "linear", {**REDUCED, "linear": "features"}),
        Cell("randomness: seed only", "randomness", {**REDUCED, "randomness": "seed"}),
        Cell("gradient × input, seed only", "crossing", {**REDUCED, "method": "grad_x_input", "randomness": "seed"},
             "does the method's effect depend on what the seed changes?"),
    ),
    # The quick book: the headline and one method cell (it re-uses the headline's models), to exercise the chapter.
    "quick": (
        Cell("headline", "headline", {}, "the quick profile's headline"),
        Cell("method: gradient × input", "method", {"method": "grad_x_input"}),
    ),
}
"""The cells of each profile's multiverse, headline first."""


def grid(profile: str) -> tuple[Cell, ...]:
    """Return the cells of ``profile``'s multiverse."""
    return GRID[check("profile", profile, OneOf(tuple(GRID)))]


def unavailable(config: Config) -> str | None:
    """Return why ``config`` cannot run on this machine (its data absent), or None."""
    if config.dataset in TASKS and not available(config.dataset):
        return f"not run: the texts of {config.dataset!r} are absent from this machine"
    return None


SUMMARY_REVISION = 3
"""Revision of :func:`cell_summary`'s tables (2: texts are identified by :func:`text_key`; 3: each row's peak
memory), part of its cache key."""


def text_key(text: str) -> str:
    """Return a short digest that identifies ``text`` across cells whose test splits differ (sizes, tasks)."""
    return hashlib.sha256(text.encode()).hexdigest()[:16]


@validated(n_resamples=Integer(50))
def cell_summary(config: Config, *, n_resamples: int = 2000) -> dict[str, Any]:
    """Return a cell's rows: ``families`` (per family and split: mean and per-seed accuracy, median SNR with its
    hierarchical 95% interval, cost in seconds and peak memory), ``effects`` (per split, the seed-level comparison of
    :data:`CLAIM`) and ``texts`` (per family, split and text, the text named by its :func:`text_key`: log SNR of
    the first :data:`FACTORIAL_SEEDS` seeds, class and number of words). Trains and explains whatever the cache
    lacks."""
    from seedexplain import pipeline
    from seedexplain.report import seed_level_tests
    from seedexplain.snr import texts_snr
    from seedexplain.stats import bootstrap_ci

    results = pipeline.run(config)
    families, texts = [], []
    for split in SPLITS:
        for family in results.families:
            arrays = results.arrays(family, split)
            ci = bootstrap_ci(arrays, over="both", n_resamples=n_resamples // 2, rng=0)
            accuracy = results.accuracy.query("family == @family and split == @split").accuracy
            families.append(dict(family=family, split=split, accuracy=float(accuracy.mean()),
                                 accuracy_min=float(accuracy.min()), accuracy_max=float(accuracy.max()),
                                 median_snr=float(texts_snr(arrays).snr.median()), ci_low=ci.low, ci_high=ci.high,
                                 n_seeds=config.n_seeds, n_texts=len(arrays), **_cost(config, family, split)))
            table = texts_snr([a[:, :FACTORIAL_SEEDS] for a in arrays])
            explained = results.explanations(family, split)
            texts.append(pd.DataFrame(dict(family=family, split=split, text=[text_key(e.text) for e in explained],
                                           label=[e.label for e in explained], n_words=table.n_words,
                                           snr=table.snr)))
    tests = seed_level_tests(results, pair=CLAIM, n_resamples=n_resamples, definition="A")
    effects = tests[["split", "estimate", "ci_low", "ci_high", "p_value", "n_seeds"]]
    return {"families": pd.DataFrame(families), "effects": effects, "texts": pd.concat(texts, ignore_index=True)}


def _cost(config: Config, family: str, split: str) -> dict[str, float]:
    """Return the seconds the cell's artifacts took when they were built, summed over seeds (training on the
    short-text row only), and the largest peak resident memory of those builds in MB (each build's own,
    :func:`seedexplain.artifacts.cached`; NaN for artifacts built before it was recorded). Cells share artifacts
    whose keys agree (e.g. the method cell re-uses the headline's models): the cost is then the shared
    artifact's, paid once for both."""
    from seedexplain import pipeline
    from seedexplain.artifacts import read_meta

    trained = [read_meta(pipeline.train_seed(config, family, s)) for s in config.seeds] if split == SPLITS[0] else []
    explained = [read_meta(pipeline.explain_seed(config, family, s, split)) for s in config.seeds]
    peaks = [m["peak_rss_mb"] for m in trained + explained if m.get("peak_rss_mb") is not None]
    return {"train_seconds": float(sum(m["seconds"] for m in trained)),
            "explain_seconds": float(sum(m["seconds"] for m in explained)),
            "peak_rss_mb": float(max(peaks)) if peaks else math.nan}


def run_cell(cell: Cell, headline: Config, *, n_resamples: int = 2000) -> dict[str, Any]:
    """Return the cell's summary (:func:`cached_summary`) with its ``status``: "ok", "not run: ..." (data absent)
    or "failed: <error>" (an error while it ran, logged with its traceback). A bad parameter of the cell is an
    error (:meth:`Cell.config` names it and the allowed values)."""
    config = cell.config(headline)
    reason = unavailable(config)
    if reason:
        log.info("cell %r: %s", cell.name, reason)
        return {"status": reason}
    start = time.perf_counter()
    try:
        summary = cached_summary(config, n_resamples=n_resamples)
    except Exception as error:  # a failed cell is reported, the grid goes on
        log.exception("cell %r failed", cell.name)
        return {"status": f"failed: {type(error).__name__}: {error}"}
    log.info("cell %r done in %.0f s; peak resident memory of its builds %.0f MB", cell.name,
             time.perf_counter() - start, summary["families"].peak_rss_mb.max())
    return {"status": "ok", **summary}


def cached_summary(config: Config, *, n_resamples: int = 2000) -> dict[str, Any]:
    """Return :func:`cell_summary`, cached under everything it depends on: the configuration, the number of
    resamples, and the parameters of each family's models and explanations (so that a converted model's or a
    method's revision recomputes it)."""
    from seedexplain import pipeline
    from seedexplain.artifacts import cached_value

    params = {"function": "seedexplain.multiverse.cell_summary", "revision": SUMMARY_REVISION,
              "config": config.cache_key(),
              "n_resamples": n_resamples,
              "explanations": {f: pipeline.explanation_params(config, f, config.seed, SPLITS[0])
                               for f in config.families}}
    return cached_value(config.artifacts, "multiverse", params,
                        lambda: cell_summary(config, n_resamples=n_resamples))


def run_grid(cells: Sequence[Cell], headline: Config, *, n_resamples: int = 2000) -> dict[str, pd.DataFrame]:
    """Run every cell (one after the other, each logged) and return the grid's tables: ``cells`` (one row per cell:
    name, factor, what it changes, status), ``families``, ``effects`` and ``texts`` (the rows of
    :func:`cell_summary` of every cell that ran, with a ``cell`` column). A cell with a bad parameter stops the
    grid before any work, naming the cell."""
    for cell in cells:  # every cell's parameters are checked before any work
        try:
            cell.config(headline)
        except (ValueError, TypeError) as error:
            raise ValueError(f"multiverse cell {cell.name!r}: {error}") from None
    rows: dict[str, list[pd.DataFrame]] = {"families": [], "effects": [], "texts": []}
    cells_table = []
    for number, cell in enumerate(cells, start=1):
        log.info("multiverse cell %d of %d: %s", number, len(cells), cell.name)
        outcome = run_cell(cell, headline, n_resamples=n_resamples)
        cells_table.append(dict(cell=cell.name, factor=cell.factor, changes=describe(cell), note=cell.note,
                                status=outcome["status"]))
        for key in rows:
            if key in outcome:
                rows[key].append(outcome[key].assign(cell=cell.name, factor=cell.factor))
    out = {key: pd.concat(frames, ignore_index=True) if frames else pd.DataFrame() for key, frames in rows.items()}
    return {"cells": pd.DataFrame(cells_table), **out}


def describe(cell: Cell) -> str:
    """Return what ``cell`` changes from the headline, e.g. ``dataset=polarity (5 seeds)``: the reduction of
    :data:`REDUCED` is named in full only in the cell that changes nothing else."""
    reduced = cell.overrides != REDUCED and REDUCED.items() <= cell.overrides.items()
    changes = {k: v for k, v in cell.overrides.items() if not (reduced and k in REDUCED)}
    text = ", ".join(f"{k}={v}" for k, v in changes.items()) or "nothing (the headline)"
    return f"{text} ({', '.join(f'{k}={v}' for k, v in REDUCED.items())})" if reduced else text


def sizes(config: Config) -> str:
    """Return the data sizes and seeds of ``config`` as text, e.g. "2000 training texts, 200 short and 50 long test
    texts, 5 seeds per family"."""
    return (f"{config.n_train} training texts, {config.n_test_short} short and {config.n_test_long} long test texts, "
            f"{config.n_seeds} seeds per family")


def sizes_sentence(cells: Sequence[Cell], headline: Config) -> str:
    """Return, as text, the data sizes and seeds of the cells other than the headline (the first cell): those of
    most cells, then each cell that differs from them by name; where most cells differ from the headline, which
    cell is their reference (the cell of factor "seeds")."""
    if len(cells) < 2:
        return "no other cell runs"
    own = {cell.name: sizes(cell.config(headline)) for cell in cells[1:]}
    common = max(sorted(set(own.values())), key=list(own.values()).count)
    exceptions = "".join(f"; the cell “{name}” runs at {text}" for name, text in own.items() if text != common)
    if common == sizes(headline):
        return f"every other cell runs at the headline's sizes ({common}){exceptions}"
    sentence = f"the other cells run at {common}{exceptions}"
    reference = [cell.name for cell in cells[1:] if cell.factor == "seeds" and own[cell.name] == common]
    if reference:
        sentence += (f". The cell “{reference[0]}” is the headline with those seeds only: it is the reference of "
                     "every other cell, which differs from it by the one factor it names, and its own row shows what "
                     "fewer seeds alone do")
    return sentence


@validated(alpha=PROBABILITY)
def verdicts(effects: pd.DataFrame, *, alpha: float = 0.05) -> pd.DataFrame:
    """Return ``effects`` with ``p_holm`` (Holm's adjustment over every (cell, split) row: the family of tests
    whose conclusions the chapter combines) and ``verdict``: "supported" (linear ahead, ``p_holm < alpha``),
    "contradicted" (transformer ahead, ``p_holm < alpha``), "not supported", or "no estimate" (a median SNR ≤ 0:
    no signal left after the bias correction, no log ratio; its NaN p-value is left out of the adjustment)."""
    from seedexplain.stats import holm

    table = effects.assign(p_holm=holm(effects.p_value.to_numpy()))
    significant = table.p_holm < alpha
    verdict = np.select([~np.isfinite(table.estimate), significant & (table.estimate > 0),
                         significant & (table.estimate < 0)], ["no estimate", "supported", "contradicted"],
                        "not supported")
    return table.assign(verdict=verdict)


def share_supported(table: pd.DataFrame) -> dict[str, float]:
    """Return, from :func:`verdicts`, how many (cell, split) rows support or contradict the claim and their share."""
    n = len(table)
    counts = {v: int((table.verdict == v).sum()) for v in ("supported", "contradicted", "not supported",
                                                           "no estimate")}
    return {"n_tests": n, **{f"n_{k.replace(' ', '_')}": c for k, c in counts.items()},
            "share_supported": counts["supported"] / n if n else math.nan}


FACTORIAL_FACTORS = ("task", "split", "n_train", "model", "method", "epochs", "precision", "randomness", "linear")
"""Columns of :func:`factorial_frame` whose effects :func:`factorial` estimates (references: the headline's)."""


def factor_levels(config: Config) -> dict[str, Any]:
    """Return the factors of ``config`` as :func:`factorial_frame` names them (the headline's are the references
    of :func:`factorial`)."""
    entry = TRANSFORMERS[config.transformer]
    return dict(task=config.dataset, split=SPLITS[0], n_train=config.n_train, model=config.transformer,
                depth=entry.n_layers, architecture=entry.architecture, method=config.method, epochs=config.epochs,
                precision=config.training_precision, randomness=config.randomness, linear=config.linear)


def factorial_frame(texts: pd.DataFrame, cells: Sequence[Cell], headline: Config) -> pd.DataFrame:
    """Return the rows of :func:`factorial`: one per (cell, family, split, text) with a positive SNR, the cell's
    factors as columns (task, model, depth, architecture, method, epochs, precision, randomness, linear) and
    ``text_id`` (the same text in every cell that explains it, the random effect)."""
    levels = [{**factor_levels(cell.config(headline)), "cell": cell.name} for cell in cells]
    factors = pd.DataFrame(levels).drop(columns="split")
    frame = texts[texts.snr > 0].merge(factors, on="cell")
    return frame.assign(log_snr=np.log(frame.snr),
                        text_id=frame.task + "/" + frame.split + "/" + frame.text)


def factorial(frame: pd.DataFrame, reference: Mapping[str, Any]) -> pd.DataFrame:
    """Return the fixed effects of a linear mixed model of per-text log SNR with a random intercept per text
    (``text_id``), fitted by REML (statsmodels): ``log_snr ~ family * (factors) + class``, the factors those of
    :data:`FACTORIAL_FACTORS` that vary in ``frame``, each coded against its ``reference`` level (the headline's;
    the linear family is the family's reference). Each factor's main effect is how it moves the linear model's log
    SNR; its interaction with the family, how it moves the transformer's relative to the linear model's. One row
    per term with its estimate, 95% interval and p-value; a term the data cannot estimate (e.g. a cell whose
    texts all had SNR ≤ 0, or a column that repeats others) is left out.

    What the intervals are about: the texts are the random units here; each per-text SNR already averages over
    the seeds, whose sampling this model does not see — the seed-level intervals of :func:`cell_summary` carry
    it. Read the estimates as effect sizes on the log scale (0.69 = a doubled SNR).
    """
    import patsy
    from statsmodels.regression.mixed_linear_model import MixedLM

    terms = [f"C({column}, Treatment({reference[column]!r}))" for column in FACTORIAL_FACTORS
             if frame[column].nunique() > 1]
    if not terms:
        raise ValueError("the grid varies no factor: the factorial analysis needs at least two settings")
    formula = f"log_snr ~ C(family, Treatment('linear')) * ({' + '.join(terms)}) + C(label)"
    endog, exog = patsy.dmatrices(formula, frame, return_type="dataframe")
    exog = exog.iloc[:, _estimable(exog.to_numpy())]
    fit = MixedLM(endog, exog, groups=frame.loc[endog.index, "text_id"].to_numpy()).fit(reml=True)
    ci = fit.conf_int()
    table = pd.DataFrame(dict(term=fit.fe_params.index, estimate=fit.fe_params.to_numpy(),
                              ci_low=ci.loc[fit.fe_params.index, 0].to_numpy(),
                              ci_high=ci.loc[fit.fe_params.index, 1].to_numpy(),
                              p_value=fit.pvalues.loc[fit.fe_params.index].to_numpy()))
    return table.assign(text_variance=float(fit.cov_re.iloc[0, 0]), residual_variance=float(fit.scale))


def _estimable(design: np.ndarray) -> list[int]:
    """Return the columns of ``design`` that each add to the rank of those before them (the intercept first)."""
    kept: list[int] = []
    for column in range(design.shape[1]):
        if np.linalg.matrix_rank(design[:, [*kept, column]]) == len(kept) + 1:
            kept.append(column)
    return kept
