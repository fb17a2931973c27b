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
    with pytest.raises(ValueError, match="kind='svm' is not one of 'bow', 'features'"):
        train_linear(data.train.texts, data.train.labels, kind="svm", seed=0, epochs=1, alpha=1e-4)


def test_lbfgs_reaches_the_regularised_optimum_from_any_seed(data):
    from sklearn.linear_model import LogisticRegression

    from seedexplain.linear import feature_matrix

    texts, labels = data.train.texts[:300], data.train.labels[:300]
    models = [train_linear(texts, labels, kind="bow", seed=s, alpha=1e-3, tol=1e-9) for s in (0, 1)]
    assert all(m.diagnostics["converged"] and m.diagnostics["gradient_norm"] <= 1e-9 for m in models)
    assert np.abs(models[0].coef - models[1].coef).max() < 1e-6  # convex: the seed has (almost) no effect
    # scikit-learn's L-BFGS logistic regression minimises C·Σ loss + ||w||²/2 (intercept unpenalised): the same
    # optimum when C = 1 / (alpha n).
    x = feature_matrix(texts, "bow", models[0].vocabulary)
    reference = LogisticRegression(C=1 / (1e-3 * len(labels)), tol=1e-12, max_iter=100_000).fit(x, labels)
    np.testing.assert_allclose(models[0].coef, reference.coef_.ravel(), atol=1e-5)
    assert models[0].intercept == pytest.approx(reference.intercept_[0], abs=1e-5)


def test_sgd_budget_moves_with_the_seed_and_approaches_the_optimum(data):
    texts, labels = data.train.texts[:300], data.train.labels[:300]
    optimum = train_linear(texts, labels, kind="bow", seed=0, alpha=1e-3)
    short = [train_linear(texts, labels, kind="bow", seed=s, solver="sgd", epochs=1, alpha=1e-3) for s in (0, 1)]
    long = train_linear(texts, labels, kind="bow", seed=0, solver="sgd", epochs=300, alpha=1e-3)
    assert np.abs(short[0].coef - short[1].coef).max() > 1e-3
    assert np.abs(long.coef - optimum.coef).max() < np.abs(short[0].coef - optimum.coef).max()
    assert not short[0].diagnostics["converged"] and short[0].diagnostics["solver"] == "sgd"


def test_features_model_converges_and_round_trips(data, tmp_path):
    from seedexplain.linear import LinearTextModel

    model = train_linear(data.train.texts[:300], data.train.labels[:300], kind="features", seed=0)
    assert model.diagnostics["converged"]
    model.save(tmp_path)
    loaded = LinearTextModel.load(tmp_path)
    text = data.test_short.texts[0]
    np.testing.assert_array_equal(loaded.word_contributions(text), model.word_contributions(text))
    assert loaded.decision([text])[0] == model.decision([text])[0] and loaded.diagnostics == model.diagnostics
