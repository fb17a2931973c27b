"""Forward passes of a transformer classifier: the explained scalar, length-bucketed batches, scoped attention.

Every part of the library that runs a model on many texts goes through :func:`padded_batches` (sorted by length,
padded on the right, padding bounded by :data:`MAX_PADDING`), and every change to how a model attends goes through
:func:`attention_override`, which is active only inside its ``with`` block.

The explained quantity is the same for every model, seed and method: ``f(x) = logit[1] − logit[0]``, so the signs
of attributions are comparable across seeds.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

import numpy as np
import torch
from torch import nn
from transformers import AttentionInterface, PreTrainedModel, PreTrainedTokenizerBase
from transformers.masking_utils import AttentionMaskInterface, eager_mask

MAX_PADDING = 0.1
"""Largest share of padding tokens :func:`length_batches` lets into a batch (relative to its real tokens)."""

AttentionTransform = Callable[[nn.Module, torch.Tensor], torch.Tensor]
"""``transform(module, weights) -> weights``: changes the softmax weights ``(B, heads, L, L)`` of one module."""

DECODER_TYPES = ("llama",)
"""``config.model_type`` of the causal decoders the library supports (their head reads the last non-pad token)."""

_OVERRIDE = "seedexplain_override"
"""Name of the attention function selected inside :func:`attention_override`."""
_TRANSFORM = "_seedexplain_attention_transform"
"""Attribute that carries the transform on the model's modules inside :func:`attention_override`."""


def length_batches(lengths: Sequence[int], batch_size: int,
                   max_padding: float = MAX_PADDING) -> list[np.ndarray]:
    """Return the positions of ``lengths`` grouped into batches of at most ``batch_size`` similar lengths.

    Positions are sorted by length (stable) and cut into consecutive batches; a batch is also closed early
    when the next, longer, sequence would pad it by more than ``max_padding`` of its real tokens: on a CPU
    the model's arithmetic dominates, so padded tokens cost as much as real ones and outweigh a fuller batch.
    """
    lengths = np.asarray(lengths)
    batches: list[list[int]] = []
    real = 0
    for i in np.argsort(lengths, kind="stable"):
        current = batches[-1] if batches else []
        padded = lengths[i] * (len(current) + 1)
        if not current or len(current) == batch_size or padded > (1 + max_padding) * (real + lengths[i]):
            batches.append([])
            real = 0
        batches[-1].append(int(i))
        real += int(lengths[i])
    return [np.array(batch, dtype=np.int64) for batch in batches]


def pad(sequences: Sequence[np.ndarray], pad_id: int,
        device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """Return ``input_ids`` and ``attention_mask``, both ``(n, L)``, padding the sequences on the right."""
    width = max(len(ids) for ids in sequences)
    input_ids = torch.full((len(sequences), width), pad_id, dtype=torch.long)
    attention_mask = torch.zeros((len(sequences), width), dtype=torch.long)
    for row, ids in enumerate(sequences):
        input_ids[row, : len(ids)] = torch.as_tensor(ids)
        attention_mask[row, : len(ids)] = 1
    return input_ids.to(device), attention_mask.to(device)


def padded_batches(sequences: Sequence[Sequence[int]], pad_id: int, batch_size: int,
                   device: torch.device) -> Iterator[tuple[np.ndarray, torch.Tensor, torch.Tensor]]:
    """Yield ``(indices, input_ids, attention_mask)`` for batches of similar length (:func:`length_batches`).

    ``indices`` are the positions of the batch's sequences in ``sequences``; the tensors are ``(B, L)`` on
    ``device``, padded on the right.
    """
    for indices in length_batches([len(ids) for ids in sequences], batch_size):
        yield (indices, *pad([np.asarray(sequences[i]) for i in indices], pad_id, device))


def model_device(model: torch.nn.Module) -> torch.device:
    """Return the device of the model's first parameter."""
    return next(model.parameters()).device


def logit_difference(model: PreTrainedModel, input_ids: torch.Tensor | None, attention_mask: torch.Tensor,
                     inputs_embeds: torch.Tensor | None = None) -> torch.Tensor:
    """Return the explained quantity ``logit[:, 1] − logit[:, 0]``, shape ``(B,)``."""
    logits = model(input_ids=input_ids, attention_mask=attention_mask, inputs_embeds=inputs_embeds).logits
    return logits[:, 1] - logits[:, 0]


def is_decoder(model: PreTrainedModel) -> bool:
    """Return True if ``model`` is a causal decoder (see :data:`DECODER_TYPES`), False for an encoder."""
    return model.config.model_type in DECODER_TYPES


def readout_positions(model: PreTrainedModel, input_ids: torch.Tensor) -> torch.Tensor:
    """Return the position, shape ``(B,)``, whose last hidden state the classification head reads.

    An encoder's head reads [CLS], position 0. A decoder's reads the last token that is not padding (found as
    transformers' head finds it, from ``input_ids`` and ``config.pad_token_id``), so sequences are padded on the
    right and the model must see ``input_ids``, not ``inputs_embeds``.
    """
    if not is_decoder(model):
        return torch.zeros(len(input_ids), dtype=torch.long, device=input_ids.device)
    positions = torch.arange(input_ids.shape[1], device=input_ids.device)
    return (positions * (input_ids != model.config.pad_token_id)).argmax(-1)


@torch.no_grad()
def sequences_logit_difference(model: PreTrainedModel, sequences: Sequence[Sequence[int]], pad_id: int,
                               batch_size: int) -> np.ndarray:
    """Return ``f`` of each token sequence, shape ``(n,)`` float64, run in length-sorted batches."""
    result = np.empty(len(sequences))
    for indices, input_ids, attention_mask in padded_batches(sequences, pad_id, batch_size, model_device(model)):
        result[indices] = logit_difference(model, input_ids, attention_mask).double().cpu().numpy()
    return result


def texts_logit_difference(model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, texts: Sequence[str], *,
                           max_length: int, batch_size: int = 64) -> np.ndarray:
    """Return ``f`` of each text (tokenised, truncated to ``max_length`` tokens), shape ``(n_texts,)`` float64."""
    encoded = tokenizer(list(texts), truncation=True, max_length=max_length)["input_ids"]
    return sequences_logit_difference(model, encoded, tokenizer.pad_token_id, batch_size)


# --- a scoped change of the attention weights --------------------------------------------------------------------

def _shared_heads(module: nn.Module, states: torch.Tensor) -> torch.Tensor:
    """Return keys or values ``(B, kv_heads, L, d)`` repeated to one per query head (grouped-query attention)."""
    groups = getattr(module, "num_key_value_groups", 1)
    if groups == 1:
        return states
    batch, heads, length, dim = states.shape
    return states[:, :, None].expand(batch, heads, groups, length, dim).reshape(batch, heads * groups, length, dim)


def _transformed_attention(module: nn.Module, query: torch.Tensor, key: torch.Tensor, value: torch.Tensor,
                           attention_mask: torch.Tensor | None, scaling: float | None = None,
                           dropout: float = 0.0, **kwargs: object) -> tuple[torch.Tensor, torch.Tensor]:
    """Return ``(output (B, L, heads, d), weights (B, heads, L, L))`` of scaled dot-product attention.

    The operations and their order are those of transformers' eager attention of BERT and Llama (so, untransformed,
    the output is bit-identical): a decoder's key-value heads are shared by groups of query heads, and the softmax
    runs in float32. The module's transform (set by :func:`attention_override`) is applied to the softmax weights.
    """
    if module.training and dropout > 0:
        raise RuntimeError("attention_override needs the model in eval mode (it applies no attention dropout)")
    scaling = query.size(-1) ** -0.5 if scaling is None else scaling
    scores = torch.matmul(query, _shared_heads(module, key).transpose(2, 3)) * scaling
    if attention_mask is not None:
        scores = scores + attention_mask
    weights = nn.functional.softmax(scores, dim=-1, dtype=torch.float32).to(query.dtype)
    weights = getattr(module, _TRANSFORM)(module, weights)
    return torch.matmul(weights, _shared_heads(module, value)).transpose(1, 2).contiguous(), weights


@contextmanager
def attention_override(model: PreTrainedModel, transform: AttentionTransform) -> Iterator[PreTrainedModel]:
    """Within the block, every attention module of ``model`` applies ``transform`` to its softmax weights.

    ``transform(module, weights)`` returns the weights to use (it may return them unchanged, e.g. for modules other
    than the one it targets). The model's attention implementation is restored on exit, even after an error; other
    models are never affected. Blocks do not nest on one model. The attention function is registered with
    transformers (under a private name, with the eager padding mask) the first time a block is entered.
    """
    if _OVERRIDE not in AttentionInterface._global_mapping:
        AttentionInterface.register(_OVERRIDE, _transformed_attention)
        # transformers builds no padding mask for a custom attention name unless a mask function is registered
        # under that name in the global mapping (masking_utils checks ``_global_mapping``).
        AttentionMaskInterface.register(_OVERRIDE, eager_mask)
    previous = model.config._attn_implementation
    if previous == _OVERRIDE:
        raise RuntimeError("attention_override blocks do not nest on one model")
    modules = list(model.modules())
    for module in modules:
        setattr(module, _TRANSFORM, transform)
    model.config._attn_implementation = _OVERRIDE
    try:
        yield model
    finally:
        model.config._attn_implementation = previous
        for module in modules:
            delattr(module, _TRANSFORM)
