"""Wall time of the per-seed tasks with the local executor and with a Dask LocalCluster of 1 and 2 workers.

Usage: .venv/bin/python benchmarks/executor.py [--n-seeds 4] [--n-train 200]
Each variant starts from an empty artifact folder, so every seed is trained and explained. Workers get one torch
thread each (two workers on two cores); the local executor uses torch's default threads.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("CI", "true")  # no progress bars

from dask.distributed import Client, LocalCluster  # noqa: E402

from seedexplain import pipeline  # noqa: E402
from seedexplain.config import make_config  # noqa: E402


def one_thread() -> None:
    """Limit torch to one thread in a worker process."""
    import torch

    torch.set_num_threads(1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-seeds", type=int, default=4)
    parser.add_argument("--n-train", type=int, default=200)
    args = parser.parse_args()
    timings = {}
    for variant in ("local", "dask-1-worker", "dask-2-workers"):
        with tempfile.TemporaryDirectory() as folder:
            config = make_config("quick", n_seeds=args.n_seeds, n_train=args.n_train, artifacts=folder)
            pipeline.dataset(config)
            start = time.perf_counter()
            if variant == "local":
                pipeline.run(config)
            else:
                workers = 1 if variant == "dask-1-worker" else 2
                with LocalCluster(n_workers=workers, threads_per_worker=1, dashboard_address=None) as cluster:
                    with Client(cluster) as client:
                        client.run(one_thread)
                    pipeline.run(config, scheduler=cluster.scheduler_address)
            timings[variant] = time.perf_counter() - start
            print(f"{variant:>16}: {timings[variant]:7.1f} s for {args.n_seeds} seeds")
    print(f"speed-up of 2 workers over 1 worker: {timings['dask-1-worker'] / timings['dask-2-workers']:.2f}x")


if __name__ == "__main__":
    main()
