"""Pretrained transformers by name (see :mod:`seedexplain.registry`) or from a local Hugging Face folder.

Every model explains the same scalar for every seed: the logit of class 1 minus the logit of class 0.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn
from transformers import (
    AutoModelForSequenceClassification,
    AutoTokenizer,
    BertConfig,
    BertForSequenceClassification,
    LlamaConfig,
    LlamaForSequenceClassification,
    PreTrainedModel,
    PreTrainedTokenizerBase,
)
from transformers.models.llama.modeling_llama import LlamaRMSNorm
from transformers.utils import logging as hf_logging

from seedexplain.registry import TransformerEntry, resolve

hf_logging.disable_progress_bar()  # weight loading/saving bars say nothing useful; our own bars show progress


def model_folder(name: str, artifacts: str = "artifacts") -> Path | None:
    """Return the folder the transformer ``name`` is loaded from (None for a model built at random)."""
    source = resolve(name)
    return source.source_folder(artifacts) if isinstance(source, TransformerEntry) else source


def load_tokenizer(name: str = "minilm-l6", artifacts: str = "artifacts") -> PreTrainedTokenizerBase:
    """Return the fast tokenizer of the transformer ``name`` (a registered name or a model folder)."""
    source = resolve(name)
    folder = source.tokenizer_folder(artifacts) if isinstance(source, TransformerEntry) else source
    tokenizer = AutoTokenizer.from_pretrained(folder)
    if tokenizer.pad_token_id is None:  # decoders: pad with the end-of-sequence token, on the right
        tokenizer.pad_token = tokenizer.eos_token
    tokenizer.padding_side = "right"
    return tokenizer


def load_transformer(name: str, *, seed: int, num_labels: int = 2,
                     artifacts: str = "artifacts") -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    """Return ``(model, tokenizer)``: a sequence classifier whose new weights are drawn from ``seed``.

    A pretrained model (a registered name or a folder) keeps its pretrained weights and draws its classification
    head (every module outside the base model) from ``seed``, also when the folder's checkpoint has a head of its
    own (a model already fine-tuned elsewhere): that head is drawn again, so that the seeds differ. A registered
    model that is not pretrained (``tiny-bert``, ``tiny-llama``: tests) is built at random from ``seed`` by
    :func:`random_transformer`. Attention is "eager" so attention weights can be returned. ``config.pad_token_id``
    is the tokenizer's (a decoder's head reads the last token that is not padding). The model is in eval mode on
    the CPU. Converted models (see :mod:`seedexplain.converters`) are built once into ``artifacts``.
    """
    tokenizer = load_tokenizer(name, artifacts)
    folder = model_folder(name, artifacts)
    torch.manual_seed(seed)
    if folder is None:
        model = random_transformer(resolve(name).architecture, tokenizer, num_labels)
    else:
        verbosity = hf_logging.get_verbosity()
        hf_logging.set_verbosity_error()  # the "classifier newly initialised" report is expected
        try:
            model, loading = AutoModelForSequenceClassification.from_pretrained(
                folder, num_labels=num_labels, attn_implementation="eager", output_loading_info=True)
        finally:
            hf_logging.set_verbosity(verbosity)
        head = {name: module for name, module in model.named_children() if module is not model.base_model}
        loaded = [name for name, _ in model.named_parameters()
                  if name.partition(".")[0] in head and name not in loading["missing_keys"]]
        if loaded:  # the checkpoint's own head: draw it from the seed (a missing head already was, above)
            generator = torch.Generator().manual_seed(seed)
            with torch.no_grad():
                for module in head.values():
                    reinitialise(module, model.config.initializer_range, generator)
    if model.config.pad_token_id is None:
        model.config.pad_token_id = tokenizer.pad_token_id
    return model.eval(), tokenizer


def random_transformer(architecture: str, tokenizer: PreTrainedTokenizerBase, num_labels: int) -> PreTrainedModel:
    """Return a randomly initialised tiny classifier (2 layers, 64 hidden) over ``tokenizer``'s vocabulary, drawn
    from torch's global generator.

    ``architecture="encoder"``: a BERT (2 heads, intermediate 128). ``"decoder"``: a Llama (4 query heads sharing 2
    key-value heads, gated SiLU MLP of 128, RMSNorm, rotary positions) whose head reads the last token that is not
    padding, so its ``pad_token_id`` is the tokenizer's.
    """
    if architecture == "decoder":
        return LlamaForSequenceClassification(LlamaConfig(
            vocab_size=len(tokenizer), hidden_size=64, num_hidden_layers=2, num_attention_heads=4,
            num_key_value_heads=2, intermediate_size=128, rms_norm_eps=1e-5, max_position_embeddings=512,
            pad_token_id=tokenizer.pad_token_id, num_labels=num_labels, attn_implementation="eager"))
    return BertForSequenceClassification(BertConfig(
        vocab_size=tokenizer.vocab_size, hidden_size=64, num_hidden_layers=2, num_attention_heads=2,
        intermediate_size=128, max_position_embeddings=512, num_labels=num_labels, attn_implementation="eager"))


def reinitialise(module: nn.Module, std: float, generator: torch.Generator) -> None:
    """Draw ``module``'s weights again as BERT and Llama do (normal(0, std) weights, zero biases, unit LayerNorms
    and RMSNorms), from ``generator``."""
    for sub in module.modules():
        if isinstance(sub, nn.Linear):
            nn.init.normal_(sub.weight, 0.0, std, generator=generator)
            if sub.bias is not None:
                nn.init.zeros_(sub.bias)
        elif isinstance(sub, nn.LayerNorm):
            nn.init.ones_(sub.weight)
            nn.init.zeros_(sub.bias)
        elif isinstance(sub, LlamaRMSNorm):
            nn.init.ones_(sub.weight)


def transformer_blocks(model: PreTrainedModel) -> nn.ModuleList:
    """Return the layers of ``model``'s body, bottom first: a BERT-type encoder's ``encoder.layer`` or a Llama
    decoder's ``layers``."""
    base = model.base_model
    blocks = getattr(getattr(base, "encoder", None), "layer", None)
    blocks = getattr(base, "layers", None) if blocks is None else blocks
    if not isinstance(blocks, nn.ModuleList):
        raise ValueError(f"model of type {model.config.model_type!r} has neither encoder.layer (BERT-type) nor "
                         "layers (Llama-type) in its body")
    return blocks


def load_finetuned(folder: Path, device: torch.device) -> PreTrainedModel:
    """Return the fine-tuned classifier saved in ``folder``, in eval mode on ``device``."""
    model = AutoModelForSequenceClassification.from_pretrained(folder, attn_implementation="eager")
    return model.to(device).eval()

