"""Achieved FLOP rate of attribution and training against the machine's dense float32 matmul rate, in one run.

The limit is the best rate of ``torch.matmul`` on the model's own dense shapes (MiniLM-L6: hidden 384, feed-forward
1536; rows = the tokens of a batch), best of a few repeats. The work of batched LRP and gradient × input on short
test texts, and of fine-tuning steps, is counted with the formulas of ``torch.utils.flop_counter`` (matrix products
and attention, forward and backward; element-wise work is not counted), in a pass of its own; the same call is then
timed without the counter (best of ``--repeats``). Ratios are achieved rate / limit.

    .venv/bin/python benchmarks/limit.py --quick      # < 45 s; last lines limit_ratio_attribution, _training
    .venv/bin/python benchmarks/limit.py --device cuda

The same dense matmuls and training steps are then timed in bfloat16 (autocast), to tell whether training would gain
from it on this CPU. Where a ratio is low, three figures say why: the padding share of the batches' tokens (work on
pad tokens is counted but wasted), the rate of the model's small matrices (attention's per-head products) against
the limit, and the share of time outside counted matrix work (element-wise operations, the LRP rules' extra tensors,
Python).
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("SEEDEXPLAIN_PROGRESS", "off")

import numpy as np  # noqa: E402
import torch  # noqa: E402
from torch.utils._python_dispatch import TorchDispatchMode  # noqa: E402
from torch.utils.flop_counter import flop_registry  # noqa: E402

from seedexplain.attribution import word_attributions  # noqa: E402
from seedexplain.config import make_config  # noqa: E402
from seedexplain.data import load_dataset  # noqa: E402
from seedexplain.forward import length_batches  # noqa: E402
from seedexplain.models import load_transformer  # noqa: E402
from seedexplain.train import bucketed_batches, fine_tune, resolve_device  # noqa: E402

HIDDEN, FEED_FORWARD, HEADS = 384, 1536, 12
BATCH = 16


def best_seconds(function: Callable[[], object], repeats: int, device: torch.device) -> float:
    """Return the fastest of ``repeats`` wall times of ``function()`` (synchronised on CUDA)."""
    times = []
    for _ in range(repeats):
        if device.type == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        function()
        if device.type == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    return min(times)


def matmul_rate(shapes: list[tuple[int, ...]], device: torch.device, repeats: int,
                dtype: torch.dtype = torch.float32) -> dict[tuple[int, ...], float]:
    """Return FLOP/s of ``torch.matmul`` per shape ``(m, k, n)`` or batched ``(b, m, k, n)`` (2 m k n per product)."""
    rates = {}
    for shape in shapes:
        *batch, m, k, n = shape
        a = torch.randn(*batch, m, k, device=device, dtype=dtype)
        b = torch.randn(*batch, k, n, device=device, dtype=dtype)
        calls = max(1, int(2e9 // (2 * np.prod(shape))))  # about 2 GFLOP per timed call

        def run(a: torch.Tensor = a, b: torch.Tensor = b, calls: int = calls) -> None:
            for _ in range(calls):
                torch.matmul(a, b)

        run()
        # The limit is the ratios' denominator: an underestimate inflates them. A timed call is ~10 ms, so the
        # best of at least 10 costs nothing (a --quick run once measured half the limit with 2).
        rates[shape] = 2 * float(np.prod(shape)) * calls / best_seconds(run, max(repeats, 10), device)
    return rates


class MatrixFlops(TorchDispatchMode):
    """Count the FLOPs of every operation that torch's flop counter has a formula for (matrix products,
    attention, convolutions), forward and backward. ``FlopCounterMode`` itself cannot be used: its module hooks
    refuse ``torch.autograd.grad``, which the attribution methods call."""

    def __init__(self) -> None:
        super().__init__()
        self.total = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):  # noqa: ANN001, ANN204
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        formula = flop_registry.get(func._overloadpacket)
        if formula is not None:
            self.total += formula(*args, **kwargs, out_val=out)
        return out


def counted(function: Callable[[], object]) -> float:
    """Return the FLOPs that ``function()`` performs in matrix products and attention (:class:`MatrixFlops`)."""
    with MatrixFlops() as counter:
        function()
    return float(counter.total)


def padding_share(lengths: list[int], batches: list[np.ndarray]) -> float:
    """Return the share of pad tokens among all tokens of ``batches`` (each padded to its longest sequence)."""
    real = sum(lengths[i] for batch in batches for i in batch)
    total = sum(len(batch) * max(lengths[i] for i in batch) for batch in batches)
    return 1 - real / total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="32 texts, 2 training steps, 2 repeats (< 45 s)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    args = parser.parse_args()
    device = resolve_device(args.device)
    n_texts, n_steps, repeats = (32, 2, 2) if args.quick else (128, 8, args.repeats)
    data = load_dataset(make_config("quick", n_train=BATCH * n_steps, n_test_short=n_texts, n_test_long=4))
    texts, train = list(data.test_short.texts), data.train
    model, tokenizer = load_transformer("minilm-l6", seed=0)
    model.to(device)
    lengths = [len(ids) for ids in tokenizer(texts)["input_ids"]]
    median = int(np.median(lengths))
    print(f"torch {torch.__version__}, device {device}, {torch.get_num_threads()} threads, {os.cpu_count()} CPUs, "
          f"load average {os.getloadavg()[0]:.1f} at start; {n_texts} short texts (median {median} "
          f"tokens), {n_steps} training steps of {BATCH}")

    rows = BATCH * median
    dense = [(rows, HIDDEN, FEED_FORWARD), (rows, FEED_FORWARD, HIDDEN), (rows, HIDDEN, HIDDEN)]
    small = (BATCH * HEADS, median, HIDDEN // HEADS, median)
    rates = matmul_rate([*dense, small], device, repeats)
    limit = max(rates[s] for s in dense)
    print(f"limit: dense float32 matmul {limit / 1e9:.1f} GFLOP/s (best of {', '.join(map(str, dense))}); "
          f"attention's per-head products {small}: {rates[small] / 1e9:.1f} GFLOP/s "
          f"({rates[small] / limit:.2f} of the limit)")

    ratios = {}
    for method in ("lrp", "grad_x_input"):
        def explain(method: str = method) -> None:
            word_attributions(model, tokenizer, texts, method=method, batch_size=BATCH)

        explain()  # warm-up
        flops = counted(explain)
        seconds = best_seconds(explain, repeats, device)
        ratios[method] = flops / seconds / limit
        print(f"attribution {method}: {flops / 1e9:.2f} GFLOP in {seconds:.2f} s = {flops / seconds / 1e9:.1f} GFLOP/s,"
              f" ratio {ratios[method]:.2f}; time outside counted matrix work >= "
              f"{max(0.0, 1 - flops / limit / seconds):.0%}")
    print(f"padding share of attribution batches: "
          f"{padding_share(lengths, length_batches(lengths, BATCH)):.1%}")

    def train_steps() -> None:
        network, _ = load_transformer("minilm-l6", seed=0)
        fine_tune(network, tokenizer, train.texts, train.labels, seed=0, epochs=1, batch_size=BATCH,
                  learning_rate=5e-5, max_length=256, device=device)

    load_seconds = best_seconds(lambda: load_transformer("minilm-l6", seed=0), repeats, device)
    flops = counted(train_steps)
    seconds = best_seconds(train_steps, repeats, device) - load_seconds
    train_lengths = [len(ids) for ids in tokenizer(list(train.texts))["input_ids"]]
    print(f"training: {flops / 1e9:.2f} GFLOP in {seconds:.2f} s (model loading, {load_seconds:.2f} s, "
          f"subtracted) = {flops / seconds / 1e9:.1f} GFLOP/s; time outside counted matrix work >= "
          f"{max(0.0, 1 - flops / limit / seconds):.0%}; padding share "
          f"{padding_share(train_lengths, bucketed_batches(train_lengths, BATCH, np.random.default_rng(0))):.1%}")
    # bfloat16 autocast (issue: adopt it for training only if it is faster): the same matmuls and training steps.
    bf16 = max(matmul_rate(dense, device, repeats, torch.bfloat16).values())
    with torch.autocast(device.type, dtype=torch.bfloat16):
        bf16_seconds = best_seconds(train_steps, repeats, device) - load_seconds
    print(f"bfloat16: dense matmul {bf16 / 1e9:.1f} GFLOP/s ({bf16 / limit:.2f}x float32); training steps under "
          f"bfloat16 autocast {bf16_seconds:.2f} s ({seconds / bf16_seconds:.2f}x the float32 speed)")
    print(f"limit_ratio_attribution {ratios['lrp']:.2f}")
    print(f"limit_ratio_training {flops / seconds / limit:.2f}")


if __name__ == "__main__":
    main()
