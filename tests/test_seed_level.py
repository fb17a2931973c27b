"""Seed-level inference: the paired multi-bootstrap on an oracle whose seed noise is shared across texts.

The oracle (:func:`seedexplain.synthetic.shared_effect_families`) has per-seed noise scales shared by all texts,
per (word type, seed) noise shared by all texts containing the type, per-occurrence noise and heavy tails: the
structure that makes texts dependent and fools tests that treat them as independent units.
"""

import numpy as np
import pytest

from seedexplain.stats import holm, seed_level_comparison
from seedexplain.synthetic import comparison_calibration, shared_effect_families

SIZES = dict(n_texts=60, n_words=range(6, 15), n_seeds=10, n_resamples=300)


@pytest.fixture(scope="module")
def null():
    return comparison_calibration(n_reps=200, rng=1, noise_ratio=1.0, **SIZES)


def test_seed_level_test_holds_its_level_under_the_null(null):
    assert null.seed_level_reject.mean() <= 0.07
    assert null.seed_level_covered.mean() >= 0.92


def test_texts_as_units_reject_a_true_null_most_of_the_time(null):
    # The failure the seed-level test fixes: same generator, yet texts-level procedures "find" a difference.
    assert null.wilcoxon_reject.mean() >= 0.5
    assert null.texts_covered.mean() <= 0.5


def test_interval_covers_a_planted_log_ratio():
    planted = comparison_calibration(n_reps=120, rng=2, noise_ratio=2.0, **SIZES)
    assert 0.9 <= planted.seed_level_covered.mean() <= 0.99
    assert planted.seed_level_reject.mean() > 0.2  # some power at 10 seeds


def test_contract_and_different_seed_counts():
    first, second = shared_effect_families(40, range(5, 12), 8, rng=3, noise_ratio=4.0, seed_scale=0.0,
                                           type_share=0.0, tails="normal")
    result = seed_level_comparison(first, [a[:, :5] for a in second], n_resamples=500, seed=0)
    assert (result.n_seeds_first, result.n_seeds_second, result.n_texts) == (8, 5, 40)
    for name in ("estimate", "ci_low", "ci_high", "p_value"):
        assert isinstance(getattr(result, name), float)
    assert result.ci_low < np.log(4.0) < result.ci_high and result.estimate > 0 and result.p_value < 0.05
    again = seed_level_comparison(first, [a[:, :5] for a in second], n_resamples=500, seed=0)
    assert again == result  # deterministic for a seed
    swapped = seed_level_comparison([a[:, :5] for a in second], first, n_resamples=500, seed=0)
    assert swapped.estimate == pytest.approx(-result.estimate)


def test_bad_input_is_refused():
    first, second = shared_effect_families(10, 6, 4, rng=0)
    with pytest.raises(ValueError, match="same texts"):
        seed_level_comparison(first, second[:-1])
    with pytest.raises(ValueError, match="at least 3 per family"):
        seed_level_comparison(first, [a[:, :2] for a in second])
    with pytest.raises(ValueError, match=r"n_resamples=10 must be an integer >= 50"):
        seed_level_comparison(first, second, n_resamples=10)


def test_holm_matches_a_hand_computation():
    # sorted 0.01, 0.02, 0.03, 0.5 with m = 4: 0.04, 0.06, 0.06 (monotone), 0.5
    np.testing.assert_allclose(holm([0.03, 0.01, 0.5, 0.02]), [0.06, 0.04, 0.5, 0.06])
    assert np.isnan(holm([0.01, np.nan])[1]) and holm([0.01, np.nan])[0] == pytest.approx(0.01)
    assert holm([0.9, 0.8])[0] == 1.0
