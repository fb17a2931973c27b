"""The study's stages, cached on disk: data split → trained model per (family, seed) → explanations → results.

Each stage is an artifact (see :mod:`seedexplain.artifacts`) keyed by the parameters it depends on, so a changed
parameter recomputes only what depends on it and an interrupted run resumes where it stopped. The per-seed work
(train, then explain) is independent across seeds and runs through an executor: local by default, or a Dask
distributed client for users with a cluster (the artifact folder must then be on a shared filesystem). What a
family does is in :mod:`seedexplain.families`; this module never asks which family it holds.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import platform
import time
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from seedexplain import __version__
from seedexplain.artifacts import cached, content_sha256, read_meta, write_json
from seedexplain.config import Config, params_key
from seedexplain.constraints import METHODS, SPLITS, OneOf, check
from seedexplain.data import SHARED_FILES, Dataset, Split, load_dataset, shared_path
from seedexplain.families import Family, TrainedModel, families
from seedexplain.results import Results, TextExplanations
from seedexplain.train import accuracy, seed_everything
from seedexplain.words import segment

log = logging.getLogger(__name__)

RESAMPLE_STREAM = 0x5EED_DA7A
"""Mixed with a seed to draw its bootstrap resample of the training set (randomness "seed+data" or "data")."""


# --- parameters each stage depends on -------------------------------------------------------------------------

def data_params(config: Config) -> dict[str, Any]:
    """Return the parameters the data split depends on (a CSV or shared-data file by its content's hash, not its
    path; an absent shared file fails here, naming where it was looked for)."""
    keys = ("dataset", "n_train", "n_test_short", "n_test_long", "long_k", "split_seed")
    params = {k: getattr(config, k) for k in keys}
    if config.dataset.endswith(".csv"):
        params["dataset"] = "csv:" + content_sha256(config.dataset)
    elif config.dataset in SHARED_FILES:  # a file outside the repository: its content, not its name, is the key
        params["content"] = content_sha256(shared_path(config.dataset))
    return params


def family_of(config: Config, family: str | Family) -> Family:
    """Return the family named ``family`` among the run's families (or ``family`` itself if it is one)."""
    if not isinstance(family, str):
        return family
    check("family", family, OneOf(config.families))
    return next(f for f in families(config) if f.name == family)


def model_params(config: Config, family: str | Family, seed: int) -> dict[str, Any]:
    """Return the parameters the trained model of ``family`` and ``seed`` depends on."""
    return {"data": data_params(config), "seed": int(seed), "randomness": config.randomness,
            **family_of(config, family).model_params(config)}


def explanation_params(config: Config, family: str | Family, seed: int, split: str,
                       method: str | None = None) -> dict[str, Any]:
    """Return the parameters the explanations of ``split`` by the model (``family``, ``seed``) depend on."""
    check("split", split, OneOf(SPLITS))
    method = check("method", method or config.method, OneOf(METHODS))
    family = family_of(config, family)
    return {"model": model_params(config, family, seed), "split": split, **family.explanation_params(config, method)}


# --- stages ---------------------------------------------------------------------------------------------------

def dataset(config: Config) -> Dataset:
    """Return the dataset of ``config``, from the artifact cache when present (stored as JSON, not a pickle)."""
    def build(folder: Path) -> dict[str, Any]:
        data = load_dataset(config)
        write_json(folder / "dataset.json", _dataset_to_json(data))
        return {split: len(data.split(split)) for split in ("train", *SPLITS)}

    folder = cached(config.artifacts, "data", data_params(config), build)
    return _read_dataset(str(folder / "dataset.json"))


@lru_cache(maxsize=4)
def _read_dataset(path: str) -> Dataset:
    return _dataset_from_json(json.loads(Path(path).read_text()))


def _dataset_to_json(data: Dataset) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for f in dataclasses.fields(data):
        value = getattr(data, f.name)
        out[f.name] = ({"split": {"texts": list(value.texts), "labels": value.labels.tolist(),
                                  "groups": list(value.groups)}} if isinstance(value, Split) else value)
    return out


def _dataset_from_json(tree: dict[str, Any]) -> Dataset:
    def field(value: Any) -> Any:
        if isinstance(value, dict) and "split" in value:
            part = value["split"]
            return Split(tuple(part["texts"]), np.asarray(part["labels"], dtype=np.int64), tuple(part["groups"]))
        return tuple(value) if isinstance(value, list) else value

    return Dataset(**{name: field(value) for name, value in tree.items()})


def training_set(config: Config, seed: int) -> tuple[tuple[str, ...], np.ndarray, int]:
    """Return ``(texts, labels, init_seed)``: what the model of ``seed`` trains on, and the seed of its weights,
    data order and dropout, per ``config.randomness`` (the same for every family at a seed).

    Under "seed+data" and "data" the texts are a bootstrap resample of the training set drawn from ``seed`` (each
    text repeated as often as drawn); under "data" every model starts from the run's first seed.
    """
    train = dataset(config).train
    if config.randomness == "seed":
        return train.texts, train.labels, seed
    n = len(train)
    counts = np.random.default_rng([RESAMPLE_STREAM, seed]).multinomial(n, np.full(n, 1.0 / n))
    rows = np.repeat(np.arange(n), counts)
    init_seed = seed if config.randomness == "seed+data" else config.seed
    return tuple(train.texts[i] for i in rows), train.labels[rows], init_seed


def train_seed(config: Config, family: str | Family, seed: int) -> Path:
    """Return the artifact folder of the model of ``family`` trained with ``seed`` (training it if needed).

    The folder's ``meta.json`` report holds the test accuracy on short and long texts and the training time.
    """
    family = family_of(config, family)
    data = dataset(config)

    def build(folder: Path) -> dict[str, Any]:
        texts, labels, init_seed = training_set(config, seed)
        report: dict[str, Any] = {"family": family.name, "seed": seed, "init_seed": init_seed,
                                  "n_distinct_train_texts": len(set(texts)),
                                  **family.train(config, texts, labels, init_seed, folder)}
        trained = family.load(config, folder)
        report.update({f"accuracy_{s}": accuracy(trained.logit_diff(data.split(s).texts), data.split(s).labels)
                       for s in SPLITS})
        log.info("trained %s seed %d: %s", family.name, seed, report)
        return report

    return cached(config.artifacts, "model", model_params(config, family, seed), build)


def load_model(config: Config, family: str | Family, seed: int) -> TrainedModel:
    """Return the trained model of ``family`` and ``seed`` (training it if needed); a transformer's has
    ``.network`` and ``.tokenizer``, a linear model's ``.model``."""
    family = family_of(config, family)
    return family.load(config, train_seed(config, family, seed))


def explain_seed(config: Config, family: str | Family, seed: int, split: str, method: str | None = None) -> Path:
    """Return the artifact folder of the word attributions of ``split`` by one model (computing them if needed).

    ``scores.npy`` holds every text's word scores concatenated (NaN where truncation cut a word), ``lengths.npy``
    the number of words of each text.
    """
    family = family_of(config, family)
    method = method or config.method
    params = explanation_params(config, family, seed, split, method)
    texts = dataset(config).split(split).texts

    def build(folder: Path) -> dict[str, Any]:
        seed_everything(seed)
        scores = load_model(config, family, seed).word_scores(texts, method)
        np.save(folder / "scores.npy", np.concatenate(scores).astype(np.float64))
        np.save(folder / "lengths.npy", np.array([len(s) for s in scores], dtype=np.int64))
        hidden = [int(np.isnan(s).sum()) for s in scores]
        if any(hidden):
            log.warning("%s: truncation at max_length=%d tokens hid %d words of %d texts from %s (seed %d)",
                        split, config.max_length, sum(hidden), np.count_nonzero(hidden), family.name, seed)
        return {"n_texts": len(texts), "n_nan_words": sum(hidden), "n_truncated_texts": int(np.count_nonzero(hidden))}

    return cached(config.artifacts, "explanations", params, build)


def seed_task(config: Config, seed: int, methods: Sequence[str] = (),
              method_splits: Sequence[str] = SPLITS) -> dict[str, Any]:
    """Train every family with ``seed`` and explain both test splits with the run's method (and ``methods`` on
    ``method_splits``); return the models' reports by family name."""
    seed_everything(seed)
    reports = {}
    for family in families(config):
        reports[family.name] = read_meta(train_seed(config, family, seed))["report"]
        for method, split in _explained_pairs(config, methods, method_splits):
            explain_seed(config, family, seed, split, method)
    return reports


def _run_methods(config: Config, methods: Sequence[str]) -> tuple[str, ...]:
    for method in methods:
        check("methods", method, OneOf(METHODS))
    return tuple(dict.fromkeys((config.method, *methods)))


def _method_splits(method_splits: Sequence[str]) -> tuple[str, ...]:
    if isinstance(method_splits, str) or not method_splits:
        raise ValueError(f"method_splits={method_splits!r} must be a non-empty sequence of splits; "
                         f"allowed: {', '.join(SPLITS)}")
    return tuple(check("method_splits", split, OneOf(SPLITS)) for split in method_splits)


def _explained_pairs(config: Config, methods: Sequence[str],
                     method_splits: Sequence[str]) -> list[tuple[str, str]]:
    """Return the (method, split) pairs a run explains: its own method on both splits, ``methods`` on
    ``method_splits``."""
    return [(method, split) for method in _run_methods(config, methods) for split in SPLITS
            if method == config.method or split in method_splits]


# --- results --------------------------------------------------------------------------------------------------

def _load_scores(folder: Path) -> list[np.ndarray]:
    scores, lengths = np.load(folder / "scores.npy"), np.load(folder / "lengths.npy")
    return np.split(scores, np.cumsum(lengths)[:-1])


def _explained(config: Config, split: str, method: str) -> tuple[dict[str, list[TextExplanations]], dict[str, int]]:
    """Return every family's explanations of ``split`` (words hidden from any family dropped from all) and the
    truncation counts of the split."""
    split_data = dataset(config).split(split)
    scores = {f.name: [_load_scores(explain_seed(config, f, s, split, method)) for s in config.seeds]
              for f in families(config)}
    # Truncation depends on the tokenizer only, so each family's first seed tells which words it hid.
    hidden = [np.logical_or.reduce([np.isnan(per_seed[0][i]) for per_seed in scores.values()])
              for i in range(len(split_data))]
    out = {}
    for name, per_seed in scores.items():
        out[name] = []
        for i, text in enumerate(split_data.texts):
            a = np.stack([seed_scores[i] for seed_scores in per_seed], axis=1)
            keep = ~np.isnan(a).any(axis=1) & ~hidden[i]
            words = tuple(w.text for w, k in zip(segment(text), keep) if k)
            out[name].append(TextExplanations(text, int(split_data.labels[i]), words, a[keep]))
    counts = {"n_texts": len(hidden), "truncated_texts": int(sum(h.any() for h in hidden)),
              "hidden_words": int(sum(h.sum() for h in hidden))}
    return out, counts


def results(config: Config, accuracy_table: pd.DataFrame, methods: Sequence[str] = (),
            method_splits: Sequence[str] = SPLITS) -> Results:
    """Return the :class:`~seedexplain.results.Results` of ``config``, loading every explanation once."""
    explained, rows = {}, []
    for method, split in _explained_pairs(config, methods, _method_splits(method_splits)):
        by_family, counts = _explained(config, split, method)
        explained.update({(name, split, method): texts for name, texts in by_family.items()})
        if method == config.method:
            rows.append({"split": split, "max_length": config.max_length, **counts})
    return Results(config, dataset(config), accuracy_table, explained, pd.DataFrame(rows))


def run(config: Config, *, methods: Sequence[str] = (), method_splits: Sequence[str] = SPLITS,
        scheduler: str | None = None) -> Results:
    """Return the results of ``config``: every seed trained and explained (from cache where possible).

    ``methods`` are attribution methods explained in addition to ``config.method`` (for comparisons), on the
    test splits ``method_splits`` only (``config.method`` explains both): a comparison read on short texts need
    not pay for the long ones, where integrated gradients costs the most.
    ``scheduler`` is the address of a Dask distributed scheduler (e.g. ``tcp://host:8786``) to run the per-seed
    tasks on a cluster; ``None`` runs them here, one after the other, logging one line per finished seed with
    the time elapsed and an estimate of the time left.
    """
    _run_methods(config, methods)
    method_splits = _method_splits(method_splits)
    start = time.perf_counter()
    dataset(config)  # build the split once, before seeds run in parallel
    if scheduler:
        from dask.distributed import Client

        with Client(scheduler) as client:
            n = config.n_seeds
            reports = client.gather(client.map(seed_task, [config] * n, config.seeds, [tuple(methods)] * n,
                                               [method_splits] * n, pure=False))
    else:
        reports = []
        for done, seed in enumerate(config.seeds, start=1):
            reports.append(seed_task(config, seed, methods, method_splits))
            elapsed = time.perf_counter() - start
            log.info("seed %d done (%d of %d, %s): %s elapsed, about %s left", seed, done, config.n_seeds,
                     ", ".join(config.families), _clock(elapsed), _clock(elapsed / done * (config.n_seeds - done)))
    rows = [{"family": name, "seed": report[name]["seed"], "split": s, "accuracy": report[name][f"accuracy_{s}"],
             "train_seconds": report[name]["train_seconds"]}
            for report in reports for name in config.families for s in SPLITS]
    table = pd.DataFrame(rows)
    _write_run_log(config, table, time.perf_counter() - start)
    return results(config, table, methods, method_splits)


def _clock(seconds: float) -> str:
    minutes, secs = divmod(int(round(seconds)), 60)
    return f"{minutes}:{secs:02d}"


def _write_run_log(config: Config, table: pd.DataFrame, seconds: float) -> None:
    """Save the run's config hash, randomness, versions, timings and accuracy per seed next to the artifacts."""
    folder = Path(config.artifacts) / "runs"
    folder.mkdir(parents=True, exist_ok=True)
    write_json(folder / f"{params_key(config.to_dict())}.json", {
        "config": config.to_dict(),
        "config_key": params_key(config.to_dict()),
        "randomness": config.randomness,
        "versions": {"seedexplain": __version__, "torch": torch.__version__, "numpy": np.__version__,
                     "python": platform.python_version()},
        "seconds": round(seconds, 2),
        "accuracy": json.loads(table.to_json(orient="records")),
    })
