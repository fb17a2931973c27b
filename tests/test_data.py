"""Data: the subjectivity split by movie, long texts, balance, determinism, and the synthetic set."""

import numpy as np
import pytest

from seedexplain.config import make_config
from seedexplain.data import Split, load_dataset, n_words


@pytest.fixture(scope="module")
def subjectivity():
    return load_dataset(make_config("quick", n_train=300, n_test_short=60, n_test_long=20))


def test_no_movie_is_in_train_and_test(subjectivity):
    train = set(subjectivity.train.groups)
    assert not train & set(subjectivity.test_short.groups)
    assert not train & set(subjectivity.test_long.groups)


def test_sizes_and_balance(subjectivity):
    for split, n in (("train", 300), ("test_short", 60), ("test_long", 20)):
        labels = subjectivity.split(split).labels
        assert len(labels) == n
        assert np.bincount(labels).tolist() == [n // 2, n // 2]


def test_long_texts_are_at_least_five_times_longer(subjectivity):
    short = np.mean([n_words(t) for t in subjectivity.test_short.texts])
    long = np.mean([n_words(t) for t in subjectivity.test_long.texts])
    assert long >= 5 * short
    assert min(n_words(t) for t in subjectivity.train.texts) >= 5


def test_split_is_deterministic_and_independent_of_training_seeds(subjectivity):
    again = load_dataset(make_config("quick", n_train=300, n_test_short=60, n_test_long=20, seed=7, n_seeds=5))
    assert again.train.texts == subjectivity.train.texts
    assert again.test_long.texts == subjectivity.test_long.texts
    other = load_dataset(make_config("quick", n_train=300, n_test_short=60, n_test_long=20, split_seed=1))
    assert other.train.texts != subjectivity.train.texts


def test_objective_texts_are_plot_sentences():
    data = load_dataset(make_config("quick", n_train=40, n_test_short=10, n_test_long=4))
    objective = [t for t, y in zip(data.train.texts, data.train.labels) if y == 0]
    assert all(t[0].isupper() or not t[0].isalpha() for t in objective)


def test_too_many_texts_requested_is_a_clear_error():
    with pytest.raises(ValueError, match="lower n_train"):
        load_dataset(make_config("quick", n_train=100_000))


def test_empty_text_and_missing_class_are_refused():
    with pytest.raises(ValueError, match="text 1 is empty"):
        Split(("a text", "  "), np.array([0, 1]), ("m", "m"))
    with pytest.raises(ValueError, match="class .*subjective.* is missing"):
        Split(("a text", "another"), np.array([0, 0]), ("m", "m"))


def test_synthetic_dataset_is_deterministic(tiny_config):
    a, b = load_dataset(tiny_config), load_dataset(tiny_config)
    assert a.train.texts == b.train.texts and len(a.test_long) == 4
    assert all(n_words(t) > n_words(s) for t, s in zip(a.test_long.texts, a.test_short.texts))
