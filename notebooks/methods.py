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
# # Comparing attribution methods
#
# Explains the short test texts with every attribution method of the library, using one fine-tuned seed of the
# transformer: how faithful each method is (AOPC comprehensiveness and sufficiency, agreement with
# leave-one-word-out, the model-randomisation check), what it costs per text, how much the methods agree with each
# other, and how much of each method's explanation is shared by the `n_seeds` seeds (per-text SNR, definition A).

# %% tags=["parameters"]
profile = "full"
seed = 0
n_seeds = 3
dataset = "subjectivity"
methods = None  # None: every method of seedexplain.attribution.METHODS
n_texts = None  # short test texts explained by every method (faithfulness table); None: the profile's size
# Methods whose per-seed SNR is measured on every short test text. Occlusion and Kernel SHAP cost 10-50x more per
# text and seed than the gradient methods; add them with -p snr_methods ... when time allows.
snr_methods = ("grad_x_input", "saliency", "integrated_gradients", "lrp", "attention_last", "attention_rollout")
n_layers = 0  # encoder layers re-initialised, on top of the head, in the randomisation check
cascade_methods = ("grad_x_input", "saliency", "lrp", "attention_last")  # methods of the cascading randomisation
artifacts = "../artifacts"
figures = "../book/figures"  # where the book picks up this notebook's figures

# %%
import logging

import matplotlib.pyplot as plt
from myst_nb import glue

from seedexplain import checks, faithfulness, pipeline, plots, prose, report
from seedexplain.artifacts import cached_call, machine
from seedexplain.attribution import METHODS
from seedexplain.config import make_config

logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
methods = list(METHODS if methods is None else methods)
config = make_config(profile, seed=seed, n_seeds=n_seeds, dataset=dataset, artifacts=artifacts)
results = pipeline.run(config, methods=snr_methods, method_splits=["test_short"])  # the SNR table reads short texts
n_texts = checks.profile_size(config, "n_method_texts", n_texts)
glue("n_texts", n_texts, display=False)
glue("n_seeds", config.n_seeds, display=False)
config

# %% [markdown]
# ## Faithfulness and cost of every method (one seed)

# %%
# Cached with the artifacts (per machine: the table holds timings).
comparison = cached_call(artifacts, "method_comparison", checks.method_comparison, config=config, n_texts=n_texts,
                         methods=methods, n_layers=n_layers, machine=machine())
prose.glue_frame(comparison.table, ["method"], "faith")
comparison.table.round(3)

# %% [markdown]
# ## Where conservative LRP puts the explained logit difference

# %%
budget = faithfulness.lrp_budget(comparison.explanations["lrp"])
glue("lrp_max_relative_residual", float((budget.residual.abs() / budget.f.abs()).max()), display=False)
glue("lrp_median_bias_share", float(budget.bias_share.median()), display=False)
budget.describe().round(4)

# %% [markdown]
# The same budget on every seed of the headline run (the profile's number of seeds): shares of `f` (each text's
# parts signed by its prediction, summed over texts, divided by the sum of |f|), and their spread over seeds.

# %%
headline = make_config(profile, seed=seed, dataset=dataset, artifacts=artifacts)
shares = cached_call(artifacts, "lrp_budget_by_seed", checks.lrp_budget_by_seed, config=headline, n_texts=n_texts)
spread = shares[list(faithfulness.LRP_PARTS)].agg(["mean", "std", "min", "max"]).T
prose.glue_frame(spread.reset_index(names="part"), ["part"], "lrp_share")
glue("lrp_share_n_seeds", len(shares), display=False)
glue("lrp_share_max_relative_residual", float(shares.max_relative_residual.max()), display=False)
spread.round(4)

# %% [markdown]
# ## Cascading model randomisation (Adebayo et al. 2018)
#
# The head alone, then the encoder layers from the top down, re-initialised; signed scores and magnitudes.

# %%
cascade = cached_call(artifacts, "cascading_randomisation", checks.cascading_randomisation, config=config,
                      n_texts=n_texts, methods=list(cascade_methods))
prose.glue_frame(cascade, ["method", "n_layers"], "cascade")
prose.glue_frame(cascade[cascade.n_layers == cascade.n_layers.max()].assign(n_layers="all"), ["method", "n_layers"],
                 "cascade")
glue("cascade_max_layers", int(cascade.n_layers.max()), display=False)
fig = plots.cascading_randomisation(cascade)
plots.save_figure(fig, "cascading_randomisation", figures)
plt.show()
cascade.round(3)

# %% [markdown]
# ## Agreement between methods

# %%
agreement = faithfulness.agreement_matrix(comparison.explanations)
prose.glue_frame(agreement.reset_index(names="method"), ["method"], "agree")
fig = plots.method_agreement(agreement)
plots.save_figure(fig, "method_agreement", figures)
plt.show()

# %% [markdown]
# ## Signal and noise across seeds, per method (short texts, definition A)

# %%
snr = report.method_snr(results, snr_methods)
summary = report.method_snr_summary(snr)
prose.glue_frame(summary, ["method"], "snr")
summary.round(3)

# %%
fig = plots.method_snr(snr)
plots.save_figure(fig, "method_snr", figures)
plt.show()
