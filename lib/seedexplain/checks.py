"""The costly checks of the methods and failure-modes chapters, as functions of a configuration and plain values.

Each function loads the models it needs itself, so that a notebook caches it with
:func:`seedexplain.artifacts.cached_call`, whose key holds *every* argument (a hand-written key that forgets one
serves stale results). Profile-dependent sizes are declared here, once.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from seedexplain import pipeline
from seedexplain.artifacts import revision
from seedexplain.attention_checks import attention_agreement, head_randomization_agreement
from seedexplain.config import Config
from seedexplain.faithfulness import MethodComparison, budget_shares, compare_methods, lrp_budget
from seedexplain.models import load_transformer
from seedexplain.probing import probe_study

PROFILE_SIZES: dict[str, dict[str, int]] = {
    "quick": {"n_probe_texts": 150, "n_method_texts": 6, "n_budget_seeds": 3, "max_budget_epochs": 2},
    "full": {"n_probe_texts": 1000, "n_method_texts": 40, "n_budget_seeds": 5, "max_budget_epochs": 3},
}
"""Texts used by the probes and by the method comparison, and the seeds and largest number of epochs of the
transformer's budget curve, per profile."""


def profile_size(config: Config, name: str, value: int | None = None) -> int:
    """Return ``value``, or the profile's default of ``name`` (see :data:`PROFILE_SIZES`) when it is None."""
    return PROFILE_SIZES[config.profile][name] if value is None else value


def _finetuned(config: Config) -> tuple[Any, Any]:
    trained = pipeline.load_model(config, "transformer", config.seed)
    return trained.network, trained.tokenizer


def probes(config: Config, *, n_probe_texts: int, n_repeats: int) -> tuple[list[str], Any, pd.DataFrame]:
    """Return :func:`seedexplain.probing.probe_study` of the pretrained and the fine-tuned (first seed) model on
    the first ``n_probe_texts`` training texts."""
    texts = list(pipeline.dataset(config).train.texts[:n_probe_texts])
    models = {"pretrained": load_transformer(config.transformer, seed=config.seed, artifacts=config.artifacts),
              "finetuned": _finetuned(config)}
    return probe_study(models, texts, seed=config.seed, n_repeats=n_repeats, max_length=config.max_length)


@revision(2)  # 2: deletion is the occlusion method (token removal), no longer a cut and re-tokenised string
def attention_checks(config: Config, *, n_permutations: int) -> pd.DataFrame:
    """Return :func:`seedexplain.attention_checks.attention_agreement` of the fine-tuned model on the short test
    texts."""
    model, tokenizer = _finetuned(config)
    return attention_agreement(model, tokenizer, list(pipeline.dataset(config).test_short.texts),
                               n_permutations=n_permutations, seed=config.seed, max_length=config.max_length)


@revision(2)  # 2: the head is the pooler and the classifier (faithfulness.randomised_copy), as in the methods chapter
def head_randomisation(config: Config, *, methods: Sequence[str], seed_offset: int) -> pd.DataFrame:
    """Return :func:`seedexplain.attention_checks.head_randomization_agreement` of the fine-tuned model against a
    copy whose head is drawn from ``config.seed + seed_offset``, for every method in ``methods``."""
    model, tokenizer = _finetuned(config)
    return head_randomization_agreement(model, tokenizer, list(pipeline.dataset(config).test_short.texts),
                                        methods=list(methods), seed=config.seed + seed_offset,
                                        max_length=config.max_length)


@revision(2)  # 2: the table holds the probability forms of AOPC
def method_comparison(config: Config, *, n_texts: int, methods: Sequence[str], n_layers: int,
                      machine: dict[str, Any]) -> MethodComparison:
    """Return :func:`seedexplain.faithfulness.compare_methods` on the first ``n_texts`` short test texts.

    ``machine`` (:func:`seedexplain.artifacts.machine`) is not used but keys the cached value: it holds timings.
    """
    model, tokenizer = _finetuned(config)
    texts = pipeline.dataset(config).test_short.texts[:n_texts]
    return compare_methods(model, tokenizer, texts, methods=list(methods), max_length=config.max_length,
                           seed=config.seed, n_layers=n_layers)


def cascading_randomisation(config: Config, *, n_texts: int, methods: Sequence[str]) -> pd.DataFrame:
    """Return :func:`seedexplain.faithfulness.cascading_randomisation` of the fine-tuned model (first seed) on the
    first ``n_texts`` short test texts, for every method in ``methods``, with a ``method`` column."""
    from seedexplain.attribution import word_attributions
    from seedexplain.faithfulness import cascading_randomisation as cascade

    model, tokenizer = _finetuned(config)
    texts = pipeline.dataset(config).test_short.texts[:n_texts]
    frames = []
    for method in methods:
        explanations = word_attributions(model, tokenizer, texts, method=method, max_length=config.max_length)
        frames.append(cascade(model, tokenizer, texts, explanations, seed=config.seed,
                              max_length=config.max_length).assign(method=method))
    return pd.concat(frames, ignore_index=True)


def lrp_budget_by_seed(config: Config, *, n_texts: int) -> pd.DataFrame:
    """Return, per seed of ``config``, the shares of ``f`` that conservative LRP gives to words, special tokens,
    position/type embeddings and biases (:func:`seedexplain.faithfulness.budget_shares`) on the first ``n_texts``
    short test texts, and the largest conservation residual relative to ``|f|``."""
    from seedexplain.attribution import word_attributions

    texts = pipeline.dataset(config).test_short.texts[:n_texts]
    rows = []
    for seed in config.seeds:
        trained = pipeline.load_model(config, "transformer", seed)
        budget = lrp_budget(word_attributions(trained.network, trained.tokenizer, texts, method="lrp",
                                              max_length=config.max_length, aggregate=config.aggregate))
        rows.append(dict(seed=seed, **budget_shares(budget),
                         max_relative_residual=float((budget.residual.abs() / budget.f.abs()).max())))
    return pd.DataFrame(rows)


def linear_budget(config: Config, *, epochs_grid: Sequence[int], n_resamples: int) -> pd.DataFrame:
    """Return the linear model's accuracy and explanation SNR against its training budget.

    For every SGD budget in ``epochs_grid`` and for L-BFGS to convergence (``epochs`` NaN), the run's seeds train
    the linear model of ``config`` on their training sets (``config.randomness``); rows give the budget, the mean
    short-text accuracy over seeds, the median per-text SNR (definition A) on the short test texts and its
    hierarchical bootstrap 95% interval, and the largest final gradient component over seeds.
    """
    from seedexplain.linear import train_linear
    from seedexplain.snr import texts_snr
    from seedexplain.stats import bootstrap_ci

    test = pipeline.dataset(config).test_short
    rows = []
    for epochs in [*epochs_grid, None]:
        solver = "lbfgs" if epochs is None else "sgd"
        models = []
        for seed in config.seeds:
            texts, labels, init_seed = pipeline.training_set(config, seed)
            models.append(train_linear(texts, labels, kind=config.linear, seed=init_seed, solver=solver,
                                       epochs=epochs or 1, alpha=config.linear_alpha, tol=config.linear_tol))
        arrays = [np.column_stack([m.word_contributions(t) for m in models]) for t in test.texts]
        ci = bootstrap_ci(arrays, over="both", n_resamples=n_resamples, rng=0)
        rows.append(dict(solver=solver, epochs=np.nan if epochs is None else epochs,
                         accuracy=float(np.mean([np.mean(m.predict(test.texts) == test.labels) for m in models])),
                         median_snr=float(texts_snr(arrays).snr.median()), ci_low=ci.low, ci_high=ci.high,
                         gradient_norm=max(m.diagnostics["gradient_norm"] for m in models)))
    return pd.DataFrame(rows)


def transformer_budget(config: Config, *, epochs_grid: Sequence[int], n_seeds: int,
                       n_resamples: int) -> pd.DataFrame:
    """Return the fine-tuned transformer's accuracy and explanation SNR against its number of epochs.

    For every number of epochs in ``epochs_grid``, the first ``n_seeds`` seeds of ``config`` fine-tune its
    transformer (alone: ``families=("transformer",)``, same training sets, learning-rate schedule over all the
    epochs) and explain the test texts with ``config.method``; rows give the epochs, the mean short-text accuracy
    over seeds, and the median per-text SNR (definition A) on the short test texts with its hierarchical bootstrap
    95% interval (as :func:`linear_budget`). The one-epoch row re-uses the headline run's models of those seeds.
    """
    from seedexplain.snr import texts_snr
    from seedexplain.stats import bootstrap_ci

    rows = []
    for epochs in epochs_grid:
        run = pipeline.run(dataclasses.replace(config, epochs=epochs, n_seeds=n_seeds, families=("transformer",)))
        arrays = run.arrays("transformer", "test_short")
        ci = bootstrap_ci(arrays, over="both", n_resamples=n_resamples, rng=0)
        short = run.accuracy.query("split == 'test_short'")
        rows.append(dict(epochs=epochs, accuracy=float(short.accuracy.mean()),
                         median_snr=float(texts_snr(arrays).snr.median()), ci_low=ci.low, ci_high=ci.high))
    return pd.DataFrame(rows)
