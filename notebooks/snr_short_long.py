# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Signal, noise and SNR across seeds: short and long texts
#
# Trains `n_seeds` copies of the fine-tuned transformer and of the logistic regression (same data, only the
# randomness differs, identically for both families), explains every test text with each copy, and measures per-text
# signal, noise and SNR (definitions A, B and C). The headline run resamples the training set with each seed
# (`randomness = "seed+data"`); a second run changes only initialisation, data order and dropout
# (`"seed"`), and a third repeats the headline on disjoint seeds (replication). The verdict reads the seed-level
# comparison (seeds and texts resampled), Holm-adjusted over lengths, definitions and randomness settings.

# %% tags=["parameters"]
profile = "full"
seed = 0
n_seeds = None  # None: the profile's default
dataset = "subjectivity"
method = "lrp"
randomness = "seed+data"  # the headline run's randomness
other_randomness = "seed"  # the second run's (None: skip it)
replication_seed = 10  # first seed of the replication run (None: skip it); must not overlap the headline seeds
artifacts = "../artifacts"
figures = "../book/figures"  # where the book picks up this notebook's figures
n_resamples = 1000

# %%
import dataclasses
import logging

import matplotlib.pyplot as plt
import pandas as pd
from IPython.display import HTML
from myst_nb import glue

from seedexplain import checks, interactive, pipeline, plots, prose, report
from seedexplain.artifacts import cached_call
from seedexplain.config import make_config
from seedexplain.constraints import SPLITS

logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
overrides = {} if n_seeds is None else {"n_seeds": n_seeds}
config = make_config(profile, seed=seed, dataset=dataset, method=method, randomness=randomness,
                     artifacts=artifacts, **overrides)
variants = {randomness: config}
if other_randomness:
    variants[other_randomness] = dataclasses.replace(config, randomness=other_randomness)
replication = None
if replication_seed is not None:
    replication = dataclasses.replace(config, seed=replication_seed)
    if set(replication.seeds) & set(config.seeds):
        raise ValueError(f"replication_seed={replication_seed!r} overlaps the headline seeds {config.seeds}")
runs = {name: pipeline.run(variant) for name, variant in variants.items()}
results = runs[randomness]
glue("n_seeds", config.n_seeds, display=False)
glue("randomness", randomness, display=False)
config

# %% [markdown]
# ## Data

# %%
data = report.data_summary(results)
prose.glue_frame(data, ["split"], "data")
data

# %% [markdown]
# Texts longer than `max_length` tokens are cut by the transformer's tokenizer; the words it never sees are left out
# of both families' explanations.

# %%
truncation = results.truncation()
prose.glue_frame(truncation, ["split"], "trunc")
truncation

# %% [markdown]
# ## Accuracy of every seed, under each randomness setting

# %%
accuracy = pd.concat([report.per_seed_accuracy(r).assign(randomness=name) for name, r in runs.items()])
prose.glue_frame(accuracy[accuracy.randomness == randomness], ["family", "split"], "acc")
prose.glue_frame(accuracy, ["randomness", "family", "split"], "acc")
train_seconds = results.accuracy.drop_duplicates(["family", "seed"]).groupby("family").train_seconds.mean()
glue("train_seconds_transformer", float(train_seconds["transformer"]), display=False)
pd.concat({name: r.accuracy.pivot_table(index=["family", "seed"], columns="split", values="accuracy")
           for name, r in runs.items()}, names=["randomness"]).round(3)

# %% [markdown]
# ## One text, every seed

# %%
examples = report.example_texts(results, n=3)
short = {family: results.explanations(family, "test_short") for family in results.families}
attributions = {family: short[family][examples[0]].attributions for family in results.families}
fig = plots.word_heatmap(short["linear"][examples[0]].words, attributions)
plots.save_figure(fig, "word_heatmap", figures)
plt.show()

# %%
fig = plots.word_distributions([(short["linear"][i].words, {f: short[f][i].attributions for f in short})
                                for i in examples])
plots.save_figure(fig, "word_distributions", figures)
plt.show()

# %%
# Every short test text, the examples first, for the interactive heatmap of the explanations chapter.
order = examples + [i for i in range(len(short["linear"])) if i not in examples]
explorer = interactive.word_explorer(
    [(("example: " if i in examples else "") + " ".join(short["linear"][i].words[:8]) + " …",
      short["linear"][i].words, {f: short[f][i].attributions for f in results.families}) for i in order],
    plots.FAMILY_LABELS)
glue("word_explorer", HTML(explorer), display=False)
HTML(explorer)

# %% [markdown]
# ## Per-text signal, noise and SNR (definition A, headline run)

# %%
table = results.snr_table()
fig = plots.snr_boxplots(table)
plots.save_figure(fig, "snr_boxplots", figures)
plt.show()

# %% [markdown]
# ## Medians with bootstrap CIs (definitions A, B, C), per randomness setting

# %%
summaries = {name: report.snr_summary(r, n_resamples=n_resamples) for name, r in runs.items()}
summary = summaries[randomness]
prose.glue_frame(summary, ["definition", "family", "split"], "snr")
for name, frame in summaries.items():
    prose.glue_frame(frame, ["definition", "family", "split"], f"snr_{prose.glue_name(name)}")
pd.concat(summaries, names=["randomness"]).round(3)

# %% [markdown]
# ## Definition C against the word types it keeps (headline run)

# %%
sensitivity = report.corpus_sensitivity(results, n_resamples=n_resamples)
prose.glue_frame(sensitivity, ["family", "split", "min_count"], "corpus")
glue("corpus_sensitivity_sentence", prose.corpus_sensitivity_sentence(sensitivity), display=False)
print(prose.corpus_sensitivity_sentence(sensitivity))
sensitivity.round(4)

# %% [markdown]
# ## Seed-level comparison: the verdict
#
# Log ratio of median SNRs (linear over transformer), paired multi-bootstrap over texts and each family's seeds;
# Holm's adjustment runs over every row (text lengths × definitions × randomness settings).

# %%
seed_tests = report.adjust_holm(pd.concat([report.seed_level_tests(r, n_resamples=2 * n_resamples)
                                           .assign(randomness=name) for name, r in runs.items()],
                                          ignore_index=True))
prose.glue_frame(seed_tests, ["randomness", "split", "definition"], "slt")
glue("n_holm_tests", len(seed_tests), display=False)
seed_tests.round(4)

# %%
for name in runs:
    for split in SPLITS:
        sentence = prose.verdict(seed_tests[seed_tests.randomness == name], summaries[name], split)
        glue(f"verdict_{prose.glue_name(name)}_{split}", sentence, display=False)
        print(f"{name}, {split}: {sentence}")

# %% [markdown]
# ## The linear model's SNR against its training budget
#
# SGD for a fixed number of epochs against L-BFGS to convergence, same seeds and training sets as each run.

# %%
budget = pd.concat([cached_call(artifacts, "linear_budget", checks.linear_budget, config=variant,
                                epochs_grid=[1, 10, 100, 1000], n_resamples=n_resamples).assign(randomness=name)
                    for name, variant in variants.items()], ignore_index=True)
prose.glue_frame(budget.assign(budget=budget.epochs.fillna(0).astype(int).astype(str).replace("0", "converged")),
                 ["randomness", "budget"], "budget")
budget.round(4)

# %% [markdown]
# The transformer against its number of fine-tuning epochs (the headline randomness, the profile's first seeds).

# %%
n_budget_seeds = checks.profile_size(config, "n_budget_seeds")
transformer_budget = cached_call(
    artifacts, "transformer_budget", checks.transformer_budget, config=config, n_seeds=n_budget_seeds,
    epochs_grid=list(range(1, checks.profile_size(config, "max_budget_epochs") + 1)), n_resamples=n_resamples,
).assign(randomness=randomness)
prose.glue_frame(transformer_budget, ["epochs"], "tbudget")
glue("n_budget_seeds", n_budget_seeds, display=False)
glue("transformer_budget_sentence", prose.transformer_budget_sentence(transformer_budget), display=False)
print(prose.transformer_budget_sentence(transformer_budget))
fig = plots.training_budget(budget, transformer_budget)
plots.save_figure(fig, "training_budget", figures)
plt.show()
transformer_budget.round(4)

# %% [markdown]
# ## Descriptive paired tests over texts (for these trained models only)

# %%
tests = report.family_tests(results)
prose.glue_frame(tests, ["split", "definition", "test"], "test")
tests.round(4)

# %% [markdown]
# ## Seeds of similar accuracy
#
# Seeds whose short-text accuracy is within 0.01 of their family's best, and the seed-level comparison on them.

# %%
filtered = report.accuracy_filter(results, epsilon=0.01, n_resamples=2 * n_resamples)
glue("accuracy_filter_sentence", prose.accuracy_filter_sentence(filtered), display=False)
print(prose.accuracy_filter_sentence(filtered))
filtered.round(4)

# %% [markdown]
# ## Replication on disjoint seeds

# %%
replicated = {f"seeds {config.seeds[0]}-{config.seeds[-1]}": results}
if replication is not None:
    replicated[f"seeds {replication.seeds[0]}-{replication.seeds[-1]}"] = pipeline.run(replication)
replication_table = report.replication_table(replicated, n_resamples=2 * n_resamples)
order = {label: f"run{i}" for i, label in enumerate(replicated)}  # run0: the headline seeds, run1: the replication
prose.glue_frame(replication_table.assign(run=replication_table.run.map(order)), ["run", "split"], "rep")
glue("replication_sentence", prose.replication_sentence(replication_table), display=False)
print(prose.replication_sentence(replication_table))
replication_table.round(4)

# %% [markdown]
# ## Agreement between seeds and SNR against the number of seeds

# %%
agreement = report.agreement_summary(results)
prose.glue_frame(agreement, ["family", "split"], "agree")
agreement.round(3)

# %%
curve = report.seed_curve(results)
fig = plots.seed_curve(curve)
plots.save_figure(fig, "seed_curve", figures)
plt.show()
