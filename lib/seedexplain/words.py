"""Word segmentation shared by every model family, and alignment of subword tokens to words.

A *word* is the unit every explanation is reported on, whatever the model's tokenizer:

- a run of letters and digits (with their combining marks, so decomposed accents stay inside the word) that
  may contain apostrophes or hyphens between two such runs, and ``.`` or ``,`` between two digits: ``don't``,
  ``l'été``, ``1,000``, ``3.5`` and ``well-known`` are one word each (hyphenated compounds are kept whole on
  purpose, so that a tokenizer that splits them cannot give one word two scores);
- every other visible character is a unit of its own (``!``, ``?``, ``"``, ``,``, ``—``); a symbol followed by
  modifiers or joined by zero-width joiners stays one grapheme (``👍🏽``, ``👨‍👩‍👧``, ``🇫🇷``);
- whitespace and invisible control/format characters (zero-width space, BOM) separate words, in none.

Offsets are character offsets into the original string, so they can be matched against the ``offset_mapping``
of any fast Hugging Face tokenizer (WordPiece, BPE, SentencePiece) even when the tokenizer normalises the text
(lower-casing, accent stripping).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
import regex

from seedexplain.constraints import AGGREGATIONS, OneOf, check

# `regex` (a dependency of transformers) rather than `re` for Unicode classes: `re`'s \w excludes combining
# marks, which would cut "café" written with a combining acute accent into two words.
_RUN = r"[\p{L}\p{N}][\p{L}\p{M}\p{N}]*"
_JOINER = r"(?:['’\-]|(?<=\p{N})[.,](?=\p{N}))"
_WORD = regex.compile(rf"{_RUN}(?:{_JOINER}{_RUN})*|(?=[^\s\p{{L}}\p{{M}}\p{{N}}\p{{C}}])\X")


class Word(NamedTuple):
    """One word of a text: its characters and their half-open character span ``[start, end)``."""

    text: str
    start: int
    end: int


def segment(text: str) -> list[Word]:
    """Return the words of ``text`` in order, each with its character span (see the module docstring)."""
    words = [Word(match.group(), match.start(), match.end()) for match in _WORD.finditer(text)]
    if not words:
        raise ValueError(f"text {text[:40]!r} has no words (it is empty or only whitespace)")
    return words


def token_word_index(offset_mapping: Sequence[tuple[int, int]] | np.ndarray,
                     words: Sequence[Word]) -> np.ndarray:
    """Return the index of the word each token belongs to, shape ``(n_tokens,)``, -1 for tokens of no word.

    ``offset_mapping`` has shape ``(n_tokens, 2)``: the character span of each token, as returned by a fast
    tokenizer with ``return_offsets_mapping=True``. Special and padding tokens have the empty span ``(0, 0)``
    and get -1, as do tokens that cover only whitespace (a lone SentencePiece "▁"). A token's span may include
    the space before it (SentencePiece) — whitespace belongs to no word, so it is ignored. A token that
    overlaps several words (possible with BPE merges across punctuation) goes to the word it overlaps most;
    ties go to the earlier word.
    """
    offsets = np.asarray(offset_mapping, dtype=np.int64).reshape(-1, 2)
    n_chars = max(words[-1].end, int(offsets[:, 1].max(initial=0)))
    char_word = np.full(n_chars, -1, dtype=np.int64)
    for index, word in enumerate(words):
        char_word[word.start : word.end] = index
    token_word = np.full(len(offsets), -1, dtype=np.int64)
    for token, (start, end) in enumerate(offsets):
        covered = char_word[start:end]
        covered = covered[covered >= 0]
        if covered.size:
            token_word[token] = np.bincount(covered).argmax()
    return token_word


def aggregate(token_scores: np.ndarray, token_word: np.ndarray, n_words: int, how: str = "sum") -> np.ndarray:
    """Return word scores, shape ``(n_words,)`` float64, from token scores, shape ``(n_tokens,)``.

    ``token_word`` (shape ``(n_tokens,)``, from :func:`token_word_index`) says which word each token belongs
    to; tokens with -1 (special tokens, padding) are dropped. ``how`` is ``"sum"`` (additive methods keep
    their total), ``"mean"``, ``"max_abs"`` (the signed score of the token with the largest magnitude; the
    earlier token on ties) or ``"first"`` (the score of the word's first token). Words without any token — cut
    by truncation — are NaN.
    """
    check("aggregate", how, OneOf(AGGREGATIONS))
    scores = np.asarray(token_scores, dtype=np.float64)
    token_word = np.asarray(token_word, dtype=np.int64)
    if scores.shape != token_word.shape:
        raise ValueError(f"token_scores has shape {scores.shape} but token_word has shape {token_word.shape}")
    keep = token_word >= 0
    scores, token_word = scores[keep], token_word[keep]
    counts = np.bincount(token_word, minlength=n_words).astype(np.float64)
    if how in ("sum", "mean"):
        result = np.bincount(token_word, weights=scores, minlength=n_words)
        if how == "mean":
            result = result / np.maximum(counts, 1.0)
    else:
        # Order tokens by word, then (for max_abs) by decreasing magnitude; the first token of each word wins.
        keys = (np.arange(len(scores)), token_word) if how == "first" else (-np.abs(scores), token_word)
        order = np.lexsort(keys)
        words_in_order, first = np.unique(token_word[order], return_index=True)
        result = np.zeros(n_words)
        result[words_in_order] = scores[order[first]]
    result[counts == 0] = np.nan
    return result
