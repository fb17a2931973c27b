"""Benchmark of word attributions on MiniLM: batched ``word_attributions`` against a per-example Captum loop.

For gradient×input and integrated gradients, the same 64 short test texts of the subjectivity data are
explained (a) by ``word_attributions`` (length-bucketed batches, dynamic padding) and (b) by a plain loop that
runs Captum on one text at a time (batch of 1, no padding) and aggregates its token scores to words the same
way. Each variant runs in its own process, so its peak resident memory (``ru_maxrss``) is its own; every
variant is repeated and the fastest repeat counts, because the machine may be shared. Then every method is
timed on short (~20 words) and long (~150 words) texts. First, integrated gradients on the quick profile's fine-tuned
MiniLM (seed 0, trained once into ``--artifacts``) with a fixed number of path points is compared with the adaptive
schedule (``tolerance``): passes per text and completeness gaps; the last line printed is
``ig_pass_ratio <fixed passes / adaptive passes>`` (``--ig-only`` prints only this part).

    HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 .venv/bin/python benchmarks/attribution.py --repeats 2 --threads 1
    ... benchmarks/attribution.py --device cuda    # the same benchmark on a GPU

On a shared machine ``--threads 1`` gives steadier figures: two OpenMP threads that cannot both get a core
spin-wait for each other.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("SEEDEXPLAIN_PROGRESS", "off")  # bars would interleave with the printed tables

import numpy as np
import torch
from captum.attr import LayerGradientXActivation, LayerIntegratedGradients

from seedexplain import pipeline
from seedexplain.attribution import METHODS, word_attributions
from seedexplain.config import make_config
from seedexplain.data import load_dataset
from seedexplain.models import load_transformer
from seedexplain.train import resolve_device
from seedexplain.words import aggregate, segment, token_word_index

COMPARED = ("grad_x_input", "integrated_gradients")
N_SHORT, N_LONG, LONG_K = 64, 4, 7
MAX_LENGTH_SHORT, MAX_LENGTH_LONG = 128, 256
N_STEPS = 50
IG_TOLERANCE = 0.01


def benchmark_texts() -> tuple[list[str], list[str]]:
    """Return 64 short test texts (single sentences) and 4 long ones (7 consecutive sentences)."""
    data = load_dataset(make_config("quick", n_train=4, n_test_short=N_SHORT, n_test_long=N_LONG, long_k=LONG_K))
    return list(data.test_short.texts), list(data.test_long.texts)


def per_example_loop(model, tokenizer, texts: list[str], method: str) -> list[np.ndarray]:
    """Return word scores computed the straightforward way: Captum on one text at a time, no batching."""
    def forward(input_ids, attention_mask):
        logits = model(input_ids=input_ids, attention_mask=attention_mask).logits
        return logits[:, 1] - logits[:, 0]

    results = []
    for text in texts:
        encoding = tokenizer(text, truncation=True, max_length=MAX_LENGTH_SHORT, return_offsets_mapping=True,
                             return_tensors="pt")
        ids, mask = encoding["input_ids"].to(model.device), encoding["attention_mask"].to(model.device)
        if method == "grad_x_input":
            explainer = LayerGradientXActivation(forward, model.get_input_embeddings())
            attributions = explainer.attribute(ids, additional_forward_args=(mask,))
        else:
            baseline = torch.full_like(ids, tokenizer.pad_token_id)
            baseline[:, [0, -1]] = ids[:, [0, -1]]
            explainer = LayerIntegratedGradients(forward, model.get_input_embeddings())
            attributions = explainer.attribute(ids, baselines=baseline, additional_forward_args=(mask,),
                                               n_steps=N_STEPS)
        words = segment(text)
        token_word = token_word_index(encoding["offset_mapping"][0].tolist(), words)
        results.append(aggregate(attributions.sum(-1)[0].detach().cpu().numpy(), token_word, len(words)))
    return results


def rss_mb() -> float:
    """Return the current resident memory of this process in MB."""
    with open("/proc/self/status") as status:
        kb = next(int(line.split()[1]) for line in status if line.startswith("VmRSS"))
    return kb / 1024


def child(variant: str, method: str, out: str, device: str) -> None:
    """Run one variant in this (fresh) process; print its timing and memory as JSON, save its scores."""
    texts, _ = benchmark_texts()
    model, tokenizer = load_transformer("minilm", seed=0)
    model.to(resolve_device(device))
    options = {"n_steps": N_STEPS} if method == "integrated_gradients" else {}
    word_attributions(model, tokenizer, texts[:2], method=method, **options)  # warm-up: one-off costs
    before = rss_mb()
    start = time.perf_counter()
    if variant == "batched":
        scores = [e.scores for e in word_attributions(model, tokenizer, texts, method=method,
                                                       max_length=MAX_LENGTH_SHORT, **options)]
    else:
        scores = per_example_loop(model, tokenizer, texts, method)
    seconds = time.perf_counter() - start
    np.savez(out, *scores)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"seconds": seconds, "rss_before_mb": before, "peak_rss_mb": peak}))


def run_child(variant: str, method: str, folder: Path, device: str) -> tuple[dict, list[np.ndarray]]:
    """Return the measurements and word scores of one variant, run in a fresh process."""
    out = folder / f"{variant}-{method}.npz"
    threads = str(torch.get_num_threads())
    command = [sys.executable, __file__, "--threads", threads, "--device", device, "--child", variant, method,
               str(out)]
    done = subprocess.run(command, check=True, capture_output=True, text=True)
    scores = np.load(out)
    return json.loads(done.stdout.strip().splitlines()[-1]), [scores[k] for k in scores.files]


def compare_batched_with_loop(repeats: int, device: str) -> dict[str, dict[str, float]]:
    """Print the batched-vs-loop table; return the fastest seconds per (method, variant)."""
    best: dict[str, dict[str, float]] = {}
    print(f"\n== MiniLM, {N_SHORT} short texts, max_length {MAX_LENGTH_SHORT}: batched vs per-example loop")
    print(f"{'method':22s} {'variant':8s} {'seconds':>8s} {'texts/s':>8s} {'peak RSS MB':>12s} "
          f"{'RSS before':>11s}")
    with tempfile.TemporaryDirectory() as folder:
        for method in COMPARED:
            runs: dict[str, list[dict]] = {"loop": [], "batched": []}
            scores = {}
            for _ in range(repeats):  # alternate the variants so both see the same background load
                for variant in runs:
                    measured, scores[variant] = run_child(variant, method, Path(folder), device)
                    runs[variant].append(measured)
            for variant, measured in runs.items():
                seconds = min(m["seconds"] for m in measured)
                peak = max(m["peak_rss_mb"] for m in measured)
                before = min(m["rss_before_mb"] for m in measured)
                best.setdefault(method, {})[variant] = seconds
                print(f"{method:22s} {variant:8s} {seconds:8.2f} {N_SHORT / seconds:8.2f} {peak:12.0f} "
                      f"{before:11.0f}")
            gap = max(np.nanmax(np.abs(a - b)) for a, b in zip(scores["loop"], scores["batched"]))
            size = max(np.nanmax(np.abs(a)) for a in scores["loop"])
            print(f"{'':22s} max |batched − loop| = {gap:.2e} (largest |score| {size:.2e})")
    return best


def seconds_per_text(short: list[str], long: list[str], repeats: int, device: str) -> None:
    """Print the seconds per text of every method on short and long texts (batch_size 16, fastest repeat)."""
    model, tokenizer = load_transformer("minilm", seed=0)
    model.to(resolve_device(device))
    print(f"\n== seconds per text, every method (short: {len(short)} texts of ~"
          f"{np.mean([len(segment(t)) for t in short]):.0f} words, max_length {MAX_LENGTH_SHORT}; long: "
          f"{len(long)} texts of ~{np.mean([len(segment(t)) for t in long]):.0f} words, max_length "
          f"{MAX_LENGTH_LONG}) ==")
    print(f"{'method':22s} {'short':>8s} {'long':>8s}")
    word_attributions(model, tokenizer, short[:2])
    for method in METHODS:
        timings = []
        for texts, max_length in ((short, MAX_LENGTH_SHORT), (long, MAX_LENGTH_LONG)):
            runs = []
            for _ in range(repeats):
                start = time.perf_counter()
                word_attributions(model, tokenizer, texts, method=method, max_length=max_length)
                runs.append((time.perf_counter() - start) / len(texts))
            timings.append(min(runs))
        print(f"{method:22s} {timings[0]:8.3f} {timings[1]:8.3f}", flush=True)


def fine_tuned_minilm(artifacts: str, device: str):
    """Return ``(model, tokenizer)`` of the quick profile's fine-tuned MiniLM, seed 0 (trained once into
    ``artifacts``, shared with the quick book). Integrated gradients needs a fine-tuned model here: with a random
    head, ``|f(x) − f(x')|`` is ~1e-4 and a gap relative to it says nothing."""
    trained = pipeline.load_model(make_config("quick", artifacts=artifacts), "transformer", 0)
    return trained.network.to(resolve_device(device)), trained.tokenizer


def ig_pass_ratio(texts: list[str], artifacts: str, device: str, tolerance: float = IG_TOLERANCE) -> float:
    """Print the forward+backward passes per text of fixed-point integrated gradients (8, 16, 32 and ``N_STEPS``
    points) and of the adaptive schedule (``tolerance`` of ``|f(x) − f(x')|``, up to ``N_STEPS``), with their
    median completeness gaps; return the ratio of passes (fixed ``N_STEPS`` / adaptive). Pass counts, not
    seconds: the machine's load does not move them."""
    model, tokenizer = fine_tuned_minilm(artifacts, device)
    runs = {f"fixed {n}": {"n_steps": n} for n in (8, 16, 32, N_STEPS)}
    runs["adaptive"] = {"n_steps": N_STEPS, "tolerance": tolerance}
    passes = {}
    for name, options in runs.items():
        explained = word_attributions(model, tokenizer, texts, method="integrated_gradients",
                                      max_length=MAX_LENGTH_LONG, **options)
        points = np.array([e.extras["path_points"] for e in explained])
        change = np.array([e.scores[np.isfinite(e.scores)].sum() - e.extras["convergence_delta"]
                           for e in explained])
        gap = np.abs([e.extras["convergence_delta"] for e in explained]) / np.abs(change)
        passes[name] = points.sum()
        print(f"{name:9s} passes per text {points.mean():6.1f} (max {points.max()}), median completeness gap "
              f"{np.median(gap):.2e} of |f(x) − f(x')| (median {np.median(np.abs(change)):.2f}), "
              f"largest {gap.max():.2e}, texts within {tolerance:g}: {np.mean(gap <= tolerance):.0%}")
    return float(passes[f"fixed {N_STEPS}"] / passes["adaptive"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=2, help="runs of each variant; the fastest counts")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads(), help="torch intra-op threads")
    parser.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"),
                        help="auto: CUDA when present, else CPU")
    parser.add_argument("--child", nargs=3, metavar=("VARIANT", "METHOD", "OUT"), help=argparse.SUPPRESS)
    parser.add_argument("--ig-only", action="store_true", help="only the adaptive integrated-gradients passes")
    parser.add_argument("--artifacts", default="artifacts",
                        help="artifact cache of the fine-tuned model integrated gradients explains")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.child:
        child(*args.child, args.device)
        return
    short, long = benchmark_texts()
    print(f"torch {torch.__version__}, device {resolve_device(args.device)}, {torch.get_num_threads()} threads, "
          f"{os.cpu_count()} CPUs, "
          f"load average {os.getloadavg()[0]:.1f} at start")
    print(f"\n== integrated gradients: {N_STEPS} fixed points vs adaptive (tolerance {IG_TOLERANCE:g}), "
          f"{len(short)} short + {len(long)} long texts ==")
    ratio = ig_pass_ratio(short + long, args.artifacts, args.device)
    if args.ig_only:
        print(f"ig_pass_ratio {ratio:.2f}")
        return
    best = compare_batched_with_loop(args.repeats, args.device)
    seconds_per_text(short[:16], long, args.repeats, args.device)
    print(f"\nload average {os.getloadavg()[0]:.1f} at the end")
    for method, seconds in best.items():
        print(f"speed-up of batching, {method}: {seconds['loop'] / seconds['batched']:.2f}x")
    total = {variant: sum(seconds[variant] for seconds in best.values()) for variant in ("loop", "batched")}
    print(f"speed-up of batching, both methods (total loop time / total batched time): "
          f"{total['loop'] / total['batched']:.2f}x")
    print(f"ig_pass_ratio {ratio:.2f}")


if __name__ == "__main__":
    main()
