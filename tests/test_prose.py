"""The computed verdict and glue names: sentences follow the seed-level test, its Holm adjustment and direction."""

import numpy as np
import pandas as pd
import pytest

from seedexplain.prose import glue_name, replication_sentence, verdict
from seedexplain.report import adjust_holm


def _inputs(linear: float, transformer: float, estimate: float, p: float):
    summary = pd.DataFrame([dict(definition="A", family=f, split="test_short", median_snr=m)
                            for f, m in (("linear", linear), ("transformer", transformer))])
    tests = adjust_holm(pd.DataFrame([
        dict(split="test_short", definition="A", first="linear", second="transformer", estimate=estimate,
             ci_low=estimate - 0.3, ci_high=estimate + 0.3, p_value=p, ratio=np.exp(estimate),
             ratio_low=np.exp(estimate - 0.3), ratio_high=np.exp(estimate + 0.3)),
        dict(split="test_long", definition="A", first="linear", second="transformer", estimate=0.1, ci_low=-0.2,
             ci_high=0.4, p_value=0.5, ratio=1.1, ratio_low=0.8, ratio_high=1.5)]))
    return tests, summary


@pytest.mark.parametrize("args,start", [
    ((6.0, 3.0, np.log(2), 0.001), "supported (median SNR 6 for the linear model vs 3"),
    ((6.0, 3.0, np.log(2), 0.04), "not supported: no significant difference"),  # 0.04 × 2 tests > 0.05 after Holm
    ((2.0, 5.0, np.log(0.4), 0.001), "contradicted"),
])
def test_verdict_follows_the_adjusted_seed_level_test(args, start):
    sentence = verdict(*_inputs(*args), "test_short")
    assert sentence.startswith(start)
    assert "Holm-adjusted p" in sentence and "ratio" in sentence


def test_verdict_refuses_unknown_rows_and_bad_levels():
    with pytest.raises(ValueError, match="split='test_middle'"):
        verdict(*_inputs(6.0, 3.0, 0.7, 0.001), "test_middle")
    with pytest.raises(ValueError, match=r"alpha=2 must be a number in \(0, 1\)"):
        verdict(*_inputs(6.0, 3.0, 0.7, 0.001), "test_short", alpha=2)


def test_replication_sentence_compares_the_calls():
    table = pd.DataFrame(dict(split=["test_short", "test_short"], p_value=[0.001, 0.2], estimate=[0.7, 0.3],
                              ratio=[2.0, 1.3], ratio_low=[1.5, 0.9], ratio_high=[2.6, 1.8], seeds=["0-9", "10-19"]))
    sentence = replication_sentence(table)
    assert sentence.startswith("short texts: different calls (linear higher; no difference")


def test_glue_names_are_plain():
    assert glue_name("seed+data") == "seed_data" and glue_name("linear:bow") == "linear_bow"


def test_accuracy_filter_sentence_says_when_too_few_seeds_qualify():
    from seedexplain.prose import accuracy_filter_sentence

    table = pd.DataFrame(dict(split=["test_short"] * 2, seeds=["all seeds", "within 0.01 of best accuracy"],
                              n_seeds_linear=[10, 2], n_seeds_transformer=[10, 6], estimate=[0.5, np.nan],
                              ci_low=[0.1, np.nan], ci_high=[0.9, np.nan], p_value=[0.01, np.nan]))
    assert "too few to resample" in accuracy_filter_sentence(table)
    table.loc[1, ["n_seeds_linear", "estimate", "ci_low", "ci_high", "p_value"]] = [5, 0.4, -0.1, 0.9, 0.1]
    assert accuracy_filter_sentence(table).startswith("5 linear and 6 transformer models qualify; their log ratio")


def test_transformer_budget_sentence_compares_the_first_and_last_intervals():
    from seedexplain.prose import transformer_budget_sentence

    def table(low_last: float) -> pd.DataFrame:
        return pd.DataFrame(dict(epochs=[2, 1], accuracy=[0.9, 0.8], median_snr=[low_last + 1, 5.0],
                                 ci_low=[low_last, 4.0], ci_high=[low_last + 2, 6.0]))

    assert transformer_budget_sentence(table(7.0)).startswith("5 [4, 6] after 1 epoch (accuracy 0.800); 8 [7, 9] "
                                                              "after 2 epochs (accuracy 0.900)")
    assert transformer_budget_sentence(table(7.0)).endswith("lies above the one at the fewest")
    assert transformer_budget_sentence(table(1.0)).endswith("lies below the one at the fewest")
    assert transformer_budget_sentence(table(5.0)).endswith("overlap")


def test_corpus_sensitivity_sentence_gives_the_range_and_the_overlap():
    from seedexplain.prose import corpus_sensitivity_sentence

    table = pd.DataFrame(dict(family=["linear"] * 2 + ["transformer"] * 2, split="test_short",
                              min_count=[2, 5, 2, 5], snr=[3.0, 4.0, 1.0, 9.0], ci_low=[2.0, 3.5, 0.5, 8.0],
                              ci_high=[4.0, 5.0, 1.5, 10.0], n_types=[300, 80, 300, 80]))
    assert corpus_sensitivity_sentence(table) == (
        "linear: 3 to 4 for min_count 2 to 5 (300 to 80 types), intervals all overlapping the one at min_count 2; "
        "transformer: 1 to 9 for min_count 2 to 5 (300 to 80 types), intervals not all overlapping the one at "
        "min_count 2")


def test_formats_conclusion_counts_the_formats_that_only_looked_better():
    from seedexplain.prose import formats_conclusion

    table = pd.DataFrame(dict(family=["linear", "linear", "transformer"], split="test_short",
                              format_snr=[3.0, 2.0, 5.0], word_snr=[1.0, 1.0, 1.0],
                              above_word=[True, False, False]))
    assert formats_conclusion(table) == ("a format beats words for linear on short texts; 2 of the 3 comparisons "
                                         "had a higher median SNR than words that does not survive the null or the "
                                         "seed-level interval")
    assert formats_conclusion(table.assign(above_word=False)).startswith("no format beats words")


def test_formats_above_word_lists_the_winners_and_says_so_when_there_are_none():
    from seedexplain.report import formats_above_word

    table = pd.DataFrame(dict(family="linear", split="test_short", label=["ranks", "spans_k2"],
                              format_snr=[3.0, 2.5], word_snr=[1.0, 1.0], ci_low=[0.5, 0.1],
                              ci_high=[3.0, 2.0], above_word=[True, True]))
    assert formats_above_word(table, "linear", "test_short") == ("ranks (+2.00 [0.50, 3.00]), "
                                                                 "spans k2 (+1.50 [0.10, 2.00])")
    assert formats_above_word(table.assign(above_word=False), "linear", "test_short") == "no format beats words"
    with pytest.raises(ValueError, match="family='transformer'"):
        formats_above_word(table, "transformer", "test_short")


def test_multiverse_sentences_name_the_cells_and_never_print_a_nan():
    from seedexplain.multiverse import share_supported, verdicts
    from seedexplain.prose import accuracy_snr_sentence, cells_not_run, multiverse_sentence

    effects = verdicts(pd.DataFrame(dict(cell=["headline", "task: bbc", "task: bbc"],
                                         split=["test_short", "test_short", "test_long"],
                                         estimate=[1.2, -0.9, np.nan], p_value=[0.001, 0.004, np.nan])))
    sentence = multiverse_sentence(effects, share_supported(effects))
    assert sentence == ("of 3 seed-level tests (every cell that ran, short and long texts; Holm-adjusted over all of "
                        "them, level 0.05), 1 support the claim, 1 contradict it and 0 find no difference; 1 have no "
                        "estimate (a median SNR ≤ 0); supported: headline (short, ratio 3.32); contradicted: task: "
                        "bbc (short, ratio 0.407)")
    families = pd.DataFrame(dict(family=["linear"] * 3 + ["transformer"] * 3, split="test_short",
                                 accuracy=[0.8, 0.85, 0.9, 0.9, 0.9, 0.9], median_snr=[3.0, 2.0, 1.0, 5, 6, 7]))
    text = accuracy_snr_sentence(families)
    assert text.startswith("linear: Spearman ρ = -1.00 over 3 cells") and "transformer: no correlation" in text
    assert "nan" not in text
    cells = pd.DataFrame(dict(cell=["a", "b"], status=["ok", "not run: absent"]))
    assert cells_not_run(cells) == "b (not run: absent)"
    assert cells_not_run(cells.assign(status="ok")) == "every cell ran"


def test_the_plateau_sentence_says_whether_longer_training_beats_every_seed():
    from seedexplain.prose import plateau_sentence

    def families(low, high):
        return pd.DataFrame(dict(cell=["ref", "long", "ref"], family=["transformer", "transformer", "linear"],
                                 split="test_short", accuracy=[0.80, (low + high) / 2, 0.7],
                                 accuracy_min=[0.78, low, 0.69], accuracy_max=[0.82, high, 0.71]))

    short = plateau_sentence(families(0.85, 0.9), "ref", "long")
    assert short.startswith("the transformer's mean accuracy is 0.800 (0.780–0.820) in “ref” and 0.875 "
                            "(0.850–0.900) in “long”; every seed of the longer training beats")
    assert "ranges over seeds overlap" in plateau_sentence(families(0.81, 0.9), "ref", "long")
    assert "not measured" in plateau_sentence(families(0.81, 0.9), "ref", None)


def test_the_precision_sentence_says_whether_bfloat16_moves_accuracy_or_snr_outside_the_reference():
    from seedexplain.prose import precision_sentence

    def families(accuracy, snr):
        return pd.DataFrame(dict(cell=["ref", "bf16"], family="transformer", split="test_short",
                                 accuracy=[0.80, accuracy], accuracy_min=[0.78, 0.7], accuracy_max=[0.82, 0.9],
                                 median_snr=[5.0, snr], ci_low=[4.0, 1.0], ci_high=[6.5, 9.0],
                                 train_seconds=[240.0, 170.0]))

    same = precision_sentence(families(0.81, 6.0), "ref", "bf16")
    assert same.startswith("fine-tuned under bfloat16 autocast, the transformer's mean accuracy is 0.810 against "
                           "0.800 (0.780–0.820 over the seeds of “ref”) and its median SNR 6.00 against 5.00 "
                           "[4.00, 6.50]; both within the reference's")
    assert "trained in 170 s against 240 s" in same
    assert "; median SNR outside the reference's" in precision_sentence(families(0.81, 7.0), "ref", "bf16")
    assert "; accuracy and median SNR outside" in precision_sentence(families(0.77, 3.0), "ref", "bf16")
    assert "not measured" in precision_sentence(families(0.81, 6.0), "ref", None)
