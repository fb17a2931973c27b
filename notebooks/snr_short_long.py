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
# Trains `n_seeds` copies of the fine-tuned transformer and of the logistic regression (same data, only the seeds
# differ), explains every test text with each copy, and measures per-text signal, noise and SNR (definitions A, B
# and C), with bootstrap confidence intervals, paired tests and the dependence on the number of seeds.

# %% tags=["parameters"]
profile = "full"
seed = 0
n_seeds = None  # None: the profile's default
dataset = "subjectivity"
method = "lrp"
artifacts = "../artifacts"
figures = "../book/figures"  # where the book picks up this notebook's figures
n_resamples = 1000

# %%
import logging

import matplotlib.pyplot as plt
from myst_nb import glue

from seedexplain import pipeline, plots, report
from seedexplain.config import make_config

logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
overrides = {} if n_seeds is None else {"n_seeds": n_seeds}
config = make_config(profile, seed=seed, dataset=dataset, method=method, artifacts=artifacts, **overrides)
results = pipeline.run(config)
glue("n_seeds", config.n_seeds, display=False)
config

# %% [markdown]
# ## Data

# %%
data = report.data_summary(results)
report.glue_frame(data, ["split"], "data")
data

# %% [markdown]
# Texts longer than `max_length` tokens are cut by the transformer's tokenizer; the words it never sees are left out
# of both families' explanations.

# %%
truncation = results.truncation()
report.glue_frame(truncation, ["split"], "trunc")
truncation

# %% [markdown]
# ## Accuracy of every seed

# %%
accuracy = results.accuracy.groupby(["family", "split"]).accuracy.agg(["mean", "std", "min", "max"]).reset_index()
report.glue_frame(accuracy, ["family", "split"], "acc")
train_seconds = results.accuracy.drop_duplicates(["family", "seed"]).groupby("family").train_seconds.mean()
glue("train_seconds_transformer", float(train_seconds["transformer"]), display=False)
results.accuracy.pivot_table(index=["family", "seed"], columns="split", values="accuracy").round(3)

# %% [markdown]
# ## One text, every seed

# %%
examples = report.example_texts(results, n=3)
short = {family: results.explanations(family, "test_short") for family in pipeline.FAMILIES}
attributions = {family: short[family][examples[0]].attributions for family in pipeline.FAMILIES}
fig = plots.word_heatmap(short["linear"][examples[0]].words, attributions)
plots.save_figure(fig, "word_heatmap", figures)
plt.show()

# %%
fig = plots.word_distributions([(short["linear"][i].words, {f: short[f][i].attributions for f in short})
                                for i in examples])
plots.save_figure(fig, "word_distributions", figures)
plt.show()

# %% [markdown]
# ## Per-text signal, noise and SNR (definition A)

# %%
table = results.snr_table()
fig = plots.snr_boxplots(table)
plots.save_figure(fig, "snr_boxplots", figures)
plt.show()

# %% [markdown]
# ## Medians with bootstrap CIs (definitions A, B, C) and paired tests

# %%
summary = report.snr_summary(results, n_resamples=n_resamples)
report.glue_frame(summary, ["definition", "family", "split"], "snr")
summary.round(3)

# %%
tests = report.family_tests(results)
report.glue_frame(tests, ["split", "definition", "test"], "test")
tests.round(4)

# %% [markdown]
# The paper's claim, tested on each text length (rule in `seedexplain.report.verdict`):

# %%
for split in pipeline.SPLITS:
    sentence = report.verdict(summary, tests, split)
    glue(f"verdict_{split}", sentence, display=False)
    print(f"{split}: {sentence}")

# %% [markdown]
# ## Agreement between seeds and SNR against the number of seeds

# %%
agreement = report.agreement_summary(results)
report.glue_frame(agreement, ["family", "split"], "agree")
agreement.round(3)

# %%
curve = report.seed_curve(results)
fig = plots.seed_curve(curve)
plots.save_figure(fig, "seed_curve", figures)
plt.show()
