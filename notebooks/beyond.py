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
# # Beyond univariate first order: SNR against plausibility cost
#
# Re-reads the cached explanations of the main study in other formats — magnitudes, ranks, squared centred values,
# products of neighbouring words, sums over spans of k words and over sentences — and measures each format's SNR
# and its reading cost.

# %% tags=["parameters"]
profile = "full"
seed = 0
n_seeds = None  # None: the profile's default
dataset = "subjectivity"
method = "lrp"
artifacts = "../artifacts"
figures = "../book/figures"

# %%
import matplotlib.pyplot as plt
import pandas as pd
from myst_nb import glue

from seedexplain import pipeline, plots, report
from seedexplain.config import make_config

overrides = {} if n_seeds is None else {"n_seeds": n_seeds}
config = make_config(profile, seed=seed, dataset=dataset, method=method, artifacts=artifacts, **overrides)
results = pipeline.run(config)

# %%
table = [report.format_tradeoff(results, split) for split in pipeline.SPLITS]
summary = report.tradeoff_summary(pd.concat(table, ignore_index=True))
report.glue_frame(summary, ["family", "split", "label"], "fmt")
summary.pivot_table(index="label", columns=["family", "split"], values="snr").round(3)

# %% [markdown]
# Formats whose median SNR is higher than the word level's, per family and text length:

# %%
for family in pipeline.FAMILIES:
    for split in pipeline.SPLITS:
        above = report.formats_above_word(summary, family, split)
        glue(f"above_word_{family}_{split}", above, display=False)
        print(f"{family}, {split}: {above}")

# %%
fig = plots.snr_vs_cost(summary)
plots.save_figure(fig, "snr_vs_cost", figures)
plt.show()
