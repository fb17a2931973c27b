"""Texts tokenised and aligned to words, the padded batches that explainers receive, and word deletion.

Batching and the explained quantity ``f(x) = logit[1] − logit[0]`` live in :mod:`seedexplain.forward`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from transformers import PreTrainedTokenizerBase

from seedexplain.forward import pad
from seedexplain.words import Word, segment, token_word_index


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


def make_batch(tokenizer: PreTrainedTokenizerBase, texts: list[EncodedText], indices: np.ndarray,
               device: torch.device, batch_size: int) -> Batch:
    """Return the padded batch of ``texts`` (whose positions in the caller's list are ``indices``)."""
    input_ids, attention_mask = pad([text.ids for text in texts], tokenizer.pad_token_id, device)
    return Batch(texts, np.asarray(indices), input_ids, attention_mask, tokenizer.pad_token_id,
                 tokenizer.mask_token_id, batch_size)


def delete_words(text: EncodedText, absent: np.ndarray, deletion: str, mask_id: int | None,
                 pad_id: int) -> np.ndarray:
    """Return the token ids of ``text`` without the words flagged in ``absent`` (bool, shape ``(n_words,)``).

    ``deletion="remove"`` drops the words' tokens; ``"mask"`` replaces each of them by the [MASK] token.
    Special tokens and tokens of no word are always kept. Removing every token is possible only when the tokenizer
    adds no special token (SmolLM2's adds none): the empty text is then the lone ``pad_id`` token, which a decoder's
    head reads when no token is real (as in the "pad" baseline of integrated gradients).
    """
    hit = np.zeros(text.n_tokens, dtype=bool)
    in_word = text.token_word >= 0
    hit[in_word] = absent[text.token_word[in_word]]
    if deletion == "remove":
        if hit.all():
            return np.array([pad_id], dtype=text.ids.dtype)
        return text.ids[~hit]
    if mask_id is None:
        raise ValueError("deletion='mask' needs a tokenizer with a mask token")
    return np.where(hit, mask_id, text.ids)
