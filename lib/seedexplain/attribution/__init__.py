"""Word-level explanations of a transformer classifier: one entry point, :func:`word_attributions`.

Every method explains the same scalar, ``f(x) = logit[1] − logit[0]``, and reports one score per word of
:func:`seedexplain.words.segment`. Token-level methods (gradients, LRP, attention) are aggregated to words
through the tokenizer's offsets; perturbation methods (occlusion, Kernel SHAP) score whole words directly. One
module per method family: :mod:`.gradient`, :mod:`.lrp`, :mod:`.perturbation`, :mod:`.attention`.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from seedexplain import words
from seedexplain.attribution.attention import attention_last, attention_rollout
from seedexplain.attribution.encoding import encode, make_batch
from seedexplain.attribution.gradient import Explainer, grad_x_input, integrated_gradients, saliency
from seedexplain.attribution.lrp import lrp
from seedexplain.attribution.perturbation import kernel_shap, occlusion
from seedexplain.constraints import AGGREGATIONS, METHODS, POSITIVE_INT, Integer, OneOf, validated
from seedexplain.forward import length_batches, model_device
from seedexplain.progress import progress

__all__ = ["METHODS", "SIGNED_METHODS", "Explanation", "word_attributions"]

_FACTORIES: dict[str, Callable[..., Explainer]] = {
    "grad_x_input": grad_x_input,
    "saliency": saliency,
    "integrated_gradients": integrated_gradients,
    "occlusion": occlusion,
    "kernel_shap": kernel_shap,
    "lrp": lrp,
    "attention_last": attention_last,
    "attention_rollout": attention_rollout,
}
if tuple(_FACTORIES) != METHODS:
    raise ImportError(f"the attribution methods {tuple(_FACTORIES)} differ from seedexplain.constraints.METHODS")

SIGNED_METHODS = ("grad_x_input", "integrated_gradients", "occlusion", "kernel_shap", "lrp")
"""Methods whose sign gives the direction of a word's effect on ``f``; saliency and attention are ≥ 0."""

_WORD_LEVEL = ("occlusion", "kernel_shap")


@dataclass(frozen=True, eq=False)  # compared by identity: field-wise equality of arrays is ambiguous
class Explanation:
    """The explanation of one text: ``scores`` (shape ``(n_words,)``, float64) aligned with ``words``.

    ``scores`` is NaN for words that have no token (cut by truncation). ``n_tokens`` counts the tokens the
    model saw, special tokens included; ``truncated`` is True when the tokenizer cut the text at
    ``max_length``. ``method`` names the method that made it; ``extras`` holds its diagnostics (e.g. the IG
    convergence delta, the Kernel SHAP sample count, the LRP relevance of the biases).
    """

    words: tuple[str, ...]
    scores: np.ndarray
    n_tokens: int
    truncated: bool
    method: str
    extras: dict = field(default_factory=dict)


def _prepare(model: PreTrainedModel, method: str, options: dict) -> Explainer:
    """Return the prepared explainer of ``method`` (a name of :data:`METHODS`), after checking its options."""
    factory = _FACTORIES[method]
    allowed = [name for name, p in inspect.signature(factory).parameters.items() if p.kind == p.KEYWORD_ONLY]
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        raise ValueError(f"option(s) {', '.join(map(repr, unknown))} not accepted by method={method!r}; "
                         f"its options are: {', '.join(map(repr, allowed)) or 'none'}")
    return factory(model, **options)


@validated(method=OneOf(METHODS), aggregate=OneOf(AGGREGATIONS), max_length=Integer(3), batch_size=POSITIVE_INT)
def word_attributions(model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, texts: Sequence[str], *,
                      method: str = "grad_x_input", max_length: int = 128, batch_size: int = 16,
                      aggregate: str = "sum", device: str | torch.device | None = None,
                      **options: object) -> list[Explanation]:
    """Return one :class:`Explanation` of ``f = logit[1] − logit[0]`` per text, in the order of ``texts``.

    ``method`` is one of :data:`METHODS`; ``options`` are its keyword arguments (``n_steps``, ``baseline``,
    ``internal_batch_size`` for integrated gradients; ``deletion`` for occlusion; ``n_samples``, ``deletion``,
    ``seed`` for Kernel SHAP). Texts are tokenised (truncated to ``max_length`` tokens), sorted by length and
    run in batches of up to ``batch_size`` texts of similar length, padded to the longest (see
    :func:`~seedexplain.forward.length_batches`); integrated gradients runs the path points of a
    batch's texts in passes of ``internal_batch_size`` rows, the perturbation methods their perturbed copies
    ``batch_size`` at a time. Token scores are aggregated to words with ``aggregate`` (``"sum"``, ``"mean"``,
    ``"max_abs"``, ``"first"``; ignored by occlusion and Kernel SHAP, which score words directly). The model
    runs in eval mode on ``device`` (default: where it already is) and is put back in its previous mode and
    device afterwards. Results are deterministic.
    """
    explain = _prepare(model, method, options)
    encoded = encode(tokenizer, texts, max_length)
    home, was_training = model_device(model), model.training
    target = torch.device(device) if device is not None else home
    model.to(target).eval()
    explanations: list[Explanation | None] = [None] * len(encoded)
    try:
        batches = length_batches([text.n_tokens for text in encoded], batch_size)
        for indices in progress(batches, desc=f"{method}, {len(encoded)} texts", unit="batch", leave=False):
            batch = make_batch(tokenizer, [encoded[i] for i in indices], indices, target, batch_size)
            for i, text, (scores, extras) in zip(indices, batch.texts, explain(batch)):
                if method not in _WORD_LEVEL:
                    scores = words.aggregate(scores, text.token_word, len(text.words), aggregate)
                explanations[i] = Explanation(tuple(w.text for w in text.words), scores, text.n_tokens,
                                              text.truncated, method, extras)
    finally:
        model.to(home).train(was_training)
    return explanations
