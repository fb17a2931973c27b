"""The cached pipeline on the tiny configuration: shapes, reuse of artifacts, exactness, parameter sensitivity."""

import dataclasses

import numpy as np
import pytest

from seedexplain import pipeline
from seedexplain.artifacts import artifact_path, read_meta
from seedexplain.constraints import SPLITS
from seedexplain.words import segment


@pytest.fixture(scope="module")
def results(tiny_config):
    return pipeline.run(tiny_config)


def test_run_trains_every_seed_and_family(results, tiny_config):
    table = results.accuracy
    assert len(table) == 2 * 2 * tiny_config.n_seeds
    assert set(table.family) == {"transformer", "linear"} and table.accuracy.between(0, 1).all()
    linear = table[table.family == "linear"]
    # The synthetic task is easy for a bag of words, even trained on a bootstrap resample of 48 texts.
    assert linear.accuracy.mean() >= 0.7


def test_explanations_have_one_row_per_word_and_one_column_per_seed(results, tiny_config):
    for family in tiny_config.families:
        for split in SPLITS:
            texts = results.explanations(family, split)
            assert len(texts) == getattr(tiny_config, f"n_{split}")
            for t in texts:
                assert t.attributions.shape == (len(segment(t.text)), tiny_config.n_seeds)
                assert t.words == tuple(w.text for w in segment(t.text))
                assert np.isfinite(t.attributions).all()


def test_linear_explanations_are_exact(results, tiny_config):
    model = pipeline.load_model(tiny_config, "linear", tiny_config.seed)
    text = results.explanations("linear", "test_short")[0]
    assert text.attributions[:, 0].sum() + model.model.intercept == pytest.approx(model.logit_diff([text.text])[0])


def test_second_run_reuses_every_artifact(results, tiny_config):
    folders = [pipeline.train_seed(tiny_config, f, s) for f in tiny_config.families for s in tiny_config.seeds]
    stamps = [(f / "meta.json").stat().st_mtime_ns for f in folders]
    again = pipeline.run(tiny_config)
    assert [(f / "meta.json").stat().st_mtime_ns for f in folders] == stamps
    np.testing.assert_array_equal(again.explanations("transformer", "test_short")[0].attributions,
                                  results.explanations("transformer", "test_short")[0].attributions)


def test_changed_parameter_recomputes_only_what_depends_on_it(results, tiny_config):
    import dataclasses

    other = dataclasses.replace(tiny_config, linear_alpha=2 * tiny_config.linear_alpha)
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
    short = pipeline.results(dataclasses.replace(tiny_config, max_length=24), results.accuracy)
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


def test_results_are_a_value_loaded_once(results, monkeypatch):
    def fail(*args, **kwargs):
        raise AssertionError("Results reached the pipeline")

    monkeypatch.setattr(pipeline, "explain_seed", fail)
    monkeypatch.setattr(pipeline, "dataset", fail)
    first = results.explanations("linear", "test_short")
    assert results.explanations("linear", "test_short") is first
    assert len(results.snr_table()) > 0
    with pytest.raises(ValueError, match=r"method='saliency' is not one of 'lrp'"):
        results.explanations("transformer", "test_short", "saliency")
    with pytest.raises(ValueError, match=r"family='svm' is not one of 'transformer', 'linear'"):
        results.explanations("svm", "test_short")


def test_seed_plus_data_draws_one_resample_per_seed_shared_by_every_family(tiny_config):
    import dataclasses

    texts, labels, init = pipeline.training_set(tiny_config, 3)
    again, _, _ = pipeline.training_set(tiny_config, 3)
    other, _, _ = pipeline.training_set(tiny_config, 4)
    train = pipeline.dataset(tiny_config).train
    assert tiny_config.randomness == "seed+data" and init == 3 and texts == again and texts != other
    assert len(texts) == len(train) and len(set(texts)) < len(train)  # a bootstrap resample repeats texts
    assert {t: y for t, y in zip(texts, labels)} == {t: y for t, y in zip(train.texts, train.labels) if t in texts}
    plain = dataclasses.replace(tiny_config, randomness="seed")
    assert pipeline.training_set(plain, 3)[0] == train.texts
    fixed = dataclasses.replace(tiny_config, randomness="data")
    assert pipeline.training_set(fixed, 3)[2] == tiny_config.seed and pipeline.training_set(fixed, 3)[0] == texts
    meta = read_meta(pipeline.train_seed(tiny_config, "linear", tiny_config.seed))["report"]
    assert meta["n_distinct_train_texts"] < len(train)


def test_a_run_can_compare_two_linear_families(tiny_config):
    import dataclasses

    config = dataclasses.replace(tiny_config, families=("linear:bow", "linear:features"))
    two = pipeline.run(config)
    assert set(two.accuracy.family) == {"linear:bow", "linear:features"}
    bow = two.explanations("linear:bow", "test_short")
    features = two.explanations("linear:features", "test_short")
    assert [e.words for e in bow] == [e.words for e in features]
    assert not np.allclose(bow[0].attributions, features[0].attributions)


def test_no_artifact_needs_pickle(results, tiny_config):
    from pathlib import Path

    files = [p for p in Path(tiny_config.artifacts).rglob("*") if p.is_file()]
    assert not [p for p in files if p.suffix in (".pkl", ".pickle", ".bin", ".pt")]
    for path in files:
        if path.suffix in (".npy", ".npz"):
            np.load(path, allow_pickle=False)


def test_transformer_budget_reuses_the_runs_models_at_their_epochs(tiny_config):
    from seedexplain.checks import transformer_budget
    from seedexplain.snr import texts_snr

    config = dataclasses.replace(tiny_config, n_seeds=3)  # the hierarchical interval needs 3 seeds
    table = transformer_budget(config, epochs_grid=[1, config.epochs], n_seeds=3, n_resamples=50)
    assert list(table.epochs) == [1, config.epochs]
    run = pipeline.run(config)  # both families, the same transformers at config.epochs: nothing is trained again
    same = table.set_index("epochs").loc[config.epochs]
    assert same.median_snr == texts_snr(run.arrays("transformer", "test_short")).snr.median()
    assert same.accuracy == run.accuracy.query("family == 'transformer' and split == 'test_short'").accuracy.mean()
    assert (table.ci_low <= table.median_snr).all() and (table.median_snr <= table.ci_high).all()
    assert table.median_snr.nunique() == 2  # one epoch trains other models


def test_explanation_keys_hold_the_method_revision(tiny_config):
    from seedexplain.constraints import METHOD_REVISIONS

    lrp = pipeline.explanation_params(tiny_config, "transformer", 0, "test_short", "lrp")
    gradient = pipeline.explanation_params(tiny_config, "transformer", 0, "test_short", "grad_x_input")
    assert lrp["method_revision"] == METHOD_REVISIONS["lrp"] > 1
    assert "method_revision" not in gradient  # revision 1: keys made before revisions existed stay valid


def test_definition_c_has_an_interval_and_a_min_count_sensitivity(tiny_config):
    from seedexplain import report
    from seedexplain.snr import corpus_snr

    run = pipeline.run(dataclasses.replace(tiny_config, n_seeds=3))  # resampling seeds needs 3
    c = report.snr_summary(run, n_resamples=50).query("definition == 'C'").set_index(["family", "split"])
    for (family, split), row in c.iterrows():
        explanations = run.explanations(family, split)
        corpus = corpus_snr([e.attributions for e in explanations], [e.words for e in explanations],
                            min_count=report.CORPUS_MIN_COUNT)
        assert row.median_snr == corpus.snr
        # The log-scale interval exists for a positive SNR only (tests/test_snr.py checks its coverage).
        assert row.ci_low <= row.median_snr <= row.ci_high if row.median_snr > 0 else np.isnan(row.ci_low)
    table = report.corpus_sensitivity(run, min_counts=(1, 2), n_resamples=50)
    assert len(table) == 2 * 2 * 2
    for _, rows in table.groupby(["family", "split"]):
        assert rows.n_types.iloc[0] > rows.n_types.iloc[1]
    assert (np.isfinite(table.ci_low) == (table.snr > 0)).all()


def test_agreement_without_words_zero_in_every_seed(results):
    from seedexplain import report
    from seedexplain.stats import texts_agreement

    table = report.agreement_summary(results).set_index(["family", "split"])
    for (family, split), row in table.iterrows():
        arrays = results.arrays(family, split)
        zero = np.concatenate([np.all(a == 0, axis=1) for a in arrays])
        assert row.zero_share == zero.mean()
        if not zero.any():  # nothing to leave out: the same medians
            assert row.spearman_nonzero == pytest.approx(texts_agreement(arrays).spearman.median())


def test_agreement_leaves_out_words_that_tie_at_zero_in_every_seed():
    """Words scored 0 by every seed tie in every seed and move rank agreement (either way: up when they sit at one
    end of the scores, towards 0 in the middle); without them, the agreement is that of the scored words only."""
    from types import SimpleNamespace

    from seedexplain import report
    from seedexplain.stats import texts_agreement

    rng = np.random.default_rng(0)
    scored = np.abs(rng.normal(size=(6, 8))) + np.arange(6.0)[:, None]  # positive, mostly the same order
    arrays = [np.vstack([scored, np.zeros((6, 8))]), np.vstack([np.zeros((2, 8)), scored[:3]])]
    fake = SimpleNamespace(families=("linear",), arrays=lambda family, split: arrays)
    row = report.agreement_summary(fake).iloc[0]
    expected = texts_agreement([scored, scored[:3]]).median()
    assert row.spearman_nonzero == pytest.approx(expected.spearman)
    assert row.kendall_nonzero == pytest.approx(expected.kendall)
    assert row.zero_share == 8 / 17 and row.n_texts_nonzero == 2
    assert row.spearman > row.spearman_nonzero  # zeros below every score: a block every seed ranks last


def test_extra_methods_are_explained_on_the_method_splits_only(results, tiny_config):
    compared = pipeline.run(tiny_config, methods=["saliency"], method_splits=["test_short"])
    assert compared.methods == (tiny_config.method, "saliency")
    np.testing.assert_array_equal(compared.arrays("transformer", "test_long")[0],
                                  results.arrays("transformer", "test_long")[0])
    assert len(compared.arrays("linear", "test_short", "saliency")) == tiny_config.n_test_short
    never = pipeline.explanation_params(tiny_config, "transformer", tiny_config.seed, "test_long", "saliency")
    assert not artifact_path(tiny_config.artifacts, "explanations", never).exists()
    with pytest.raises(ValueError, match=r"method='saliency' was explained on test_short only.*'test_long'"):
        compared.arrays("transformer", "test_long", "saliency")
    with pytest.raises(ValueError, match=r"method_splits='test_short' must be a non-empty sequence"):
        pipeline.run(tiny_config, methods=["saliency"], method_splits="test_short")
    with pytest.raises(ValueError, match=r"method_splits.*'train'"):
        pipeline.run(tiny_config, methods=["saliency"], method_splits=["train"])
