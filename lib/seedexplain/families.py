"""Model families behind one interface: what a trained model depends on, how one seed is trained, saved, loaded,
and what it explains.

A family is a small object built from a specification (:func:`family`): ``"transformer"`` (the run's
``transformer``), ``"linear"`` (the run's ``linear`` kind), ``"transformer:<name or folder>"`` or
``"linear:<kind>"``. Its ``name`` keys the run's results. Every trained model explains the same scalar, the logit
of class 1 minus the logit of class 0, word by word on the shared segmentation of :mod:`seedexplain.words`.
The pipeline (:mod:`seedexplain.pipeline`) caches what the families produce; it never asks which family it holds.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from seedexplain.artifacts import file_sha256
from seedexplain.config import LATER_FIELDS, Config
from seedexplain.constraints import method_key
from seedexplain.registry import TransformerEntry, resolve


class TrainedModel(Protocol):
    """A trained model of any family."""

    def logit_diff(self, texts: Sequence[str]) -> np.ndarray:
        """Return the explained scalar ``logit[1] − logit[0]`` of each text, shape (n_texts,)."""

    def word_scores(self, texts: Sequence[str], method: str) -> list[np.ndarray]:
        """Return each text's word attributions of the explained scalar, ``(n_words,)`` each (NaN: word unseen)."""


class Family(Protocol):
    """A model family: ``name`` keys its results, ``kind`` is "transformer" or "linear"."""

    name: str
    kind: str

    def model_params(self, config: Config) -> dict[str, Any]:
        """Return the parameters (beyond data and seed) the trained model depends on."""

    def explanation_params(self, config: Config, method: str) -> dict[str, Any]:
        """Return the parameters (beyond the model) its explanations depend on."""

    def train(self, config: Config, texts: Sequence[str], labels: np.ndarray, seed: int, folder: Path) -> dict:
        """Train one model from ``seed`` on ``texts``, save it into ``folder``; return its training report."""

    def load(self, config: Config, folder: Path) -> TrainedModel:
        """Return the model saved in ``folder``."""


# --- transformers ----------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class TrainedTransformer:
    """A fine-tuned sequence classifier (``network``, eval mode) with its ``tokenizer``."""

    network: Any
    tokenizer: Any
    max_length: int
    aggregate: str

    def logit_diff(self, texts: Sequence[str]) -> np.ndarray:
        """Return ``logit[1] − logit[0]`` of each text, shape (n_texts,)."""
        from seedexplain.forward import texts_logit_difference

        return texts_logit_difference(self.network, self.tokenizer, texts, max_length=self.max_length)

    def word_scores(self, texts: Sequence[str], method: str) -> list[np.ndarray]:
        """Return the word attributions of ``method`` (see :func:`seedexplain.attribution.word_attributions`)."""
        from seedexplain.attribution import word_attributions

        explanations = word_attributions(self.network, self.tokenizer, texts, method=method,
                                         max_length=self.max_length, aggregate=self.aggregate)
        return [e.scores for e in explanations]


@dataclass(frozen=True)
class TransformerFamily:
    """A pretrained transformer fine-tuned with a classification head drawn from the seed (``model``: a registered
    name or a model folder)."""

    name: str
    model: str
    kind: str = "transformer"

    def model_params(self, config: Config) -> dict[str, Any]:
        regime = {k: getattr(config, k) for k in ("fine_tune", "training_precision")
                  if getattr(config, k) != LATER_FIELDS[k]}
        return {"family": self.kind, "transformer": model_identity(self.model, config.artifacts),
                "epochs": config.epochs, "batch_size": config.batch_size, "learning_rate": config.learning_rate,
                "max_length": config.max_length, **regime}

    def explanation_params(self, config: Config, method: str) -> dict[str, Any]:
        return {**method_key(method), "aggregate": config.aggregate, "max_length": config.max_length}

    def train(self, config: Config, texts: Sequence[str], labels: np.ndarray, seed: int, folder: Path) -> dict:
        from seedexplain.models import load_transformer
        from seedexplain.train import fine_tune, resolve_device

        start = time.perf_counter()
        model, tokenizer = load_transformer(self.model, seed=seed, artifacts=config.artifacts)
        report = fine_tune(model, tokenizer, texts, labels, seed=seed, epochs=config.epochs,
                           batch_size=config.batch_size, learning_rate=config.learning_rate,
                           max_length=config.max_length, device=resolve_device(config.device),
                           trainable=config.fine_tune, precision=config.training_precision)
        report["train_seconds"] = round(time.perf_counter() - start, 2)
        model.save_pretrained(folder)
        return report

    def load(self, config: Config, folder: Path) -> TrainedTransformer:
        from seedexplain.models import load_finetuned, load_tokenizer
        from seedexplain.train import resolve_device

        return TrainedTransformer(load_finetuned(folder, resolve_device(config.device)),
                                  load_tokenizer(self.model, config.artifacts), config.max_length, config.aggregate)


def model_identity(model: str, artifacts: str) -> str:
    """Return what identifies a transformer in cache keys: its registered name, or a model folder's content hash
    (moving the folder keeps its artifacts; editing a file retrains). A registered model that a converter builds
    into the artifact cache is also identified by its artifact's key (the source's content hash and the
    converter's revision), so that a revised conversion retrains; a model shipped ready in a pinned package is
    identified by its name alone."""
    source = resolve(model)
    if isinstance(source, TransformerEntry):
        if source.source.startswith("seedexplain.converters:"):
            return f"{source.name}:{source.source_folder(artifacts).name}"
        return source.name
    files = sorted(p for p in source.rglob("*") if p.is_file())
    # "head-from-seed": since a checkpoint's own classification head is drawn again from the seed (not kept), the
    # key differs from the older one, so that no model trained with a kept head is served.
    return "folder-head-from-seed:" + _folder_digest(tuple(
        (str(p.relative_to(source)), p.stat().st_mtime_ns, p.stat().st_size, str(p)) for p in files))


@lru_cache(maxsize=8)
def _folder_digest(files: tuple[tuple[str, int, int, str], ...]) -> str:
    """Return a digest of the files' relative names and contents, hashed once per (names, times, sizes)."""
    digest = hashlib.sha256()
    for relative, _, _, path in files:
        digest.update(relative.encode() + b"\0" + file_sha256(Path(path)).encode())
    return digest.hexdigest()


# --- linear models ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class TrainedLinear:
    """A logistic regression over word features; its word attributions are exact (see :mod:`seedexplain.linear`)."""

    model: Any

    def logit_diff(self, texts: Sequence[str]) -> np.ndarray:
        """Return ``logit[1] − logit[0]`` of each text, shape (n_texts,)."""
        return self.model.decision(texts)

    def word_scores(self, texts: Sequence[str], method: str) -> list[np.ndarray]:
        """Return each word's exact contribution to the logit difference (``method`` does not apply)."""
        return [self.model.word_contributions(text) for text in texts]


@dataclass(frozen=True)
class LinearFamily:
    """Logistic regression on bag-of-words (``bow``) or linguistic (``features``) features."""

    name: str
    features: str
    kind: str = "linear"

    def model_params(self, config: Config) -> dict[str, Any]:
        params = {"family": self.kind, "linear": self.features, "linear_solver": config.linear_solver,
                  "linear_alpha": config.linear_alpha}
        if config.linear_solver == "sgd":
            params["linear_epochs"] = config.linear_epochs
        else:
            params["linear_tol"] = config.linear_tol
        return params

    def explanation_params(self, config: Config, method: str) -> dict[str, Any]:
        return {}  # exact contributions: no method, no tokenizer

    def train(self, config: Config, texts: Sequence[str], labels: np.ndarray, seed: int, folder: Path) -> dict:
        from seedexplain.linear import train_linear

        start = time.perf_counter()
        model = train_linear(texts, labels, kind=self.features, seed=seed, solver=config.linear_solver,
                             epochs=config.linear_epochs, alpha=config.linear_alpha, tol=config.linear_tol)
        report = {"train_seconds": round(time.perf_counter() - start, 2), **model.diagnostics}
        model.save(folder)
        return report

    def load(self, config: Config, folder: Path) -> TrainedLinear:
        from seedexplain.linear import LinearTextModel

        return TrainedLinear(LinearTextModel.load(folder))


def family(spec: str, config: Config) -> Family:
    """Return the family of ``spec`` ("transformer", "linear", "transformer:<model>" or "linear:<kind>")."""
    kind, _, variant = spec.partition(":")
    if kind == "transformer":
        return TransformerFamily(spec, variant or config.transformer)
    if kind == "linear":
        return LinearFamily(spec, variant or config.linear)
    raise ValueError(f"family={spec!r} is not 'transformer', 'linear', 'transformer:<model>' or 'linear:<kind>'")


def families(config: Config) -> tuple[Family, ...]:
    """Return the families the run of ``config`` compares, in its order."""
    return tuple(family(spec, config) for spec in config.families)
