"""The planted-truth generator and the experiments built on it."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats as sps

from seedexplain.snr import texts_snr
from seedexplain.synthetic import (
    bias_by_n_seeds,
    coverage_experiment,
    paired_models,
    planted_explanations,
    recovery_table,
    scale_jitter_table,
)


def test_shapes_lengths_and_determinism():
    corpus = planted_explanations(50, range(3, 8), 4, 1.0, 0.5, rng=0)
    assert len(corpus.arrays) == 50 and corpus.words is None and corpus.type_effects is None
    lengths = [a.shape[0] for a in corpus.arrays]
    assert set(lengths) <= set(range(3, 8)) and all(a.shape[1] == 4 for a in corpus.arrays)
    assert corpus.truth.n_words.tolist() == lengths
    again = planted_explanations(50, range(3, 8), 4, 1.0, 0.5, rng=np.random.default_rng(0))
    assert all(np.array_equal(a, b) for a, b in zip(corpus.arrays, again.arrays))
    other = planted_explanations(50, range(3, 8), 4, 1.0, 0.5, rng=1)
    assert not np.array_equal(corpus.arrays[0], other.arrays[0])


def test_truth_is_the_infinite_seed_limit():
    corpus = planted_explanations(30, 10, 3, signal_var=2.0, noise_var=0.0, rng=1)
    estimate = texts_snr(corpus.arrays)  # no noise: every seed equals mu
    np.testing.assert_allclose(estimate.signal, corpus.truth.signal)
    assert (estimate.noise == 0).all() and (corpus.truth.noise == 0).all()
    noisy = planted_explanations(30, 10, 3, signal_var=2.0, noise_var=0.5, rng=1)
    np.testing.assert_allclose(noisy.truth.snr, noisy.truth.signal / 0.5)
    assert np.isnan(planted_explanations(2, 1, 3, 1.0, 1.0, rng=0).truth.signal).all()


def test_heavy_tails_are_student_t3_scaled_to_the_noise_variance():
    eps = np.concatenate(planted_explanations(400, 25, 8, 0.0, 2.0, rng=2, tails="t3").arrays).ravel()
    scale = np.sqrt(2.0 / 3.0)  # t3 has variance 3
    for q in (0.75, 0.95, 0.99):
        assert np.quantile(eps, q) == pytest.approx(scale * sps.t(3).ppf(q), rel=0.05)
    assert sps.kurtosis(eps) > 1.0  # a normal has 0


def test_scale_jitter_multiplies_whole_columns():
    corpus = planted_explanations(5, 6, 4, 1.0, 0.0, rng=3, scale_jitter=0.5)
    for a in corpus.arrays:
        ratios = a / a[:, :1]
        np.testing.assert_allclose(ratios, np.broadcast_to(ratios[:1], ratios.shape))
        assert np.ptp(ratios[0]) > 0.01


def test_words_carry_their_type_effect():
    corpus = planted_explanations(20, range(4, 12), 3, 1.0, 0.0, rng=4, words=True, n_types=30)
    assert [len(w) for w in corpus.words] == [a.shape[0] for a in corpus.arrays]
    assert all(w[0][0] == "W" for w in corpus.words) and all(t[0] == "w" for w in corpus.words for t in w[1:])
    for words, a in zip(corpus.words, corpus.arrays):
        np.testing.assert_allclose(a[:, 0], corpus.type_effects.loc[[w.lower() for w in words]].to_numpy())


def test_paired_models_share_the_texts():
    a, b = paired_models(10, range(5, 9), 3, 1.0, 0.0, rng=5)
    assert all(np.array_equal(x, y) for x, y in zip(a, b))  # no noise: the same mu
    a, b = paired_models(400, 20, 6, 1.0, 1.0, noise_ratio=4.0, rng=5)
    assert texts_snr(b).noise.mean() == pytest.approx(4 * texts_snr(a).noise.mean(), rel=0.05)


def test_argument_validation():
    with pytest.raises(ValueError, match="n_words=0 must be a positive integer or a range"):
        planted_explanations(3, 0, 2, 1.0, 1.0, rng=0)
    with pytest.raises(ValueError, match="tails='cauchy' is not one of 'normal', 't3'"):
        planted_explanations(3, 4, 2, 1.0, 1.0, rng=0, tails="cauchy")
    with pytest.raises(ValueError, match=r"noise_var=-1.0 must be a number in \[0, inf\)"):
        planted_explanations(3, 4, 2, 1.0, -1.0, rng=0)


def test_bias_table_matches_the_theory():
    bias = bias_by_n_seeds(recovery_table(2000, 20, [2, 5, 10], signal_var=1.0, noise_var=1.0, rng=6))
    np.testing.assert_allclose(bias.bias_naive, bias.expected_naive, rtol=0.2)
    assert (bias.bias_corrected.abs() < 0.05).all()
    np.testing.assert_allclose(bias.expected_naive, [1 / 2, 1 / 5, 1 / 10], rtol=0.05)


def test_coverage_and_scale_tables_have_their_columns():
    coverage = coverage_experiment(n_reps=2, n_texts=20, n_words=8, n_seeds=5, signal_var=1.0, noise_var=1.0,
                                   rng=0, n_resamples=50, n_population=500)
    assert list(coverage.columns) == ["rep", "over", "estimate", "low", "high", "target", "covered"]
    assert len(coverage) == 6 and (coverage.low <= coverage.high).all()
    table = scale_jitter_table([0.0, 1.0], n_texts=100, n_words=15, n_seeds=5, signal_var=1.0, noise_var=0.25,
                               rng=0)
    raw = table[table.scale == "raw"].set_index("jitter")
    l2 = table[table.scale == "l2"].set_index("jitter")
    assert raw.median_snr[1.0] < 0.5 * raw.median_snr[0.0]
    assert l2.median_snr[1.0] == pytest.approx(l2.median_true_snr[1.0], rel=0.3)
