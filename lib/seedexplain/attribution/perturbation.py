"""Perturbation methods over whole words: leave-one-word-out occlusion and Kernel SHAP (Captum).

Both take words out of the text in the same way (see :func:`seedexplain.attribution.encoding.delete_words`):
by default their tokens are removed and the text closes up (``deletion="remove"``), which keeps the input a
real text; ``deletion="mask"`` replaces each token by [MASK] instead, which keeps positions but shows the
model a token it was not fine-tuned on. Scores are per word, so the ``aggregate`` rule does not apply to these
methods.
"""

from __future__ import annotations

import numpy as np
import torch
from captum.attr import KernelShap
from transformers import PreTrainedModel

from seedexplain.attribution.encoding import Batch, EncodedText, delete_words
from seedexplain.attribution.gradient import Explainer
from seedexplain.constraints import DELETIONS, Integer, OneOf, OrNone, validated
from seedexplain.forward import sequences_logit_difference


def _present_words(text: EncodedText) -> np.ndarray:
    """Return the indices of the words that kept at least one token, shape ``(n_present,)``, increasing."""
    return np.unique(text.token_word[text.token_word >= 0])


def _without(text: EncodedText, words: np.ndarray, deletion: str, batch: Batch) -> np.ndarray:
    """Return the token ids of ``text`` with the words of index ``words`` taken out (the empty text: [PAD])."""
    absent = np.zeros(len(text.words), dtype=bool)
    absent[words] = True
    return delete_words(text, absent, deletion, batch.mask_id, batch.pad_id)


@validated(deletion=OneOf(DELETIONS))
def occlusion(model: PreTrainedModel, *, deletion: str = "remove") -> Explainer:
    """Return the explainer of leave-one-word-out scores ``f(x) − f(x without word w)``, ``(n_words,)`` per
    text.

    Words cut by truncation are NaN. Extras: ``logit_diff`` (f of the whole text) and ``deletion``.
    """
    def explain(batch: Batch) -> list[tuple[np.ndarray, dict]]:
        sequences, present = [], []
        for text in batch.texts:
            present.append(_present_words(text))
            sequences += [text.ids] + [_without(text, [w], deletion, batch) for w in present[-1]]
        f = sequences_logit_difference(model, sequences, batch.pad_id, batch.batch_size)
        results, start = [], 0
        for text, words in zip(batch.texts, present):
            scores = np.full(len(text.words), np.nan)
            scores[words] = f[start] - f[start + 1 : start + 1 + len(words)]
            results.append((scores, {"logit_diff": float(f[start]), "deletion": deletion}))
            start += 1 + len(words)
        return results

    return explain


@validated(deletion=OneOf(DELETIONS), n_samples=OrNone(Integer(2)))
def kernel_shap(model: PreTrainedModel, *, n_samples: int | None = None, deletion: str = "remove",
                seed: int = 0) -> Explainer:
    """Return the explainer of Kernel SHAP values of words (Lundberg & Lee 2017), ``(n_words,)`` per text.

    The players are the words that kept a token; a coalition is the text with the other words taken out.
    Captum fits the weighted linear model on ``n_samples`` coalitions (default ``max(256, 4 · n_words)``)
    drawn from the torch generator seeded with ``seed + position of the text in the caller's list``, so a
    text's scores do not depend on the batching. Extras: ``n_samples``, ``seed`` (the per-text seed) and
    ``deletion``.
    """

    def explain_text(text: EncodedText, text_seed: int, batch: Batch) -> tuple[np.ndarray, dict]:
        words = _present_words(text)
        samples = n_samples or max(256, 4 * len(words))

        def forward(coalitions: torch.Tensor) -> torch.Tensor:  # (k, n_present) in {0, 1} → (k,)
            absent = [words[row.numpy() == 0] for row in coalitions]
            sequences = [_without(text, gone, deletion, batch) for gone in absent]
            f = sequences_logit_difference(model, sequences, batch.pad_id, batch.batch_size)
            return torch.as_tensor(f)

        scores = np.full(len(text.words), np.nan)
        if len(words):
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(text_seed)
                values = KernelShap(forward).attribute(
                    torch.ones(1, len(words)), baselines=torch.zeros(1, len(words)), n_samples=samples,
                    perturbations_per_eval=batch.batch_size,
                )
            scores[words] = values[0].double().numpy()
        return scores, {"n_samples": samples, "seed": text_seed, "deletion": deletion}

    def explain(batch: Batch) -> list[tuple[np.ndarray, dict]]:
        return [explain_text(text, seed + int(i), batch) for text, i in zip(batch.texts, batch.indices)]

    return explain
