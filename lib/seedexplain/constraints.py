"""Constraints on parameters, declared once: the allowed values and ranges, and the messages that report them.

Every public entry point checks its parameters against these before any work, so that a bad value fails with a
message naming the parameter, the value and what is allowed. Functions declare their constraints with
:func:`validated` (the constraints are kept on the function as ``__constraints__``, which the generated test
``tests/test_constraints.py`` reads to feed every constrained parameter an invalid value); the run configuration
declares its fields' constraints in :data:`seedexplain.config.FIELD_CONSTRAINTS`.

The named choices used across modules live here so that each list is written once.
"""

from __future__ import annotations

import functools
import inspect
import math
import numbers
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])

# --- named choices shared by several modules --------------------------------------------------------------------

METHODS = ("grad_x_input", "saliency", "integrated_gradients", "occlusion", "kernel_shap", "lrp", "attention_last",
           "attention_rollout")
"""Attribution methods of :func:`seedexplain.attribution.word_attributions`."""
METHOD_REVISIONS: dict[str, int] = {
    "lrp": 2,  # 2: a token's relevance is its word-embedding part (position/type embeddings reported apart)
}
"""Revision of every method whose scores changed after they were first cached (absent: 1); it enters the cache
keys of explanations (see :func:`method_key`), so that a fix is recomputed, never served stale."""


def method_key(method: str) -> dict[str, object]:
    """Return what identifies ``method``'s scores in a cache key: its name, and its revision when above 1 (keys
    made before revisions existed stay valid)."""
    revision = METHOD_REVISIONS.get(method, 1)
    return {"method": method, **({"method_revision": revision} if revision > 1 else {})}


AGGREGATIONS = ("sum", "mean", "max_abs", "first")
"""How token scores are aggregated to a word (:func:`seedexplain.words.aggregate`)."""
SCALES = ("raw", "l1", "l2", "zscore")
"""Per-(text, seed) normalisations of explanations (definition B; :func:`seedexplain.snr.scale_columns`)."""
DEVICES = ("auto", "cpu", "cuda")
PROFILES = ("quick", "full")
LINEAR_MODELS = ("bow", "features")
"""Linear families: bag of words, or linguistic features."""
PRECISIONS = ("float32", "bfloat16")
"""Arithmetic of a transformer's fine-tuning: float32, or bfloat16 autocast of the forward pass (weights, their
updates and every explanation stay float32)."""
FINE_TUNING = ("all", "head")
"""What fine-tuning a transformer trains: every weight, or only the new classification head (the pretrained body
frozen: the seed then moves only the head, the data order and the resample)."""
LINEAR_SOLVERS = ("lbfgs", "sgd")
"""How a linear model is trained: to convergence (L-BFGS) or for a budget of SGD epochs."""
SPLITS = ("test_short", "test_long")
"""The test splits every model explains."""
DELETIONS = ("remove", "mask")
"""How a word is taken out of a text: its tokens are removed (the text closes up), or each becomes [MASK]."""


# --- constraint kinds -------------------------------------------------------------------------------------------

class Constraint:
    """A set of allowed values: :meth:`accepts` tells membership, :meth:`describe` says what is allowed."""

    def accepts(self, value: Any) -> bool:
        """Return True if ``value`` is allowed."""
        raise NotImplementedError

    def describe(self) -> str:
        """Return what is allowed, as the end of the sentence "``name=value`` ...", e.g. "must be >= 1"."""
        raise NotImplementedError

    def invalid(self) -> Any:
        """Return a value this constraint refuses (for the generated test)."""
        raise NotImplementedError


@dataclass(frozen=True)
class OneOf(Constraint):
    """One of a fixed tuple of values."""

    values: tuple[Any, ...]

    def accepts(self, value: Any) -> bool:
        try:
            return value in self.values
        except TypeError:  # unhashable or incomparable values are simply not allowed
            return False

    def describe(self) -> str:
        return f"is not one of {', '.join(map(repr, self.values))}"

    def invalid(self) -> Any:
        return "not-a-valid-choice"


@dataclass(frozen=True)
class Integer(Constraint):
    """An integer (not a bool) in ``[low, high]`` (a bound of None is open-ended)."""

    low: int | None = None
    high: int | None = None

    def accepts(self, value: Any) -> bool:
        if isinstance(value, bool) or not isinstance(value, numbers.Integral):
            return False
        return (self.low is None or value >= self.low) and (self.high is None or value <= self.high)

    def describe(self) -> str:
        if self.high is None:
            return f"must be an integer >= {self.low}"
        if self.low is None:
            return f"must be an integer <= {self.high}"
        return f"must be an integer between {self.low} and {self.high}"

    def invalid(self) -> Any:
        return self.low - 1 if self.low is not None else self.high + 1


@dataclass(frozen=True)
class Real(Constraint):
    """A finite number in an interval; ``closed`` says which ends belong to it ("both", "left", "right", "neither")."""

    low: float | None = None
    high: float | None = None
    closed: str = "both"

    def accepts(self, value: Any) -> bool:
        if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
            return False
        left = self.closed in ("both", "left")
        right = self.closed in ("both", "right")
        above = self.low is None or (value >= self.low if left else value > self.low)
        below = self.high is None or (value <= self.high if right else value < self.high)
        return bool(above and below)

    def describe(self) -> str:
        left = "[" if self.closed in ("both", "left") and self.low is not None else "("
        right = "]" if self.closed in ("both", "right") and self.high is not None else ")"
        low = "-inf" if self.low is None else f"{self.low:g}"
        high = "inf" if self.high is None else f"{self.high:g}"
        return f"must be a number in {left}{low}, {high}{right}"

    def invalid(self) -> Any:
        return self.low - 1.0 if self.low is not None else self.high + 1.0


@dataclass(frozen=True)
class OrNone(Constraint):
    """None (the parameter's "not set"), or a value that ``inner`` allows."""

    inner: Constraint

    def accepts(self, value: Any) -> bool:
        return value is None or self.inner.accepts(value)

    def describe(self) -> str:
        return f"{self.inner.describe()} (or None)"

    def invalid(self) -> Any:
        return self.inner.invalid()


POSITIVE_INT = Integer(1)
NON_NEGATIVE_INT = Integer(0)
SEEDS = Integer(2)
"""A number of seeds: noise needs at least two."""
PROBABILITY = Real(0.0, 1.0, closed="neither")
"""A level or a fraction strictly between 0 and 1."""
SHARE = Real(0.0, 1.0)
"""A share from 0 to 1, both included."""
POSITIVE = Real(0.0, None, closed="neither")
NON_NEGATIVE = Real(0.0, None)


# --- checking ---------------------------------------------------------------------------------------------------

def message(name: str, value: Any, constraint: Constraint) -> str:
    """Return the error message for parameter ``name`` given the refused ``value``."""
    return f"{name}={value!r} {constraint.describe()}"


def check(name: str, value: Any, constraint: Constraint) -> Any:
    """Return ``value`` if ``constraint`` accepts it; raise ``ValueError`` naming the parameter, the value and what
    is allowed otherwise."""
    if not constraint.accepts(value):
        raise ValueError(message(name, value, constraint))
    return value


def validated(**constraints: Constraint) -> Callable[[F], F]:
    """Return a decorator that checks the named arguments of a function against ``constraints`` before it runs.

    Only arguments the caller passes are checked (defaults are checked once, by the generated test). The
    constraints are kept on the function as ``__constraints__``.
    """
    def decorate(func: F) -> F:
        signature = inspect.signature(func)
        unknown = sorted(set(constraints) - set(signature.parameters))
        if unknown:
            raise TypeError(f"{func.__qualname__} has no parameter(s) {', '.join(unknown)}")

        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            bound = signature.bind_partial(*args, **kwargs)
            for name, constraint in constraints.items():
                if name in bound.arguments:
                    check(name, bound.arguments[name], constraint)
            return func(*args, **kwargs)

        wrapper.__constraints__ = dict(constraints)  # type: ignore[attr-defined]
        return wrapper  # type: ignore[return-value]

    return decorate
