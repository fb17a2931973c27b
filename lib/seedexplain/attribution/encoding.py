"""Texts tokenised and aligned to words, length-bucketed batches, and the one quantity every method explains.

The explained quantity is the same for every model, seed and method: ``f(x) = logit[1] − logit[0]``, so the
signs of attributions are comparable across seeds.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from seedexplain.words import Word, segment, token_word_index

DELETIONS = ("remove", "mask")
"""How a word is taken out of a text: its tokens are removed (the text closes up), or each becomes [MASK]."""


@dataclass(frozen=True)
class EncodedText:
    """One text: its words and its (possibly truncated) tokens, with special tokens, aligned to the words.

    ``ids``, ``special`` and ``token_word`` have shape ``(n_tokens,)``; ``token_word`` is -1 for tokens of no
    word.
    """

    words: list[Word]
    ids: np.ndarray
    special: np.ndarray
    token_word: np.ndarray
    truncated: bool

    @property
    def n_tokens(self) -> int:
        """Return the number of tokens the model sees, special tokens included."""
        return len(self.ids)


@dataclass(frozen=True)
class Batch:
    """Texts padded on the right to the longest of them: ``input_ids`` and ``attention_mask`` are ``(B, L)``.

    ``indices`` are the texts' positions in the caller's list (used to seed per-text randomness independently
    of the batching); ``pad_id`` and ``mask_id`` are the tokenizer's [PAD] and [MASK] ids; ``batch_size`` is
    the number of sequences per forward pass that perturbation methods use for their perturbed copies.
    """

    texts: list[EncodedText]
    indices: np.ndarray
    input_ids: torch.Tensor
    attention_mask: torch.Tensor
    pad_id: int
    mask_id: int | None
    batch_size: int

    def special_mask(self) -> torch.Tensor:
        """Return a bool tensor ``(B, L)``: True at special tokens ([CLS], [SEP]) and at padding."""
        special = torch.ones_like(self.input_ids, dtype=torch.bool)
        for row, text in enumerate(self.texts):
            special[row, : text.n_tokens] = torch.as_tensor(text.special)
        return special


def encode(tokenizer: PreTrainedTokenizerBase, texts: Sequence[str], max_length: int) -> list[EncodedText]:
    """Return every text segmented into words and tokenised (truncated to ``max_length`` tokens)."""
    if not getattr(tokenizer, "is_fast", False):
        raise TypeError("word alignment needs character offsets, which only fast (Rust) tokenizers return")
    words = [segment(text) for text in texts]
    encoding = tokenizer(list(texts), truncation=True, max_length=max_length, return_offsets_mapping=True,
                         return_special_tokens_mask=True)
    return [
        EncodedText(
            words=text_words,
            ids=np.asarray(encoding["input_ids"][i], dtype=np.int64),
            special=np.asarray(encoding["special_tokens_mask"][i], dtype=bool),
            token_word=token_word_index(encoding["offset_mapping"][i], text_words),
            # The Rust tokenizer keeps what truncation cut off; a non-empty overflow means words were lost.
            truncated=bool(encoding.encodings[i].overflowing),
        )
        for i, text_words in enumerate(words)
    ]


MAX_PADDING = 0.1
"""Largest share of padding tokens :func:`length_batches` lets into a batch (relative to its real tokens)."""


def length_batches(lengths: Sequence[int], batch_size: int,
                   max_padding: float = MAX_PADDING) -> list[np.ndarray]:
    """Return the positions of ``lengths`` grouped into batches of at most ``batch_size`` similar lengths.

    Positions are sorted by length (stable) and cut into consecutive batches; a batch is also closed early
    when the next, longer, sequence would pad it by more than ``max_padding`` of its real tokens: on a CPU
    the model's arithmetic dominates, so padded tokens cost as much as real ones and outweigh a fuller batch.
    """
    lengths = np.asarray(lengths)
    batches: list[list[int]] = []
    real = 0
    for i in np.argsort(lengths, kind="stable"):
        current = batches[-1] if batches else []
        padded = lengths[i] * (len(current) + 1)
        if not current or len(current) == batch_size or padded > (1 + max_padding) * (real + lengths[i]):
            batches.append([])
            real = 0
        batches[-1].append(int(i))
        real += int(lengths[i])
    return [np.array(batch, dtype=np.int64) for batch in batches]


def pad(sequences: Sequence[np.ndarray], pad_id: int,
        device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """Return ``input_ids`` and ``attention_mask``, both ``(n, L)``, padding the sequences on the right."""
    width = max(len(ids) for ids in sequences)
    input_ids = torch.full((len(sequences), width), pad_id, dtype=torch.long)
    attention_mask = torch.zeros((len(sequences), width), dtype=torch.long)
    for row, ids in enumerate(sequences):
        input_ids[row, : len(ids)] = torch.as_tensor(ids)
        attention_mask[row, : len(ids)] = 1
    return input_ids.to(device), attention_mask.to(device)


def make_batch(tokenizer: PreTrainedTokenizerBase, texts: list[EncodedText], indices: np.ndarray,
               device: torch.device, batch_size: int) -> Batch:
    """Return the padded batch of ``texts`` (whose positions in the caller's list are ``indices``)."""
    input_ids, attention_mask = pad([text.ids for text in texts], tokenizer.pad_token_id, device)
    return Batch(texts, np.asarray(indices), input_ids, attention_mask, tokenizer.pad_token_id,
                 tokenizer.mask_token_id, batch_size)


def model_device(model: torch.nn.Module) -> torch.device:
    """Return the device of the model's first parameter."""
    return next(model.parameters()).device


def logit_difference(model: PreTrainedModel, input_ids: torch.Tensor | None, attention_mask: torch.Tensor,
                     inputs_embeds: torch.Tensor | None = None) -> torch.Tensor:
    """Return the explained quantity ``logit[:, 1] − logit[:, 0]``, shape ``(B,)``."""
    logits = model(input_ids=input_ids, attention_mask=attention_mask, inputs_embeds=inputs_embeds).logits
    return logits[:, 1] - logits[:, 0]


@torch.no_grad()
def sequences_logit_difference(model: PreTrainedModel, sequences: Sequence[np.ndarray], pad_id: int,
                               batch_size: int) -> np.ndarray:
    """Return ``f`` of each token sequence, shape ``(n,)`` float64, run in length-sorted batches."""
    device = model_device(model)
    result = np.empty(len(sequences))
    for batch in length_batches([len(ids) for ids in sequences], batch_size):
        input_ids, attention_mask = pad([sequences[i] for i in batch], pad_id, device)
        result[batch] = logit_difference(model, input_ids, attention_mask).double().cpu().numpy()
    return result


def delete_words(text: EncodedText, absent: np.ndarray, deletion: str, mask_id: int | None) -> np.ndarray:
    """Return the token ids of ``text`` without the words flagged in ``absent`` (bool, shape ``(n_words,)``).

    ``deletion="remove"`` drops the words' tokens; ``"mask"`` replaces each of them by the [MASK] token.
    Special tokens and tokens of no word are always kept.
    """
    hit = np.zeros(text.n_tokens, dtype=bool)
    in_word = text.token_word >= 0
    hit[in_word] = absent[text.token_word[in_word]]
    if deletion == "remove":
        return text.ids[~hit]
    if mask_id is None:
        raise ValueError("deletion='mask' needs a tokenizer with a mask token")
    return np.where(hit, mask_id, text.ids)


def check_choice(name: str, value: object, allowed: Sequence[str]) -> None:
    """Raise ValueError naming the parameter, its value and the allowed values if ``value`` is not allowed."""
    if value not in allowed:
        raise ValueError(f"{name}={value!r} is not one of {', '.join(map(repr, allowed))}")
