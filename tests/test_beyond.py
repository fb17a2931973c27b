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
    # Resolution: the share of words with a unit of their own.
    assert word.resolution == plausibility_cost(4, "magnitude").resolution == 1.0
    assert span.resolution == pytest.approx(1 / 7) and plausibility_cost(6, "spans", k=3).resolution == 0.0
    assert pairs.resolution == 0.0 and plausibility_cost(5, "spans", k=1).resolution == 1.0
    assert plausibility_cost(9, "segments", n_segments=2, segment_sizes=[1, 8]).resolution == pytest.approx(1 / 9)
    assert math.isnan(plausibility_cost(9, "segments", n_segments=2).resolution)
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
    assert set(table[table.format == "spans"].label) == {"spans_k2"}
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


def _pure_noise(n_texts, n_words, n_seeds, rng):
    """Texts with no between-word signal and heteroscedastic noise (each word its own noise level)."""
    rng = np.random.default_rng(rng)
    return [rng.lognormal(0.0, 0.7, size=(n_words, 1)) * rng.normal(size=(n_words, n_seeds)) for _ in range(n_texts)]


@pytest.mark.parametrize("format", ["ranks", "pairwise_interactions", "word", "spans"])
def test_units_snr_is_unbiased_for_dependent_units_where_definition_a_is_not(format):
    """No signal, equal noise for every word: ranks (which sum to a constant) and pairwise products (which share
    words) have dependent noises; the correction of units_snr leaves the signal at zero, definition A's N/S
    correction does not for ranks (short by n/(n−1) − 1 = 1/4 of N/S: rank noise 2, S = 10, bias 0.05)."""
    from seedexplain.beyond import units_snr
    from seedexplain.snr import stack_texts, stacked_snr

    rng = np.random.default_rng(2)
    units = [to_format(rng.normal(size=(5, 10)), format, k=2) for _ in range(4000)]
    x, lengths = stack_texts(units)
    signal = units_snr(x, lengths) * stacked_snr(x, lengths)["noise"]
    assert np.mean(signal) == pytest.approx(0.0, abs=0.006 * np.mean(stacked_snr(x, lengths)["noise"]))  # ~4 s.e.
    if format == "ranks":
        assert np.mean(texts_snr(units).signal) == pytest.approx(0.05, abs=0.01)


def test_units_snr_weights_select_seeds():
    from seedexplain.beyond import units_snr
    from seedexplain.snr import stack_texts

    x, lengths = stack_texts(_pure_noise(20, 6, 5, rng=3))
    selected = units_snr(x, lengths, np.array([[1, 1, 0, 1, 0]]))[:, 0]
    np.testing.assert_allclose(selected, units_snr(x[:, [0, 1, 3]], lengths), rtol=1e-10)


def test_a_format_that_gains_snr_from_noise_alone_does_not_beat_its_null():
    """Pure heteroscedastic noise: magnitudes report a positive SNR (words with more noise have larger |a|), but no
    more than their null does, so they are not listed above words."""
    from seedexplain.beyond import compare_format

    result = compare_format(_pure_noise(150, 12, 10, rng=4), "magnitude", n_resamples=300, n_null=50)
    assert result.format_snr > 0.1 and abs(result.word_snr) < 0.05
    assert result.null_snr > 0.1 and not result.beats_null and not result.above_word


def test_spans_of_a_smooth_signal_beat_words_and_their_null():
    from seedexplain.beyond import compare_format

    rng = np.random.default_rng(5)
    arrays = [np.repeat(rng.normal(size=(5, 1)), 3, axis=0) + rng.normal(size=(15, 10)) for _ in range(150)]
    result = compare_format(arrays, "spans", k=3, n_resamples=300, n_null=50)
    assert result.format_snr == pytest.approx(3 * result.word_snr, rel=0.3)  # signal x9, noise x3
    assert result.ci_low > 0 and result.beats_null and result.above_word
    assert result.n_texts == 150 and abs(result.null_snr) < 0.1
    word = compare_format(arrays, "word", n_resamples=50, n_null=5)
    assert word.ci_low == word.ci_high == 0.0 and not word.above_word


def test_compare_format_keeps_the_texts_with_two_units_and_checks_its_input():
    from seedexplain.beyond import compare_format

    arrays = _pure_noise(30, 8, 4, rng=6)
    boundaries = [[0] if t % 3 else [0, 4] for t in range(30)]  # two of three texts are one segment
    assert compare_format(arrays, "segments", boundaries=boundaries, n_resamples=50, n_null=5).n_texts == 10
    with pytest.raises(ValueError, match="format='bigram' is not one of"):
        compare_format(arrays, "bigram")
    with pytest.raises(ValueError, match="needs at least 3"):
        compare_format([a[:, :2] for a in arrays], "ranks")
