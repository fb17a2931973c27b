"""Faithfulness measures on a hand-built model whose important word is known; the randomisation check."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from seedexplain.attribution import Explanation, word_attributions
from seedexplain.faithfulness import (
    agreement_matrix,
    aopc,
    budget_shares,
    compare_methods,
    loo_agreement,
    lrp_budget,
    randomisation_check,
    randomised_copy,
    spearman,
)
from seedexplain.models import load_tokenizer, load_transformer

TEXT = "the film was great"


class CountingModel(nn.Module):
    """``f = logit[1] − logit[0] = Σ weight[token]`` over the attended tokens: each word's effect is exact."""

    def __init__(self, tokenizer, weights: dict[str, float]) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(tokenizer.vocab_size))
        with torch.no_grad():
            for token, value in weights.items():
                self.weight[tokenizer.convert_tokens_to_ids(token)] = value

    def forward(self, input_ids=None, attention_mask=None, inputs_embeds=None):
        score = (self.weight[input_ids] * attention_mask).sum(1)
        return SimpleNamespace(logits=torch.stack([torch.zeros_like(score), score], dim=1))


@pytest.fixture(scope="module")
def tokenizer():
    return load_tokenizer()


def explanation(scores, method="grad_x_input") -> Explanation:
    return Explanation(tuple(TEXT.split()), np.asarray(scores, dtype=float), 6, False, method)


@pytest.mark.parametrize("deletion", ["remove", "mask"])
def test_aopc_on_a_model_whose_important_word_is_known(tokenizer, deletion):
    model = CountingModel(tokenizer, {"great": 3.0, "film": 0.1})  # f(x) = 3.1
    right = explanation([0.0, 0.1, 0.0, 3.0])  # great, then film
    wrong = explanation([3.0, 2.0, 1.0, 0.0])  # the, then film
    result = aopc(model, tokenizer, [TEXT] * 2, [right, wrong], percents=(25, 50), deletion=deletion)
    np.testing.assert_allclose(result.margin, [3.1, 3.1], rtol=1e-6)
    # top 25% = 1 word, top 50% = 2 words. C_k = g(x) − g(x without top_k); S_k = g(x) − g(top_k only).
    np.testing.assert_allclose(result.drop, [[3.0, 3.1], [0.0, 0.1]], atol=1e-6)
    np.testing.assert_allclose(result.keep, [[0.1, 0.0], [3.1, 3.0]], atol=1e-6)
    np.testing.assert_allclose(result.comprehensiveness, [3.05, 0.05], atol=1e-6)
    np.testing.assert_allclose(result.sufficiency, [0.05, 3.05], atol=1e-6)
    # ERASER's form: the predicted class's probability sigma(3.1) against sigma(g) after deletion.
    sigma = lambda z: 1 / (1 + np.exp(-np.asarray(z)))  # noqa: E731
    p = sigma(3.1)
    np.testing.assert_allclose(result.comprehensiveness_probability,
                               [np.mean(p - sigma([0.1, 0.0])), np.mean(p - sigma([3.1, 3.0]))], atol=1e-6)
    np.testing.assert_allclose(result.sufficiency_probability,
                               [np.mean(p - sigma([3.0, 3.1])), np.mean(p - sigma([0.0, 0.1]))], atol=1e-6)


def test_aopc_ranks_by_evidence_for_the_predicted_class(tokenizer):
    model = CountingModel(tokenizer, {"great": -3.0, "film": 0.1})  # f = −2.9: class 0 predicted, g = −f
    signed = explanation([0.0, 0.1, 0.0, -3.0])  # "great" is the evidence for class 0
    unsigned = explanation([0.0, 0.1, 0.0, 3.0], method="saliency")  # a magnitude: ranked as it is
    result = aopc(model, tokenizer, [TEXT] * 2, [signed, unsigned], percents=(25, 50))
    np.testing.assert_allclose(result.margin, [2.9, 2.9], rtol=1e-6)
    # signed: top-2 = great, then "the" (0 beats film's −0.1 once the sign is flipped); unsigned: great, film.
    np.testing.assert_allclose(result.drop, [[3.0, 3.0], [3.0, 2.9]], atol=1e-6)


@pytest.mark.parametrize("percents", [(0, 50), (10, 100.5), (-5,), ()])
def test_aopc_rejects_percentages_outside_0_100(tokenizer, percents):
    model = CountingModel(tokenizer, {})
    with pytest.raises(ValueError, match=r"every top-k percentage must be in \(0, 100\]"):
        aopc(model, tokenizer, [TEXT], [explanation([0, 0, 0, 1])], percents=percents)


def test_aopc_rejects_explanations_of_other_texts(tokenizer):
    model = CountingModel(tokenizer, {})
    with pytest.raises(ValueError, match="explanation 0 does not have the words of text 0"):
        aopc(model, tokenizer, ["another text here now"], [explanation([0, 0, 0, 1])])


def test_loo_agreement_with_exact_occlusion(tokenizer):
    model = CountingModel(tokenizer, {"great": 3.0, "film": 0.1, "was": -1.0})
    (occlusion,) = word_attributions(model, tokenizer, [TEXT], method="occlusion")
    np.testing.assert_allclose(occlusion.scores, [0.0, 0.1, -1.0, 3.0], atol=1e-6)
    agreeing = explanation([0, 1, -2, 5])
    reversed_ = explanation([5, 1, 3, -2])
    magnitude = explanation([0, 0.2, 1, 3], method="saliency")
    rho = loo_agreement([agreeing, reversed_, magnitude], [occlusion] * 3)
    np.testing.assert_allclose(rho, [1.0, -0.8, 1.0])  # saliency is compared with |occlusion|


def test_spearman_undefined_cases():
    assert np.isnan(spearman(np.array([1.0, 2.0]), np.array([2.0, 1.0])))
    assert np.isnan(spearman(np.ones(4), np.arange(4.0)))
    assert spearman(np.array([1, np.nan, 2, 3]), np.array([1, 5, 2, 3])) == pytest.approx(1.0)


@pytest.fixture(scope="module")
def tiny():
    """Return the tiny BERT with large random weights (visible effects), on one intra-op thread meanwhile."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny tensors: on a busy 2-core machine a second OpenMP thread only spin-waits
    model, tokenizer = load_transformer("tiny-bert", seed=0)
    generator = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if "LayerNorm" not in name:
                parameter.copy_(0.2 * torch.randn(parameter.shape, generator=generator))
    yield model, tokenizer
    torch.set_num_threads(threads)


def test_randomised_copy_changes_the_copy_only(tiny):
    model, _ = tiny
    before = {name: p.clone() for name, p in model.named_parameters()}
    copied = randomised_copy(model, seed=3, n_layers=1)
    again = randomised_copy(model, seed=3, n_layers=1)
    for name, parameter in model.named_parameters():
        assert torch.equal(parameter, before[name])
    changed = {name for name, p in copied.named_parameters() if not torch.equal(p, before[name])}
    top = {"classifier.weight", "bert.pooler.dense.weight", "bert.encoder.layer.1.output.dense.weight"}
    assert top <= changed
    assert not any(name.startswith(("bert.embeddings", "bert.encoder.layer.0")) for name in changed)
    for (_, p), (_, q) in zip(copied.named_parameters(), again.named_parameters()):
        assert torch.equal(p, q)
    with pytest.raises(ValueError, match="n_layers=3 must be between 0 and the 2 layers of the model"):
        randomised_copy(model, seed=0, n_layers=3)


def test_randomised_copy_of_a_decoder_redraws_its_head_and_top_layers():
    from seedexplain.models import load_transformer

    model, _ = load_transformer("tiny-llama", seed=0)
    before = {name: p.clone() for name, p in model.named_parameters()}
    copied = randomised_copy(model, seed=3, n_layers=1)
    changed = {name for name, p in copied.named_parameters() if not torch.equal(p, before[name])}
    top = len(model.model.layers) - 1
    assert "score.weight" in changed and f"model.layers.{top}.mlp.down_proj.weight" in changed
    assert not any(name.startswith(("model.embed_tokens", "model.layers.0.")) for name in changed)


RANDOMISATION_TEXTS = [
    "I loved this film, it is a brilliant and moving story!",
    "The plot follows a man who travels to the city to find his family.",
    "Boring, dull and far too long; I hated every minute of it.",
    "After the war she returns to her village and finds her house occupied.",
    "A stunning, heartfelt drama with two wonderful performances.",
    "The detective must solve the case before the storm reaches the island.",
]


def test_randomisation_check_low_correlation_for_reinitialised_model(tiny):
    model, tokenizer = tiny
    trained = word_attributions(model, tokenizer, RANDOMISATION_TEXTS, method="grad_x_input")
    rho = randomisation_check(model, tokenizer, RANDOMISATION_TEXTS, trained, seed=0, n_layers=2)
    assert rho.shape == (len(RANDOMISATION_TEXTS),)
    assert np.abs(rho).mean() < 0.35, rho
    assert np.allclose([spearman(e.scores, e.scores) for e in trained], 1.0)


def test_randomisation_check_exposes_attention_blind_to_the_head(tiny):
    """Last-layer attention ignores the classifier: re-initialising the head leaves it unchanged."""
    model, tokenizer = tiny
    trained = word_attributions(model, tokenizer, RANDOMISATION_TEXTS, method="attention_last")
    np.testing.assert_allclose(randomisation_check(model, tokenizer, RANDOMISATION_TEXTS, trained), 1.0)


def test_cascading_randomisation_from_the_head_down(tiny):
    """Attention is blind to the head (correlation 1 at 0 layers) and changes once its layers are drawn again;
    the signed gradient × input loses its agreement once the layers are re-drawn, and its magnitudes too."""
    from seedexplain.faithfulness import cascading_randomisation

    model, tokenizer = tiny
    attention = word_attributions(model, tokenizer, RANDOMISATION_TEXTS, method="attention_last")
    table = cascading_randomisation(model, tokenizer, RANDOMISATION_TEXTS, attention).set_index("n_layers")
    assert list(table.index) == [0, 1, 2]
    assert table.loc[0, "spearman_signed"] == pytest.approx(1.0)
    assert table.loc[0, "spearman_magnitude"] == pytest.approx(1.0)  # non-negative scores: the same ranking
    assert table.loc[2, "spearman_signed"] < 0.9
    gradient = word_attributions(model, tokenizer, RANDOMISATION_TEXTS, method="grad_x_input")
    cascade = cascading_randomisation(model, tokenizer, RANDOMISATION_TEXTS, gradient).set_index("n_layers")
    assert cascade.loc[2, "spearman_signed"] < 0.35 and cascade.loc[2, "spearman_magnitude"] < 0.6


def test_agreement_matrix_compares_unsigned_methods_through_magnitudes():
    signed = [explanation([-3.0, 1.0, 2.0, 0.5])]
    unsigned = [explanation([3.0, 1.0, 2.0, 0.5], method="saliency")]
    opposite = [explanation([3.0, -1.0, -2.0, -0.5], method="lrp")]
    matrix = agreement_matrix({"grad_x_input": signed, "saliency": unsigned, "lrp": opposite})
    assert matrix.loc["grad_x_input", "saliency"] == pytest.approx(1.0)
    assert matrix.loc["saliency", "grad_x_input"] == pytest.approx(1.0)
    assert matrix.loc["grad_x_input", "lrp"] == pytest.approx(-1.0)  # both signed: signs count
    assert matrix.loc["saliency", "lrp"] == pytest.approx(1.0)
    np.testing.assert_array_equal(np.diag(matrix), 1.0)


def test_compare_methods_table(tiny):
    model, tokenizer = tiny
    methods = ("grad_x_input", "attention_last")
    comparison = compare_methods(model, tokenizer, RANDOMISATION_TEXTS[:3], methods=methods,
                                 percents=(20, 50))
    table = comparison.table.set_index("method")
    assert list(table.index) == list(methods) and set(comparison.explanations) == set(methods)
    assert list(table.columns) == ["seconds_per_text", "comprehensiveness", "sufficiency",
                                   "comprehensiveness_probability", "sufficiency_probability", "loo_spearman",
                                   "randomisation_spearman"]
    assert (table.seconds_per_text > 0).all() and np.isfinite(table.to_numpy()).all()
    assert table.loc["attention_last", "randomisation_spearman"] == pytest.approx(1.0)


def test_lrp_budget_balances(tiny):
    model, tokenizer = tiny
    budget = lrp_budget(word_attributions(model, tokenizer, RANDOMISATION_TEXTS, method="lrp"))
    assert list(budget.columns) == ["f", "words", "special", "position_type", "bias", "residual", "bias_share"]
    assert (budget.residual.abs() <= 1e-5 * budget.f.abs().clip(lower=1)).all()
    shares = budget_shares(budget)
    assert sum(shares.values()) == pytest.approx(1.0, abs=1e-5)
    assert shares["words"] == pytest.approx((np.sign(budget.f) * budget.words).sum() / budget.f.abs().sum())


def test_budget_shares_sign_each_text_by_its_prediction():
    budget = pd.DataFrame(dict(f=[2.0, -1.0], words=[1.0, -1.0], special=[0.5, 0.0], position_type=[0.5, 0.5],
                               bias=[0.0, -0.5]))
    # words: (1 + 1) / 3; special: 0.5 / 3; position_type: (0.5 - 0.5) / 3; bias: 0.5 / 3.
    assert budget_shares(budget) == pytest.approx(dict(words=2 / 3, special=1 / 6, position_type=0.0, bias=1 / 6))
    with pytest.raises(ValueError, match="method='lrp'"):
        lrp_budget([explanation([0, 0, 0, 1])])
