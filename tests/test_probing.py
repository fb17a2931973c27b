"""Probing with control tasks, on the tiny random BERT and planted data."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from seedexplain import probing
from seedexplain.words import segment

TEXTS = ["The unbelievably funny film was great!", "A plot about a man.",
         "He runs quickly to the house, then the film."]


# --- representations -----------------------------------------------------------------------------------------

def test_one_row_per_word_occurrence_and_one_array_per_layer(tiny):
    model, tokenizer = tiny
    features, words = probing.word_representations(model, tokenizer, TEXTS)
    assert words == [w.text for text in TEXTS for w in segment(text)]
    assert len(features) == model.config.num_hidden_layers + 1
    assert all(layer.shape == (len(words), model.config.hidden_size) for layer in features)
    assert all(layer.dtype == np.float32 for layer in features)


def test_a_multi_piece_word_is_the_mean_of_its_pieces(tiny):
    model, tokenizer = tiny
    text = TEXTS[0]
    encoding = tokenizer(text, return_offsets_mapping=True, return_tensors="pt")
    word = segment(text)[1]  # "unbelievably"
    pieces = [i for i, (start, end) in enumerate(encoding.pop("offset_mapping")[0].tolist())
              if start >= word.start and end <= word.end and end > start]
    assert len(pieces) > 1, "the test needs a word split into several WordPiece tokens"
    with torch.no_grad():
        hidden = model.bert(**encoding, output_hidden_states=True).hidden_states
    features, words = probing.word_representations(model, tokenizer, [text])
    assert words[1] == "unbelievably"
    for layer, states in zip(features, hidden):
        np.testing.assert_allclose(layer[1], states[0, pieces].mean(dim=0).numpy(), rtol=1e-5, atol=1e-6)


def test_representations_do_not_depend_on_batching_and_drop_truncated_words(tiny):
    model, tokenizer = tiny
    one, _ = probing.word_representations(model, tokenizer, TEXTS, batch_size=1)
    many, _ = probing.word_representations(model, tokenizer, TEXTS, batch_size=32)
    for a, b in zip(one, many):
        np.testing.assert_allclose(a, b, atol=1e-5)
    features, words = probing.word_representations(model, tokenizer, [TEXTS[2]], max_length=6)  # 4 tokens kept
    assert words == ["He", "runs", "quickly", "to"] and features[0].shape[0] == 4


# --- labels and control task ---------------------------------------------------------------------------------

def test_coarse_part_of_speech_from_the_lexicon():
    words = ["The", "film", "runs", "quickly", ",", "good", "xyzzyqw"]
    expected = ["FUNCTION", "NOUN", "VERB", "ADV", "OTHER", "ADJ", None]
    assert [probing.coarse_pos(w) for w in words] == expected
    labels = probing.pos_labels(words)
    assert labels.tolist() == [probing.COARSE_POS.index(e) if e else -1 for e in expected]


def test_control_labels_are_constant_per_type_and_fixed_by_the_seed():
    words = ["The", "the", "film", "Film", "runs", "odd", "the"] * 3
    labels = np.array([4, 4, 0, 0, 1, -1, 4] * 3)
    control = probing.control_labels(words, labels, seed=3)
    for word_type in {w.lower() for w in words}:
        values = {c for w, c in zip(words, control) if w.lower() == word_type}
        assert len(values) == 1
    assert control[5] == -1  # not in the lexicon → left out
    np.testing.assert_array_equal(control, probing.control_labels(words, labels, seed=3))
    order = np.random.default_rng(0).permutation(len(words))  # the order of occurrences does not matter
    shuffled = probing.control_labels([words[i] for i in order], labels[order], seed=3)
    np.testing.assert_array_equal(shuffled, control[order])


def test_control_labels_follow_the_distribution_of_the_real_labels_over_types():
    words = [f"w{i}" for i in range(4000)]
    labels = np.where(np.arange(4000) < 3000, 2, 5)  # 75 % of the types have label 2, 25 % label 5
    control = probing.control_labels(words, labels, seed=0)
    assert set(np.unique(control)) == {2, 5}
    assert abs(np.mean(control == 2) - 0.75) < 0.03
    other_seed = probing.control_labels(words, labels, seed=1)
    assert 0.5 < np.mean(other_seed == control) < 0.75  # independent draws agree with probability 0.625


# --- probes --------------------------------------------------------------------------------------------------

def test_type_split_never_shares_a_type_and_occurrence_split_takes_the_fraction():
    rng = np.random.default_rng(0)
    words = [f"w{i}" for i in rng.zipf(1.5, size=2000) % 300]
    train = probing.probe_split(words, seed=0, train_fraction=0.7, split_by="type")
    seen = {w for w, t in zip(words, train) if t}
    assert not seen & {w for w, t in zip(words, train) if not t}
    assert 0.65 < train.mean() < 0.8
    occurrence = probing.probe_split(words, seed=0, train_fraction=0.7, split_by="occurrence")
    assert occurrence.sum() == 1400
    np.testing.assert_array_equal(occurrence, probing.probe_split(words, seed=0, split_by="occurrence"))


def planted(n_types: int = 80, per_type: int = 8, seed: int = 0):
    """Return two layers — pure noise, and the 3-class label encoded linearly next to a one-hot of the word type
    (memorisable, but useless on unseen types) — with the labels and the words."""
    rng = np.random.default_rng(seed)
    types = np.repeat(np.arange(n_types), per_type)
    labels = rng.integers(0, 3, n_types)[types]
    informative = np.hstack([4 * np.eye(3)[labels] + 0.1 * rng.normal(size=(len(types), 3)), np.eye(n_types)[types]])
    words = [f"t{t}" for t in types]
    return [rng.normal(size=informative.shape), informative], labels, words


def test_planted_probe_succeeds_and_control_is_at_chance_on_unseen_types():
    features, labels, words = planted()
    control = probing.control_labels(words, labels, seed=0)
    table = probing.probe_layers(features, labels, control, words=words, seed=0, split_by="type", n_repeats=3)
    assert list(table.layer) == [0, 1]
    informative = table.iloc[1]
    assert informative.accuracy > 0.97
    assert informative.control_accuracy < 0.55  # chance is about 1/3 to 0.45 here; types are unseen
    assert table.iloc[0].accuracy < 0.6  # pure noise: no better than chance
    np.testing.assert_allclose(table.selectivity, table.accuracy - table.control_accuracy)
    assert table.selectivity_sd.notna().all()


def test_occurrence_split_lets_the_probe_memorise_the_control_task():
    features, labels, words = planted()
    control = probing.control_labels(words, labels, seed=0)
    table = probing.probe_layers(features, labels, control, words=words, seed=0, split_by="occurrence")
    informative = table.iloc[1]
    assert informative.accuracy > 0.97 and informative.control_accuracy > 0.9  # type vectors are memorisable
    assert table.selectivity_sd.isna().all()  # one repeat


def test_majority_baseline_and_left_out_occurrences():
    features, labels, words = planted()
    labels = labels.copy()
    labels[:40] = -1  # e.g. words not in the lexicon
    control = probing.control_labels(words, labels, seed=0)
    table = probing.probe_layers(features, labels, control, words=words, seed=5, split_by="type")
    kept = labels >= 0
    train = probing.probe_split([w for w, k in zip(words, kept) if k], seed=5, split_by="type")
    y = labels[kept]
    assert table.n_train.iloc[0] + table.n_test.iloc[0] == kept.sum()
    assert table.majority.iloc[0] == pytest.approx(np.mean(y[~train] == np.bincount(y[train]).argmax()))


@pytest.mark.parametrize(("options", "message"), [
    ({"split_by": "sentence"}, "split_by='sentence' is not one of"),
    ({"train_fraction": 1.0}, r"train_fraction=1.0 must be a number in \(0, 1\)"),
    ({"n_repeats": 0}, "n_repeats=0 must be an integer >= 1"),
    ({"regularization": 0.0}, r"regularization=0.0 must be a number in \(0, inf\)"),
])
def test_probe_layers_rejects_bad_arguments(options, message):
    features, labels, words = planted(n_types=10, per_type=2)
    with pytest.raises(ValueError, match=message):
        probing.probe_layers(features, labels, labels, words=words, seed=0, **options)
    with pytest.raises(ValueError, match="one entry per occurrence"):
        probing.probe_layers(features, labels[:-1], labels[:-1], words=words, seed=0)
    with pytest.raises(ValueError, match="empty training or test set"):
        probing.probe_layers(features, labels, labels, words=["same"] * len(words), seed=0)  # one type
