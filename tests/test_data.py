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


def test_text_without_words_and_bytes_are_refused():
    with pytest.raises(ValueError, match="text 1 has no words"):
        Split(("a text", "!!! ..."), np.array([0, 1]), ("m", "m"))
    with pytest.raises(TypeError, match="text 0 is bytes.*decode it first"):
        Split((b"caf\xe9 noir", "a text"), np.array([0, 1]), ("m", "m"))


def _write_csv(path, n_groups=20, per_group=6):
    rows = ["text,label,group"]
    for g in range(n_groups):
        for i in range(per_group):
            label = (g + i) % 2
            words = "what a wonderful, charming film" if label else "the man travels to the city"
            rows.append(f'"{words} number {i}, part {g}",{label},movie-{g}')
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


def test_csv_dataset_is_split_by_group(tmp_path):
    config = make_config("quick", dataset=str(_write_csv(tmp_path / "reviews.csv")), n_train=40, n_test_short=10,
                         n_test_long=4, long_k=2)
    data = load_dataset(config)
    assert data.name == "reviews" and len(data.train) == 40 and len(data.test_long) == 4
    assert not set(data.train.groups) & (set(data.test_short.groups) | set(data.test_long.groups))
    assert all(n_words(t) > 10 for t in data.test_long.texts)
    assert load_dataset(config).train.texts == data.train.texts


def test_csv_dataset_artifacts_follow_the_content_not_the_path(tmp_path):
    from seedexplain.pipeline import data_params

    first = _write_csv(tmp_path / "a.csv")
    copy = tmp_path / "b.csv"
    copy.write_bytes(first.read_bytes())
    key = data_params(make_config("quick", dataset=str(first)))
    assert data_params(make_config("quick", dataset=str(copy))) == key
    _write_csv(first, n_groups=21)
    assert data_params(make_config("quick", dataset=str(first))) != key


def test_non_utf8_csv_is_a_clear_error(tmp_path):
    path = tmp_path / "latin1.csv"
    path.write_bytes("text,label,group\nun film plat,0,a\nun caf\u00e9 tr\u00e8s noir,1,b\n".encode("latin-1"))
    with pytest.raises(ValueError, match=r"dataset=.*latin1.csv.* is not valid UTF-8: byte 0xe9 .*line 3.*iconv"):
        load_dataset(make_config("quick", dataset=str(path)))


@pytest.mark.parametrize("content,match", [
    ("text,label\na b c,0\n", "lacks column.*group"),
    ("text,label,group\na b c,2,m\n", "label '?2'? in row 1 is not 0 or 1"),
    ("text,label,group\na b c,0,m\n?!,1,m\n", "text in row 2 has no words"),
])
def test_bad_csv_rows_are_clear_errors(tmp_path, content, match):
    path = tmp_path / "bad.csv"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ValueError, match=match):
        load_dataset(make_config("quick", dataset=str(path)))


def test_dataset_must_be_a_name_or_an_existing_csv(tmp_path):
    with pytest.raises(ValueError, match="dataset=.*missing.csv.* is not one of 'subjectivity', 'polarity', "
                                         "'bbc', 'amazon-fr', 'synthetic' nor"):
        make_config("quick", dataset=str(tmp_path / "missing.csv"))


@pytest.mark.parametrize("name", ["polarity", "bbc"])
def test_registered_tasks_split_by_group_with_long_texts_of_one_document(name):
    config = make_config("quick", dataset=name, n_train=200, n_test_short=40, n_test_long=10)
    data = load_dataset(config)
    assert data.name == name and len(data.train) == 200 and len(data.test_long) == 10
    assert not set(data.train.groups) & (set(data.test_short.groups) | set(data.test_long.groups))
    assert np.median([n_words(t) for t in data.test_long.texts]) >= 4 * np.median(
        [n_words(t) for t in data.test_short.texts])
    assert load_dataset(config).test_short.texts == data.test_short.texts


def test_bbc_units_are_sentences_of_the_two_topics():
    from seedexplain.data import BBC_TOPICS, bbc_units

    units = bbc_units()
    assert BBC_TOPICS == ("business", "politics") and set(units.label) == {0, 1}
    assert units.movie.str.startswith(("business/", "politics/")).all()
    assert (units.groupby("movie").label.nunique() == 1).all() and units.text.map(n_words).min() >= 5


def _french_file(folder, rows):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "polarity-fr-amazon.csv").write_text("".join(f'"{t}",{y}\n' for t, y in rows), encoding="utf-8")


def test_a_french_review_is_cut_before_accented_capitals_and_split_by_review(tmp_path, monkeypatch):
    from seedexplain import data

    monkeypatch.setattr(data, "SHARED_DATA", tmp_path)
    data.amazon_fr_units.cache_clear()
    review = ("Un roman très bien écrit du début à la fin. À lire absolument cet été sans attendre. "
              "Énorme coup de cœur pour moi.")
    rows = [(f"{review} Numéro {i} de la série que voici.", 1) for i in range(6)]
    rows += [(f"Livre ennuyeux et mal écrit du début à la fin. Évitez ce titre numéro {i} sans hésiter.", -1)
             for i in range(6)]
    rows += [("Un doublon exact qui compte une seule fois ici.", 1)] * 2
    rows += [("Un texte aux deux étiquettes ici.", 1), ("Un texte aux deux étiquettes ici.", -1)]
    _french_file(tmp_path, rows)
    units = data.amazon_fr_units()
    data.amazon_fr_units.cache_clear()
    first = units[units.movie == "review0"].text.tolist()
    assert first[:3] == ["Un roman très bien écrit du début à la fin.", "À lire absolument cet été sans attendre.",
                         "Énorme coup de cœur pour moi."]
    assert "Un texte aux deux étiquettes ici." not in set(units.text)
    assert (units.text == "Un doublon exact qui compte une seule fois ici.").sum() == 1
    assert set(units.label) == {0, 1}


def test_an_absent_shared_file_is_reported_before_any_work(tmp_path, monkeypatch):
    from seedexplain import data
    from seedexplain.pipeline import data_params

    monkeypatch.setattr(data, "SHARED_DATA", tmp_path / "nowhere")
    assert not data.available("amazon-fr") and data.available("bbc")
    with pytest.raises(FileNotFoundError, match="dataset='amazon-fr' reads .*nowhere.*SEEDEXPLAIN_SHARED_DATA"):
        data_params(make_config("quick", dataset="amazon-fr"))


def test_a_shared_file_keys_its_artifacts_by_content(tmp_path, monkeypatch):
    from seedexplain import data
    from seedexplain.pipeline import data_params

    monkeypatch.setattr(data, "SHARED_DATA", tmp_path)
    _french_file(tmp_path, [("Très bon livre à lire.", 1), ("Mauvais livre à oublier.", -1)])
    key = data_params(make_config("quick", dataset="amazon-fr"))
    _french_file(tmp_path, [("Très bon livre à relire.", 1), ("Mauvais livre à oublier.", -1)])
    assert data_params(make_config("quick", dataset="amazon-fr")) != key
