"""The multiverse: cells through one code path, 'not run' and failed cells reported, Holm over the cells'
tests, and the factorial mixed model against an oracle with shared text effects."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from seedexplain import multiverse
from seedexplain.config import make_config
from seedexplain.multiverse import Cell, run_grid, verdicts


@pytest.fixture(scope="module")
def grid_config(tiny_config, tmp_path_factory):
    """The tiny configuration with 3 seeds (the seed-level comparison needs them), in artifacts of its own."""
    return dataclasses.replace(tiny_config, n_seeds=3, artifacts=str(tmp_path_factory.mktemp("multiverse")))


@pytest.fixture(scope="module")
def two_cells(grid_config, one_torch_thread):
    cells = (Cell("headline", "headline"), Cell("method: gradient × input", "method", {"method": "grad_x_input"}),
             Cell("French", "crossing", {"dataset": "amazon-fr"}))
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("seedexplain.data.SHARED_DATA", Path(grid_config.artifacts) / "no-shared-data")
        return cells, run_grid(cells, grid_config, n_resamples=200)


def test_a_two_cell_grid_runs_through_the_pipeline_and_reports_each_cell(two_cells, grid_config):
    cells, tables = two_cells
    status = tables["cells"].set_index("cell").status
    assert status["headline"] == status["method: gradient × input"] == "ok"
    assert status["French"].startswith("not run: the texts of 'amazon-fr' are absent")
    families = tables["families"]
    assert len(families) == 2 * 2 * 2 and set(families.cell) == {"headline", "method: gradient × input"}
    assert ((families.ci_low <= families.median_snr) & (families.median_snr <= families.ci_high)).all()
    short = families[families.split == "test_short"]
    assert (short[short.cell == "headline"].train_seconds > 0).all()
    effects = tables["effects"]
    assert len(effects) == 4 and (effects.p_value.between(0, 1) | effects.estimate.isna()).all()
    texts = tables["texts"]
    assert len(texts) == 2 * 2 * (grid_config.n_test_short + grid_config.n_test_long)
    by_cell = texts.groupby("cell").text.agg(frozenset)  # a text has one key in every cell that explains it
    assert by_cell["headline"] == by_cell["method: gradient × input"]
    assert texts.text.nunique() == grid_config.n_test_short + grid_config.n_test_long


def test_each_cell_logs_its_time_and_the_peak_memory_of_its_builds(two_cells, grid_config, caplog):
    with caplog.at_level("INFO", logger="seedexplain.multiverse"):
        multiverse.run_cell(Cell("headline", "headline"), grid_config, n_resamples=200)
    line = next(r.getMessage() for r in caplog.records if "done in" in r.getMessage())
    peak = float(line.rsplit("builds ", 1)[1].split()[0])
    families = two_cells[1]["families"]
    assert line.startswith("cell 'headline' done in")
    assert peak == pytest.approx(families.query("cell == 'headline'").peak_rss_mb.max(), abs=0.5) and peak > 50


def test_a_cell_is_cached_under_everything_it_depends_on(two_cells, grid_config):
    again = multiverse.cached_summary(grid_config, n_resamples=200)
    headline = two_cells[1]["families"].query("cell == 'headline'").drop(columns=["cell", "factor"])
    pd.testing.assert_frame_equal(again["families"], headline.reset_index(drop=True))
    other = multiverse.cached_summary(grid_config, n_resamples=100)  # another key: computed anew
    assert not other["effects"].equals(again["effects"])


def test_a_failing_cell_is_reported_by_name_and_the_grid_goes_on(grid_config, monkeypatch):
    def broken(config, *, n_resamples):
        if config.method == "grad_x_input":
            raise RuntimeError("the attribution ran out of memory")
        return {"families": pd.DataFrame({"peak_rss_mb": []}), "effects": pd.DataFrame(), "texts": pd.DataFrame()}

    monkeypatch.setattr(multiverse, "cached_summary", broken)
    cells = (Cell("gradient", "method", {"method": "grad_x_input"}), Cell("headline", "headline"))
    status = run_grid(cells, grid_config)["cells"].status.tolist()
    assert status == ["failed: RuntimeError: the attribution ran out of memory", "ok"]


def test_a_bad_cell_stops_the_grid_before_any_work_naming_the_cell_and_the_choices(grid_config):
    cells = (Cell("headline", "headline"), Cell("task: nope", "task", {"dataset": "imdb"}))
    with pytest.raises(ValueError, match="cell 'task: nope': dataset='imdb' is not one of 'subjectivity', "
                                         "'polarity', 'bbc', 'amazon-fr', 'synthetic'"):
        run_grid(cells, grid_config)
    with pytest.raises(ValueError, match="cell 'model: gpt2'.*transformer='gpt2' is not one of 'minilm-l6'"):
        run_grid((Cell("model: gpt2", "model", {"transformer": "gpt2"}),), grid_config)
    with pytest.raises(ValueError, match="factor='size' is not one of 'headline', 'seeds', 'task'"):
        Cell("x", "size")


def test_the_grid_adjusts_for_multiplicity_before_counting_where_the_claim_holds():
    effects = pd.DataFrame(dict(cell=list("abcde"), split="test_short", estimate=[1.0, 0.8, -0.9, 0.2, np.nan],
                                p_value=[0.001, 0.03, 0.002, 0.5, np.nan]))
    table = verdicts(effects)
    # Holm over the 4 finite p-values: 0.001*4, 0.002*3, 0.03*2, max(0.5*1, 0.06)
    assert table.p_holm.tolist()[:4] == pytest.approx([0.004, 0.06, 0.006, 0.5]) and np.isnan(table.p_holm[4])
    assert table.verdict.tolist() == ["supported", "not supported", "contradicted", "not supported", "no estimate"]
    share = multiverse.share_supported(table)
    assert share == {"n_tests": 5, "n_supported": 1, "n_contradicted": 1, "n_not_supported": 2,
                     "n_no_estimate": 1, "share_supported": 0.2}


def test_every_profile_grid_starts_with_the_headline_and_names_each_cell_once():
    for profile in ("quick", "full"):
        cells = multiverse.grid(profile)
        assert cells[0].factor == "headline" and not cells[0].overrides
        assert len({c.name for c in cells}) == len(cells)


def test_the_full_grid_reduces_seeds_not_texts_and_its_reference_is_the_headlines_first_seeds():
    from seedexplain import pipeline

    headline = make_config("full")
    cells = multiverse.grid("full")
    sizes = {cell.name: (c.n_train, c.n_test_short, c.n_test_long, c.n_seeds)
             for cell in cells[1:] for c in [cell.config(headline)]}
    assert sizes.pop("method: integrated gradients") == (2000, 50, 10, 5)  # 50 passes per text: fewer test texts
    assert set(sizes.values()) == {(2000, 200, 50, 5)}
    sentence = multiverse.sizes_sentence(cells, headline)
    assert sentence.startswith("the other cells run at 2000 training texts, 200 short and 50 long test texts, "
                               "5 seeds per family; the cell “method: integrated gradients” runs at 2000 training "
                               "texts, 50 short and 10 long test texts, 5 seeds per family. The cell “seeds: 5” is "
                               "the headline with those seeds only")
    quick = make_config("quick")
    assert multiverse.sizes_sentence(multiverse.grid("quick"), quick).startswith(
        f"every other cell runs at the headline's sizes ({quick.n_train} training texts")
    described = {cell.name: multiverse.describe(cell) for cell in cells}
    assert described["headline"] == "nothing (the headline)"
    assert described["seeds: 5"] == "n_seeds=5"
    assert described["task: polarity"] == "dataset=polarity (n_seeds=5)"
    reference = next(c for c in cells if c.factor == "seeds").config(headline)
    for family in headline.families:  # the reference re-uses the headline's models and explanations
        for seed in reference.seeds:
            assert (pipeline.explanation_params(reference, family, seed, "test_short")
                    == pipeline.explanation_params(headline, family, seed, "test_short"))


REFERENCE = dict(task="subjectivity", split="test_short", n_train=2000, model="minilm-l6", method="lrp", epochs=1,
                 precision="float32", randomness="seed+data", linear="bow")


def _oracle(rng, *, interaction, n_texts=60):
    """Per-text log SNR with a shared text effect (the same text in every cell), heteroscedastic noise and a
    known family × task interaction; the other factor (method) has a main effect only."""
    text_effect = {(task, i): rng.normal(0, 0.8) for task in ("subjectivity", "polarity") for i in range(n_texts)}
    rows = []
    for cell, task, method in (("headline", "subjectivity", "lrp"), ("task", "polarity", "lrp"),
                               ("method", "subjectivity", "grad_x_input")):
        for family in ("linear", "transformer"):
            for i in range(n_texts):
                mean = (1.0 + 0.5 * (family == "transformer") + 0.3 * (task == "polarity")
                        - 0.4 * (method == "grad_x_input")
                        + interaction * (family == "transformer") * (task == "polarity"))
                scale = 0.2 if family == "linear" else 0.6  # heteroscedastic across families
                rows.append(dict(cell=cell, family=family, split="test_short", text=i, label=i % 2,
                                 n_words=10, snr=float(np.exp(mean + text_effect[task, i] + rng.normal(0, scale))),
                                 task=task, n_train=2000, model="minilm-l6", method=method, epochs=1,
                                 precision="float32", randomness="seed+data", linear="bow"))
    frame = pd.DataFrame(rows)
    return frame.assign(log_snr=np.log(frame.snr), text_id=frame.task + "/" + frame.text.astype(str))


def test_the_factorial_model_recovers_a_known_interaction_with_shared_text_effects():
    rng = np.random.default_rng(0)
    covered, rejected_null = 0, 0
    for _ in range(20):
        fit = multiverse.factorial(_oracle(rng, interaction=-0.7), REFERENCE).set_index("term")
        term = "C(family, Treatment('linear'))[T.transformer]:C(task, Treatment('subjectivity'))[T.polarity]"
        covered += fit.loc[term, "ci_low"] <= -0.7 <= fit.loc[term, "ci_high"]
        null = multiverse.factorial(_oracle(rng, interaction=0.0), REFERENCE).set_index("term")
        rejected_null += null.loc[term, "p_value"] < 0.05
    assert covered >= 16  # nominal 95% of 20; the text effect and heteroscedastic noise must not break it
    assert rejected_null <= 3
    assert fit.loc["C(family, Treatment('linear'))[T.transformer]", "estimate"] == pytest.approx(0.5, abs=0.25)
    assert fit.text_variance.iloc[0] == pytest.approx(0.64, rel=0.5)
