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
# # Comparing the runs of a sweep
#
# `make sweep` executes `snr_short_long` once per value of one parameter (by default the first training seed, so
# that each run has its own disjoint set of seeds), one folder per run. This notebook rebuilds every run's
# configuration from the parameters papermill recorded, loads its results from the artifact cache, and asks:
# do the medians, their confidence intervals and the paired test between the two families hold from run to run?

# %% tags=["parameters"]
sweep_dir = "../_build/sweeps"
n_resamples = 1000
figures = "../_build/sweeps/figures"

# %%
import logging

import matplotlib.pyplot as plt

from seedexplain import plots, sweeps

logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
runs = sweeps.sweep_results(sweep_dir)
table = sweeps.compare_runs(runs, n_resamples=n_resamples)
table.round(3)

# %% [markdown]
# ## Median per-text SNR of each run (definition A, hierarchical bootstrap 95% CI)

# %%
fig = plots.run_comparison(table)
plots.save_figure(fig, "run_comparison", figures)
plt.show()

# %% [markdown]
# ## Does the family ranking hold in every run?

# %%
ranking = table.pivot_table(index=["run", "split"], columns="family", values="median_snr")
ranking["linear_higher"] = ranking["linear"] > ranking["transformer"]
ranking.join(table.drop_duplicates(["run", "split"]).set_index(["run", "split"])[["ratio", "ratio_low", "ratio_high",
                                                                                  "p_value"]])
