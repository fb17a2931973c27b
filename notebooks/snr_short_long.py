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
# Trains `n_seeds` copies of the fine-tuned transformer and of the logistic regression (same data, seeds only
# differ), explains every test text with each copy, and measures per-text signal, noise and SNR (definition A).

# %% tags=["parameters"]
profile = "full"
seed = 0
n_seeds = None  # None: the profile's default
dataset = "subjectivity"
method = "grad_x_input"
artifacts = "../artifacts"
figures = "../book/figures"  # where the book picks up this notebook's figures

# %%
import logging

import matplotlib.pyplot as plt
from myst_nb import glue

from seedexplain import pipeline, plots
from seedexplain.config import make_config

logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
overrides = {} if n_seeds is None else {"n_seeds": n_seeds}
config = make_config(profile, seed=seed, dataset=dataset, method=method, artifacts=artifacts, **overrides)
results = pipeline.run(config)
config

# %% [markdown]
# ## Accuracy of every seed

# %%
accuracy = results.accuracy.pivot_table(index=["family", "seed"], columns="split", values="accuracy")
for (family, split), values in results.accuracy.groupby(["family", "split"]).accuracy:
    glue(f"acc_{family}_{split}_mean", float(values.mean()), display=False)
    glue(f"acc_{family}_{split}_sd", float(values.std(ddof=1)), display=False)
glue("n_seeds", config.n_seeds, display=False)
accuracy.round(3)

# %% [markdown]
# ## Per-text signal, noise and SNR

# %%
table = results.snr_table()
summary = table.groupby(["family", "split"])[["signal", "noise", "snr", "snr_naive", "n_words"]].median()
for (family, split), row in summary.iterrows():
    for column in ("signal", "noise", "snr", "n_words"):
        glue(f"median_{column}_{family}_{split}", float(row[column]), display=False)
summary

# %%
fig = plots.snr_boxplots(table)
plots.save_figure(fig, "snr_boxplots", figures)
plt.show()

# %% [markdown]
# ## One text, every seed, both families

# %%
short = {family: results.explanations(family, "test_short") for family in pipeline.FAMILIES}
example = int(table.query("family == 'transformer' and split == 'test_short'").n_words.sub(18).abs().idxmin())
example = int(table.loc[example, "text"])
fig = plots.word_heatmap(short["linear"][example].words,
                         {family: short[family][example].attributions for family in pipeline.FAMILIES})
plots.save_figure(fig, "word_heatmap", figures)
plt.show()
