"""The cached pipeline on the tiny configuration: shapes, reuse of artifacts, exactness, parameter sensitivity."""

import numpy as np
import pytest

from seedexplain import pipeline
from seedexplain.artifacts import read_meta
from seedexplain.words import segment


@pytest.fixture(scope="module")
def results(tiny_config):
    return pipeline.run(tiny_config)


def test_run_trains_every_seed_and_family(results, tiny_config):
    table = results.accuracy
    assert len(table) == 2 * 2 * tiny_config.n_seeds
    assert set(table.family) == {"transformer", "linear"} and table.accuracy.between(0, 1).all()
    linear = table[table.family == "linear"]
    assert linear.accuracy.min() >= 0.75  # the synthetic task is easy for a bag of words


def test_explanations_have_one_row_per_word_and_one_column_per_seed(results, tiny_config):
    for family in pipeline.FAMILIES:
        for split in pipeline.SPLITS:
            texts = results.explanations(family, split)
            assert len(texts) == getattr(tiny_config, f"n_{split}")
            for t in texts:
                assert t.attributions.shape == (len(segment(t.text)), tiny_config.n_seeds)
                assert t.words == tuple(w.text for w in segment(t.text))
                assert np.isfinite(t.attributions).all()


def test_linear_explanations_are_exact(results, tiny_config):
    model = pipeline.load_model(tiny_config, "linear", tiny_config.seed)
    text = results.explanations("linear", "test_short")[0]
    assert text.attributions[:, 0].sum() + model.intercept == pytest.approx(model.decision([text.text])[0])


def test_second_run_reuses_every_artifact(results, tiny_config):
    folders = [pipeline.train_seed(tiny_config, f, s) for f in pipeline.FAMILIES for s in tiny_config.seeds]
    stamps = [(f / "meta.json").stat().st_mtime_ns for f in folders]
    again = pipeline.run(tiny_config)
    assert [(f / "meta.json").stat().st_mtime_ns for f in folders] == stamps
    np.testing.assert_array_equal(again.explanations("transformer", "test_short")[0].attributions,
                                  results.explanations("transformer", "test_short")[0].attributions)


def test_changed_parameter_recomputes_only_what_depends_on_it(results, tiny_config):
    import dataclasses

    other = dataclasses.replace(tiny_config, linear_epochs=tiny_config.linear_epochs + 1)
    assert pipeline.train_seed(other, "transformer", 0) == pipeline.train_seed(tiny_config, "transformer", 0)
    assert pipeline.train_seed(other, "linear", 0) != pipeline.train_seed(tiny_config, "linear", 0)


def test_snr_table_has_a_row_per_text(results, tiny_config):
    table = results.snr_table()
    assert len(table) == 2 * (tiny_config.n_test_short + tiny_config.n_test_long)
    assert {"signal", "signal_naive", "noise", "snr"} <= set(table.columns)


def test_run_log_records_config_and_accuracy(results, tiny_config):
    from pathlib import Path

    logs = list((Path(tiny_config.artifacts) / "runs").glob("*.json"))
    assert len(logs) == 1 and '"accuracy"' in logs[0].read_text()
    meta = read_meta(pipeline.train_seed(tiny_config, "transformer", 0))
    assert {"accuracy_test_short", "accuracy_test_long", "train_seconds"} <= set(meta["report"])


def test_truncation_is_recorded_and_reported(results, tiny_config):
    import dataclasses

    assert results.truncation().truncated_texts.sum() == 0
    short = pipeline.Results(dataclasses.replace(tiny_config, max_length=24), results.accuracy)
    table = short.truncation().set_index("split")
    long = short.explanations("transformer", "test_long")
    assert table.loc["test_long", "truncated_texts"] == tiny_config.n_test_long
    hidden = sum(len(segment(t.text)) - len(t.words) for t in long)
    assert table.loc["test_long", "hidden_words"] == hidden > 0
    folder = pipeline.explain_seed(short.config, "transformer", tiny_config.seed, "test_long")
    assert read_meta(folder)["report"]["n_truncated_texts"] == tiny_config.n_test_long


def test_example_texts_are_near_the_target_length_and_cover_both_classes(results):
    from seedexplain.report import example_texts

    explanations = results.explanations("linear", "test_short")
    chosen = example_texts(results, n=3, target_words=10)
    assert len(set(chosen)) == 3 and {explanations[i].label for i in chosen} == {0, 1}
    best = min(range(len(explanations)), key=lambda i: abs(len(explanations[i].words) - 10))
    assert chosen[0] == best and example_texts(results, n=1, target_words=10) == [best]
    with pytest.raises(ValueError, match="n=0 must be between 1 and"):
        example_texts(results, n=0)
