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
from seedexplain.constraints import (
    AGGREGATIONS,
    DEVICES,
    FINE_TUNING,
    LINEAR_MODELS,
    LINEAR_SOLVERS,
    METHODS,
    NON_NEGATIVE_INT,
    POSITIVE,
    POSITIVE_INT,
    PRECISIONS,
    PROFILES,
    SEEDS,
    Constraint,
    Integer,
    OneOf,
    check,
)
from seedexplain.registry import TASKS, TransformerName, resolve

DATASETS = tuple(TASKS)
RANDOMNESS = ("seed", "seed+data", "data")
"""What differs between the seeds of a run, identically for every family: ``seed`` the initialisation, data order
and dropout; ``seed+data`` those and a bootstrap resample of the training set drawn from the seed; ``data`` only the
resample (initialisation, order and dropout fixed by the run's first seed)."""
FAMILY_KINDS = ("transformer", "linear")
MODEL_MAX_LENGTH = 512  # position embeddings of every supported encoder


class DatasetName(Constraint):
    """A registered dataset name or the path of an existing CSV file."""

    def accepts(self, value: object) -> bool:
        return value in DATASETS or (isinstance(value, str) and value.endswith(".csv") and Path(value).is_file())

    def describe(self) -> str:
        return (f"is not one of {', '.join(map(repr, DATASETS))} nor the path of an existing .csv file "
                "(columns text, label, group)")

    def invalid(self) -> object:
        return "no-such-dataset"


class FamilySpecs(Constraint):
    """A tuple of at least one family: ``transformer`` or ``linear`` (the run's ``transformer`` / ``linear``), or
    ``transformer:<name or folder>`` / ``linear:<kind>`` for a family of its own; names unique."""

    def accepts(self, value: object) -> bool:
        if not isinstance(value, tuple) or not value or len(set(value)) != len(value):
            return False
        for spec in value:
            kind, _, variant = str(spec).partition(":")
            if kind not in FAMILY_KINDS:
                return False
            if variant and not (TransformerName() if kind == "transformer" else OneOf(LINEAR_MODELS)).accepts(variant):
                return False
        return True

    def describe(self) -> str:
        return ("must be distinct families, each 'transformer', 'linear', 'transformer:<registered name or model "
                f"folder>' or 'linear:<one of {', '.join(LINEAR_MODELS)}>'")

    def invalid(self) -> object:
        return ("svm",)


FIELD_CONSTRAINTS: dict[str, Constraint] = {
    "profile": OneOf(PROFILES),
    "dataset": DatasetName(),
    "families": FamilySpecs(),
    "transformer": TransformerName(),
    "linear": OneOf(LINEAR_MODELS),
    "method": OneOf(METHODS),
    "aggregate": OneOf(AGGREGATIONS),
    "randomness": OneOf(RANDOMNESS),
    "seed": NON_NEGATIVE_INT,
    "n_seeds": SEEDS,
    "split_seed": NON_NEGATIVE_INT,
    "n_train": Integer(4),
    "n_test_short": Integer(4),
    "n_test_long": Integer(4),
    "long_k": Integer(2),
    "epochs": POSITIVE_INT,
    "fine_tune": OneOf(FINE_TUNING),
    "training_precision": OneOf(PRECISIONS),
    "batch_size": POSITIVE_INT,
    "learning_rate": POSITIVE,
    "max_length": Integer(8, MODEL_MAX_LENGTH),
    "linear_solver": OneOf(LINEAR_SOLVERS),
    "linear_epochs": POSITIVE_INT,
    "linear_alpha": POSITIVE,
    "linear_tol": POSITIVE,
    "device": OneOf(DEVICES),
}
"""The constraint of every field of :class:`Config` but ``artifacts`` (a non-empty path)."""


@dataclass(frozen=True)
class Config:
    """Every parameter of a run. Build it with :func:`make_config` (profile defaults + overrides).

    Seeds are ``seed, seed + 1, ..., seed + n_seeds - 1``. What a seed changes is ``randomness``, the same for every
    family: with ``seed`` it fixes the new weights (the transformer's classification head, the linear model's
    starting point), the data order and dropout; ``seed+data`` adds a bootstrap resample of the training set (the
    same resample for every family at a seed). ``families`` names the model families the run compares: by default
    the transformer ``transformer`` and the linear model ``linear``. The train/test split depends on
    ``split_seed`` only, never on the training seeds.
    """

    profile: str = "full"
    dataset: str = "subjectivity"
    families: tuple[str, ...] = ("transformer", "linear")
    transformer: str = "minilm-l6"
    linear: str = "bow"
    method: str = "lrp"
    aggregate: str = "sum"
    randomness: str = "seed+data"
    seed: int = 0
    n_seeds: int = 10
    split_seed: int = 0
    n_train: int = 2000
    n_test_short: int = 200
    n_test_long: int = 50
    long_k: int = 6
    epochs: int = 1
    fine_tune: str = "all"
    training_precision: str = "float32"
    batch_size: int = 16
    learning_rate: float = 5e-5
    max_length: int = 256
    linear_solver: str = "lbfgs"
    linear_epochs: int = 10
    linear_alpha: float = 1e-4
    linear_tol: float = 1e-8
    device: str = "auto"
    artifacts: str = "artifacts"

    def __post_init__(self) -> None:
        for f in fields(self):
            object.__setattr__(self, f.name, _coerce(f.name, getattr(self, f.name), f.type))
        for name, constraint in FIELD_CONSTRAINTS.items():
            check(name, getattr(self, name), constraint)
        for model in (self.transformer, *(s.partition(":")[2] for s in self.families if s.startswith("transformer:"))):
            resolve(model)  # a model folder without config or tokenizer fails here, naming what is missing
        if not self.artifacts:
            raise ValueError("artifacts='' must be a folder path")

    @property
    def seeds(self) -> tuple[int, ...]:
        """Return the training seeds of this run."""
        return tuple(range(self.seed, self.seed + self.n_seeds))

    def to_dict(self) -> dict[str, Any]:
        """Return the parameters as a plain dict (JSON-serialisable)."""
        return dataclasses.asdict(self)

    def cache_key(self) -> dict[str, Any]:
        """Return what identifies this configuration's results: every field except where artifacts are stored
        and the fields of :data:`LATER_FIELDS` at their default (so that results cached before those fields
        existed stay valid, and a non-default value keys new ones)."""
        return {k: v for k, v in self.to_dict().items()
                if k != "artifacts" and not (k in LATER_FIELDS and v == LATER_FIELDS[k])}


LATER_FIELDS: dict[str, Any] = {"fine_tune": "all", "training_precision": "float32"}
"""Fields added after results were cached, with the default that reproduces those results."""


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
    check("profile", profile, OneOf(PROFILES))
    known = {f.name for f in fields(Config)}
    unknown = sorted(set(overrides) - known)
    if unknown:
        raise ValueError(f"unknown parameter(s) {', '.join(unknown)}; allowed: {', '.join(sorted(known))}")
    return Config(profile=profile, **{**PROFILE_DEFAULTS[profile], **overrides})


def params_key(params: dict[str, Any]) -> str:
    """Return a 16-hex-digit hash of ``params`` and the library version: the name of an artifact."""
    payload = json.dumps({**params, "version": __version__}, sort_keys=True, default=str)
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


def _coerce(name: str, value: Any, kind: Any) -> Any:
    """Return ``value`` as ``kind`` (int, float or str), accepting the strings papermill passes."""
    kind = {"int": int, "float": float, "str": str, "tuple[str, ...]": tuple}.get(kind, kind)
    if kind is tuple:
        if isinstance(value, str):
            value = tuple(part.strip() for part in value.split(",") if part.strip())
        if not isinstance(value, (tuple, list)) or not all(isinstance(v, str) for v in value):
            raise TypeError(f"{name}={value!r} must be a tuple of strings (or one comma-separated string)")
        return tuple(value)
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
