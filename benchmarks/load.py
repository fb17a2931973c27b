"""Robustness under load: seconds of one MiniLM fine-tuning seed, idle and beside one competing CPU-bound process.

Each thread setting runs in a fresh process (the OpenMP wait policy is read once, when torch loads its OpenMP
runtime), first on an idle machine, then while this benchmark keeps one busy-looping process running (started before
the timed run, ended right after it). The slowdown is loaded seconds / idle seconds; the fair share of a 2-core
machine with one other process is 2x.

    .venv/bin/python benchmarks/load.py [--n-train 320] [--repeats 2] [--device auto|cpu|cuda]

Run nothing else meanwhile: the benchmark is the competing load. Prints the device, the machine's load average
before it starts, one line per setting and, last, ``load_slowdown_default <x>`` for the library's default.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import subprocess
import sys

SETTINGS = {  # name -> environment of the timed process
    "2 threads, active wait": {"BENCHMARK_THREADS": "2", "OMP_WAIT_POLICY": "ACTIVE"},
    "2 threads, passive wait": {"BENCHMARK_THREADS": "2", "OMP_WAIT_POLICY": "PASSIVE"},
    "2 threads, spin 10k": {"BENCHMARK_THREADS": "2", "GOMP_SPINCOUNT": "10000"},
    "1 thread": {"BENCHMARK_THREADS": "1", "OMP_WAIT_POLICY": "PASSIVE"},
    "library default": {},
}

CHILD = """
import json, os, sys, tempfile
import seedexplain
import torch
if os.environ.get("BENCHMARK_THREADS"):
    torch.set_num_threads(int(os.environ["BENCHMARK_THREADS"]))
from seedexplain import pipeline
from seedexplain.artifacts import read_meta
from seedexplain.config import make_config
n_train, device = int(sys.argv[1]), sys.argv[2]
with tempfile.TemporaryDirectory() as folder:
    config = make_config("full", n_seeds=2, n_train=n_train, n_test_short=20, n_test_long=5, artifacts=folder,
                         device=device)
    report = read_meta(pipeline.train_seed(config, "transformer", 0))["report"]
print(json.dumps({"seconds": report["train_seconds"], "threads": torch.get_num_threads()}))
"""


def busy() -> None:
    """Spin on one core until terminated (the competing CPU-bound process)."""
    while True:
        pass


def timed(setting: dict[str, str], n_train: int, device: str, loaded: bool) -> dict[str, float]:
    """Return the training seconds and thread count of one fresh process with ``setting``'s environment."""
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT", "BENCHMARK_THREADS")}
    env.update(setting, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", SEEDEXPLAIN_PROGRESS="off")
    competitor = multiprocessing.Process(target=busy, daemon=True) if loaded else None
    if competitor:
        competitor.start()
    try:
        run = subprocess.run([sys.executable, "-c", CHILD, str(n_train), device], env=env, capture_output=True,
                             text=True)
    finally:
        if competitor:
            competitor.terminate()
            competitor.join()
    if run.returncode:
        raise RuntimeError(f"the timed process failed:\n{run.stderr}")
    return json.loads(run.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-train", type=int, default=320, help="training texts of the timed seed")
    parser.add_argument("--repeats", type=int, default=2, help="runs per setting and condition (the fastest counts)")
    parser.add_argument("--device", default="cpu", choices=("auto", "cpu", "cuda"))
    parser.add_argument("--settings", nargs="+", default=list(SETTINGS), choices=list(SETTINGS), metavar="NAME",
                        help=f"settings to time (default: all of {', '.join(map(repr, SETTINGS))})")
    args = parser.parse_args()
    print(f"device {args.device}, {os.cpu_count()} CPUs, load average before start "
          f"{', '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"{'setting':<26} {'threads':>7} {'idle s':>8} {'loaded s':>9} {'slowdown':>9}")
    slowdown = {}
    for name in args.settings:
        setting = SETTINGS[name]
        idle = min((timed(setting, args.n_train, args.device, False) for _ in range(args.repeats)),
                   key=lambda r: r["seconds"])
        loaded = min((timed(setting, args.n_train, args.device, True) for _ in range(args.repeats)),
                     key=lambda r: r["seconds"])
        slowdown[name] = loaded["seconds"] / idle["seconds"]
        print(f"{name:<26} {idle['threads']:>7} {idle['seconds']:>8.1f} {loaded['seconds']:>9.1f} "
              f"{slowdown[name]:>8.2f}x", flush=True)
    if "library default" in slowdown:
        print(f"load_slowdown_default {slowdown['library default']:.2f}")


if __name__ == "__main__":
    main()
