"""Batched forward passes and the scoped attention override, on the tiny random BERT."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch

from seedexplain.forward import (
    attention_override,
    padded_batches,
    sequences_logit_difference,
    texts_logit_difference,
)

TEXTS = ["The unbelievably funny film was great!", "A plot about a man.", "Fine.",
         "He runs quickly to the house, then the film."]


def _logits(model, tokenizer, texts=TEXTS):
    inputs = tokenizer(texts, padding=True, return_tensors="pt")
    with torch.no_grad():
        return model(**inputs).logits


def test_padded_batches_cover_every_sequence_once_padded_on_the_right():
    sequences = [[5, 6, 7], [1], [2, 3], [4, 4, 4, 4]]
    seen = []
    for indices, input_ids, attention_mask in padded_batches(sequences, pad_id=0, batch_size=2,
                                                             device=torch.device("cpu")):
        for row, i in enumerate(indices):
            n = len(sequences[i])
            assert input_ids[row, :n].tolist() == sequences[i] and (input_ids[row, n:] == 0).all()
            assert attention_mask[row].tolist() == [1] * n + [0] * (input_ids.shape[1] - n)
        seen += indices.tolist()
    assert sorted(seen) == [0, 1, 2, 3]


def test_logit_difference_does_not_depend_on_the_batching(tiny):
    model, tokenizer = tiny
    expected = (lambda logits: (logits[:, 1] - logits[:, 0]).double().numpy())(_logits(model, tokenizer))
    for batch_size in (1, 2, 64):
        f = texts_logit_difference(model, tokenizer, TEXTS, max_length=128, batch_size=batch_size)
        np.testing.assert_allclose(f, expected, rtol=1e-5, atol=1e-6)
    ids = tokenizer(TEXTS)["input_ids"]
    np.testing.assert_allclose(sequences_logit_difference(model, ids, tokenizer.pad_token_id, 2), expected,
                               rtol=1e-5, atol=1e-6)


def test_identity_override_is_bit_identical_and_restored(tiny):
    model, tokenizer = tiny
    plain = _logits(model, tokenizer)
    with attention_override(model, lambda module, weights: weights):
        same = _logits(model, tokenizer)
    assert torch.equal(same, plain)
    assert model.config._attn_implementation == "eager"
    assert not any(hasattr(m, "_seedexplain_attention_transform") for m in model.modules())


def test_override_changes_only_what_it_targets_and_is_restored_after_an_error(tiny):
    model, tokenizer = tiny
    plain = _logits(model, tokenizer)
    first = model.base_model.encoder.layer[0].attention.self

    def uniform_in_first_layer(module, weights):
        if module is not first:
            return weights
        real = (weights > 0).to(weights.dtype)  # masked (padding) keys have weight 0
        return real / real.sum(-1, keepdim=True)

    with attention_override(model, uniform_in_first_layer):
        changed = _logits(model, tokenizer)
    assert not torch.allclose(changed, plain)
    with pytest.raises(KeyError):
        with attention_override(model, lambda module, weights: weights):
            raise KeyError("an error inside the block")
    assert model.config._attn_implementation == "eager"
    assert torch.equal(_logits(model, tokenizer), plain)


def test_override_refuses_nesting_and_training_with_dropout(tiny):
    model, tokenizer = tiny
    with attention_override(model, lambda module, weights: weights):
        with pytest.raises(RuntimeError, match="do not nest"):
            with attention_override(model, lambda module, weights: weights):
                pass
    assert model.config.attention_probs_dropout_prob > 0
    model.train()
    try:
        with attention_override(model, lambda module, weights: weights):
            with pytest.raises(RuntimeError, match="eval mode"):
                _logits(model, tokenizer)
    finally:
        model.eval()


def test_nothing_is_registered_with_transformers_at_import():
    code = ("import seedexplain.attribution, seedexplain.attention_checks\n"
            "from transformers import AttentionInterface\n"
            "from transformers.masking_utils import AttentionMaskInterface\n"
            "print(any(k.startswith('seedexplain') for k in [*AttentionInterface._global_mapping, "
            "*AttentionMaskInterface._global_mapping]))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"
