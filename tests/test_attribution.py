"""Word attributions of the transformer: one generic test for every method, then each method's guarantee."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from seedexplain.attribution import METHODS, Explanation, word_attributions
from seedexplain.attribution.lrp import (
    ConstantStdLayerNorm,
    IdentityRule,
    conservative_lrp,
    relevance_decomposition,
)
from seedexplain.forward import length_batches, logit_difference
from seedexplain.models import load_transformer
from seedexplain.words import segment

TEXTS = [
    "I loved this film, don't miss it!",
    "The plot follows a naïve man who travels to l'Île-de-France in 1,000 days.",
    "Awful.",
]
HARD = "Don't — unbelievably, l'été's 3.5 “quotes” 👍🏽 naïveté!!"
FAST_OPTIONS = {"integrated_gradients": {"n_steps": 16}, "kernel_shap": {"n_samples": 64}}


@pytest.fixture(scope="module", autouse=True)
def one_thread(one_torch_thread):
    """Use one torch thread in this module (see tests/conftest.py)."""


@pytest.fixture(scope="module")
def tiny():
    """Return ``(model, tokenizer)``: the tiny BERT with large random weights and biases, so every effect is
    visible.

    BERT's own initialisation (std 0.02, zero biases) makes the tiny model's output almost constant, which
    would let wrong attributions pass as "≈ 0"; LayerNorm weights stay near 1.
    """
    model, tokenizer = load_transformer("tiny-bert", seed=0)
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            noise = torch.randn(parameter.shape, generator=generator)
            if "LayerNorm" in name:
                parameter.copy_(1 + 0.1 * noise if name.endswith("weight") else 0.1 * noise)
            else:
                parameter.copy_(0.2 * noise)
    return model, tokenizer


def explain(tiny, texts, method, **kwargs) -> list[Explanation]:
    model, tokenizer = tiny
    options = {**FAST_OPTIONS.get(method, {}), **kwargs}
    return word_attributions(model, tokenizer, texts, method=method, **options)


@pytest.mark.parametrize("method", METHODS)
def test_every_method_shape_schema_determinism(tiny, method):
    first = explain(tiny, TEXTS + [HARD], method, batch_size=2)
    again = explain(tiny, TEXTS + [HARD], method, batch_size=2)
    for text, explanation, repeat in zip(TEXTS + [HARD], first, again):
        assert isinstance(explanation, Explanation) and explanation.method == method
        assert explanation.words == tuple(word.text for word in segment(text))
        assert explanation.scores.shape == (len(explanation.words),)
        assert explanation.scores.dtype == np.float64
        assert np.isfinite(explanation.scores).all()
        assert isinstance(explanation.n_tokens, int) and explanation.truncated is False
        assert isinstance(explanation.extras, dict)
        assert np.abs(explanation.scores).max() > 1e-3  # the tiny model's effects are visible
        np.testing.assert_array_equal(explanation.scores, repeat.scores)


@pytest.mark.parametrize("method", ["grad_x_input", "integrated_gradients", "occlusion", "lrp",
                                    "attention_rollout"])
def test_batching_does_not_change_scores(tiny, method):
    one_by_one = explain(tiny, TEXTS, method, batch_size=1)
    batched = explain(tiny, TEXTS, method, batch_size=3)
    for single, padded in zip(one_by_one, batched):
        np.testing.assert_allclose(padded.scores, single.scores, rtol=1e-4, atol=1e-5)


def test_length_batches_bound_size_and_padding():
    # Sorted lengths 3, 10, 10, 11, 12, 30: 3 next to 10 would be >10% padding; a 4th text exceeds batch_size.
    batches = length_batches([10, 3, 11, 30, 10, 12], batch_size=3, max_padding=0.1)
    assert [batch.tolist() for batch in batches] == [[1], [0, 4, 2], [5], [3]]


def embeddings_and_f(model, tokenizer, text):
    encoding = tokenizer(text, return_tensors="pt", return_offsets_mapping=True)
    embeddings = model.get_input_embeddings()(encoding["input_ids"]).detach().requires_grad_()
    f = logit_difference(model, None, encoding["attention_mask"], inputs_embeds=embeddings)
    return encoding, embeddings, f


def test_grad_x_input_equals_manual_autograd(tiny):
    model, tokenizer = tiny
    encoding, embeddings, f = embeddings_and_f(model, tokenizer, HARD)
    (gradient,) = torch.autograd.grad(f.sum(), embeddings)
    token_scores = (gradient * embeddings).sum(-1)[0, 1:-1].detach().double().numpy()  # drop [CLS], [SEP]
    words = segment(HARD)
    expected = np.zeros(len(words))
    for (start, _), score in zip(encoding["offset_mapping"][0, 1:-1].tolist(), token_scores):
        expected[next(i for i, w in enumerate(words) if w.start <= start < w.end)] += score
    (result,) = explain(tiny, [HARD], "grad_x_input")
    np.testing.assert_allclose(result.scores, expected, rtol=1e-5, atol=1e-6)


def test_integrated_gradients_completeness(tiny):
    model, tokenizer = tiny
    results = explain(tiny, TEXTS, "integrated_gradients", n_steps=32)
    for text, result in zip(TEXTS, results):
        encoding = tokenizer(text, return_tensors="pt")
        ids = encoding["input_ids"]
        baseline = torch.full_like(ids, tokenizer.pad_token_id)
        baseline[:, [0, -1]] = ids[:, [0, -1]]  # [CLS] and [SEP] are kept
        with torch.no_grad():
            gap = float(logit_difference(model, ids, encoding["attention_mask"])
                        - logit_difference(model, baseline, encoding["attention_mask"]))
        delta = result.extras["convergence_delta"]
        assert abs(delta) < 0.01 * abs(gap)
        assert result.scores.sum() == pytest.approx(gap + delta, rel=1e-4, abs=1e-5)


def test_occlusion_equals_brute_force_loop(tiny):
    model, tokenizer = tiny
    text = "Don't miss l'été, 1,000 times!"
    encoding = tokenizer(text, return_offsets_mapping=True)
    ids, offsets = np.array(encoding["input_ids"]), encoding["offset_mapping"]

    def f(token_ids):
        with torch.no_grad():
            tensor = torch.as_tensor(token_ids)[None]
            return float(logit_difference(model, tensor, torch.ones_like(tensor)))

    expected = []
    for word in segment(text):
        inside = [e > s and word.start <= s < word.end for s, e in offsets]  # not [CLS] (0, 0)
        expected.append(f(ids) - f(ids[~np.array(inside)]))
    (result,) = explain(tiny, [text], "occlusion")
    np.testing.assert_allclose(result.scores, expected, rtol=1e-5, atol=1e-5)
    assert result.extras["logit_diff"] == pytest.approx(f(ids), abs=1e-6)


def test_aggregation_round_trip_on_hard_tokenisation(tiny):
    """Summed word relevances + [CLS]/[SEP] + position/type embeddings + biases give back f: no token is lost or
    counted twice."""
    (result,) = explain(tiny, [HARD], "lrp")
    extras = result.extras
    parts = result.scores.sum() + extras["relevance_special"] + extras["relevance_position_type"]
    assert parts + extras["relevance_bias"] == pytest.approx(extras["logit_diff"], rel=1e-4, abs=1e-5)
    single_token = [i for i, word in enumerate(result.words) if word in ("—", ",", "!", "“", "”", "👍🏽")]
    for how in ("mean", "max_abs", "first"):
        (other,) = explain(tiny, [HARD], "lrp", aggregate=how)
        np.testing.assert_allclose(other.scores[single_token], result.scores[single_token], rtol=1e-12)


def test_truncation_gives_nan_and_is_reported(tiny):
    text = " ".join(f"word{i}" if i % 2 else "good" for i in range(40))
    for method in ("grad_x_input", "occlusion"):
        (cut,) = explain(tiny, [text], method, max_length=16)
        (whole,) = explain(tiny, [text], method, max_length=128)
        assert cut.truncated and not whole.truncated
        assert cut.n_tokens == 16 and len(cut.scores) == len(whole.scores) == 40
        seen = np.isfinite(cut.scores)
        assert seen[:5].all() and not seen[-30:].any()
        assert np.flatnonzero(seen).max() < np.flatnonzero(~seen).min()  # a prefix is kept


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"method": "shap"}, r"method='shap' is not one of 'grad_x_input', 'saliency', .*'attention_rollout'"),
     ({"aggregate": "median"}, r"aggregate='median' is not one of 'sum', 'mean', 'max_abs', 'first'"),
     ({"method": "occlusion", "n_steps": 3}, r"option\(s\) 'n_steps' not accepted by method='occlusion'; "
                                             r"its options are: 'deletion'"),
     ({"method": "integrated_gradients", "baseline": "zero"},
      r"baseline='zero' is not one of 'pad', 'mask'")],
)
def test_bad_arguments_fail_before_work_with_clear_messages(tiny, kwargs, message):
    model, tokenizer = tiny
    with pytest.raises(ValueError, match=message):
        # The whitespace-only text would fail later, at segmentation: the arguments are checked first.
        word_attributions(model, tokenizer, ["  "], **kwargs)


def assert_conservative_lrp(model, tokenizer, texts, tolerance):
    """Forward logits are bit-identical under the LRP rules and Σ token relevance + bias relevance = f."""
    inputs = tokenizer(texts, padding=True, return_tensors="pt")
    with torch.no_grad():
        plain = model(**inputs).logits
    with conservative_lrp(model):
        with torch.no_grad():
            modified = model(**inputs).logits
        parts = relevance_decomposition(model, inputs["input_ids"], inputs["attention_mask"])
    assert torch.equal(plain, modified)
    error = (parts["tokens"].sum(1) + parts["position_type"].sum(1) + parts["bias"] - parts["f"]).abs()
    assert torch.equal(parts["f"], plain[:, 1] - plain[:, 0])
    assert (error <= tolerance * parts["f"].abs().clamp(min=1)).all(), error
    # Everything is restored: attention implementation and modules.
    assert model.config._attn_implementation == "eager"
    assert not any(isinstance(m, (ConstantStdLayerNorm, IdentityRule)) for m in model.modules())
    return parts


def test_lrp_is_conservative_on_tiny_model(tiny):
    parts = assert_conservative_lrp(*tiny, TEXTS, tolerance=1e-5)
    assert parts["bias"].abs().min() > 1e-3  # the biases are non-zero, so the check above includes them


def test_lrp_word_part_is_gradient_x_input_when_no_rule_is_applied(tiny):
    """Outside the LRP rules, a token's relevance is exactly gradient × input on its word embedding (computed here
    independently, through ``inputs_embeds``): the two methods differ only in the constants of the backward pass,
    and the position/type embeddings' part is not counted as the word's."""
    model, tokenizer = tiny
    inputs = tokenizer(TEXTS, padding=True, return_tensors="pt")
    parts = relevance_decomposition(model, inputs["input_ids"], inputs["attention_mask"])
    word = model.get_input_embeddings()(inputs["input_ids"]).detach().requires_grad_()
    logits = model(inputs_embeds=word, attention_mask=inputs["attention_mask"]).logits
    (gradient,) = torch.autograd.grad((logits[:, 1] - logits[:, 0]).sum(), word)
    torch.testing.assert_close(parts["tokens"], (word * gradient).sum(-1).detach(), rtol=1e-5, atol=1e-6)
    assert parts["position_type"].abs().max() > 1e-3  # the part left out is not zero on this model


def test_lrp_is_conservative_on_minilm():
    model, tokenizer = load_transformer("minilm", seed=0)
    assert_conservative_lrp(model, tokenizer, TEXTS, tolerance=1e-5)


def test_adaptive_integrated_gradients_refines_only_the_texts_above_the_tolerance(tiny):
    from seedexplain.attribution.gradient import _doubling

    assert _doubling(8, 50) == [8, 16, 32, 50] and _doubling(8, 8) == [8] and _doubling(4, 16) == [4, 8, 16]
    adaptive = explain(tiny, TEXTS, "integrated_gradients", n_steps=32, tolerance=0.002, start_steps=4)
    spent = {4: 4, 8: 12, 16: 28, 32: 60}  # points spent when a text stops at 4, 8, 16 or 32 of them
    for text, result in zip(TEXTS, adaptive):
        steps = result.extras["n_steps"]
        assert result.extras["path_points"] == spent[steps]
        change = result.scores.sum() - result.extras["convergence_delta"]
        assert steps == 32 or abs(result.extras["convergence_delta"]) <= 0.002 * abs(change)
        (fixed,) = explain(tiny, [text], "integrated_gradients", n_steps=steps)
        np.testing.assert_allclose(result.scores, fixed.scores, rtol=1e-4, atol=1e-6)
    coarse = explain(tiny, TEXTS, "integrated_gradients", n_steps=32, tolerance=1.0, start_steps=4)
    assert all(r.extras["path_points"] == 4 for r in coarse)
    exhaustive = explain(tiny, TEXTS, "integrated_gradients", n_steps=32, tolerance=1e-9, start_steps=4)
    assert all(r.extras["n_steps"] == 32 and r.extras["path_points"] == 60 for r in exhaustive)
