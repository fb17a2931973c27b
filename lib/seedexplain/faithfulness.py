"""Faithfulness of word explanations: AOPC comprehensiveness and sufficiency, agreement with leave-one-out,
and the model-randomisation check.

All values are in the units of the explained quantity. For a text ``x`` let ``s = sign f(x)`` and
``g(·) = s · f(·)``, the margin of the class the model predicts. Words are ranked by ``s · a`` for signed
methods (evidence *for* the predicted class first) and by ``a`` for unsigned ones (saliency, attention). With
``top_k`` the ``⌈k/100 · n⌉`` highest-ranked of the ``n`` words that have a score (ties: earlier word first):

- comprehensiveness ``C_k = g(x) − g(x without top_k)``: higher is more faithful;
- sufficiency ``S_k = g(x) − g(top_k only)``: lower is more faithful;

and AOPC averages each over the grid of ``k`` (DeYoung et al. 2020, ERASER). ERASER states both on the predicted
class's probability, ``p = σ(g)`` for two classes; :class:`AOPC` holds both forms, the margins (logit units) and
the probabilities (comparable with the literature). Unsigned methods have no direction, so their score is their
rank; ranking them by ``s · a`` like the signed ones would put the *least* important word first for class 0.
Words are deleted the way
occlusion deletes them: their tokens are removed and the text closes up (``deletion="remove"``, default), or
each token becomes [MASK] (``"mask"``).
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from scipy import special
from scipy.stats import rankdata
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from seedexplain.attribution import METHODS, SIGNED_METHODS, Explanation, word_attributions
from seedexplain.attribution.encoding import EncodedText, delete_words, encode
from seedexplain.constraints import DELETIONS, OneOf, validated
from seedexplain.forward import sequences_logit_difference
from seedexplain.models import reinitialise, transformer_blocks

PERCENTS = (1, 5, 10, 20, 50)
"""Default grid of k, the percentage of words deleted or kept (ERASER's bins)."""


@dataclass(frozen=True)
class AOPC:
    """AOPC per text: ``comprehensiveness`` and ``sufficiency`` have shape ``(n_texts,)``.

    ``drop`` and ``keep`` (shape ``(n_texts, n_percents)``) are the per-k values ``C_k`` and ``S_k`` behind
    them; ``margin`` (shape ``(n_texts,)``) is ``g(x) = |f(x)|``, the margin that deletions reduce.
    ``comprehensiveness_probability`` and ``sufficiency_probability`` are the same on the probability of the
    predicted class, ``σ(g(x)) − σ(g(·))`` (ERASER's form), in [−1, 1].
    """

    percents: tuple[float, ...]
    comprehensiveness: np.ndarray
    sufficiency: np.ndarray
    drop: np.ndarray
    keep: np.ndarray
    margin: np.ndarray
    comprehensiveness_probability: np.ndarray
    sufficiency_probability: np.ndarray


def _check_percents(percents: Sequence[float]) -> tuple[float, ...]:
    bad = [k for k in percents if not 0 < k <= 100]
    if not percents or bad:
        raise ValueError(f"percents={tuple(percents)!r}: every top-k percentage must be in (0, 100]")
    return tuple(float(k) for k in percents)


def ranking(explanation: Explanation, sign: float) -> np.ndarray:
    """Return the indices of the scored words, most important first, shape ``(n_scored,)``.

    Signed methods rank by ``sign · score`` (evidence for the predicted class first), unsigned ones by score;
    words without a score (NaN: cut by truncation) are left out; ties keep the earlier word first.
    """
    scores = explanation.scores * (sign if explanation.method in SIGNED_METHODS else 1.0)
    scored = np.flatnonzero(np.isfinite(scores))
    return scored[np.argsort(-scores[scored], kind="stable")]


def _check_alignment(encoded: list[EncodedText], explanations: Sequence[Explanation]) -> None:
    if len(encoded) != len(explanations):
        raise ValueError(f"{len(encoded)} texts but {len(explanations)} explanations")
    for i, (text, explanation) in enumerate(zip(encoded, explanations)):
        if tuple(w.text for w in text.words) != explanation.words:
            raise ValueError(f"explanation {i} does not have the words of text {i}")
        if text.n_tokens != explanation.n_tokens:
            raise ValueError(f"explanation {i} was made on {explanation.n_tokens} tokens, text {i} has "
                             f"{text.n_tokens} here: use the max_length of the explanations")


@validated(deletion=OneOf(DELETIONS))
def aopc(model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, texts: Sequence[str],
         explanations: Sequence[Explanation], *, percents: Sequence[float] = PERCENTS,
         deletion: str = "remove", max_length: int = 128, batch_size: int = 16) -> AOPC:
    """Return AOPC comprehensiveness and sufficiency of ``explanations`` (one per text) for ``model``.

    See the module docstring for the definitions. ``max_length`` must be the one the explanations were made
    with, so that the model sees the same tokens.
    """
    percents = _check_percents(percents)
    encoded = encode(tokenizer, texts, max_length)
    _check_alignment(encoded, explanations)
    pad_id = tokenizer.pad_token_id
    f = sequences_logit_difference(model, [text.ids for text in encoded], pad_id, batch_size)
    signs = np.where(f < 0, -1.0, 1.0)
    sequences = []
    for text, explanation, sign in zip(encoded, explanations, signs):
        order = ranking(explanation, sign)
        for k in percents:
            top = order[: math.ceil(k / 100 * len(order))]
            dropped = np.zeros(len(text.words), dtype=bool)
            dropped[top] = True
            others = np.zeros(len(text.words), dtype=bool)
            others[order] = True
            others[top] = False
            sequences += [delete_words(text, dropped, deletion, tokenizer.mask_token_id, pad_id),
                          delete_words(text, others, deletion, tokenizer.mask_token_id, pad_id)]
    shape = (len(encoded), len(percents), 2)
    g = sequences_logit_difference(model, sequences, pad_id, batch_size).reshape(shape) * signs[:, None, None]
    margin = signs * f
    drop, keep = margin[:, None] - g[..., 0], margin[:, None] - g[..., 1]
    p, deleted = special.expit(margin)[:, None], special.expit(g)
    return AOPC(percents, drop.mean(axis=1), keep.mean(axis=1), drop, keep, margin,
                (p - deleted[..., 0]).mean(axis=1), (p - deleted[..., 1]).mean(axis=1))


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    """Return Spearman's rank correlation of two score vectors ``(n,)`` over the positions finite in both.

    NaN when fewer than 3 such positions remain or one side is constant (no ranking to compare).
    """
    keep = np.isfinite(a) & np.isfinite(b)
    if keep.sum() < 3:
        return math.nan
    ranks_a, ranks_b = rankdata(a[keep]), rankdata(b[keep])
    if ranks_a.std() == 0 or ranks_b.std() == 0:
        return math.nan
    return float(np.corrcoef(ranks_a, ranks_b)[0, 1])


def loo_agreement(explanations: Sequence[Explanation], occlusions: Sequence[Explanation]) -> np.ndarray:
    """Return the Spearman correlation, per text, of each explanation with leave-one-word-out; ``(n_texts,)``.

    ``occlusions`` are the same texts explained with ``method="occlusion"``. An unsigned method (saliency,
    attention) is compared with the magnitude ``|occlusion|``, since it cannot express a direction.
    """
    if len(explanations) != len(occlusions):
        raise ValueError(f"{len(explanations)} explanations but {len(occlusions)} occlusions")
    return np.array([
        spearman(e.scores, o.scores if e.method in SIGNED_METHODS else np.abs(o.scores))
        for e, o in zip(explanations, occlusions)
    ])


def randomised_copy(model: PreTrainedModel, *, seed: int, n_layers: int = 0) -> PreTrainedModel:
    """Return a copy of ``model`` with its head, and its top ``n_layers`` layers, re-initialised.

    The head is everything outside the body (the classifier; a decoder's final norm stays) and a pooler; the layers
    are an encoder's or a decoder's (:func:`~seedexplain.models.transformer_blocks`); weights are drawn from a
    generator seeded with ``seed`` (the global torch RNG is untouched), with the model's ``initializer_range``.
    ``model`` itself is not modified. This is the cascading model-randomisation test of Adebayo et al. (2018,
    "Sanity checks for saliency maps").
    """
    n_blocks = len(transformer_blocks(model))
    if not 0 <= n_layers <= n_blocks:
        raise ValueError(f"n_layers={n_layers} must be between 0 and the {n_blocks} layers of the model")
    copied = copy.deepcopy(model)
    base = copied.base_model
    modules = [child for child in copied.children() if child is not base]
    modules += [base.pooler] if getattr(base, "pooler", None) is not None else []
    modules += list(transformer_blocks(copied)[n_blocks - n_layers:])
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for module in modules:
            reinitialise(module, model.config.initializer_range, generator)
    return copied


def randomisation_check(model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, texts: Sequence[str],
                        explanations: Sequence[Explanation], *, seed: int = 0, n_layers: int = 0,
                        **options: object) -> np.ndarray:
    """Return Spearman's correlation per text between explanations of ``model`` and of its randomised copy.

    The result has shape ``(n_texts,)``; the copy is made by :func:`randomised_copy`.
    ``explanations`` are ``model``'s, one per text; the copy is explained with the same method and ``options``
    (keyword arguments of :func:`~seedexplain.attribution.word_attributions`, e.g. ``max_length``). A faithful
    method gives correlations near 0: its explanation changes when the weights it should depend on change.
    """
    method = explanations[0].method
    randomised = word_attributions(randomised_copy(model, seed=seed, n_layers=n_layers), tokenizer, texts,
                                   method=method, **options)
    return np.array([spearman(a.scores, b.scores) for a, b in zip(explanations, randomised)])


def cascading_randomisation(model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, texts: Sequence[str],
                            explanations: Sequence[Explanation], *, seed: int = 0,
                            **options: object) -> pd.DataFrame:
    """Return the cascading randomisation test of Adebayo et al. (2018): one row per number of re-initialised
    layers (0: the head alone, then from the top layer down to every layer), with the median over texts of
    the Spearman correlation between ``explanations`` and those of the randomised copy (:func:`randomised_copy`),
    on the signed scores (``spearman_signed``) and on their magnitudes (``spearman_magnitude``: a method that only
    keeps which words matter, not their direction, is judged on that).

    ``options`` are those of :func:`~seedexplain.attribution.word_attributions` (e.g. ``max_length``).
    """
    method = explanations[0].method
    rows = []
    for n_layers in range(len(transformer_blocks(model)) + 1):
        randomised = word_attributions(randomised_copy(model, seed=seed, n_layers=n_layers), tokenizer, texts,
                                       method=method, **options)
        signed = np.array([spearman(a.scores, b.scores) for a, b in zip(explanations, randomised)])
        magnitude = np.array([spearman(np.abs(a.scores), np.abs(b.scores)) for a, b in zip(explanations, randomised)])
        rows.append(dict(n_layers=n_layers, spearman_signed=_median(signed), spearman_magnitude=_median(magnitude)))
    return pd.DataFrame(rows)


@dataclass(frozen=True)
class MethodComparison:
    """Every method's explanations of the same texts, and one row per method in ``table``.

    ``table`` columns: ``method``, ``seconds_per_text`` (wall time of :func:`word_attributions`),
    ``comprehensiveness`` and ``sufficiency`` (mean AOPC over texts, margins), their ``*_probability`` forms
    (ERASER's, on the predicted class's probability), ``loo_spearman`` (median agreement with
    leave-one-word-out) and ``randomisation_spearman`` (median correlation with the explanations of the model
    whose head, and top ``n_layers`` layers, were re-initialised; near 0 is what a faithful method gives).
    """

    explanations: dict[str, list[Explanation]]
    table: pd.DataFrame


def compare_methods(model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, texts: Sequence[str], *,
                    methods: Sequence[str] = METHODS, max_length: int = 128, batch_size: int = 16,
                    percents: Sequence[float] = PERCENTS, seed: int = 0, n_layers: int = 0,
                    options: Mapping[str, Mapping[str, object]] | None = None) -> MethodComparison:
    """Return the explanations of ``texts`` by every method and their faithfulness and cost, one row each.

    ``options`` maps a method to its keyword options, e.g. ``{"integrated_gradients": {"n_steps": 32}}``;
    ``seed`` seeds the randomised copy of the model. Occlusion is always computed: it is the reference of
    ``loo_spearman``.
    """
    options = dict(options or {})
    common = {"max_length": max_length, "batch_size": batch_size}
    explanations, seconds = {}, {}
    for method in dict.fromkeys([*methods, "occlusion"]):
        start = time.perf_counter()
        explanations[method] = word_attributions(model, tokenizer, texts, method=method, **common,
                                                 **options.get(method, {}))
        seconds[method] = (time.perf_counter() - start) / len(texts)
    rows = []
    for method in methods:
        faithful = aopc(model, tokenizer, texts, explanations[method], percents=percents, **common)
        randomised = randomisation_check(model, tokenizer, texts, explanations[method], seed=seed,
                                         n_layers=n_layers, **common, **options.get(method, {}))
        rows.append({"method": method, "seconds_per_text": seconds[method],
                     "comprehensiveness": float(np.mean(faithful.comprehensiveness)),
                     "sufficiency": float(np.mean(faithful.sufficiency)),
                     "comprehensiveness_probability": float(np.mean(faithful.comprehensiveness_probability)),
                     "sufficiency_probability": float(np.mean(faithful.sufficiency_probability)),
                     "loo_spearman": _median(loo_agreement(explanations[method], explanations["occlusion"])),
                     "randomisation_spearman": _median(randomised)})
    return MethodComparison({m: explanations[m] for m in methods}, pd.DataFrame(rows))


def _median(values: np.ndarray) -> float:
    """Return the median of the finite values (NaN if there are none), without a warning."""
    finite = values[np.isfinite(values)]
    return float(np.median(finite)) if finite.size else math.nan


def agreement_matrix(explanations: Mapping[str, Sequence[Explanation]]) -> pd.DataFrame:
    """Return the median over texts of the Spearman correlation between every two methods, ``(n, n)``.

    ``explanations`` maps each method to its explanations of the same texts. When one method of a pair is
    unsigned (saliency, attention), the signed one is compared through its magnitude ``|a|``.
    """
    names = list(explanations)
    matrix = pd.DataFrame(np.eye(len(names)), index=names, columns=names)
    for i, first in enumerate(names):
        for second in names[i + 1:]:
            both_signed = first in SIGNED_METHODS and second in SIGNED_METHODS
            rho = np.array([
                spearman(a.scores, b.scores) if both_signed else spearman(np.abs(a.scores), np.abs(b.scores))
                for a, b in zip(explanations[first], explanations[second])
            ])
            matrix.loc[first, second] = matrix.loc[second, first] = _median(rho)
    return matrix


LRP_PARTS = ("words", "special", "position_type", "bias")
"""Where conservative LRP puts ``f`` (:func:`lrp_budget`): the words' embeddings, the special tokens' ([CLS],
[SEP]) embeddings, every token's position and type embeddings, and the biases."""


def lrp_budget(explanations: Sequence[Explanation]) -> pd.DataFrame:
    """Return, per text explained by ``method="lrp"``, where the explained ``f`` went; one row per text.

    Columns: ``f``, the parts of :data:`LRP_PARTS` (``words``: the sum of the word relevances), ``residual = f −
    Σ parts`` (zero up to float rounding when LRP is conservative) and ``bias_share = bias / f``.
    """
    if any(e.method != "lrp" for e in explanations):
        raise ValueError("lrp_budget needs explanations made with method='lrp'")
    table = pd.DataFrame({
        "f": [e.extras["logit_diff"] for e in explanations],
        "words": [float(np.nansum(e.scores)) for e in explanations],
        "special": [e.extras["relevance_special"] for e in explanations],
        "position_type": [e.extras["relevance_position_type"] for e in explanations],
        "bias": [e.extras["relevance_bias"] for e in explanations],
    })
    residual = table.f - table[list(LRP_PARTS)].sum(axis=1)
    return table.assign(residual=residual, bias_share=table.bias / table.f)


def budget_shares(budget: pd.DataFrame) -> dict[str, float]:
    """Return the share of ``f`` that each part of :data:`LRP_PARTS` takes over the texts of one model.

    ``budget``: :func:`lrp_budget` rows. Each text's parts are signed by its ``f`` (so that texts of either class
    add up), summed over texts, and divided by ``Σ |f|``: the shares sum to 1 (conservation), a negative share works
    against the prediction.
    """
    sign = np.sign(budget.f)
    return {part: float((sign * budget[part]).sum() / budget.f.abs().sum()) for part in LRP_PARTS}
