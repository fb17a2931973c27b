"""How the per-seed tasks scale: wall time of a run with the local executor and with Dask clusters of n workers.

Each variant starts from an empty artifact folder, so every seed is trained and explained. Dask workers get one
torch thread each (n workers on n cores); the local executor keeps torch's default thread count. A measurement is
itself an artifact (:func:`measured_scaling`), keyed by the run, the worker counts and the machine's processor
count, so that re-rendering the book does not re-time it.
"""

from __future__ import annotations

import dataclasses
import logging
import tempfile
import time
from collections.abc import Iterable

import pandas as pd

from seedexplain import pipeline
from seedexplain.artifacts import cached_value, machine
from seedexplain.config import Config, make_config
from seedexplain.constraints import OneOf, check

log = logging.getLogger(__name__)

SCALING_RUNS = {
    # Seconds, for CI: the synthetic task and the tiny BERT.
    "quick": dict(dataset="synthetic", transformer="tiny-bert", n_seeds=2, n_train=48, n_test_short=8,
                  n_test_long=4, long_k=3),
    # The study's model and task at the quick profile's sizes, 4 seeds: one to two minutes per executor.
    "full": dict(n_seeds=4, n_train=400, n_test_short=20, n_test_long=10),
}
"""The run each profile times (see :func:`scaling_config`)."""


def scaling_config(profile: str, **overrides: object) -> Config:
    """Return the configuration timed by the scaling measurement of ``profile`` (``SCALING_RUNS``), with overrides."""
    check("profile", profile, OneOf(tuple(SCALING_RUNS)))
    return make_config("quick", **{**SCALING_RUNS[profile], **overrides})


def _one_thread() -> None:
    """Limit torch to one intra-op thread (run in every worker process)."""
    import torch

    torch.set_num_threads(1)


def time_executors(config: Config, n_workers: Iterable[int] = (1, 2)) -> pd.DataFrame:
    """Return the wall time of ``pipeline.run(config)`` with the local executor and with a Dask ``LocalCluster``
    of each number of ``n_workers`` processes: columns ``executor``, ``workers``, ``seconds``, ``seconds_per_seed``
    and ``speedup`` (over the smallest cluster). ``config.artifacts`` is replaced by a fresh folder per variant.
    """
    from dask.distributed import Client, LocalCluster

    n_workers = list(n_workers)
    if not n_workers or any(not isinstance(n, int) or n < 1 for n in n_workers):
        raise ValueError(f"n_workers={n_workers!r} must be a non-empty list of integers >= 1")
    variants = [("local", 0)] + [("dask", n) for n in n_workers]
    rows = []
    for executor, workers in variants:
        with tempfile.TemporaryDirectory() as folder:
            variant = dataclasses.replace(config, artifacts=folder)
            pipeline.dataset(variant)  # the split is shared input, not per-seed work
            start = time.perf_counter()
            if executor == "local":
                pipeline.run(variant)
            else:
                with LocalCluster(n_workers=workers, threads_per_worker=1, dashboard_address=None) as cluster:
                    with Client(cluster) as client:
                        client.run(_one_thread)
                    pipeline.run(variant, scheduler=cluster.scheduler_address)
            seconds = time.perf_counter() - start
        log.info("%s executor, %d worker(s): %.1f s for %d seeds", executor, workers, seconds, config.n_seeds)
        rows.append(dict(executor=executor, workers=workers, seconds=seconds,
                         seconds_per_seed=seconds / config.n_seeds))
    table = pd.DataFrame(rows)
    table["speedup"] = table[table.executor == "dask"].sort_values("workers").seconds.iloc[0] / table.seconds
    return table


def measured_scaling(config: Config, n_workers: Iterable[int], artifacts: str) -> pd.DataFrame:
    """Return :func:`time_executors` of ``config`` and ``n_workers``, measured once per machine and cached in
    ``artifacts`` (stage ``scaling``)."""
    n_workers = list(n_workers)
    params = {"run": config.cache_key(), "n_workers": n_workers, **machine()}
    return cached_value(artifacts, "scaling", params, lambda: time_executors(config, n_workers))
