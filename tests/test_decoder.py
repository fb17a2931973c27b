"""A Llama decoder as a transformer family member: its head reads the last real token, its LRP rules conserve
relevance, padding changes nothing, seeds draw the head, and the pipeline runs end to end (tiny random Llama)."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
from tokenizers import processors

from seedexplain import pipeline
from seedexplain.attribution import word_attributions
from seedexplain.attribution.lrp import (
    ConstantRmsNorm,
    ConstantStdLayerNorm,
    IdentityRule,
    UniformRuleGatedMLP,
    conservative_lrp,
    relevance_decomposition,
)
from seedexplain.config import make_config
from seedexplain.faithfulness import budget_shares, lrp_budget
from seedexplain.forward import is_decoder, logit_difference, readout_positions, texts_logit_difference
from seedexplain.models import load_transformer
from seedexplain.words import segment
from tests.test_attribution import TEXTS

RULES = (ConstantRmsNorm, ConstantStdLayerNorm, IdentityRule, UniformRuleGatedMLP)


@pytest.fixture(scope="module", autouse=True)
def one_thread(one_torch_thread):
    """Use one torch thread in this module (see tests/conftest.py)."""


@pytest.fixture(scope="module")
def llama():
    """Return ``(model, tokenizer)``: the tiny Llama with large random weights, so every effect is visible.

    Llama's own initialisation (std 0.02) makes the tiny model's output almost constant, which would let wrong
    attributions pass as "≈ 0"; RMSNorm weights stay near 1.
    """
    model, tokenizer = load_transformer("tiny-llama", seed=0)
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            noise = torch.randn(parameter.shape, generator=generator)
            parameter.copy_(1 + 0.1 * noise if "norm" in name else 0.3 * noise)
    return model, tokenizer


def test_tiny_llama_is_a_decoder_padded_on_the_right(llama):
    model, tokenizer = llama
    assert is_decoder(model) and type(model).__name__ == "LlamaForSequenceClassification"
    assert model.config.pad_token_id == tokenizer.pad_token_id and tokenizer.padding_side == "right"
    assert model.config.num_key_value_heads < model.config.num_attention_heads  # grouped key-value heads


def test_logit_diff_reads_the_last_non_pad_token(llama):
    model, tokenizer = llama
    batched = texts_logit_difference(model, tokenizer, TEXTS, max_length=64)
    one_by_one = [texts_logit_difference(model, tokenizer, [text], max_length=64)[0] for text in TEXTS]
    np.testing.assert_allclose(batched, one_by_one, rtol=1e-5, atol=1e-6)
    inputs = tokenizer(TEXTS, padding=True, return_tensors="pt")
    lengths = inputs["attention_mask"].sum(1)
    assert lengths.min() < lengths.max()  # the batch is padded
    assert torch.equal(readout_positions(model, inputs["input_ids"]), lengths - 1)
    with torch.no_grad():
        hidden = model.model(**inputs).last_hidden_state[torch.arange(len(TEXTS)), lengths - 1]
        logits = model.score(hidden)
        np.testing.assert_allclose(batched, (logits[:, 1] - logits[:, 0]).numpy(), rtol=1e-5, atol=1e-6)
        # the last padded position holds another value: reading it would be wrong
        last = model.score(model.model(**inputs).last_hidden_state[:, -1])
    assert not torch.allclose(last[:, 1] - last[:, 0], logits[:, 1] - logits[:, 0])


def conservation(model, tokenizer, texts):
    """Return the LRP decomposition of a padded batch, after checking that the rules leave the logits unchanged
    and are all removed afterwards."""
    inputs = tokenizer(texts, padding=True, return_tensors="pt")
    with torch.no_grad():
        plain = model(**inputs).logits
    with conservative_lrp(model):
        assert any(isinstance(m, UniformRuleGatedMLP) for m in model.modules())
        with torch.no_grad():
            modified = model(**inputs).logits
        parts = relevance_decomposition(model, inputs["input_ids"], inputs["attention_mask"])
    assert torch.equal(plain, modified)
    assert torch.equal(parts["f"], plain[:, 1] - plain[:, 0])
    assert model.config._attn_implementation == "eager"
    assert not any(isinstance(m, RULES) for m in model.modules())
    return parts


def test_lrp_is_conservative_on_tiny_llama(llama):
    """Σ token relevance + position/type + bias = f: the RMSNorm, identity (SiLU) and uniform (gate × up) rules
    absorb nothing, a Llama has no bias and no position embedding (rotary), so tokens alone give f."""
    parts = conservation(*llama, TEXTS)
    assert torch.equal(parts["position_type"], torch.zeros_like(parts["position_type"]))
    assert torch.equal(parts["bias"], torch.zeros_like(parts["bias"]))
    error = (parts["tokens"].sum(1) - parts["f"]).abs()
    assert (error <= 1e-5 * parts["f"].abs().clamp(min=1)).all(), error
    assert parts["f"].abs().min() > 0.1  # a real check: f is far from 0


def test_gradient_x_input_does_not_conserve_without_the_rules(llama):
    """The rules matter: plain gradient × input on the same batch misses f by far (so the test above is sharp)."""
    model, tokenizer = llama
    inputs = tokenizer(TEXTS, padding=True, return_tensors="pt")
    parts = relevance_decomposition(model, inputs["input_ids"], inputs["attention_mask"])
    assert ((parts["tokens"].sum(1) - parts["f"]).abs() > 0.1).all()


def test_each_decoder_rule_conserves_its_module(llama):
    """Σ x · ∂(y · r)/∂x = Σ y · r for a random output relevance direction r: RMSNorm with a constant 1/rms, and the
    gated MLP whose product gives each branch half (without the uniform rule the sum would count it twice)."""
    model, _ = llama
    layer = model.model.layers[0]
    generator = torch.Generator().manual_seed(1)
    for module, rule in ((layer.input_layernorm, ConstantRmsNorm), (layer.mlp, UniformRuleGatedMLP)):
        x = torch.randn(3, 5, model.config.hidden_size, generator=generator).requires_grad_()
        r = torch.randn(3, 5, model.config.hidden_size, generator=generator)
        with conservative_lrp(model):  # the MLP's SiLU gets the identity rule inside the block
            y = rule(module)(x)
            assert torch.equal(y, module(x))
            (gradient,) = torch.autograd.grad((y * r).sum(), x)
        torch.testing.assert_close((x * gradient).sum(), (y * r).sum(), rtol=1e-5, atol=1e-5)


def test_lrp_word_budget_has_no_position_share_and_counts_special_tokens(llama):
    """Words + special tokens ([CLS], [SEP] of the BERT tokenizer; a BOS for other tokenizers) + position/type (0 in
    a decoder) + biases (none) = f, text by text, through the public entry point."""
    model, tokenizer = llama
    explanations = word_attributions(model, tokenizer, TEXTS, method="lrp", batch_size=3)
    for result in explanations:
        extras = result.extras
        assert extras["relevance_position_type"] == 0 and extras["relevance_bias"] == 0
        assert extras["relevance_special"] != 0
        total = result.scores.sum() + extras["relevance_special"]
        assert total == pytest.approx(extras["logit_diff"], rel=1e-5, abs=1e-5)
    budget = lrp_budget(explanations)
    assert (budget.residual.abs() <= 1e-5 * budget.f.abs().clip(lower=1)).all()
    shares = budget_shares(budget)
    assert shares["position_type"] == shares["bias"] == 0
    assert shares["words"] + shares["special"] == pytest.approx(1, abs=1e-5)


@pytest.mark.parametrize("method", ["grad_x_input", "lrp", "saliency", "integrated_gradients", "occlusion",
                                    "attention_rollout"])
def test_padding_does_not_change_scores(llama, method):
    model, tokenizer = llama
    options = {"n_steps": 8} if method == "integrated_gradients" else {}
    one_by_one = word_attributions(model, tokenizer, TEXTS, method=method, batch_size=1, **options)
    padded = word_attributions(model, tokenizer, TEXTS, method=method, batch_size=3, **options)
    for single, batched in zip(one_by_one, padded):
        assert np.abs(single.scores).max() > 1e-3
        np.testing.assert_allclose(batched.scores, single.scores, rtol=1e-5, atol=1e-6)


def test_grad_x_input_equals_manual_autograd_at_the_embedding_output(llama):
    """Computed independently through ``inputs_embeds`` on one unpadded text (then the head reads the last
    position, which is the last real token)."""
    model, tokenizer = llama
    encoding = tokenizer(TEXTS[0], return_tensors="pt", return_offsets_mapping=True)
    embeddings = model.get_input_embeddings()(encoding["input_ids"]).detach().requires_grad_()
    f = logit_difference(model, None, encoding["attention_mask"], inputs_embeds=embeddings)
    (gradient,) = torch.autograd.grad(f.sum(), embeddings)
    tokens = (gradient * embeddings).sum(-1)[0, 1:-1].detach().double().numpy()  # drop [CLS], [SEP]
    words = segment(TEXTS[0])
    expected = np.zeros(len(words))
    for (start, _), score in zip(encoding["offset_mapping"][0, 1:-1].tolist(), tokens):
        expected[next(i for i, w in enumerate(words) if w.start <= start < w.end)] += score
    (result,) = word_attributions(model, tokenizer, TEXTS[:1], method="grad_x_input")
    np.testing.assert_allclose(result.scores, expected, rtol=1e-5, atol=1e-7)


def test_attention_last_reads_the_last_real_token(llama):
    model, tokenizer = llama
    inputs = tokenizer(TEXTS[2], return_tensors="pt")
    with torch.no_grad():
        row = model(**inputs, output_attentions=True).attentions[-1].mean(1)[0, -1]
    (result,) = word_attributions(model, tokenizer, TEXTS[2:], method="attention_last")
    # "Awful." is [CLS] awful . [SEP]: the words get the weights of their tokens (causal: the row covers all)
    np.testing.assert_allclose(result.scores, row[1:-1].double().numpy(), rtol=1e-6)


def test_without_special_tokens_the_empty_text_is_the_lone_pad_token(llama):
    """SmolLM2's tokenizer adds no special token, so deleting every word leaves nothing: occlusion of a one-word
    text and Kernel SHAP's empty coalition see the lone [PAD] instead (Kernel SHAP's scores then add up to
    f(text) − f([PAD]))."""
    model, tokenizer = llama
    bare = copy.deepcopy(tokenizer)
    bare.backend_tokenizer.post_processor = processors.TemplateProcessing(single="$A", pair="$A $B",
                                                                          special_tokens=[])
    assert bare("Great")["input_ids"] == tokenizer("Great")["input_ids"][1:-1]

    def f(ids):
        tensor = torch.tensor([ids])
        with torch.no_grad():
            return float(logit_difference(model, tensor, torch.ones_like(tensor)))

    empty = f([bare.pad_token_id])
    (occluded,) = word_attributions(model, bare, ["Great"], method="occlusion")
    assert occluded.scores[0] == pytest.approx(f(bare("Great")["input_ids"]) - empty, abs=1e-5)
    (shap,) = word_attributions(model, bare, ["A truly great film"], method="kernel_shap", n_samples=64)
    assert shap.scores.sum() == pytest.approx(f(bare("A truly great film")["input_ids"]) - empty, abs=1e-4)
    (relevance,) = word_attributions(model, bare, ["A truly great film"], method="lrp")
    assert relevance.extras["relevance_special"] == 0
    assert relevance.scores.sum() == pytest.approx(relevance.extras["logit_diff"], rel=1e-5, abs=1e-5)


def test_a_decoder_folder_keeps_its_weights_and_draws_its_head_from_the_seed(tmp_path):
    """As SmolLM2 is loaded: a pretrained decoder without a classification head; the seed draws the head."""
    model, tokenizer = load_transformer("tiny-llama", seed=0)
    model.base_model.save_pretrained(tmp_path)
    tokenizer.save_pretrained(tmp_path)
    a, b, c = (load_transformer(str(tmp_path), seed=seed)[0] for seed in (1, 1, 2))
    assert is_decoder(a) and a.config.pad_token_id == tokenizer.pad_token_id
    assert torch.equal(a.model.layers[0].mlp.gate_proj.weight, model.model.layers[0].mlp.gate_proj.weight)
    assert torch.equal(a.score.weight, b.score.weight)
    assert not torch.equal(a.score.weight, c.score.weight)
    assert not torch.equal(a.score.weight, model.score.weight)


def test_pipeline_runs_end_to_end_with_a_decoder(tmp_path):
    config = make_config("quick", dataset="synthetic", transformer="tiny-llama", n_train=48, n_test_short=8,
                         n_test_long=4, n_seeds=2, artifacts=str(tmp_path))
    results = pipeline.run(config)
    table = results.accuracy
    assert len(table) == 2 * 2 * config.n_seeds and table.accuracy.between(0, 1).all()
    texts = results.explanations("transformer", "test_short")
    assert len(texts) == config.n_test_short
    for text in texts:
        assert text.attributions.shape == (len(segment(text.text)), config.n_seeds)
        assert np.isfinite(text.attributions).all()
    assert not np.allclose(texts[0].attributions[:, 0], texts[0].attributions[:, 1])  # the seeds differ
    model = pipeline.load_model(config, "transformer", config.seeds[0])
    assert is_decoder(model.network) and model.network.config.pad_token_id == model.tokenizer.pad_token_id
    (scores,) = model.word_scores([texts[0].text], config.method)  # the reloaded model explains what was cached
    np.testing.assert_allclose(scores, texts[0].attributions[:, 0], rtol=1e-5, atol=1e-7)
