"""Attention weights as an explanation baseline: last-layer attention and attention rollout.

Both start from the token the classification head reads ([CLS] in an encoder, the last token that is not padding
in a decoder: :func:`seedexplain.forward.readout_positions`). Both are non-negative and blind to the classifier
head, so they cannot say whether a token pushes towards class 1 or class 0; they are here as the baseline that
attribution methods should beat ("LLMs Explain't").
"""

from __future__ import annotations

import numpy as np
import torch
from transformers import PreTrainedModel

from seedexplain.attribution.encoding import Batch
from seedexplain.attribution.gradient import Explainer, per_text
from seedexplain.forward import readout_positions


@torch.no_grad()
def _attentions(model: PreTrainedModel, batch: Batch) -> list[torch.Tensor]:
    """Return each layer's attention weights averaged over heads, ``(B, L, L)`` per layer (rows: queries)."""
    outputs = model(input_ids=batch.input_ids, attention_mask=batch.attention_mask, output_attentions=True)
    if not outputs.attentions:
        raise TypeError("attention methods need a model loaded with attn_implementation='eager'")
    return [layer.mean(dim=1) for layer in outputs.attentions]


def attention_last(model: PreTrainedModel) -> Explainer:
    """Return the explainer of last-layer attention from the token the head reads (mean over heads),
    ``(n_tokens,)`` per text."""

    def explain(batch: Batch) -> list[tuple[np.ndarray, dict]]:
        rows = torch.arange(len(batch.input_ids), device=batch.input_ids.device)
        last = _attentions(model, batch)[-1][rows, readout_positions(model, batch.input_ids), :]
        return [(scores, {}) for scores in per_text(last, batch)]

    return explain


def attention_rollout(model: PreTrainedModel) -> Explainer:
    """Return the explainer of attention rollout (Abnar & Zuidema 2020) from the token the head reads,
    ``(n_tokens,)`` per text.

    Each layer's head-averaged attention is mixed with the identity for the residual connection,
    ``Ã = ½A + ½I`` (rows still sum to 1), and the layers are multiplied: the read token's row of ``Ã_L ⋯ Ã_1``.
    Padded keys have zero attention, so padding never enters a real token's row.
    """

    def explain(batch: Batch) -> list[tuple[np.ndarray, dict]]:
        layers = _attentions(model, batch)
        flow = torch.zeros_like(layers[0][:, 0, :])
        flow[torch.arange(len(flow), device=flow.device), readout_positions(model, batch.input_ids)] = 1.0
        for attention in reversed(layers):
            flow = 0.5 * torch.bmm(flow.unsqueeze(1), attention).squeeze(1) + 0.5 * flow
        return [(scores, {}) for scores in per_text(flow, batch)]

    return explain
