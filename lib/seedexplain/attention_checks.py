"""Is attention an explanation? The checks of Jain & Wallace (2019), Wiegreffe & Pinter (2019) and Adebayo et al.

At a size a CPU affords: (i) agreement, per text, between attention-based word scores and a gradient or occlusion
attribution (Spearman and Kendall rank correlations, :func:`rank_agreement`); (ii) what the prediction does when
the attention is changed — the last layer's [CLS] attention randomly permuted over the words, inside the model
(:func:`permuted_attention_effects`) — compared with deleting the word attention ranks first, the word the
reference attribution ranks first, an average word and the most influential word (leave-one-word-out, the
occlusion method: :func:`word_deletion_effects`); (iii) Adebayo et al.'s (2018) model-randomisation check: does the
explanation change when the classification head is re-drawn (:func:`head_randomization_agreement`)?
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import torch
from scipy import stats
from torch import nn
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from seedexplain.attribution import word_attributions
from seedexplain.constraints import POSITIVE_INT, Integer, OneOf, check, validated
from seedexplain.faithfulness import randomised_copy
from seedexplain.forward import (
    AttentionTransform,
    attention_override,
    logit_difference,
    model_device,
    padded_batches,
)

ATTENTION_METHODS = ("attention_last", "attention_rollout")
"""The attention-based methods of :func:`seedexplain.attribution.word_attributions`."""


def rank_agreement(scores: Sequence[np.ndarray], reference: Sequence[np.ndarray], *,
                   absolute: bool = True) -> pd.DataFrame:
    """Return one row per text: how far two word-score arrays of the text rank the words alike.

    ``scores`` and ``reference`` hold one array of shape ``(n_words,)`` per text (words that are NaN in either are
    ignored). With ``absolute`` (the default) magnitudes ``|scores|`` and ``|reference|`` are ranked: attention
    is non-negative and says nothing about direction, so Jain & Wallace compare it with importance magnitudes.
    Columns: ``n_words``, ``spearman``, ``kendall`` (tau-b; both NaN for texts with fewer than 3 words or
    constant scores) and ``same_top`` (both put the same word first).
    """
    if len(scores) != len(reference):
        raise ValueError(f"scores has {len(scores)} texts but reference has {len(reference)}")
    rows = []
    for a, r in zip(scores, reference):
        a, r = np.asarray(a, dtype=np.float64), np.asarray(r, dtype=np.float64)
        if a.shape != r.shape:
            raise ValueError(f"a text has {a.shape} scores but {r.shape} reference scores")
        a, r = (np.abs(a), np.abs(r)) if absolute else (a, r)
        ok = ~(np.isnan(a) | np.isnan(r))
        a, r = a[ok], r[ok]
        enough = len(a) >= 3 and np.ptp(a) > 0 and np.ptp(r) > 0
        rows.append({
            "n_words": int(len(a)),
            "spearman": float(stats.spearmanr(a, r).statistic) if enough else np.nan,
            "kendall": float(stats.kendalltau(a, r).statistic) if enough else np.nan,
            "same_top": bool(len(a) and np.argmax(a) == np.argmax(r)),
        })
    return pd.DataFrame(rows, columns=["n_words", "spearman", "kendall", "same_top"])


@validated(max_length=Integer(3), batch_size=POSITIVE_INT)
def word_deletion_effects(model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, texts: Sequence[str], *,
                          max_length: int = 128, batch_size: int = 32) -> tuple[np.ndarray, list[np.ndarray]]:
    """Return ``(f, deltas)``: ``f = logit[1] − logit[0]`` of each text, shape ``(n_texts,)``, and per text the
    change ``f(text without word w) − f(text)`` of every word, shape ``(n_words,)``.

    This is the occlusion method of :func:`seedexplain.attribution.word_attributions` with its sign turned: a
    word's tokens are removed and the text closes up. Words the model does not see (cut by truncation) are NaN.
    """
    explanations = word_attributions(model, tokenizer, texts, method="occlusion", max_length=max_length,
                                     batch_size=batch_size)
    return np.array([e.extras["logit_diff"] for e in explanations]), [-e.scores for e in explanations]


def _permuted_cls_keys(target: nn.Module, order: torch.Tensor) -> AttentionTransform:
    """Return the attention transform that, in module ``target`` only, re-assigns the [CLS] query's weights:
    key ``j`` of text ``b`` gets the weight of key ``order[b, j]`` (``order`` is ``(B, L)``)."""
    def transform(module: nn.Module, weights: torch.Tensor) -> torch.Tensor:
        if module is not target:
            return weights
        index = order[:, None, :].expand(-1, weights.size(1), -1)
        weights = weights.clone()
        weights[:, :, 0, :] = weights[:, :, 0, :].gather(-1, index)
        return weights

    return transform


@validated(n_permutations=POSITIVE_INT, max_length=Integer(3), batch_size=POSITIVE_INT)
@torch.no_grad()
def permuted_attention_effects(model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, texts: Sequence[str], *,
                               n_permutations: int = 10, seed: int = 0, max_length: int = 128,
                               batch_size: int = 32) -> np.ndarray:
    """Return ``f(permuted) − f`` per text and permutation, shape ``(n_texts, n_permutations)``.

    Jain & Wallace's permutation test, inside a BERT-type classifier: in the last encoder layer, where only the
    [CLS] position's output goes on to the classifier (through the pooler), the [CLS] query's attention weights
    (every head, same permutation) are shuffled among the text's non-special tokens; [CLS] and [SEP] keep their
    weights. Everything else is unchanged (:func:`seedexplain.forward.attention_override`).
    Permutation ``k`` of text ``i`` is drawn from ``(seed, i, k)``, so results do not depend on the batching.
    """
    if getattr(model.base_model, "encoder", None) is None:
        raise ValueError(f"the permutation test needs a BERT-type encoder read at [CLS]; model of type "
                         f"{model.config.model_type!r} is not one")
    was_training = model.training
    model.eval()
    encoding = tokenizer(list(texts), truncation=True, max_length=max_length, return_special_tokens_mask=True)
    target = model.base_model.encoder.layer[-1].attention.self
    effects = np.empty((len(texts), n_permutations))
    batches = padded_batches(encoding["input_ids"], tokenizer.pad_token_id, batch_size, model_device(model))
    try:
        for batch, input_ids, attention_mask in batches:
            f = logit_difference(model, input_ids, attention_mask).double()
            for k in range(n_permutations):
                order = torch.arange(input_ids.shape[1]).repeat(len(batch), 1)
                for row, i in enumerate(batch):
                    tokens = np.flatnonzero(~np.asarray(encoding["special_tokens_mask"][i], dtype=bool))
                    order[row, tokens] = torch.as_tensor(np.random.default_rng([seed, i, k]).permutation(tokens))
                with attention_override(model, _permuted_cls_keys(target, order.to(input_ids.device))):
                    permuted = logit_difference(model, input_ids, attention_mask).double()
                effects[batch, k] = (permuted - f).cpu().numpy()
    finally:
        model.train(was_training)
    return effects


def attention_agreement(model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, texts: Sequence[str], *,
                        attentions: Sequence[str] = ATTENTION_METHODS,
                        references: Sequence[str] = ("grad_x_input", "deletion"), n_permutations: int = 10,
                        seed: int = 0, max_length: int = 128) -> pd.DataFrame:
    """Return one row per (text, attention method, reference method): Jain & Wallace's two tests on each text.

    Word scores come from :func:`seedexplain.attribution.word_attributions`; ``attentions`` are attention
    methods; ``references`` are other methods of that function, or ``"deletion"``: leave-one-word-out occlusion
    ``f(x) − f(x without w)`` (:func:`word_deletion_effects`, which the deletion columns need anyway). Columns:
    ``text`` (index in ``texts``), ``attention``, ``reference``, those of :func:`rank_agreement` (attention
    against ``|reference|``), ``f`` (the explained logit difference), then absolute changes of ``f``:
    ``delta_top_attention`` when deleting the word with the most attention, ``delta_top_reference`` when deleting
    the word of largest ``|reference|``, ``delta_mean_word`` the average over the text's words (the expected
    effect of deleting a word chosen at random), ``delta_max_word`` the largest (the most influential single
    word), and ``delta_permuted``, the median over ``n_permutations`` random permutations of the last layer's
    [CLS] attention (:func:`permuted_attention_effects`; the same for every attention method, since it intervenes
    on the model rather than on an explanation).
    """
    for name in attentions:
        check("attentions", name, OneOf(ATTENTION_METHODS))
    f, deltas = word_deletion_effects(model, tokenizer, texts, max_length=max_length)
    scores = {"deletion": [-delta for delta in deltas]}
    for name in dict.fromkeys([*attentions, *references]):
        if name not in scores:
            explanations = word_attributions(model, tokenizer, texts, method=name, max_length=max_length)
            scores[name] = [e.scores for e in explanations]
    permuted = permuted_attention_effects(model, tokenizer, texts, n_permutations=n_permutations, seed=seed,
                                          max_length=max_length)
    frames = []
    for attention in attentions:
        for reference in references:
            table = rank_agreement(scores[attention], scores[reference])
            table.insert(0, "text", np.arange(len(texts)))
            table.insert(1, "attention", attention)
            table.insert(2, "reference", reference)
            table["f"] = f
            table["delta_top_attention"] = [abs(d[_nan_argmax(a)]) for d, a in zip(deltas, scores[attention])]
            table["delta_top_reference"] = [abs(d[_nan_argmax(np.abs(r))]) for d, r in zip(deltas, scores[reference])]
            table["delta_mean_word"] = [float(np.nanmean(np.abs(d))) for d in deltas]
            table["delta_max_word"] = [float(np.nanmax(np.abs(d))) for d in deltas]
            table["delta_permuted"] = np.median(np.abs(permuted), axis=1)
            frames.append(table)
    return pd.concat(frames, ignore_index=True)


def head_randomization_agreement(model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, texts: Sequence[str], *,
                                 methods: Sequence[str], seed: int = 0, max_length: int = 128) -> pd.DataFrame:
    """Return one row per (text, method): rank agreement between the explanations of ``model`` and of the same
    model with a random head — the pooler and the classifier re-drawn from ``seed``
    (:func:`seedexplain.faithfulness.randomised_copy` with ``n_layers=0``, as in the methods chapter).

    An explanation of the decision should change when the decision function is randomised (Adebayo et al. 2018);
    magnitudes are compared, since a random head flips signs arbitrarily. Columns: ``text``, ``method`` and those
    of :func:`rank_agreement`.
    """
    randomized = randomised_copy(model, seed=seed)
    frames = []
    for method in methods:
        trained, random = ([e.scores for e in word_attributions(m, tokenizer, texts, method=method,
                                                                   max_length=max_length)]
                           for m in (model, randomized))
        table = rank_agreement(trained, random)
        table.insert(0, "text", np.arange(len(texts)))
        table.insert(1, "method", method)
        frames.append(table)
    return pd.concat(frames, ignore_index=True)


def _nan_argmax(scores: np.ndarray) -> int:
    return int(np.nanargmax(np.asarray(scores, dtype=np.float64)))
