"""Seeded fine-tuning of the transformer classifier, and evaluation of any model family.

A training seed fixes exactly three things, for every family: the initial weights that are not pretrained
(classification head, or the linear model's weights), the order of the training data, and dropout. The data, the
split and the hyper-parameters do not depend on it.
"""

from __future__ import annotations

import logging
import os
import random
from collections.abc import Sequence

import numpy as np
import torch
from transformers import PreTrainedModel, PreTrainedTokenizerBase, get_linear_schedule_with_warmup

from seedexplain.constraints import DEVICES, FINE_TUNING, PRECISIONS, OneOf, check
from seedexplain.progress import progress

log = logging.getLogger(__name__)

WARMUP_FRACTION = 0.1
BUCKET_BATCHES = 8  # batches per length bucket: sorting within buckets cuts padding, shuffling keeps randomness


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch, and ask torch for deterministic kernels."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True, warn_only=True)
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")


def resolve_device(device: str | None) -> torch.device:
    """Return the torch device for ``device`` ('auto' picks CUDA when present, else the CPU)."""
    if device in (None, "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    check("device", device, OneOf(DEVICES))
    if device == "cuda" and not torch.cuda.is_available():
        raise ValueError("device='cuda' was requested but no CUDA device is available; use 'auto' or 'cpu'")
    return torch.device(device)


def bucketed_batches(lengths: Sequence[int], batch_size: int, rng: np.random.Generator) -> list[np.ndarray]:
    """Return index batches: a random permutation cut into buckets, each sorted by length, batches shuffled."""
    order = rng.permutation(len(lengths))
    batches = []
    bucket = batch_size * BUCKET_BATCHES
    for start in range(0, len(order), bucket):
        chunk = order[start:start + bucket]
        chunk = chunk[np.argsort([lengths[i] for i in chunk], kind="stable")]
        batches.extend(chunk[i:i + batch_size] for i in range(0, len(chunk), batch_size))
    return [batches[i] for i in rng.permutation(len(batches))]


def fine_tune(model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, texts: Sequence[str], labels: np.ndarray,
              *, seed: int, epochs: int, batch_size: int, learning_rate: float, max_length: int,
              device: torch.device, trainable: str = "all", precision: str = "float32") -> dict[str, float]:
    """Fine-tune ``model`` in place with AdamW and a linear schedule; return the mean training loss per epoch.

    Batches are length-bucketed with dynamic padding; data order and dropout come from ``seed``. ``trainable``
    "head" freezes the pretrained body (``model.base_model``) and trains the rest; "all" trains every weight.
    ``precision`` "bfloat16" runs the forward pass under bfloat16 autocast (weights, gradients and optimizer
    state stay float32).
    """
    check("trainable", trainable, OneOf(FINE_TUNING))
    check("precision", precision, OneOf(PRECISIONS))
    seed_everything(seed)
    rng = np.random.default_rng(seed)
    encoded = tokenizer(list(texts), truncation=True, max_length=max_length)["input_ids"]
    lengths = [len(ids) for ids in encoded]
    n_steps = epochs * -(-len(texts) // batch_size)
    model.to(device).train()
    body = {id(p) for p in model.base_model.parameters()} if trainable == "head" else set()
    for parameter in model.parameters():
        parameter.requires_grad_(id(parameter) not in body)
    weights = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(weights, lr=learning_rate, weight_decay=0.01)
    schedule = get_linear_schedule_with_warmup(optimizer, int(WARMUP_FRACTION * n_steps), n_steps)
    losses: dict[str, float] = {}
    bar = progress(total=n_steps, desc=f"fine-tune seed {seed}", leave=False)
    for epoch in range(epochs):
        total = 0.0
        batches = bucketed_batches(lengths, batch_size, rng)
        for batch in batches:
            inputs = tokenizer.pad({"input_ids": [encoded[i] for i in batch]}, return_tensors="pt").to(device)
            target = torch.as_tensor(labels[batch], device=device)
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=precision == "bfloat16"):
                loss = model(**inputs, labels=target).loss
            loss.backward()
            torch.nn.utils.clip_grad_norm_(weights, 1.0)
            optimizer.step()
            schedule.step()
            optimizer.zero_grad(set_to_none=True)
            total += loss.item()
            bar.update()
        losses[f"epoch_{epoch + 1}_loss"] = total / len(batches)
    bar.close()
    for parameter in model.parameters():
        parameter.requires_grad_(True)
    model.eval()
    return losses


def accuracy(scores: np.ndarray, labels: np.ndarray) -> float:
    """Return the accuracy of the decisions ``scores > 0`` against ``labels``."""
    return float(np.mean((np.asarray(scores) > 0).astype(int) == np.asarray(labels)))
