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
# # How general is the claim? The multiverse
#
# Runs every cell of the profile's multiverse (`seedexplain.multiverse.GRID`: the headline setting, then one
# factor changed at a time, plus two crossings) through the same pipeline as the headline, from the artifact cache
# where possible. Per cell: accuracy and median SNR per family, the seed-level effect with its interval, the cost.
# Then the Holm-adjusted verdicts, the forest plot, accuracy against SNR and the factorial mixed model.

# %% tags=["parameters"]
profile = "full"
seed = 0
n_seeds = None  # None: the profile's default, for the headline cell (the other cells set their own)
artifacts = "../artifacts"
figures = "../book/figures"
n_resamples = 2000  # of each cell's seed-level comparison (half of it for each family's interval)

# %%
import logging

import matplotlib.pyplot as plt
import numpy as np
from myst_nb import glue

from seedexplain import multiverse, plots, prose
from seedexplain.config import make_config

logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", force=True)
logging.getLogger("seedexplain.artifacts").setLevel(logging.WARNING)
headline = make_config(profile, seed=seed, artifacts=artifacts, **({} if n_seeds is None else {"n_seeds": n_seeds}))
cells = multiverse.grid(profile)
tables = multiverse.run_grid(cells, headline, n_resamples=n_resamples)
glue("multiverse_cells", tables["cells"][["cell", "factor", "changes", "status"]], display=False)
tables["cells"]

# %% [markdown]
# Per cell and family: mean accuracy over seeds (and its range), median per-text SNR with its hierarchical 95%
# interval (texts and seeds resampled), the seconds the cell's models and explanations took when they were
# built (cells that share models share that cost) and the largest peak resident memory of those builds.

# %%
families = tables["families"]
glue("multiverse_families", families[["cell", "split", "family", "accuracy", "median_snr", "ci_low", "ci_high",
                                      "n_seeds", "train_seconds", "explain_seconds", "peak_rss_mb"]].round(3),
     display=False)
peak = families.peak_rss_mb.max() / 1024
glue("multiverse_peak_rss", f"{peak:.2f} GB" if np.isfinite(peak) else "not recorded: every artifact is older",
     display=False)
reference = next((cell.name for cell in cells if cell.factor == "seeds"), cells[0].name)
changing = {key: next((cell.name for cell in cells if key in cell.overrides), None)
            for key in ("epochs", "training_precision")}
glue("multiverse_plateau_sentence", prose.plateau_sentence(families, reference, changing["epochs"]), display=False)
glue("multiverse_precision_sentence", prose.precision_sentence(families, reference, changing["training_precision"]),
     display=False)
families.round(3)

# %%
effects = multiverse.verdicts(tables["effects"])
share = multiverse.share_supported(effects)
for key, value in share.items():
    glue(f"multiverse_{key}", value, display=False)
glue("multiverse_n_cells", len(cells), display=False)
glue("multiverse_cell_list", "; ".join(cell.name for cell in cells[1:]), display=False)
glue("multiverse_headline_sizes", multiverse.sizes(headline), display=False)
glue("multiverse_other_sizes", multiverse.sizes_sentence(cells, headline), display=False)
glue("multiverse_n_cells_run", int((tables["cells"].status == "ok").sum()), display=False)
glue("multiverse_cells_not_run", prose.cells_not_run(tables["cells"]), display=False)
glue("multiverse_sentence", prose.multiverse_sentence(effects, share), display=False)
effects = effects.assign(ratio=np.exp(effects.estimate), ratio_low=np.exp(effects.ci_low),
                         ratio_high=np.exp(effects.ci_high))
glue("multiverse_effects", effects[["cell", "split", "ratio", "ratio_low", "ratio_high", "p_value", "p_holm",
                                    "verdict"]].round(4), display=False)
effects.round(4)

# %%
fig = plots.multiverse_forest(effects)
plots.save_figure(fig, "multiverse_forest", figures)
plt.show()

# %%
fig = plots.accuracy_vs_snr(families)
plots.save_figure(fig, "multiverse_accuracy_snr", figures)
plt.show()
glue("multiverse_accuracy_sentence", prose.accuracy_snr_sentence(families), display=False)

# %% [markdown]
# ## Factorial analysis
#
# A linear mixed model of per-text log SNR (first five seeds of every cell, so that each per-text SNR is estimated
# from as many seeds): family × (every factor that varies) + class, with a random intercept per text (the same text
# of the same task and length in every cell). Texts with a bias-corrected SNR ≤ 0 have no logarithm and are left out
# (their share is printed).

# %%
frame = multiverse.factorial_frame(tables["texts"], cells, headline)
dropped = 1 - len(frame) / len(tables["texts"])
glue("multiverse_share_dropped", dropped, display=False)
print(f"texts with SNR <= 0 left out: {dropped:.1%}")
fit = multiverse.factorial(frame, multiverse.factor_levels(headline))
glue("multiverse_factorial", fit.round(3), display=False)
fit.round(3)
