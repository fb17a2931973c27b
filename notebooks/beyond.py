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
n_resamples = 1000  # of the seed-level interval of each format against words

# %%
import matplotlib.pyplot as plt
import pandas as pd
from myst_nb import glue

from seedexplain import beyond, pipeline, plots, prose, report
from seedexplain.config import make_config
from seedexplain.constraints import SPLITS
from seedexplain.data import sentence_starts

overrides = {} if n_seeds is None else {"n_seeds": n_seeds}
config = make_config(profile, seed=seed, dataset=dataset, method=method, artifacts=artifacts, **overrides)
results = pipeline.run(config)

# %%
# Sentence boundaries come from the text, clipped to the words every family explains.
boundaries = {split: [[s for s in sentence_starts(e.text) if s < len(e.words)]
                      for e in results.explanations(results.families[0], split)] for split in SPLITS}
table = [beyond.format_tradeoff({f: results.arrays(f, split) for f in results.families}, boundaries[split])
         .assign(split=split) for split in SPLITS]
summary = beyond.tradeoff_summary(pd.concat(table, ignore_index=True))
prose.glue_frame(summary, ["family", "split", "label"], "fmt")
summary.pivot_table(index="label", columns=["family", "split"], values="snr").round(3)

# %% [markdown]
# Each format against words on the same explanations: the difference of median SNRs (both with the correction for
# dependent units) with a paired seed-level interval, and the format's SNR on a null with no between-word signal.
# A format is listed above words only when the interval lies above zero and it beats its null.

# %%
comparisons = report.format_comparisons(results, boundaries, n_resamples=n_resamples)
prose.glue_frame(comparisons, ["family", "split", "label"], "cmp")
for family in results.families:
    for split in SPLITS:
        above = report.formats_above_word(comparisons, family, split)
        glue(f"above_word_{family}_{split}", above, display=False)
        print(f"{family}, {split}: {above}")
glue("formats_conclusion", prose.formats_conclusion(comparisons), display=False)
print(prose.formats_conclusion(comparisons))
comparisons.round(3)

# %%
fig = plots.snr_vs_cost(summary)
plots.save_figure(fig, "snr_vs_cost", figures)
plt.show()
