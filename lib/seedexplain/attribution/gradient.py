"""Gradient methods through Captum: gradient×input, saliency and layer integrated gradients on word
embeddings.

All three look at the output ``e[b, t, :]`` (shape ``(B, L, H)``) of the word-embedding layer — not at the sum
with position and token-type embeddings — so a token's score depends only on which token it is and on the
gradient. Captum takes it with a forward hook on that layer while the model runs on ``input_ids``: a decoder's
head finds the last token that is not padding in ``input_ids`` (``inputs_embeds`` would hide the padding from it).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from captum.attr import LayerGradientXActivation, LayerIntegratedGradients
from transformers import PreTrainedModel

from seedexplain.attribution.encoding import Batch
from seedexplain.constraints import POSITIVE_INT, OneOf, validated
from seedexplain.forward import logit_difference

Explainer = Callable[[Batch], list[tuple[np.ndarray, dict]]]
"""A prepared method: maps a batch to one ``(scores, extras)`` per text (scores per token or per word)."""

IG_BASELINES = ("pad", "mask")
"""Integrated-gradients baselines: every token but the special ones ([CLS], [SEP]) replaced by [PAD] or by [MASK]."""

IG_TOKENS_PER_CHUNK = 4096
"""Default size, in tokens, of one forward/backward pass of integrated gradients (it bounds the memory)."""


def forward_function(model: PreTrainedModel) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    """Return ``f(input_ids, attention_mask) -> (B,)``, the explained logit difference, as Captum calls it."""
    def forward(input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        return logit_difference(model, input_ids, attention_mask)

    return forward


def per_text(token_scores: torch.Tensor, batch: Batch) -> list[np.ndarray]:
    """Return each text's token scores, shape ``(n_tokens,)`` float64, from padded scores ``(B, L)``."""
    scores = token_scores.detach().double().cpu().numpy()
    return [scores[row, : text.n_tokens] for row, text in enumerate(batch.texts)]


def grad_x_input(model: PreTrainedModel) -> Explainer:
    """Return the explainer of token scores ``∂f/∂e[t] · e[t]`` (signed), ``(n_tokens,)`` per text."""
    layer = LayerGradientXActivation(forward_function(model), model.get_input_embeddings())

    def explain(batch: Batch) -> list[tuple[np.ndarray, dict]]:
        attributions = layer.attribute(batch.input_ids, additional_forward_args=(batch.attention_mask,))
        return [(scores, {}) for scores in per_text(attributions.sum(-1), batch)]

    return explain


def saliency(model: PreTrainedModel) -> Explainer:
    """Return the explainer of token scores ``‖∂f/∂e[t]‖₂`` (unsigned), one array ``(n_tokens,)`` per text.

    Saliency (Simonyan et al. 2014) is a magnitude: the Euclidean norm of the gradient with respect to the
    token's word embedding. It says how sensitive ``f`` is to the token, not in which direction the token
    pushes, so its scores are non-negative and, unlike the signed methods, do not flip with the predicted
    class.
    """
    layer = LayerGradientXActivation(forward_function(model), model.get_input_embeddings(),
                                     multiply_by_inputs=False)

    def explain(batch: Batch) -> list[tuple[np.ndarray, dict]]:
        gradients = layer.attribute(batch.input_ids, additional_forward_args=(batch.attention_mask,))
        return [(scores, {}) for scores in per_text(gradients.norm(dim=-1), batch)]

    return explain


@validated(n_steps=POSITIVE_INT, baseline=OneOf(IG_BASELINES))
def integrated_gradients(model: PreTrainedModel, *, n_steps: int = 50, baseline: str = "pad",
                         internal_batch_size: int | None = None) -> Explainer:
    """Return the explainer of layer integrated gradients on word embeddings, ``(n_tokens,)`` per text.

    The path runs from the baseline embeddings (every word token replaced by [PAD] or [MASK]; [CLS] and [SEP]
    kept) to the text's, with ``n_steps`` Gauss–Legendre points. Completeness: the token scores sum to
    ``f(x) − f(baseline)`` up to the ``convergence_delta`` stored in each text's extras.
    ``internal_batch_size`` is the number of rows (texts × path points) per forward/backward pass, at least
    the number of texts in the batch; by default about :data:`IG_TOKENS_PER_CHUNK` tokens per pass.
    """
    layer = LayerIntegratedGradients(forward_function(model), model.get_input_embeddings())

    def explain(batch: Batch) -> list[tuple[np.ndarray, dict]]:
        n_texts, width = batch.input_ids.shape
        baseline_id = batch.pad_id if baseline == "pad" else batch.mask_id
        if baseline_id is None:
            raise ValueError(f"baseline={baseline!r} needs a tokenizer with a {baseline} token")
        baselines = torch.where(batch.special_mask(), batch.input_ids, baseline_id)
        rows = internal_batch_size or IG_TOKENS_PER_CHUNK // width
        attributions, delta = layer.attribute(
            batch.input_ids, baselines=baselines, additional_forward_args=(batch.attention_mask,),
            n_steps=n_steps, internal_batch_size=max(rows, n_texts), return_convergence_delta=True,
        )
        extras = [{"convergence_delta": d, "n_steps": n_steps, "baseline": baseline} for d in delta.tolist()]
        return list(zip(per_text(attributions.sum(-1), batch), extras))

    return explain
