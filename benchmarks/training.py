"""Seconds per seed and accuracy of MiniLM fine-tuning under different settings (one seed each).

Usage: .venv/bin/python benchmarks/training.py [--seed 0] [--device auto|cpu|cuda]
Prints one line per setting: training seconds, accuracy on short and long test texts. Settings vary the number of
training texts, epochs, batch size and torch threads around the full profile's defaults.
"""

from __future__ import annotations

import argparse
import os
import tempfile

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("CI", "true")

import torch  # noqa: E402

from seedexplain import pipeline  # noqa: E402
from seedexplain.artifacts import read_meta  # noqa: E402
from seedexplain.config import make_config  # noqa: E402

SETTINGS = (
    dict(n_train=2000, epochs=1, batch_size=16, threads=2),
    dict(n_train=2000, epochs=1, batch_size=16, threads=1),
    dict(n_train=2000, epochs=1, batch_size=32, threads=2),
    dict(n_train=1000, epochs=1, batch_size=16, threads=2),
    dict(n_train=1000, epochs=2, batch_size=16, threads=2),
    dict(n_train=2000, epochs=2, batch_size=16, threads=2),
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"),
                        help="auto: CUDA when present, else CPU")
    args = parser.parse_args()
    print(f"{'n_train':>7} {'epochs':>6} {'batch':>5} {'threads':>7} {'seconds':>8} {'acc short':>9} {'acc long':>8}")
    for setting in SETTINGS:
        torch.set_num_threads(setting["threads"])
        with tempfile.TemporaryDirectory() as folder:
            config = make_config("full", n_seeds=2, seed=args.seed, artifacts=folder, n_train=setting["n_train"],
                                 epochs=setting["epochs"], batch_size=setting["batch_size"], device=args.device)
            report = read_meta(pipeline.train_seed(config, "transformer", args.seed))["report"]
        print(f"{setting['n_train']:>7} {setting['epochs']:>6} {setting['batch_size']:>5} {setting['threads']:>7} "
              f"{report['train_seconds']:>8.1f} {report['accuracy_test_short']:>9.3f} "
              f"{report['accuracy_test_long']:>8.3f}")


if __name__ == "__main__":
    main()
