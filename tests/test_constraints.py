"""Generated checks of every declared constraint (in the spirit of scikit-learn's test of its public functions).

Every public function decorated with :func:`seedexplain.constraints.validated` and every field of the run
configuration is fed an invalid value of each constrained parameter; the error must name the parameter, the value
and what is allowed, and must come before any work (the decorator checks before the body runs, so the other
arguments can be missing).
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import pytest

import seedexplain
from seedexplain import constraints
from seedexplain.config import FIELD_CONSTRAINTS, Config, make_config


def _modules():
    for info in pkgutil.walk_packages(seedexplain.__path__, "seedexplain."):
        yield importlib.import_module(info.name)


def _constrained_functions():
    seen = {}
    for module in _modules():
        for name, value in vars(module).items():
            if name.startswith("_") or getattr(value, "__module__", None) != module.__name__:
                continue
            candidates = [value] + ([m for n, m in vars(value).items() if not n.startswith("_")]
                                    if inspect.isclass(value) else [])
            for func in candidates:
                if callable(func) and hasattr(func, "__constraints__"):
                    seen[f"{module.__name__}.{getattr(func, '__qualname__', name)}"] = func
    return seen


FUNCTIONS = _constrained_functions()
CASES = [(name, param, constraint) for name, func in FUNCTIONS.items()
         for param, constraint in func.__constraints__.items()]


def test_functions_declare_constraints():
    assert len(FUNCTIONS) >= 5, f"only {sorted(FUNCTIONS)} declare their constraints"


@pytest.mark.parametrize("name,param,constraint", CASES, ids=[f"{n}:{p}" for n, p, _ in CASES])
def test_every_constrained_parameter_refuses_an_invalid_value(name, param, constraint):
    func = FUNCTIONS[name]
    bad = constraint.invalid()
    assert not constraint.accepts(bad)
    with pytest.raises(ValueError) as error:
        func(**{param: bad})
    assert str(error.value) == constraints.message(param, bad, constraint)
    assert f"{param}={bad!r}" in str(error.value)


@pytest.mark.parametrize("name,param,constraint", CASES, ids=[f"{n}:{p}" for n, p, _ in CASES])
def test_defaults_satisfy_their_constraints(name, param, constraint):
    default = inspect.signature(FUNCTIONS[name]).parameters[param].default
    if default is not inspect.Parameter.empty and default is not None:
        assert constraint.accepts(default), f"{name}: default {param}={default!r} {constraint.describe()}"


@pytest.mark.parametrize("field", sorted(FIELD_CONSTRAINTS))
def test_every_config_field_refuses_an_invalid_value(field):
    constraint = FIELD_CONSTRAINTS[field]
    bad = constraint.invalid()
    with pytest.raises(ValueError) as error:
        make_config("quick", **{field: bad}) if field != "profile" else make_config(bad)
    assert f"{field}={bad!r}" in str(error.value) and constraint.describe() in str(error.value)


def test_config_fields_are_all_constrained_and_defaults_valid():
    fields = set(Config.__dataclass_fields__) - {"artifacts"}
    assert fields == set(FIELD_CONSTRAINTS)
    Config()  # every default passes its constraint


@pytest.mark.parametrize("constraint,good,bad", [
    (constraints.Integer(2), [2, 10], [1, 2.5, True, "3"]),
    (constraints.Integer(8, 512), [8, 512], [7, 513]),
    (constraints.Real(0.0, 1.0, closed="neither"), [0.5, 1e-9], [0.0, 1.0, float("nan"), True]),
    (constraints.Real(0.0, None, closed="neither"), [1e-12, 3], [0, -1]),
    (constraints.OneOf(("a", "b")), ["a"], ["c", None, ["a"]]),
])
def test_constraint_kinds(constraint, good, bad):
    assert all(constraint.accepts(v) for v in good)
    assert not any(constraint.accepts(v) for v in bad)
