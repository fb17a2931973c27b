"""Artifacts on disk: one folder per (stage, parameters), written atomically and verified when read.

``<root>/<stage>/<key>/`` holds the files a stage wrote and ``meta.json`` (parameters, library version, file
checksums, timings, and whatever the stage reports). The key is a hash of the parameters and the library version,
so a changed parameter or version gets a new folder. A folder is built under a temporary name and renamed into
place only when complete; a folder whose ``meta.json`` is missing, unreadable, from another version or whose files
do not match their checksums is treated as absent and rebuilt.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import hashlib
import importlib
import inspect
import json
import logging
import os
import platform
import shutil
import socket
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import pandas as pd

from seedexplain import __version__
from seedexplain.config import params_key
from seedexplain.constraints import METHOD_REVISIONS

log = logging.getLogger(__name__)

META = "meta.json"
T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., Any])


def artifact_path(root: str | os.PathLike, stage: str, params: dict[str, Any]) -> Path:
    """Return the folder of the artifact of ``stage`` built from ``params`` (it may not exist yet)."""
    return Path(root) / stage / params_key(params)


def cached(root: str | os.PathLike, stage: str, params: dict[str, Any], build: Callable[[Path], dict[str, Any]],
           *, force: bool = False) -> Path:
    """Return the folder of a valid artifact, building it with ``build(tmp_folder) -> report`` if needed.

    ``build`` writes its files into the temporary folder it is given and returns a JSON-serialisable report that
    is stored in ``meta.json`` under ``"report"``. ``force`` rebuilds even a valid artifact.
    """
    final = artifact_path(root, stage, params)
    if not force and read_meta(final) is not None:
        return final
    final.parent.mkdir(parents=True, exist_ok=True)
    for leftover in final.parent.glob(f".tmp-{final.name}-*"):
        if not _builder_alive(leftover):  # a killed run's partial build; a live builder's is left alone
            log.warning("removing %s, left by an interrupted run", leftover)
            shutil.rmtree(leftover, ignore_errors=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{final.name}-{socket.gethostname()}-{os.getpid()}-", dir=final.parent))
    try:
        start = time.perf_counter()
        with _peak_memory() as peak:
            report = build(tmp)
        meta = {
            "stage": stage,
            "params": params,
            "version": __version__,
            "seconds": round(time.perf_counter() - start, 3),
            "peak_rss_mb": peak.get("mb"),
            "report": report,
            "files": {p.name: file_sha256(p) for p in sorted(tmp.iterdir())},
        }
        _write_text(tmp / META, json.dumps(meta, indent=1, sort_keys=True, default=str))
        if final.exists():
            shutil.rmtree(final)
        os.replace(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    log.info("%s artifact written to %s (%.1f s)", stage, final, meta["seconds"])
    return final


_OPEN_BUILDS: list[float] = []
"""The peak resident memory (MB) seen so far by each build in progress, outermost first (builds nest: a model's
build reads the dataset's artifact)."""


def _rss_peak_mb() -> float | None:
    """Return the process's peak resident memory since it was last reset (Linux's VmHWM), in MB, or None where
    ``/proc`` does not report it."""
    try:
        status = Path("/proc/self/status").read_text()
    except OSError:
        return None
    line = next((row for row in status.splitlines() if row.startswith("VmHWM:")), None)
    return int(line.split()[1]) / 1024 if line else None


def _reset_rss_peak() -> None:
    """Reset the process's peak resident memory to its current size (Linux ≥ 4.0; elsewhere nothing happens)."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pass


@contextlib.contextmanager
def _peak_memory() -> Iterator[dict[str, float | None]]:
    """Measure the peak resident memory of the enclosed build into the yielded dict's ``"mb"`` (None where the
    system does not report it). The peak is reset at the start, so it is the build's own, not the process's
    running maximum; an enclosing build keeps the larger of its own and its inner builds' peaks."""
    outer = _rss_peak_mb()
    if _OPEN_BUILDS and outer is not None:
        _OPEN_BUILDS[-1] = max(_OPEN_BUILDS[-1], outer)
    _reset_rss_peak()
    _OPEN_BUILDS.append(0.0)
    result: dict[str, float | None] = {"mb": None}
    try:
        yield result
    finally:
        inner = _OPEN_BUILDS.pop()
        now = _rss_peak_mb()
        if now is not None:
            result["mb"] = round(max(inner, now), 1)
            if _OPEN_BUILDS:
                _OPEN_BUILDS[-1] = max(_OPEN_BUILDS[-1], result["mb"])


def read_meta(folder: str | os.PathLike) -> dict[str, Any] | None:
    """Return the metadata of a complete, intact artifact folder, or None (missing, partial, stale or corrupt)."""
    folder = Path(folder)
    try:
        meta = json.loads((folder / META).read_text())
    except (OSError, ValueError):
        if folder.exists():
            log.warning("artifact %s is incomplete or unreadable: rebuilding it", folder)
        return None
    if meta.get("version") != __version__:
        log.warning("artifact %s is from version %s, not %s: rebuilding it", folder, meta.get("version"), __version__)
        return None
    for name, digest in meta.get("files", {}).items():
        path = folder / name
        if not path.is_file() or file_sha256(path) != digest:
            log.warning("artifact file %s is missing or corrupt: rebuilding %s", path, folder)
            return None
    return meta


def cached_value(root: str | os.PathLike, stage: str, params: dict[str, Any], compute: Callable[[], T]) -> T:
    """Return ``compute()``, computed once per ``params`` and kept in the artifact ``stage`` as ``value.json``.

    For a notebook's costly results (probes, method comparisons) that are not models or explanations. ``params``
    must name everything the value depends on (prefer :func:`cached_call`, which builds them from the function's
    arguments); a value that holds timings should include :func:`machine`. The value is stored as JSON (see
    :func:`encode_value`), never as a pickle, so opening someone else's cache cannot run code.
    """
    def build(folder: Path) -> dict[str, Any]:
        _write_text(folder / "value.json", json.dumps(encode_value(compute()), allow_nan=True))
        return {}

    return decode_value(json.loads((cached(root, stage, params, build) / "value.json").read_text()))


def cached_call(root: str | os.PathLike, stage: str, func: Callable[..., T], /, **kwargs: Any) -> T:
    """Return ``func(**kwargs)``, cached in ``stage`` under a key built from *every* argument of ``func``.

    The key holds the function's qualified name and all its arguments after defaults are applied, so that changing
    any argument (or a default) computes a new value: a hand-written key cannot forget one. Arguments must be
    JSON-serialisable values or objects with a ``cache_key()`` method (a :class:`~seedexplain.config.Config`).
    """
    return cached_value(root, stage, call_key(func, **kwargs), lambda: func(**kwargs))


def revision(number: int) -> Callable[[F], F]:
    """Return a decorator that marks the results of a function as changed by the code (revision ``number``).

    Keys hold arguments, not code: when a fix changes what a function cached with :func:`cached_call` returns,
    raising its revision makes every cache compute the new value instead of serving the old one.
    """
    def mark(func: F) -> F:
        func.__revision__ = number  # type: ignore[attr-defined]
        return func

    return mark


def call_key(func: Callable[..., Any], /, **kwargs: Any) -> dict[str, Any]:
    """Return the parameters that identify ``func(**kwargs)``: its name, its :func:`revision` (when set), every
    argument, defaults applied, and the revision of every attribution method the arguments name (see
    :data:`seedexplain.constraints.METHOD_REVISIONS`; a revised method changes the key as another method would)."""
    bound = inspect.signature(func).bind(**kwargs)
    bound.apply_defaults()
    arguments = {name: value.cache_key() if hasattr(value, "cache_key") else value
                 for name, value in bound.arguments.items()}
    key = {"function": f"{func.__module__}.{func.__qualname__}", "arguments": arguments}
    if hasattr(func, "__revision__"):
        key["revision"] = func.__revision__
    revised = {m: METHOD_REVISIONS[m] for m in sorted(_strings(arguments)) if METHOD_REVISIONS.get(m, 1) > 1}
    if revised:
        key["method_revisions"] = revised
    return key


def _strings(value: Any) -> set[str]:
    """Return every string in ``value`` and in the values and items of its dicts, lists and tuples."""
    if isinstance(value, str):
        return {value}
    if isinstance(value, dict):
        value = list(value.values())
    if isinstance(value, (list, tuple)):
        return set().union(*(_strings(v) for v in value))
    return set()


_TAG = "__seedexplain__"


def encode_value(value: Any) -> Any:
    """Return ``value`` as a JSON-ready tree: DataFrames, NumPy arrays and scalars, tuples and the library's own
    dataclasses are tagged so that :func:`decode_value` rebuilds them exactly (floats keep every bit)."""
    if isinstance(value, pd.DataFrame):
        return {_TAG: "frame", "columns": [encode_value(c) for c in value.columns],
                "index": encode_value(value.index.to_numpy()), "index_name": value.index.name,
                "data": [encode_value(value[c].to_numpy()) for c in value.columns]}
    if isinstance(value, np.ndarray):
        if value.dtype == object:
            return {_TAG: "objects", "items": [encode_value(v) for v in value.tolist()]}
        return {_TAG: "array", "dtype": value.dtype.str, "shape": list(value.shape), "data": value.ravel().tolist()}
    if isinstance(value, np.generic):
        return value.item()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        cls = type(value)
        if not cls.__module__.startswith("seedexplain."):
            raise TypeError(f"cannot store a {cls.__qualname__}: only seedexplain's own dataclasses are stored")
        return {_TAG: "dataclass", "class": f"{cls.__module__}:{cls.__qualname__}",
                "fields": {f.name: encode_value(getattr(value, f.name)) for f in dataclasses.fields(value)}}
    if isinstance(value, tuple):
        return {_TAG: "tuple", "items": [encode_value(v) for v in value]}
    if isinstance(value, list):
        return [encode_value(v) for v in value]
    if isinstance(value, dict):
        if not all(isinstance(k, str) for k in value):
            raise TypeError("cannot store a dict whose keys are not all strings")
        return {k: encode_value(v) for k, v in value.items()}
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise TypeError(f"cannot store a value of type {type(value).__qualname__}")


def decode_value(tree: Any) -> Any:
    """Return the value that :func:`encode_value` encoded as ``tree``."""
    if isinstance(tree, list):
        return [decode_value(v) for v in tree]
    if not isinstance(tree, dict):
        return tree
    kind = tree.get(_TAG)
    if kind is None:
        return {k: decode_value(v) for k, v in tree.items()}
    if kind == "frame":
        index = pd.Index(decode_value(tree["index"]), name=tree["index_name"])
        columns = [decode_value(c) for c in tree["columns"]]
        return pd.DataFrame(dict(zip(columns, (decode_value(d) for d in tree["data"]))), index=index)[columns]
    if kind == "array":
        return np.array(tree["data"], dtype=np.dtype(tree["dtype"])).reshape(tree["shape"])
    if kind == "objects":
        return np.array([decode_value(v) for v in tree["items"]], dtype=object)
    if kind == "tuple":
        return tuple(decode_value(v) for v in tree["items"])
    if kind == "dataclass":
        module, _, name = tree["class"].partition(":")
        if not module.startswith("seedexplain."):
            raise ValueError(f"refusing to build {tree['class']}: not a seedexplain class")
        cls = getattr(importlib.import_module(module), name)
        if not dataclasses.is_dataclass(cls):
            raise ValueError(f"refusing to build {tree['class']}: not a dataclass")
        return cls(**{k: decode_value(v) for k, v in tree["fields"].items()})
    raise ValueError(f"unknown stored value kind {kind!r}")


def machine() -> dict[str, Any]:
    """Return what identifies this machine's speed in the parameters of a cached timing: processor and count."""
    return {"machine": platform.machine(), "processor": platform.processor(), "cpu_count": os.cpu_count()}


def _builder_alive(folder: Path) -> bool:
    """Return False only if ``folder`` was made by a process of this host that no longer exists."""
    parts = folder.name.split("-")
    host, pid = "-".join(parts[2:-2]), parts[-2]
    if host != socket.gethostname() or not pid.isdigit():
        return True  # another machine's build (shared filesystem): cannot tell, keep it
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def write_json(path: Path, obj: Any) -> None:
    """Write ``obj`` as JSON to ``path`` atomically."""
    _write_text(path, json.dumps(obj, indent=1, sort_keys=True, default=str))


def _write_text(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def file_sha256(path: Path) -> str:
    """Return the SHA-256 hex digest of the file at ``path``, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def content_sha256(path: str | os.PathLike) -> str:
    """Return :func:`file_sha256` of ``path``, computed once per process while the file keeps its modification time
    and size (cache keys that name a data or model file's content would otherwise re-read it for every stage)."""
    path = Path(path).resolve()
    stat = path.stat()
    return _content_sha256(str(path), stat.st_mtime_ns, stat.st_size)


@functools.lru_cache(maxsize=64)
def _content_sha256(path: str, mtime_ns: int, size: int) -> str:
    return file_sha256(Path(path))
