"""Linear models: exact word contributions, seeded training."""

import numpy as np
import pytest

from seedexplain.data import load_dataset
from seedexplain.linear import FEATURES, linguistic_features, train_linear
from seedexplain.words import segment


@pytest.fixture(scope="module")
def data():
    from seedexplain.config import make_config

    return load_dataset(make_config("quick", dataset="synthetic", n_train=80, n_test_short=10, n_test_long=4))


@pytest.mark.parametrize("kind", ["bow", "features"])
def test_contributions_sum_to_logit_minus_intercept(data, kind):
    model = train_linear(data.train.texts, data.train.labels, kind=kind, seed=0, epochs=5, alpha=1e-4)
    texts = data.test_short.texts + data.test_long.texts
    z = model.decision(texts)
    for text, logit in zip(texts, z):
        contributions = model.word_contributions(text)
        assert contributions.shape == (len(segment(text)),)
        assert contributions.sum() + model.intercept == pytest.approx(logit, abs=1e-9)


@pytest.mark.parametrize("kind", ["bow", "features"])
def test_seed_determines_the_model(data, kind):
    fit = lambda seed: train_linear(data.train.texts, data.train.labels, kind=kind, seed=seed, epochs=3,  # noqa: E731
                                    alpha=1e-4)
    a, b, c = fit(0), fit(0), fit(1)
    np.testing.assert_array_equal(a.coef, b.coef)
    assert not np.allclose(a.coef, c.coef)


def test_bow_learns_the_synthetic_task(data):
    model = train_linear(data.train.texts, data.train.labels, kind="bow", seed=0, epochs=10, alpha=1e-4)
    assert np.mean(model.predict(data.test_short.texts) == data.test_short.labels) >= 0.9
    great = model.word_contributions("great film")
    assert great[0] > great[1]


def test_linguistic_features_of_known_words():
    on = lambda word, position=1: {f for f, v in zip(FEATURES, linguistic_features(word, position)) if v}  # noqa: E731
    assert {"first_person"} <= on("I")
    assert {"negation"} <= on("don't")
    assert {"adjective", "subjective_strong", "positive"} <= on("beautiful")
    assert on("!") == {"exclamation"}
    assert "capitalised" in on("Paris") and "capitalised" not in on("Paris", 0)
    assert "number" in on("1,000")


def test_unknown_kind_is_refused(data):
    with pytest.raises(ValueError, match="linear='svm' is not one of 'bow', 'features'"):
        train_linear(data.train.texts, data.train.labels, kind="svm", seed=0, epochs=1, alpha=1e-4)
