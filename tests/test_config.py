"""Configuration validation: one test per rule, each checking that the message names parameter and value."""

import pytest

from seedexplain.config import make_config, params_key


def test_profiles_fill_defaults_and_overrides_win():
    quick = make_config("quick")
    assert (quick.n_seeds, quick.n_train) == (3, 400)
    full = make_config("full", n_seeds=4)
    assert full.n_seeds == 4 and full.n_train >= 2000 and full.n_test_short >= 200 and full.n_test_long >= 50
    assert full.seeds == (0, 1, 2, 3)


@pytest.mark.parametrize("name,value", [("profile", "huge"), ("dataset", "imdb"), ("transformer", "gpt2"),
                                        ("linear", "svm"), ("method", "magic"), ("aggregate", "median"),
                                        ("device", "tpu")])
def test_unknown_names_list_the_allowed_values(name, value):
    with pytest.raises(ValueError, match=rf"{name}='{value}' is not one of '"):
        make_config("quick", **{name: value}) if name != "profile" else make_config(value)


@pytest.mark.parametrize("name,value,match", [
    ("n_seeds", 1, r"n_seeds=1 must be an integer >= 2"),
    ("epochs", 0, r"epochs=0 must be an integer >= 1"),
    ("batch_size", 0, r"batch_size=0 must be an integer >= 1"),
    ("n_train", 2, r"n_train=2 must be an integer >= 4"),
    ("seed", -1, r"seed=-1 must be an integer >= 0"),
    ("max_length", 4096, r"max_length=4096 must be an integer between 8 and 512"),
    ("learning_rate", 0, r"learning_rate=0.0 must be a number in \(0, inf\)"),
])
def test_out_of_range_numbers(name, value, match):
    with pytest.raises(ValueError, match=match):
        make_config("quick", **{name: value})


@pytest.mark.parametrize("value", [1.5, "abc", True, None])
def test_non_integer_seeds_are_refused(value):
    with pytest.raises(TypeError, match=r"seed=.* must be an integer"):
        make_config("quick", seed=value)


def test_papermill_strings_are_coerced():
    config = make_config("quick", seed="3", n_seeds="4", learning_rate="1e-4")
    assert (config.seed, config.n_seeds, config.learning_rate) == (3, 4, 1e-4)


def test_unknown_parameter_is_refused():
    with pytest.raises(ValueError, match=r"unknown parameter\(s\) n_seed; allowed: .*n_seeds"):
        make_config("quick", n_seed=3)


def test_params_key_is_stable_and_sensitive():
    a = make_config("quick").to_dict()
    assert params_key(a) == params_key(dict(a))
    assert params_key(a) != params_key({**a, "seed": 1})
    assert len(params_key(a)) == 16


def test_choices_are_declared_once():
    from seedexplain import attribution, constraints, words

    assert attribution.METHODS is constraints.METHODS
    assert words.AGGREGATIONS is constraints.AGGREGATIONS


def test_families_accept_specs_and_strings():
    assert make_config("quick").families == ("transformer", "linear")
    config = make_config("quick", families="linear:bow, linear:features")
    assert config.families == ("linear:bow", "linear:features")
    two = make_config("quick", families=("transformer:tiny-bert", "transformer"))
    assert two.families[0] == "transformer:tiny-bert"
    for bad in (("svm",), ("linear", "linear"), ("linear:svm",), ("transformer:nope",), ()):
        with pytest.raises(ValueError, match=r"families=.* must be distinct families"):
            make_config("quick", families=bad)


def test_transformer_names_and_folders(tmp_path):
    assert make_config("quick", transformer="minilm").transformer == "minilm"
    with pytest.raises(ValueError, match=r"transformer='gpt2' is not one of 'minilm-l6', 'minilm-l3'.*'minilm'"):
        make_config("quick", transformer="gpt2")
    from seedexplain.registry import resolve

    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(ValueError, match=r"is a folder without tokenizer files"):
        resolve(str(tmp_path))
    (tmp_path / "config.json").unlink()
    with pytest.raises(ValueError, match=r"is a folder without config.json and tokenizer files"):
        make_config("quick", transformer=str(tmp_path))


def test_cache_key_ignores_where_artifacts_live():
    a, b = make_config("quick", artifacts="a"), make_config("quick", artifacts="b")
    assert a.cache_key() == b.cache_key() and "artifacts" not in a.cache_key()
    assert make_config("quick", seed=1).cache_key() != a.cache_key()


def test_a_field_added_later_keys_results_only_away_from_its_default():
    from seedexplain.config import LATER_FIELDS

    config = make_config("quick")
    assert set(LATER_FIELDS) <= set(config.to_dict()) and not set(LATER_FIELDS) & set(config.cache_key())
    assert make_config("quick", fine_tune="head").cache_key()["fine_tune"] == "head"
