"""Definitions A, B and C against hand-computed values and the planted truth of the synthetic generator."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from seedexplain.snr import (
    SCALES,
    corpus_snr,
    scale_columns,
    snr_vs_n_seeds,
    stack_texts,
    stacked_snr,
    text_snr,
    texts_snr,
)
from seedexplain.synthetic import planted_explanations, recovery_table

# m = (2, 2, 5), v = (2, 0, 2): N = 4/3, S_naive = 3, S* = 3 - (4/3)/2 = 7/3.
HAND = np.array([[1.0, 3.0], [2.0, 2.0], [6.0, 4.0]])


def test_text_snr_hand_example():
    r = text_snr(HAND)
    assert (r.n_words, r.n_seeds) == (3, 2)
    assert r.noise == pytest.approx(4 / 3)
    assert r.signal_naive == pytest.approx(3.0)
    assert r.signal == pytest.approx(7 / 3)
    assert r.snr == pytest.approx(7 / 4)
    assert r.snr_naive == pytest.approx(9 / 4)


def test_text_snr_matches_the_equations():
    a = np.random.default_rng(0).normal(size=(17, 6)) * 3 + 100  # a large offset must not cost precision
    m, v = a.mean(axis=1), a.var(axis=1, ddof=1)
    r = text_snr(a)
    assert r.noise == pytest.approx(v.mean(), rel=1e-10)
    assert r.signal_naive == pytest.approx(m.var(ddof=1), rel=1e-10)
    assert r.signal == pytest.approx(m.var(ddof=1) - v.mean() / 6, rel=1e-10)


def test_corrected_signal_recovers_the_truth_and_naive_is_biased_by_noise_over_seeds():
    table = recovery_table(3000, 20, [10], signal_var=1.0, noise_var=1.0, rng=1)
    true_signal = table.true_signal.mean()
    assert abs(table.signal.mean() / true_signal - 1) < 0.05
    assert table.noise.mean() == pytest.approx(1.0, rel=0.02)
    naive_excess = table.signal_naive.mean() - true_signal
    assert naive_excess == pytest.approx(1.0 / 10, rel=0.25)  # E[S_naive] - S = N / S
    assert table.signal_naive.mean() / true_signal - 1 > 0.07
    assert table.snr.median() == pytest.approx(table.true_snr.median(), rel=0.05)


def test_texts_snr_equals_text_snr_for_every_scale():
    arrays = planted_explanations(20, range(1, 9), 4, 1.0, 0.5, rng=2, scale_jitter=0.3).arrays
    for scale in SCALES:
        frame = texts_snr(arrays, scale=scale)
        assert list(frame.columns) == ["signal", "signal_naive", "noise", "snr", "snr_naive", "n_words"]
        expected = pd.DataFrame([text_snr(a, scale=scale).__dict__ for a in arrays])
        for column in ("signal", "signal_naive", "noise", "snr", "snr_naive", "n_words"):
            np.testing.assert_allclose(frame[column], expected[column], rtol=1e-9, atol=1e-12)


def test_scale_columns_normalise_each_seed():
    a = np.array([[1.0, -2.0, 0.0], [3.0, 4.0, 0.0], [-4.0, 2.0, 0.0]])
    np.testing.assert_allclose(np.abs(scale_columns(a, "l1")).sum(axis=0), [1, 1, 0])
    np.testing.assert_allclose(np.sqrt((scale_columns(a, "l2") ** 2).sum(axis=0)), [1, 1, 0])
    z = scale_columns(a, "zscore")
    np.testing.assert_allclose(z.mean(axis=0), 0, atol=1e-12)
    np.testing.assert_allclose(z.std(axis=0), [1, 1, 0])
    np.testing.assert_array_equal(scale_columns(a, "raw"), a)


def test_definition_b_removes_pure_seed_scale_noise():
    arrays = planted_explanations(50, 15, 5, signal_var=1.0, noise_var=0.0, rng=3, scale_jitter=0.5).arrays
    raw = texts_snr(arrays, scale="raw")
    assert (raw.noise > 0.01 * raw.signal).all()
    for scale in ("l1", "l2", "zscore"):
        scaled = texts_snr(arrays, scale=scale)
        assert (scaled.noise < 1e-20 * scaled.signal).all()


def test_text_snr_edge_cases():
    one_word = text_snr(np.array([[1.0, 2.0, 4.0]]))
    assert np.isnan(one_word.signal) and np.isnan(one_word.snr) and np.isnan(one_word.signal_naive)
    assert one_word.noise == pytest.approx(7 / 3)
    assert text_snr(np.array([[1.0, 1.0], [2.0, 2.0]])).snr == np.inf
    assert np.isnan(text_snr(np.full((4, 3), 0.7)).snr)
    with pytest.raises(ValueError, match=r"a has shape \(5, 1\): at least 2 seeds"):
        text_snr(np.ones((5, 1)))
    with pytest.raises(ValueError, match=r"a must be a 2-D array .* got shape \(5,\)"):
        text_snr(np.ones(5))
    with pytest.raises(ValueError, match="a contains 1 non-finite values"):
        text_snr(np.array([[1.0, np.nan], [2.0, 3.0]]))
    with pytest.raises(ValueError, match=r"a has shape \(0, 3\): a text needs at least 1 word"):
        text_snr(np.ones((0, 3)))
    with pytest.raises(ValueError, match="scale='foo' is not one of 'raw', 'l1', 'l2', 'zscore'"):
        text_snr(HAND, scale="foo")


def test_corpus_errors_name_the_text():
    good = np.ones((3, 2))
    with pytest.raises(ValueError, match=r"arrays\[1\] contains 1 non-finite"):
        texts_snr([good, np.array([[1.0, np.inf]])])
    with pytest.raises(ValueError, match=r"arrays\[1\] has shape \(3, 3\) but arrays\[0\] has 2 seeds"):
        texts_snr([good, np.ones((3, 3))])
    with pytest.raises(ValueError, match="arrays is empty"):
        texts_snr([])


def test_corpus_snr_hand_example():
    # Occurrences: a (1, 3), b (0, 2), a (3, 5), c (4, 4): seed variances 2, 2, 2, 0, so the per-occurrence noise
    # is 6/4. Type means M = [[2, 4], [0, 2], [4, 4]] (a, b, c): seed variances 2, 2, 0 (type noise 4/3), means
    # (3, 1, 4) with variance 7/3 over types; signal = 7/3 - (4/3)/2 = 5/3, SNR = (5/3)/(3/2) = 10/9.
    arrays = [np.array([[1.0, 3.0], [0.0, 2.0]]), np.array([[3.0, 5.0], [4.0, 4.0]])]
    words = [["A", "b"], ["a", "c"]]
    r = corpus_snr(arrays, words, min_count=1)
    assert r.n_types == 3 and r.n_seeds == 2
    assert r.noise == pytest.approx(3 / 2) and r.type_noise == pytest.approx(4 / 3)
    assert r.signal_naive == pytest.approx(7 / 3)
    assert r.signal == pytest.approx(5 / 3)
    assert r.snr == pytest.approx(10 / 9)
    assert r.types.loc["a", "count"] == 2 and r.types.loc["a", "mean"] == pytest.approx(3.0)
    assert r.types.loc["c", "occurrence_noise"] == 0.0
    only_a = corpus_snr(arrays, words, min_count=2)
    assert only_a.n_types == 1 and np.isnan(only_a.signal) and only_a.noise == pytest.approx(2.0)
    with pytest.raises(ValueError, match="no word type occurs at least min_count=3 times"):
        corpus_snr(arrays, words, min_count=3)
    with pytest.raises(ValueError, match=r"words\[1\] has 1 words but arrays\[1\] has 2 rows"):
        corpus_snr(arrays, [["A", "b"], ["a"]])


@pytest.mark.parametrize(("type_share", "tolerance"), [(0.0, 0.03), (0.5, 0.08), (1.0, 0.12)])
def test_corpus_snr_recovers_planted_type_effects_whatever_noise_is_shared_by_a_type(type_share, tolerance):
    """The noise is that of one occurrence (noise_var), whether the type's occurrences share it (a linear model's
    coefficient: type_share 1) or not (independent contextual noise: 0); only a type mean's noise depends on it.

    Shared noise has fewer independent draws (one per type and seed, frequent types weigh most): the tolerance
    grows with the share (about 3 standard errors at 40 seeds)."""
    corpus = planted_explanations(1500, 20, 40, signal_var=1.0, noise_var=1.0, rng=4, words=True, n_types=1000,
                                  type_share=type_share)
    r = corpus_snr(corpus.arrays, corpus.words, min_count=5)
    effects = corpus.type_effects.loc[r.types.index]
    assert r.signal == pytest.approx(effects.var(ddof=1), rel=0.05)
    assert r.noise == pytest.approx(1.0, rel=tolerance)
    expected_type_noise = (type_share + (1 - type_share) / r.types["count"]).mean()
    assert r.type_noise == pytest.approx(expected_type_noise, rel=0.1)
    assert r.snr == pytest.approx(effects.var(ddof=1), rel=0.05 + tolerance)


def test_corpus_moments_weights_select_seeds():
    from seedexplain.snr import corpus_moments, corpus_occurrences

    corpus = planted_explanations(40, range(5, 12), 6, 1.0, 1.0, rng=1, words=True, n_types=20, type_share=0.5)
    x, codes, _, _ = corpus_occurrences(corpus.arrays, corpus.words)
    subset = corpus_moments(x[:, [0, 2, 3]], codes, min_count=2)
    weighted = corpus_moments(x, codes, min_count=2, seed_weights=np.array([1, 0, 1, 1, 0, 0]))
    plain = corpus_moments(x, codes, min_count=2)
    for key in ("signal", "noise", "type_noise", "snr"):
        assert weighted[key] == pytest.approx(subset[key], rel=1e-10)
        assert corpus_moments(x, codes, min_count=2, seed_weights=np.ones(6))[key] == pytest.approx(plain[key])


def test_corpus_interval_covers_the_planted_snr_under_shared_seed_effects():
    """Per-seed noise scales shared by every text, per (type, seed) noise shared by every occurrence, t3 tails:
    the log-t interval covers the planted corpus SNR in about 95% of corpora; the estimators chapter shows it
    against the plain percentile interval, which covers less."""
    from seedexplain.synthetic import corpus_coverage

    table = corpus_coverage(n_reps=60, n_texts=100, n_words=range(10, 21), n_seeds=10, seed_scales=[0.3], rng=0,
                            n_resamples=150)
    assert table.coverage[0] >= 0.85 and table.coverage[0] > table.percentile_coverage[0]
    assert 0.9 <= table.median_ratio[0] <= 1.15


def test_stacked_snr_weights_select_and_duplicate_seeds():
    x, lengths = stack_texts(planted_explanations(5, 6, 4, 1.0, 1.0, rng=5).arrays)
    subset = stacked_snr(x, lengths, seed_weights=np.array([[1, 0, 1, 1]]))
    direct = stacked_snr(x[:, [0, 2, 3]], lengths)
    for key in direct:
        np.testing.assert_allclose(subset[key][:, 0], direct[key])
    # Counts (2, 1, 1, 0) are reliability weights: V1 = 4, V2 = 6, v_w = sum c (a - m)^2 / (V1 - V2 / V1).
    c = np.array([2.0, 1.0, 1.0, 0.0])
    dup = stacked_snr(x, lengths, seed_weights=c[None])
    m = x @ c / 4
    v = ((x - m[:, None]) ** 2) @ c / (4 - 6 / 4)
    np.testing.assert_allclose(dup["noise"][:, 0], v.reshape(5, 6).mean(axis=1))
    np.testing.assert_allclose(dup["signal"][:, 0], dup["signal_naive"][:, 0] - dup["noise"][:, 0] * 6 / 16)
    with pytest.raises(ValueError, match=r"seed_weights must be a non-negative array of shape \(n_resamples, 4\)"):
        stacked_snr(x, lengths, seed_weights=np.ones((2, 3)))


def test_snr_vs_n_seeds_naive_falls_to_the_corrected_value():
    arrays = planted_explanations(200, 20, 10, 1.0, 1.0, rng=6).arrays
    curve = snr_vs_n_seeds(arrays, n_seeds_grid=[2, 5, 10], n_resamples=20, rng=0)
    assert list(curve.columns[:2]) == ["n_seeds", "resample"] and len(curve) == 60
    by_s = curve.groupby("n_seeds").mean()
    assert by_s.median_snr_naive.is_monotonic_decreasing
    assert by_s.median_snr_naive[2] > 1.3 * by_s.median_snr[2]
    assert by_s.median_snr.max() / by_s.median_snr.min() < 1.15
    assert curve[curve.n_seeds == 10].median_snr.nunique() == 1  # every 10-subset is all the seeds
    pd.testing.assert_frame_equal(curve, snr_vs_n_seeds(arrays, n_seeds_grid=[2, 5, 10], n_resamples=20, rng=0))
    with pytest.raises(ValueError, match=r"n_seeds_grid contains 11; values must be in 2\.\.10"):
        snr_vs_n_seeds(arrays, n_seeds_grid=[11], n_resamples=2, rng=0)


def test_common_mode_variance_recovers_a_planted_offset_and_zscore_removes_it():
    from seedexplain.snr import common_mode_variance

    rng = np.random.default_rng(0)
    n_texts, n_words, n_seeds = 400, 12, 10
    mu = rng.normal(0, np.sqrt(1.32), (n_texts, n_words, 1))
    offset = rng.normal(0, 2.0, (n_texts, 1, n_seeds))  # sd 2: variance 4, shared by a text's words
    arrays = list(mu + offset + rng.normal(0, 1.0, (n_texts, n_words, n_seeds)))
    table = common_mode_variance(arrays)
    assert table.common_mode.mean() == pytest.approx(4.0, rel=0.05)
    assert table.share.median() == pytest.approx(0.8, abs=0.05)  # 4 of the raw noise 4 + 1
    raw, zscore = texts_snr(arrays).snr.median(), texts_snr(arrays, scale="zscore").snr.median()
    # The true word-level SNR is 1.32 / 1: raw attributions count the offset as noise, z-scores do not.
    assert raw < 0.4 and zscore == pytest.approx(1.32, rel=0.25)
