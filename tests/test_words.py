"""Word segmentation and alignment of subword tokens to words on hard cases (WordPiece, SentencePiece)."""

from __future__ import annotations

import numpy as np
import pytest
from tokenizers import SentencePieceUnigramTokenizer

from seedexplain.models import load_tokenizer
from seedexplain.words import Word, aggregate, segment, token_word_index

HARD = "Café  l'été, don't!! 1,000 vs 3.5 — well-known \"quote\" 👍🏽 naïve\n\nunbelievably cafe\u0301"


@pytest.fixture(scope="module")
def wordpiece():
    return load_tokenizer()


@pytest.fixture(scope="module")
def sentencepiece():
    """Return a SentencePiece Unigram tokenizer (offsets include the "▁" space) trained here, offline."""
    tokenizer = SentencePieceUnigramTokenizer()
    corpus = ["the café is naïve, don't you think?", "well-known facts: 1,000 cats and 3.5 dogs!", HARD] * 20
    tokenizer.train_from_iterator(corpus, vocab_size=80, unk_token="<unk>", special_tokens=["<unk>"],
                                  show_progress=False)
    return tokenizer


def texts(text: str) -> list[str]:
    return [word.text for word in segment(text)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('He said "no!?"', ["He", "said", '"', "no", "!", "?", '"']),
        ("don't, l'été; rock’n’roll students'", ["don't", ",", "l'été", ";", "rock’n’roll", "students", "'"]),
        ("Café naïve cafe\u0301 Ærø", ["Café", "naïve", "cafe\u0301", "Ærø"]),
        ("1,000 cats, 3.5 dogs, 1.5.2 end.Next",
         ["1,000", "cats", ",", "3.5", "dogs", ",", "1.5.2", "end", ".", "Next"]),
        ("well-known -- x-", ["well-known", "-", "-", "x", "-"]),
        ("ok 👍🏽👨‍👩‍👧 🇫🇷!", ["ok", "👍🏽", "👨‍👩‍👧", "🇫🇷", "!"]),
        ("  a \n\n\tb  c\u200bd\ufeff ", ["a", "b", "c", "d"]),
    ],
    ids=["punctuation", "apostrophes", "accents", "numbers", "hyphens", "emoji", "spaces"],
)
def test_segment_hard_cases(text, expected):
    assert texts(text) == expected


def test_segment_offsets_point_into_the_text():
    for word in segment(HARD):
        assert HARD[word.start : word.end] == word.text


@pytest.mark.parametrize("text", ["", "   ", "\n\t \u200b"])
def test_segment_rejects_text_without_words(text):
    with pytest.raises(ValueError, match="has no words"):
        segment(text)


def assert_round_trip(text: str, offsets, token_word: np.ndarray, words: list[Word]) -> None:
    """Check: a token with visible characters maps to the word that contains them; every word has a token."""
    for (start, end), index in zip(offsets, token_word):
        visible = text[start:end].strip()
        if not visible:
            assert index == -1
            continue
        word = words[index]
        start += len(text[start:end]) - len(text[start:end].lstrip())
        assert word.start <= start and start + len(visible) <= word.end, (text[start:end], word)
    assert set(token_word[token_word >= 0]) == set(range(len(words)))


def test_wordpiece_alignment_round_trip(wordpiece):
    encoding = wordpiece(HARD, return_offsets_mapping=True)
    words = segment(HARD)
    token_word = token_word_index(encoding["offset_mapping"], words)
    tokens = wordpiece.convert_ids_to_tokens(encoding["input_ids"])
    assert token_word[0] == token_word[-1] == -1  # [CLS], [SEP]
    assert_round_trip(HARD, encoding["offset_mapping"], token_word, words)
    # "don ' t" and the accent-stripped "et ##e" each map to one word: uncased pieces point into the original.
    by_word = {words[i].text: [t for t, w in zip(tokens, token_word) if w == i] for i in range(len(words))}
    assert by_word["don't"] == ["don", "'", "t"]
    assert by_word["l'été"] == ["l", "'", "et", "##e"]
    assert by_word["unbelievably"] == ["un", "##bel", "##ie", "##va", "##bly"]
    assert by_word["👍🏽"] == ["[UNK]"]


def test_sentencepiece_alignment_round_trip(sentencepiece):
    text = "  the  café, don't 1,000 unknownword!"
    encoding = sentencepiece.encode(text)
    assert any(text[s:e].startswith(" ") and text[s:e].strip() for s, e in encoding.offsets)  # "▁the"
    words = segment(text)
    token_word = token_word_index(encoding.offsets, words)
    assert_round_trip(text, encoding.offsets, token_word, words)


def test_token_across_words_goes_to_largest_overlap(wordpiece):
    words = segment("ab, cd")  # ab [0,2)  , [2,3)  cd [4,6)
    assert token_word_index([(0, 0), (0, 3), (1, 3), (2, 5), (3, 4)], words).tolist() == [-1, 0, 0, 1, -1]
    # BERT deletes the zero-width space that separates our words "a" and "b": its token "ab" goes to "a".
    text = "a\u200bb"
    offsets = wordpiece(text, return_offsets_mapping=True)["offset_mapping"]
    token_word = token_word_index(offsets, segment(text))
    assert token_word.tolist() == [-1, 0, -1]


def test_truncated_words_get_nan(wordpiece):
    text = "one two three four five six"
    # [CLS] one two three [SEP]
    encoding = wordpiece(text, return_offsets_mapping=True, truncation=True, max_length=5)
    words = segment(text)
    token_word = token_word_index(encoding["offset_mapping"], words)
    scores = aggregate(np.ones(len(token_word)), token_word, len(words))
    np.testing.assert_array_equal(np.isnan(scores), [False, False, False, True, True, True])


# Hand example: tokens [CLS] a1 a2 b1 [SEP] [PAD] with words a, b, c (c truncated away).
TOKEN_SCORES = np.array([9.0, 1.0, -3.0, 2.0, 9.0, 9.0])
TOKEN_WORD = np.array([-1, 0, 0, 1, -1, -1])


@pytest.mark.parametrize(
    ("how", "expected"),
    [("sum", [-2.0, 2.0, np.nan]), ("mean", [-1.0, 2.0, np.nan]), ("max_abs", [-3.0, 2.0, np.nan]),
     ("first", [1.0, 2.0, np.nan])],
)
def test_aggregate_hand_example(how, expected):
    result = aggregate(TOKEN_SCORES, TOKEN_WORD, 3, how)
    assert result.dtype == np.float64
    np.testing.assert_array_equal(result, expected)


def test_aggregate_max_abs_tie_keeps_earlier_token():
    np.testing.assert_array_equal(aggregate(np.array([2.0, -2.0]), np.array([0, 0]), 1, "max_abs"), [2.0])


def test_aggregate_rejects_unknown_rule():
    message = r"aggregate='median' is not one of 'sum', 'mean', 'max_abs', 'first'"
    with pytest.raises(ValueError, match=message):
        aggregate(TOKEN_SCORES, TOKEN_WORD, 3, "median")
