"""Robustness under load: seconds of one MiniLM fine-tuning seed, idle and beside one competing CPU-bound process.

Each thread setting runs in a fresh process (the OpenMP wait policy is read once, when torch loads its OpenMP
runtime), first on an idle machine, then while this benchmark keeps one busy-looping process running (started before
the timed run, ended right after it). The slowdown is loaded seconds / idle seconds; the fair share of a 2-core
machine with one other process is 2x.

    .venv/bin/python benchmarks/load.py [--n-train 320] [--repeats 2] [--device auto|cpu|cuda]

Run nothing else meanwhile: the benchmark is the competing load. Prints the device, the machine's load average
before it starts, one line per setting, ``load_slowdown_default <x>`` for the library's default and, last, the idle
training seconds per seed of two seeds trained one after the other by one process of two threads against at once
by two processes of one thread each (``two_process_speedup <x>``, above 1 when two processes are faster).
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


def start(setting: dict[str, str], n_train: int, device: str) -> subprocess.Popen:
    """Start one fresh training process with ``setting``'s environment."""
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT", "BENCHMARK_THREADS")}
    env.update(setting, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", SEEDEXPLAIN_PROGRESS="off")
    return subprocess.Popen([sys.executable, "-c", CHILD, str(n_train), device], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def result(process: subprocess.Popen) -> dict[str, float]:
    """Return the training seconds and thread count a process printed (waiting for it)."""
    out, err = process.communicate()
    if process.returncode:
        raise RuntimeError(f"the timed process failed:\n{err}")
    return json.loads(out.strip().splitlines()[-1])


def timed(setting: dict[str, str], n_train: int, device: str, loaded: bool) -> dict[str, float]:
    """Return the training seconds and thread count of one fresh process with ``setting``'s environment."""
    competitor = multiprocessing.Process(target=busy, daemon=True) if loaded else None
    if competitor:
        competitor.start()
    try:
        return result(start(setting, n_train, device))
    finally:
        if competitor:
            competitor.terminate()
            competitor.join()


def seconds_per_seed_in_parallel(n_train: int, device: str) -> float:
    """Return the training seconds per seed of two seeds trained at once, one process of one thread each (the
    later of the two to finish, halved)."""
    processes = [start(SETTINGS["1 thread"], n_train, device) for _ in range(2)]
    return max(result(p)["seconds"] for p in processes) / 2


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
    # Throughput on an idle machine: two seeds one after the other (the default, 2 threads) or at once (two
    # processes of one thread each).
    one_by_one = min(timed(SETTINGS["library default"], args.n_train, args.device, False)["seconds"]
                     for _ in range(args.repeats))
    together = min(seconds_per_seed_in_parallel(args.n_train, args.device) for _ in range(args.repeats))
    print(f"idle seconds per seed: 1 process x 2 threads {one_by_one:.1f}, 2 processes x 1 thread {together:.1f}")
    print(f"two_process_speedup {one_by_one / together:.2f}")


if __name__ == "__main__":
    main()
