"""One frozen, validated configuration for a study run, and the profiles that fill it.

Values may arrive as strings (papermill ``-p`` or ``-r``, environment variables): every field is coerced to its type
and checked when the object is built, so a bad value fails with a message naming the parameter, the value and what
is allowed, before any data is read or any model is trained.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from seedexplain import __version__

DATASETS = ("subjectivity", "synthetic")
TRANSFORMERS = ("minilm", "tiny-bert")
LINEAR_MODELS = ("bow", "features")
METHODS = (
    "grad_x_input",
    "saliency",
    "integrated_gradients",
    "occlusion",
    "kernel_shap",
    "lrp",
    "attention_last",
    "attention_rollout",
)
AGGREGATIONS = ("sum", "mean", "max_abs", "first")
DEVICES = ("auto", "cpu", "cuda")
PROFILES = ("quick", "full")
MODEL_MAX_LENGTH = 512  # position embeddings of every supported encoder


@dataclass(frozen=True)
class Config:
    """Every parameter of a run. Build it with :func:`make_config` (profile defaults + overrides).

    Seeds are ``seed, seed + 1, ..., seed + n_seeds - 1``; a seed fixes the classification head's initialisation,
    the data order and dropout of the transformer, and the initial weights and data order of the linear model.
    The train/test split depends on ``split_seed`` only, never on the training seeds.
    """

    profile: str = "full"
    dataset: str = "subjectivity"
    transformer: str = "minilm"
    linear: str = "bow"
    method: str = "lrp"
    aggregate: str = "sum"
    seed: int = 0
    n_seeds: int = 10
    split_seed: int = 0
    n_train: int = 2000
    n_test_short: int = 200
    n_test_long: int = 50
    long_k: int = 6
    epochs: int = 1
    batch_size: int = 16
    learning_rate: float = 5e-5
    max_length: int = 256
    linear_epochs: int = 10
    linear_alpha: float = 1e-4
    device: str = "auto"
    artifacts: str = "artifacts"

    def __post_init__(self) -> None:
        for f in fields(self):
            object.__setattr__(self, f.name, _coerce(f.name, getattr(self, f.name), f.type))
        _choice("profile", self.profile, PROFILES)
        _check_dataset(self.dataset)
        _choice("transformer", self.transformer, TRANSFORMERS)
        _choice("linear", self.linear, LINEAR_MODELS)
        _choice("method", self.method, METHODS)
        _choice("aggregate", self.aggregate, AGGREGATIONS)
        _choice("device", self.device, DEVICES)
        _at_least("n_seeds", self.n_seeds, 2)
        _at_least("seed", self.seed, 0)
        _at_least("split_seed", self.split_seed, 0)
        for name in ("n_train", "n_test_short", "n_test_long"):
            _at_least(name, getattr(self, name), 4)
        _at_least("long_k", self.long_k, 2)
        for name in ("epochs", "batch_size", "linear_epochs"):
            _at_least(name, getattr(self, name), 1)
        for name in ("learning_rate", "linear_alpha"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name}={getattr(self, name)!r} must be > 0")
        if not 8 <= self.max_length <= MODEL_MAX_LENGTH:
            raise ValueError(
                f"max_length={self.max_length!r} must be between 8 and {MODEL_MAX_LENGTH} (the model's limit)"
            )
        if not self.artifacts:
            raise ValueError("artifacts='' must be a folder path")

    @property
    def seeds(self) -> tuple[int, ...]:
        """Return the training seeds of this run."""
        return tuple(range(self.seed, self.seed + self.n_seeds))

    def to_dict(self) -> dict[str, Any]:
        """Return the parameters as a plain dict (JSON-serialisable)."""
        return dataclasses.asdict(self)


PROFILE_DEFAULTS: dict[str, dict[str, Any]] = {
    # A few minutes on 2 cores: for CI and for trying things out.
    "quick": dict(n_seeds=3, n_train=400, n_test_short=20, n_test_long=10, epochs=1, linear_epochs=10),
    # The book's numbers.
    "full": dict(n_seeds=10, n_train=2000, n_test_short=200, n_test_long=50, epochs=1, linear_epochs=10),
}


def make_config(profile: str = "full", **overrides: Any) -> Config:
    """Return the validated :class:`Config` of ``profile`` with ``overrides`` applied.

    Unknown parameter names are an error (a typo must not silently fall back to a default).
    """
    _choice("profile", profile, PROFILES)
    known = {f.name for f in fields(Config)}
    unknown = sorted(set(overrides) - known)
    if unknown:
        raise ValueError(f"unknown parameter(s) {', '.join(unknown)}; allowed: {', '.join(sorted(known))}")
    return Config(profile=profile, **{**PROFILE_DEFAULTS[profile], **overrides})


def params_key(params: dict[str, Any]) -> str:
    """Return a 16-hex-digit hash of ``params`` and the library version: the name of an artifact."""
    payload = json.dumps({**params, "version": __version__}, sort_keys=True, default=str)
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


def _choice(name: str, value: Any, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise ValueError(f"{name}={value!r} is not one of {', '.join(map(repr, allowed))}")


def _check_dataset(value: str) -> None:
    if value in DATASETS or (value.endswith(".csv") and Path(value).is_file()):
        return
    raise ValueError(f"dataset={value!r} is not one of {', '.join(map(repr, DATASETS))} nor the path of an existing "
                     ".csv file (columns text, label, group)")


def _at_least(name: str, value: int, low: int) -> None:
    if value < low:
        raise ValueError(f"{name}={value!r} must be an integer >= {low}")


def _coerce(name: str, value: Any, kind: Any) -> Any:
    """Return ``value`` as ``kind`` (int, float or str), accepting the strings papermill passes."""
    kind = {"int": int, "float": float, "str": str}.get(kind, kind)
    if kind is int:
        if isinstance(value, bool):
            raise TypeError(f"{name}={value!r} must be an integer, not a boolean")
        if isinstance(value, str):
            try:
                value = float(value.strip())
            except ValueError:
                raise TypeError(f"{name}={value!r} must be an integer") from None
        if isinstance(value, float):
            if not value.is_integer():
                raise TypeError(f"{name}={value!r} must be an integer")
            value = int(value)
        if not isinstance(value, int):
            raise TypeError(f"{name}={value!r} must be an integer")
        return value
    if kind is float:
        try:
            return float(value)
        except (TypeError, ValueError):
            raise TypeError(f"{name}={value!r} must be a number") from None
    if not isinstance(value, str):
        raise TypeError(f"{name}={value!r} must be a string")
    return value
