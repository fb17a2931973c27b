"""The checks of attention as an explanation, on the tiny random BERT."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from seedexplain import attention_checks
from seedexplain.faithfulness import randomised_copy
from seedexplain.forward import texts_logit_difference
from seedexplain.words import segment

TEXTS = ["The unbelievably funny film was great!", "A plot about a man.",
         "He runs quickly to the house, then the film."]


def test_rank_agreement_known_values():
    scores = [np.array([1.0, 2.0, 3.0, 4.0]), np.array([1.0, np.nan, 2.0]), np.array([3.0, 1.0, 2.0, 0.5])]
    reference = [np.array([-1.0, -2.0, -3.0, -4.0]), np.array([1.0, 2.0, 3.0]), np.array([0.5, 1.0, 2.0, 3.0])]
    table = attention_checks.rank_agreement(scores, reference)
    assert table.spearman.iloc[0] == pytest.approx(1.0) and table.kendall.iloc[0] == pytest.approx(1.0)
    assert table.n_words.tolist() == [4, 2, 4] and np.isnan(table.spearman.iloc[1])  # NaN word dropped, < 3 left
    assert table.spearman.iloc[2] == pytest.approx(-0.8) and table.same_top.tolist() == [True, True, False]
    signed = attention_checks.rank_agreement(scores, reference, absolute=False)
    assert signed.spearman.iloc[0] == pytest.approx(-1.0)


def test_identity_permutation_leaves_the_model_unchanged(tiny):
    model, tokenizer = tiny
    inputs = tokenizer(TEXTS, padding=True, return_tensors="pt")
    target = model.base_model.encoder.layer[-1].attention.self
    identity = torch.arange(inputs["input_ids"].shape[1]).repeat(len(TEXTS), 1)
    with torch.no_grad():
        plain = model(**inputs).logits
        with attention_checks.attention_override(model, attention_checks._permuted_cls_keys(target, identity)):
            same = model(**inputs).logits
    torch.testing.assert_close(same, plain, rtol=0, atol=0)


def test_permuted_attention_effects_are_deterministic_and_batch_independent(tiny):
    model, tokenizer = tiny
    effects = attention_checks.permuted_attention_effects(model, tokenizer, TEXTS, n_permutations=3, seed=1)
    assert effects.shape == (3, 3) and np.abs(effects).max() > 0
    again = attention_checks.permuted_attention_effects(model, tokenizer, TEXTS, n_permutations=3, seed=1,
                                                        batch_size=1)
    np.testing.assert_allclose(effects, again, atol=1e-6)
    assert model.config._attn_implementation == "eager"


def test_word_deletion_removes_the_word_and_keeps_the_rest_of_the_text(tiny):
    model, tokenizer = tiny
    f, deltas = attention_checks.word_deletion_effects(model, tokenizer, TEXTS)
    np.testing.assert_allclose(f, texts_logit_difference(model, tokenizer, TEXTS, max_length=128), atol=1e-6)
    manual = texts_logit_difference(model, tokenizer, ["A about a man."], max_length=128)[0] - f[1]
    assert deltas[1][1] == pytest.approx(manual, abs=1e-6)  # word 1 of "A plot about a man." is "plot"
    assert [len(d) for d in deltas] == [len(segment(t)) for t in TEXTS]


def test_attention_agreement_table(tiny):
    model, tokenizer = tiny
    table = attention_checks.attention_agreement(model, tokenizer, TEXTS, n_permutations=2)
    assert len(table) == len(TEXTS) * 2 * 2
    assert set(table.reference) == {"grad_x_input", "deletion"}
    assert (table.delta_max_word >= table.delta_top_attention).all()
    assert (table.delta_max_word >= table.delta_mean_word).all()
    deletion = table[table.reference == "deletion"]
    np.testing.assert_allclose(deletion.delta_top_reference, deletion.delta_max_word)
    with pytest.raises(ValueError, match="attentions='grad_x_input' is not one of"):
        attention_checks.attention_agreement(model, tokenizer, TEXTS, attentions=["grad_x_input"])


def test_attention_ignores_a_random_head_and_gradients_do_not(tiny):
    model, tokenizer = tiny
    randomized = randomised_copy(model, seed=7)
    assert not torch.equal(randomized.classifier.weight, model.classifier.weight)
    assert not torch.equal(randomized.bert.pooler.dense.weight, model.bert.pooler.dense.weight)  # head = both
    assert torch.equal(randomized.bert.encoder.layer[-1].output.dense.weight,
                       model.bert.encoder.layer[-1].output.dense.weight)
    table = attention_checks.head_randomization_agreement(model, tokenizer, TEXTS,
                                                          methods=["attention_last", "grad_x_input"])
    np.testing.assert_allclose(table[table.method == "attention_last"].spearman, 1.0)
    assert (table[table.method == "grad_x_input"].spearman < 0.999).any()


def test_the_permutation_test_refuses_a_decoder_by_name():
    from seedexplain.models import load_transformer

    model, tokenizer = load_transformer("tiny-llama", seed=0)
    with pytest.raises(ValueError, match="needs a BERT-type encoder read at \\[CLS\\]; model of type 'llama'"):
        attention_checks.permuted_attention_effects(model, tokenizer, ["a text"])
