"""Time the statistics of explanations on 1,000 synthetic texts x 10 seeds (15-40 words each).

Run: ``.venv/bin/python benchmarks/snr.py``. Prints the wall time of each statistic (best of ``--repeats`` runs)
and two totals: the per-text statistics of definitions A and B (target < 1 s together) and everything.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import numpy as np

from seedexplain.beyond import format_table
from seedexplain.snr import SCALES, corpus_snr, snr_vs_n_seeds, texts_snr
from seedexplain.stats import bootstrap_ci, texts_agreement
from seedexplain.synthetic import planted_explanations


def best_time(run: Callable[[], object], repeats: int) -> float:
    """Return the smallest wall time in seconds of ``repeats`` calls of ``run``."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--texts", type=int, default=1000)
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--resamples", type=int, default=200, help="bootstrap resamples")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    corpus = planted_explanations(args.texts, range(15, 41), args.seeds, 1.0, 1.0, rng=0, words=True)
    arrays, words = corpus.arrays, corpus.words
    n_words = sum(a.shape[0] for a in arrays)
    print(f"{args.texts} texts x {args.seeds} seeds, {n_words} words; best of {args.repeats} runs\n")
    per_text = {f"texts_snr scale={scale}": (lambda s=scale: texts_snr(arrays, scale=s)) for scale in SCALES}
    others = {
        "corpus_snr (definition C, min_count=2)": lambda: corpus_snr(arrays, words),
        "texts_agreement (Spearman, Kendall, top-3)": lambda: texts_agreement(arrays, k=3),
        "snr_vs_n_seeds (S = 2..10, 20 subsets each)": lambda: snr_vs_n_seeds(
            arrays, n_seeds_grid=range(2, args.seeds + 1), n_resamples=20, rng=0
        ),
        **{
            f"bootstrap_ci over={over} ({args.resamples} resamples)": (
                lambda o=over: bootstrap_ci(arrays, over=o, n_resamples=args.resamples, rng=0)
            )
            for over in ("texts", "seeds", "both")
        },
        "format_table (6 formats: transforms + SNR + cost)": lambda: format_table(arrays),
    }
    timings = {}
    for name, run in {**per_text, **others}.items():
        timings[name] = best_time(run, args.repeats)
        print(f"{timings[name] * 1e3:9.1f} ms  {name}")
    per_text_total = sum(timings[name] for name in per_text)
    print(f"\n{per_text_total * 1e3:9.1f} ms  total, per-text statistics (definitions A and B, 4 scales; target < 1 s)")
    print(f"{sum(timings.values()) * 1e3:9.1f} ms  total, everything above")
    print(f"numpy {np.__version__}")


if __name__ == "__main__":
    main()
