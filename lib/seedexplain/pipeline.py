"""The study's stages, cached on disk: data split → trained model per (family, seed) → explanations → results.

Each stage is an artifact (see :mod:`seedexplain.artifacts`) keyed by the parameters it depends on, so a changed
parameter recomputes only what depends on it and an interrupted run resumes where it stopped. The per-seed work
(train, then explain) is independent across seeds and runs through an executor: local by default, or a Dask
distributed client for users with a cluster (the artifact folder must then be on a shared filesystem).
"""

from __future__ import annotations

import json
import logging
import pickle
import platform
import time
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from transformers import BertForSequenceClassification

from seedexplain import __version__
from seedexplain.artifacts import cached, file_sha256, read_meta, write_json
from seedexplain.config import Config, params_key
from seedexplain.data import Dataset, load_dataset
from seedexplain.linear import train_linear
from seedexplain.models import load_tokenizer, load_transformer
from seedexplain.progress import progress
from seedexplain.train import accuracy, fine_tune, resolve_device, seed_everything, transformer_logit_diff

log = logging.getLogger(__name__)

FAMILIES = ("transformer", "linear")
SPLITS = ("test_short", "test_long")


# --- parameters each stage depends on -------------------------------------------------------------------------

def data_params(config: Config) -> dict[str, Any]:
    """Return the parameters the data split depends on (a CSV dataset by its content's hash, not its path)."""
    keys = ("dataset", "n_train", "n_test_short", "n_test_long", "long_k", "split_seed")
    params = {k: getattr(config, k) for k in keys}
    if config.dataset.endswith(".csv"):
        path = Path(config.dataset).resolve()
        stat = path.stat()
        params["dataset"] = "csv:" + _content_digest(str(path), stat.st_mtime_ns, stat.st_size)
    return params


@lru_cache(maxsize=8)
def _content_digest(path: str, mtime_ns: int, size: int) -> str:
    """Return the SHA-256 of a file, hashed once per (path, modification time, size): every stage's parameters
    include the data's, so a CSV dataset would otherwise be re-read for each model and explanation."""
    return file_sha256(Path(path))


def model_params(config: Config, family: str, seed: int) -> dict[str, Any]:
    """Return the parameters the trained model of ``family`` and ``seed`` depends on."""
    _check_family(family)
    if family == "transformer":
        keys = ("transformer", "epochs", "batch_size", "learning_rate", "max_length")
    else:
        keys = ("linear", "linear_epochs", "linear_alpha")
    return {"data": data_params(config), "family": family, "seed": int(seed), **{k: getattr(config, k) for k in keys}}


def explanation_params(config: Config, family: str, seed: int, split: str, method: str | None = None) -> dict[str, Any]:
    """Return the parameters the explanations of ``split`` by the model (``family``, ``seed``) depend on."""
    if split not in SPLITS:
        raise ValueError(f"split={split!r} is not one of {', '.join(map(repr, SPLITS))}")
    params = {"model": model_params(config, family, seed), "split": split}
    if family == "transformer":
        params.update(method=method or config.method, aggregate=config.aggregate, max_length=config.max_length)
    return params


# --- stages ---------------------------------------------------------------------------------------------------

def dataset(config: Config) -> Dataset:
    """Return the dataset of ``config``, from the artifact cache when present."""
    def build(folder: Path) -> dict[str, Any]:
        data = load_dataset(config)
        with open(folder / "dataset.pkl", "wb") as handle:
            pickle.dump(data, handle)
        return {split: len(data.split(split)) for split in ("train", *SPLITS)}

    folder = cached(config.artifacts, "data", data_params(config), build)
    with open(folder / "dataset.pkl", "rb") as handle:
        return pickle.load(handle)


def train_seed(config: Config, family: str, seed: int) -> Path:
    """Return the artifact folder of the model of ``family`` trained with ``seed`` (training it if needed).

    The folder's ``meta.json`` report holds the test accuracy on short and long texts and the training time.
    """
    data = dataset(config)

    def build(folder: Path) -> dict[str, Any]:
        report: dict[str, Any] = {"family": family, "seed": seed}
        start = time.perf_counter()
        if family == "transformer":
            model, tokenizer = load_transformer(config.transformer, seed=seed)
            report.update(fine_tune(model, tokenizer, data.train.texts, data.train.labels, seed=seed,
                                    epochs=config.epochs, batch_size=config.batch_size,
                                    learning_rate=config.learning_rate, max_length=config.max_length,
                                    device=resolve_device(config.device)))
            report["train_seconds"] = round(time.perf_counter() - start, 2)
            model.save_pretrained(folder)
            scores = {s: transformer_logit_diff(model, tokenizer, data.split(s).texts, max_length=config.max_length)
                      for s in SPLITS}
        else:
            model = train_linear(data.train.texts, data.train.labels, kind=config.linear, seed=seed,
                                 epochs=config.linear_epochs, alpha=config.linear_alpha)
            report["train_seconds"] = round(time.perf_counter() - start, 2)
            with open(folder / "linear.pkl", "wb") as handle:
                pickle.dump(model, handle)
            scores = {s: model.decision(data.split(s).texts) for s in SPLITS}
        report.update({f"accuracy_{s}": accuracy(scores[s], data.split(s).labels) for s in SPLITS})
        log.info("trained %s seed %d: %s", family, seed, report)
        return report

    return cached(config.artifacts, "model", model_params(config, family, seed), build)


def load_model(config: Config, family: str, seed: int) -> Any:
    """Return the trained model of ``family`` and ``seed``: ``(model, tokenizer)`` or a LinearTextModel."""
    folder = train_seed(config, family, seed)
    if family == "linear":
        with open(folder / "linear.pkl", "rb") as handle:
            return pickle.load(handle)
    model = BertForSequenceClassification.from_pretrained(folder, attn_implementation="eager")
    return model.to(resolve_device(config.device)).eval(), load_tokenizer()


def explain_seed(config: Config, family: str, seed: int, split: str, method: str | None = None) -> Path:
    """Return the artifact folder of the word attributions of ``split`` by one model (computing them if needed).

    ``scores.npy`` holds every text's word scores concatenated (NaN where truncation cut a word), ``lengths.npy``
    the number of words of each text.
    """
    params = explanation_params(config, family, seed, split, method)
    texts = dataset(config).split(split).texts

    def build(folder: Path) -> dict[str, Any]:
        seed_everything(seed)
        model = load_model(config, family, seed)
        if family == "linear":
            scores = [model.word_contributions(text) for text in texts]
        else:
            from seedexplain.attribution import word_attributions

            net, tokenizer = model
            explanations = word_attributions(net, tokenizer, texts, method=params["method"],
                                             max_length=config.max_length, aggregate=config.aggregate)
            scores = [e.scores for e in explanations]
        np.save(folder / "scores.npy", np.concatenate(scores).astype(np.float64))
        np.save(folder / "lengths.npy", np.array([len(s) for s in scores], dtype=np.int64))
        hidden = [int(np.isnan(s).sum()) for s in scores]
        if any(hidden):
            log.warning("%s: truncation at max_length=%d tokens hid %d words of %d texts from the %s (seed %d)",
                        split, config.max_length, sum(hidden), np.count_nonzero(hidden), family, seed)
        return {"n_texts": len(texts), "n_nan_words": sum(hidden), "n_truncated_texts": int(np.count_nonzero(hidden))}

    return cached(config.artifacts, "explanations", params, build)


def seed_task(config: Config, seed: int) -> dict[str, Any]:
    """Train both families with ``seed`` and explain both test splits; return the models' reports."""
    seed_everything(seed)
    reports = {}
    for family in FAMILIES:
        reports[family] = read_meta(train_seed(config, family, seed))["report"]
        for split in SPLITS:
            explain_seed(config, family, seed, split)
    return reports


# --- results --------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class TextExplanations:
    """One text explained by every seed: ``attributions`` has shape (n_words, n_seeds), rows aligned to ``words``."""

    text: str
    label: int
    words: tuple[str, ...]
    attributions: np.ndarray


@dataclass(frozen=True)
class Results:
    """Accuracy per (family, seed, split) and cached explanations of a run."""

    config: Config
    accuracy: pd.DataFrame

    def explanations(self, family: str, split: str, method: str | None = None) -> list[TextExplanations]:
        """Return every text of ``split`` explained by the ``n_seeds`` models of ``family``.

        Words that truncation hid from the transformer (NaN in any seed) are dropped from both families, so
        that both explain the same words.
        """
        from seedexplain.words import segment

        split_data = dataset(self.config).split(split)
        per_seed = [_load_scores(explain_seed(self.config, family, s, split, method)) for s in self.config.seeds]
        # Truncation depends on the tokenizer only, so one transformer seed tells which words it hid.
        hidden = _load_scores(explain_seed(self.config, "transformer", self.config.seed, split, method))
        out = []
        for i, text in enumerate(split_data.texts):
            a = np.stack([scores[i] for scores in per_seed], axis=1)
            keep = ~np.isnan(a).any(axis=1) & ~np.isnan(hidden[i])
            words = tuple(w.text for w, k in zip(segment(text), keep) if k)
            out.append(TextExplanations(text, int(split_data.labels[i]), words, a[keep]))
        return out

    def truncation(self) -> pd.DataFrame:
        """Return, per test split, how many texts the transformer saw only in part (cut at ``max_length`` tokens)
        and how many of their words it never saw; those words are left out of every family's explanations."""
        rows = []
        for split in SPLITS:
            hidden = [int(np.isnan(s).sum()) for s in
                      _load_scores(explain_seed(self.config, "transformer", self.config.seed, split))]
            rows.append({"split": split, "max_length": self.config.max_length, "n_texts": len(hidden),
                         "truncated_texts": int(np.count_nonzero(hidden)), "hidden_words": sum(hidden)})
        return pd.DataFrame(rows)

    def snr_table(self, method: str | None = None, *, scale: str = "raw") -> pd.DataFrame:
        """Return per-text signal, noise and SNR (definition A, ``scale`` as in definition B) of every family
        and split: one row per (family, split, text) with the columns of :func:`seedexplain.snr.texts_snr`."""
        from seedexplain.snr import texts_snr

        frames = []
        for family in FAMILIES:
            for split in SPLITS:
                explanations = self.explanations(family, split, method)
                frame = texts_snr([e.attributions for e in explanations], scale=scale)
                frames.append(frame.assign(family=family, split=split, text=np.arange(len(frame)),
                                           label=[e.label for e in explanations]))
        return pd.concat(frames, ignore_index=True)


def _load_scores(folder: Path) -> list[np.ndarray]:
    scores, lengths = np.load(folder / "scores.npy"), np.load(folder / "lengths.npy")
    return np.split(scores, np.cumsum(lengths)[:-1])


def run(config: Config, *, scheduler: str | None = None) -> Results:
    """Return the results of ``config``: every seed trained and explained (from cache where possible).

    ``scheduler`` is the address of a Dask distributed scheduler (e.g. ``tcp://host:8786``) to run the per-seed
    tasks on a cluster; ``None`` runs them here, one after the other.
    """
    start = time.perf_counter()
    dataset(config)  # build the split once, before seeds run in parallel
    if scheduler:
        from dask.distributed import Client

        with Client(scheduler) as client:
            reports = client.gather(client.map(seed_task, [config] * config.n_seeds, config.seeds, pure=False))
    else:
        reports = [seed_task(config, s) for s in progress(config.seeds, desc="seeds")]
    rows = [{"family": f, "seed": r[f]["seed"], "split": s, "accuracy": r[f][f"accuracy_{s}"],
             "train_seconds": r[f]["train_seconds"]} for r in reports for f in FAMILIES for s in SPLITS]
    results = Results(config, pd.DataFrame(rows))
    _write_run_log(config, results.accuracy, time.perf_counter() - start)
    return results


def _write_run_log(config: Config, table: pd.DataFrame, seconds: float) -> None:
    """Save the run's config hash, versions, timings and accuracy per seed next to the artifacts."""
    folder = Path(config.artifacts) / "runs"
    folder.mkdir(parents=True, exist_ok=True)
    write_json(folder / f"{params_key(config.to_dict())}.json", {
        "config": config.to_dict(),
        "config_key": params_key(config.to_dict()),
        "versions": {"seedexplain": __version__, "torch": torch.__version__, "numpy": np.__version__,
                     "python": platform.python_version()},
        "seconds": round(seconds, 2),
        "accuracy": json.loads(table.to_json(orient="records")),
    })


def _check_family(family: str) -> None:
    if family not in FAMILIES:
        raise ValueError(f"family={family!r} is not one of {', '.join(map(repr, FAMILIES))}")
