"""Transforms beyond univariate first order on hand examples, their reading cost, and the format table."""

from __future__ import annotations

import math

import numpy as np
import pytest

from seedexplain.beyond import (
    FORMATS,
    centred_square,
    format_table,
    magnitude,
    pairwise_interactions,
    plausibility_cost,
    ranks,
    segments,
    spans,
    to_format,
)
from seedexplain.snr import texts_snr
from seedexplain.synthetic import planted_explanations

A = np.arange(14.0).reshape(7, 2)  # word w, seed s: 2w + s


def test_spans_sum_non_overlapping_chunks():
    np.testing.assert_array_equal(spans(A, 3), [[0 + 2 + 4, 1 + 3 + 5], [6 + 8 + 10, 7 + 9 + 11], [12, 13]])
    np.testing.assert_array_equal(spans(A, 1), A)
    np.testing.assert_array_equal(spans(A, 10), A.sum(axis=0, keepdims=True))
    with pytest.raises(ValueError, match="k=0 must be an integer >= 1"):
        spans(A, 0)


def test_segments_sum_between_boundaries():
    np.testing.assert_array_equal(segments(A, [0, 2, 5]), [[0 + 2, 1 + 3], [4 + 6 + 8, 5 + 7 + 9], [10 + 12, 11 + 13]])
    np.testing.assert_array_equal(segments(A, [0]), A.sum(axis=0, keepdims=True))
    for bad in ([1, 3], [0, 3, 3], [0, 7], []):
        with pytest.raises(ValueError, match="must be strictly increasing word indices starting at 0"):
            segments(A, bad)


def test_pointwise_transforms_on_a_hand_example():
    a = np.array([[1.0, -2.0], [-3.0, 2.0], [2.0, 0.0]])
    np.testing.assert_array_equal(magnitude(a), [[1, 2], [3, 2], [2, 0]])
    np.testing.assert_allclose(centred_square(a), [[1, 4], [9, 4], [4, 0]])  # column means 0, 0
    np.testing.assert_array_equal(ranks(a), [[2, 1], [1, 3], [3, 2]])
    np.testing.assert_array_equal(ranks(np.array([[1.0, 0.0], [1.0, 1.0]])), [[1.5, 1], [1.5, 2]])
    np.testing.assert_allclose(pairwise_interactions(a), [[-3, -4], [-6, 0]])
    np.testing.assert_allclose(pairwise_interactions(a, lag=2), [[2, 0]])
    with pytest.raises(ValueError, match="pairwise_interactions with lag=3 needs more than 3"):
        pairwise_interactions(a, lag=3)


def test_plausibility_cost_of_each_format():
    word = plausibility_cost(4, "word")
    assert (word.n_units, word.signed, word.order, word.contiguous) == (4, True, 1, True)
    assert word.bits == pytest.approx(math.log2(24) + 4)
    assert plausibility_cost(4, "magnitude").bits == pytest.approx(math.log2(24))
    span = plausibility_cost(7, "spans", k=3)
    assert span.n_units == 3 and span.words_per_unit == pytest.approx(7 / 3)
    pairs = plausibility_cost(5, "pairwise_interactions", lag=2)
    assert (pairs.n_units, pairs.order, pairs.contiguous) == (3, 2, False)
    assert plausibility_cost(9, "segments", n_segments=2).bits == pytest.approx(1 + 2)
    for n_words in (20, 40):
        bits = {f: plausibility_cost(n_words, f, n_segments=2).bits for f in FORMATS}
        assert bits["segments"] < bits["spans"] < bits["magnitude"] < bits["word"]
    with pytest.raises(ValueError, match="format='segments' needs n_segments in 1..9"):
        plausibility_cost(9, "segments")
    with pytest.raises(ValueError, match="format='bigram' is not one of 'word', 'magnitude'"):
        plausibility_cost(9, "bigram")


def test_format_table_rows_and_word_level_snr():
    arrays = planted_explanations(12, range(2, 10), 4, 1.0, 1.0, rng=0).arrays
    boundaries = [[0, a.shape[0] // 2] for a in arrays]
    table = format_table(arrays, FORMATS, k=2, boundaries=boundaries, scale="l2")
    assert set(table.format) == set(FORMATS)
    assert len(table) == len(FORMATS) * len(arrays)
    word = table[table.format == "word"].reset_index(drop=True)
    np.testing.assert_allclose(word.snr, texts_snr(arrays, scale="l2").snr)
    seg = table[table.format == "segments"]
    assert (seg.n_units == 2).all() and (seg.bits == 3).all()
    np.testing.assert_array_equal(table[table.format == "spans"].n_units, [-(-n // 2) for n in word.n_words])
    assert set(table[table.format == "spans"].label) == {"spans k=2"}
    with pytest.raises(ValueError, match="format='segments' needs boundaries"):
        format_table(arrays, ["segments"])


def test_unknown_formats_are_rejected():
    with pytest.raises(ValueError, match="format='bigram' is not one of"):
        to_format(A, "bigram")
    with pytest.raises(ValueError, match="format='bigram' is not one of"):
        format_table([A], ["word", "bigram"])


def test_spans_average_out_independent_noise_of_a_smooth_signal():
    # A signal constant over runs of 4 words: summing 4 words multiplies the signal variance by 16, the noise by 4.
    rng = np.random.default_rng(1)
    arrays = [np.repeat(rng.normal(size=(6, 1)), 4, axis=0) + rng.normal(size=(24, 8)) for _ in range(300)]
    table = format_table(arrays, ["word", "spans"], k=4)
    median = table.groupby("format").snr.median()
    assert median["spans"] / median["word"] == pytest.approx(4, rel=0.25)


def test_formats_above_word_lists_the_better_formats_best_first():
    import pandas as pd

    from seedexplain.beyond import formats_above_word

    summary = pd.DataFrame(dict(family="transformer", split="test_short",
                                label=["word", "ranks", "spans_k2", "magnitude"], snr=[10.0, 12.5, 11.0, 3.0]))
    assert formats_above_word(summary, "transformer", "test_short") == "ranks (12.5 vs 10.0), spans k2 (11.0 vs 10.0)"
    assert formats_above_word(summary.assign(snr=[10.0, 1.0, 2.0, 3.0]), "transformer", "test_short") == "none"
    with pytest.raises(ValueError, match="family='linear'"):
        formats_above_word(summary, "linear", "test_short")
