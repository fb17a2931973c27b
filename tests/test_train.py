"""Seeded fine-tuning: the seed fixes the weights; different seeds give different models."""

import subprocess
import sys

import numpy as np
import pytest
import torch

from seedexplain.models import load_transformer
from seedexplain.train import bucketed_batches, fine_tune, resolve_device

TEXTS = ["a great film", "the man travels to the city", "I loved it !", "she meets a detective", "awful and dull",
         "his family in 1975"] * 4
LABELS = np.array([1, 0, 1, 0, 1, 0] * 4)


def train_tiny(seed: int, name: str = "tiny-bert", precision: str = "float32") -> dict[str, torch.Tensor]:
    model, tokenizer = load_transformer(name, seed=seed)
    fine_tune(model, tokenizer, TEXTS, LABELS, seed=seed, epochs=1, batch_size=4, learning_rate=1e-3,
              max_length=32, device=torch.device("cpu"), precision=precision)
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


@pytest.mark.parametrize("name,head", [("tiny-bert", "classifier.weight"), ("tiny-llama", "score.weight")])
def test_same_seed_same_weights_other_seed_other_weights(name, head):
    a, b, c = train_tiny(0, name), train_tiny(0, name), train_tiny(1, name)
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not torch.equal(a[head], c[head])
    before, _ = load_transformer(name, seed=0)
    assert not torch.equal(a[head], before.state_dict()[head])  # training moved the head


def test_pretrained_encoder_is_shared_and_head_comes_from_the_seed():
    a, _ = load_transformer("minilm", seed=0)
    b, _ = load_transformer("minilm", seed=1)
    assert torch.equal(a.bert.embeddings.word_embeddings.weight, b.bert.embeddings.word_embeddings.weight)
    assert not torch.equal(a.classifier.weight, b.classifier.weight)


@pytest.mark.parametrize("saved", ["encoder", "classifier"])
def test_a_folder_keeps_its_encoder_and_draws_its_head_from_the_seed(tmp_path, saved):
    """A bare encoder and a checkpoint with a head of its own: either way the seed draws the head."""
    model, tokenizer = load_transformer("tiny-bert", seed=0)
    (model.base_model if saved == "encoder" else model).save_pretrained(tmp_path)
    tokenizer.save_pretrained(tmp_path)
    a, b, c = (load_transformer(str(tmp_path), seed=seed)[0] for seed in (1, 1, 2))
    assert torch.equal(a.bert.encoder.layer[0].attention.self.query.weight,
                       model.bert.encoder.layer[0].attention.self.query.weight)
    assert torch.equal(a.classifier.weight, b.classifier.weight)
    assert not torch.equal(a.classifier.weight, c.classifier.weight)
    assert not torch.equal(a.classifier.weight, model.classifier.weight)
    assert float(a.classifier.weight.std()) == pytest.approx(model.config.initializer_range, rel=0.5)


def test_training_is_bit_identical_across_processes():
    code = ("import hashlib, torch, tests.test_train as t; w = t.train_tiny(3); "
            "print(hashlib.sha256(b''.join(w[k].numpy().tobytes() for k in sorted(w))).hexdigest())")
    digests = {subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
               for _ in range(2)}
    assert len(digests) == 1


def test_bucketed_batches_cover_every_index_once():
    lengths = list(np.random.default_rng(0).integers(3, 50, size=103))
    batches = bucketed_batches(lengths, 8, np.random.default_rng(1))
    assert sorted(np.concatenate(batches).tolist()) == list(range(103))
    assert bucketed_batches(lengths, 8, np.random.default_rng(1))[0].tolist() == batches[0].tolist()


def test_device_validation():
    assert resolve_device("auto").type in ("cpu", "cuda")
    with pytest.raises(ValueError, match="device='tpu' is not one of"):
        resolve_device("tpu")


@pytest.mark.parametrize("name", ["tiny-bert", "tiny-llama"])
def test_head_only_fine_tuning_leaves_the_pretrained_body_as_it_was(name):
    model, tokenizer = load_transformer(name, seed=0)
    before = {k: v.detach().clone() for k, v in model.state_dict().items()}
    fine_tune(model, tokenizer, TEXTS, LABELS, seed=0, epochs=1, batch_size=4, learning_rate=1e-2, max_length=32,
              device=torch.device("cpu"), trainable="head")
    after = model.state_dict()
    body = {f"{model.base_model_prefix}.{k}" for k in model.base_model.state_dict()}
    assert body and all(torch.equal(before[k], after[k]) for k in body)
    assert any(not torch.equal(before[k], after[k]) for k in set(after) - body)
    assert all(p.requires_grad for p in model.parameters())  # gradients to the inputs still reach every layer
    with pytest.raises(ValueError, match="trainable='body' is not one of 'all', 'head'"):
        fine_tune(model, tokenizer, TEXTS, LABELS, seed=0, epochs=1, batch_size=4, learning_rate=1e-2,
                  max_length=32, device=torch.device("cpu"), trainable="body")


def test_only_a_head_only_regime_enters_the_models_key(tiny_config):
    from dataclasses import replace

    from seedexplain.pipeline import model_params

    assert "fine_tune" not in model_params(tiny_config, "transformer", 0)
    head = model_params(replace(tiny_config, fine_tune="head"), "transformer", 0)
    assert head["fine_tune"] == "head" and "fine_tune" not in model_params(tiny_config, "linear", 0)


def test_bfloat16_autocast_trains_float32_weights_of_its_own():
    full, autocast, again = train_tiny(0), train_tiny(0, precision="bfloat16"), train_tiny(0, precision="bfloat16")
    assert all(v.dtype == full[k].dtype for k, v in autocast.items())  # the weights stay float32
    assert all(torch.equal(autocast[k], again[k]) for k in autocast)  # deterministic
    changed = [k for k in full if not torch.equal(full[k], autocast[k])]
    assert "classifier.weight" in changed  # bfloat16 arithmetic moved the updates
    model, tokenizer = load_transformer("tiny-bert", seed=0)
    with pytest.raises(ValueError, match="precision='float16' is not one of 'float32', 'bfloat16'"):
        fine_tune(model, tokenizer, TEXTS, LABELS, seed=0, epochs=1, batch_size=4, learning_rate=1e-3,
                  max_length=32, device=torch.device("cpu"), precision="float16")


def test_only_a_bfloat16_training_enters_the_models_key(tiny_config):
    from dataclasses import replace

    from seedexplain.pipeline import model_params

    assert "training_precision" not in model_params(tiny_config, "transformer", 0)
    autocast = replace(tiny_config, training_precision="bfloat16")
    assert model_params(autocast, "transformer", 0)["training_precision"] == "bfloat16"
    assert model_params(autocast, "linear", 0) == model_params(tiny_config, "linear", 0)
