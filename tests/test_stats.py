"""Bootstrap coverage, test level and power, effect sizes and seed agreement against known answers."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from scipy import stats as sps

from seedexplain.snr import texts_snr
from seedexplain.stats import (
    bootstrap_ci,
    paired_comparison,
    rank_biserial,
    seed_kendall,
    seed_spearman,
    seed_top_k_overlap,
    texts_agreement,
)
from seedexplain.synthetic import coverage_experiment, paired_models, planted_explanations


def test_bootstrap_intervals_cover_their_targets_at_about_the_nominal_rate():
    coverage = coverage_experiment(
        n_reps=200, n_texts=60, n_words=15, n_seeds=10, signal_var=2.0, noise_var=1.0, rng=0, n_resamples=100,
        n_population=5000,
    ).groupby("over").covered.mean()
    assert 0.88 <= coverage["texts"] <= 0.99
    assert 0.88 <= coverage["seeds"] <= 0.99
    # Seed noise is independent between synthetic texts, so the hierarchical scheme counts it twice: conservative.
    assert 0.93 <= coverage["both"] <= 1.0


def test_bootstrap_ci_is_deterministic_and_brackets_the_estimate():
    arrays = planted_explanations(60, 15, 5, 1.0, 1.0, rng=1).arrays
    for over in ("texts", "seeds", "both"):
        ci = bootstrap_ci(arrays, over=over, n_resamples=300, rng=3)
        assert ci.low < ci.estimate < ci.high and ci.replicates.shape == (300,)
        again = bootstrap_ci(arrays, over=over, n_resamples=300, rng=3)
        assert ci == again and np.array_equal(ci.replicates, again.replicates)
    assert bootstrap_ci(arrays, statistic=np.mean, quantity="noise").estimate == pytest.approx(
        texts_snr(arrays).noise.mean()
    )
    basic = bootstrap_ci(arrays, method="basic", n_resamples=300, rng=3)
    percentile = bootstrap_ci(arrays, n_resamples=300, rng=3)
    assert basic.low == pytest.approx(2 * basic.estimate - percentile.high)


def test_bootstrap_ci_validates_its_arguments():
    arrays = planted_explanations(5, 6, 2, 1.0, 1.0, rng=1).arrays
    with pytest.raises(ValueError, match="over='words' is not one of 'texts', 'seeds', 'both'"):
        bootstrap_ci(arrays, over="words")
    with pytest.raises(ValueError, match="over='seeds' resamples seeds and needs at least 3"):
        bootstrap_ci(arrays, over="seeds")
    with pytest.raises(ValueError, match=r"level=95 must be a number in \(0, 1\)"):
        bootstrap_ci(arrays, level=95)


def _rejection_rates(noise_ratio: float, n_reps: int = 200) -> dict[str, float]:
    rng = np.random.default_rng(11)
    rejected = {"wilcoxon": 0, "permutation": 0}
    for _ in range(n_reps):
        a, b = paired_models(40, 15, 5, signal_var=1.0, noise_var=1.0, noise_ratio=noise_ratio, rng=rng)
        x, y = texts_snr(a).snr.to_numpy(), texts_snr(b).snr.to_numpy()
        for method in rejected:
            rejected[method] += paired_comparison(x, y, method=method, n_permutations=499, rng=rng).p_value < 0.05
    return {method: count / n_reps for method, count in rejected.items()}


def test_paired_tests_hold_their_level_under_the_null():
    for method, rate in _rejection_rates(noise_ratio=1.0).items():
        assert 0.01 <= rate <= 0.1, method


def test_paired_tests_have_power_against_a_noisier_model():
    for method, rate in _rejection_rates(noise_ratio=1.5, n_reps=50).items():
        assert rate >= 0.8, method


def test_effect_sizes_on_a_hand_example():
    # d = (1, -2, 3, 0): ranks of |d| without the zero are (1, 2, 3): r = (1 + 3 - 2) / 6.
    assert rank_biserial(np.array([1.0, -2.0, 3.0, 0.0])) == pytest.approx(1 / 3)
    assert np.isnan(rank_biserial(np.zeros(3)))
    x, y = np.array([2.0, 1.0, 4.0, -1.0]), np.array([1.0, 1.0, 1.0, 1.0])
    result = paired_comparison(x, y)
    assert result.median_log_ratio == pytest.approx(np.log(2)) and result.n_log_ratio == 3
    assert result.median_difference == pytest.approx(0.5) and result.n_pairs == 4
    assert paired_comparison(x, x).p_value == 1.0


def test_sign_flip_test_matches_the_exact_p_value():
    d = np.array([0.3, 1.2, 0.8, 2.0, 0.5, 1.1, 0.9, 1.6])  # all positive: exact two-sided p = 2 / 2^8
    result = paired_comparison(d, np.zeros(8), method="permutation", n_permutations=20_000, rng=0)
    assert result.statistic == pytest.approx(d.mean())
    assert result.p_value == pytest.approx(2 / 256, abs=0.003)
    greater = paired_comparison(d, np.zeros(8), method="permutation", alternative="greater", rng=0)
    assert greater.p_value < result.p_value
    with pytest.raises(ValueError, match="method='t' is not one of 'wilcoxon', 'permutation'"):
        paired_comparison(d, d, method="t")
    with pytest.raises(ValueError, match="x contains 1 non-finite values"):
        paired_comparison(np.array([np.nan, 1.0]), np.ones(2))


def test_rank_agreement_on_hand_examples():
    a = np.array([[3.0, 3.0, 1.0], [2.0, 2.0, 2.0], [1.0, 1.0, 3.0]])  # seeds 0 and 1 agree, seed 2 reversed
    assert seed_spearman(a) == pytest.approx((1 - 1 - 1) / 3)
    assert seed_kendall(a) == pytest.approx((1 - 1 - 1) / 3)
    assert seed_spearman(a[:, :2]) == pytest.approx(1.0)
    ties = np.array([[1.0, 2.0], [1.0, 1.0], [2.0, 3.0], [0.5, 0.5], [4.0, 3.0]])
    assert seed_spearman(ties) == pytest.approx(sps.spearmanr(ties[:, 0], ties[:, 1]).statistic)
    assert seed_kendall(ties) == pytest.approx(sps.kendalltau(ties[:, 0], ties[:, 1]).statistic)


def test_top_k_overlap_on_a_hand_example():
    a = np.array([[5.0, 0.0], [-4.0, 4.0], [0.0, -5.0], [0.0, 1.0], [1.0, 0.0]])  # top 2: {0, 1} and {2, 1}
    assert seed_top_k_overlap(a, 2) == pytest.approx(1 / 3)
    assert seed_top_k_overlap(a, 2, measure="fraction") == pytest.approx(1 / 2)
    assert seed_top_k_overlap(a, 9) == 1.0
    with pytest.raises(ValueError, match="measure='dice' is not one of 'jaccard', 'fraction'"):
        seed_top_k_overlap(a, 2, measure="dice")


def test_texts_agreement_equals_the_per_text_functions():
    arrays = planted_explanations(30, range(3, 9), 4, 1.0, 1.0, rng=2).arrays
    frame = texts_agreement(arrays, k=2)
    for t in (0, 7, 29):
        a = arrays[t]
        assert frame.spearman[t] == pytest.approx(seed_spearman(a))
        assert frame.kendall[t] == pytest.approx(seed_kendall(a))
        assert frame.top_k_jaccard[t] == pytest.approx(seed_top_k_overlap(a, 2))
        assert frame.top_k_fraction[t] == pytest.approx(seed_top_k_overlap(a, 2, measure="fraction"))
        pairs = itertools.combinations(range(4), 2)
        assert frame.kendall[t] == pytest.approx(np.mean([sps.kendalltau(a[:, i], a[:, j])[0] for i, j in pairs]))
