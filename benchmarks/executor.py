"""Wall time of the per-seed tasks with the local executor and with a Dask LocalCluster of 1 and 2 workers.

Usage: .venv/bin/python benchmarks/executor.py [--n-seeds 4] [--n-train 400]
Each variant starts from an empty artifact folder, so every seed is trained and explained (MiniLM, quick
profile sizes otherwise), as in the book's scaling notebook. See :mod:`seedexplain.scaling`.
"""

from __future__ import annotations

import argparse
import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("CI", "true")  # no progress bars

from seedexplain.scaling import scaling_config, time_executors  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-seeds", type=int, default=4)
    parser.add_argument("--n-train", type=int, default=400)
    args = parser.parse_args()
    table = time_executors(scaling_config("full", n_seeds=args.n_seeds, n_train=args.n_train))
    print(table.round(2).to_string(index=False))
    dask = table[table.executor == "dask"].set_index("workers").seconds
    print(f"speed-up of 2 workers over 1 worker: {dask[1] / dask[2]:.2f}x")


if __name__ == "__main__":
    main()
