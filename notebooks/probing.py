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
# # Sanity checks: probing with control tasks, and attention as explanation
#
# Probes the hidden states of every layer of the pretrained MiniLM and of one fine-tuned seed for a coarse part of
# speech, against Hewitt & Liang's control task (random labels per word type); then checks attention-based word
# scores against gradient and occlusion attributions, against deletions and permutations of the attention, and
# against a randomised classification head.

# %% tags=["parameters"]
profile = "full"
seed = 0
artifacts = "../artifacts"
n_probe_texts = None  # None: 150 training sentences on the quick profile, 1000 on the full one
n_repeats = 3  # random train/test splits per probe
n_permutations = 10  # attention permutations per text
figures = "../book/figures"  # where the book picks up this notebook's figures

# %%
import itertools
import logging

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from myst_nb import glue

from seedexplain import checks, plots, probing
from seedexplain.artifacts import cached_call
from seedexplain.config import make_config

# %%
logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
config = make_config(profile, seed=seed, artifacts=artifacts)
n_probe_texts = checks.profile_size(config, "n_probe_texts", n_probe_texts)
config

# %% [markdown]
# ## Word representations, part-of-speech labels, and probes with a control task
#
# Probes of every layer, real and control task, both splits (cached with the artifacts).

# %%
words, labels, probes = cached_call(artifacts, "probing", checks.probes, config=config, n_probe_texts=n_probe_texts,
                                    n_repeats=n_repeats)
glue("probe_n_texts", n_probe_texts, display=False)
glue("probe_n_repeats", n_repeats, display=False)
glue("probe_n_occurrences", int((labels >= 0).sum()), display=False)
glue("probe_n_types", len({w.lower() for w, y in zip(words, labels) if y >= 0}), display=False)
glue("probe_lexicon_coverage", float(np.mean(labels >= 0)), display=False)
pd.Series(np.array(probing.COARSE_POS)[labels[labels >= 0]]).value_counts(normalize=True).round(3)

# %%
last = probes.layer.max()
for row in probes.itertuples():
    layers = [f"L{row.layer}"] + (["last"] if row.layer == last else [])  # "last" names the top layer of any model
    for column, layer in itertools.product(("accuracy", "control_accuracy", "selectivity", "majority"), layers):
        glue(f"probe_{row.model}_{row.split}_{column}_{layer}", float(getattr(row, column)), display=False)
for (name, split), group in probes.groupby(["model", "split"]):
    for column in ("accuracy", "selectivity"):
        glue(f"probe_{name}_{split}_best_{column}_layer", int(group.layer[group[column].idxmax()]), display=False)
probes.pivot_table(index="layer", columns=["split", "model"], values=["accuracy", "control_accuracy"]).round(3)

# %%
fig, axes = plt.subplots(1, 3, figsize=(13, 3.8), sharex=True)
for ax, split in zip(axes[:2], ("occurrence", "type")):
    for (name, group), colour in zip(probes[probes.split == split].groupby("model", sort=False), ("C0", "C1")):
        ax.plot(group.layer, group.accuracy, "o-", color=colour, label=f"{name}: part of speech")
        ax.plot(group.layer, group.control_accuracy, "s--", color=colour, label=f"{name}: control task")
    ax.plot(group.layer, group.majority, ":", color="grey", label="majority class (part of speech)")
    ax.set(title=f"split by {split}", xlabel="layer (0 = embeddings)", ylabel="test accuracy", ylim=(0, 1))
for name, group in probes.groupby("model", sort=False):
    group = group[group.split == "occurrence"]
    axes[2].errorbar(group.layer, group.selectivity, yerr=group.selectivity_sd, marker="o", capsize=3, label=name)
axes[2].set(title="selectivity, split by occurrence", xlabel="layer (0 = embeddings)",
            ylabel="accuracy − control accuracy")
axes[1].legend(fontsize=7, loc="center", bbox_to_anchor=(0.5, 0.6))
axes[2].legend(fontsize=8)
fig.tight_layout()
plots.save_figure(fig, "probing_layers", figures)
plt.show()

# %% [markdown]
# ## Attention as explanation
#
# Per test text: rank agreement of attention with |gradient × input| and with |deletion| (leave-one-word-out
# occlusion, the word's tokens removed; Jain & Wallace's test), and the change of the logit difference when the
# attention or the words are changed.

# %%
agreement = cached_call(artifacts, "attention_checks", checks.attention_checks, config=config,
                        n_permutations=n_permutations)
summary = agreement.groupby(["attention", "reference"])[["spearman", "kendall", "same_top"]].agg(["median", "mean"])
for (attention, reference), row in summary.iterrows():
    for column in ("spearman", "kendall", "same_top"):
        glue(f"agree_{attention}_{reference}_{column}_median", float(row[column, "median"]), display=False)
        glue(f"agree_{attention}_{reference}_{column}_mean", float(row[column, "mean"]), display=False)
    glue(f"agree_{attention}_{reference}_positive", float(np.mean(agreement.query(
        "attention == @attention and reference == @reference").spearman > 0)), display=False)
glue("agree_n_texts", agreement.text.nunique(), display=False)
summary.round(3)

# %%
deletions = agreement.query("reference == 'grad_x_input'").drop_duplicates("text").set_index("text")
deletions = deletions[["delta_permuted", "delta_mean_word", "delta_top_attention", "delta_top_reference",
                       "delta_max_word"]].rename(columns={"delta_top_reference": "delta_top_gradient"})
for column, value in deletions.median().items():
    glue(f"median_{column}", float(value), display=False)
glue("median_abs_f", float(agreement.drop_duplicates("text").f.abs().median()), display=False)
rollout = agreement.query("attention == 'attention_rollout' and reference == 'grad_x_input'")
glue("median_delta_top_rollout", float(rollout.delta_top_attention.median()), display=False)
deletions.describe().round(3)

# %% [markdown]
# ## Model randomisation: a random head (pooler and classifier)

# %%
randomisation = cached_call(artifacts, "head_randomisation", checks.head_randomisation, config=config,
                            methods=["attention_last", "attention_rollout", "grad_x_input"], seed_offset=1000)
random_summary = randomisation.groupby("method")[["spearman", "kendall"]].median()
for method, row in random_summary.iterrows():
    glue(f"random_head_{method}_spearman_median", float(row.spearman), display=False)
random_summary.round(3)

# %%
fig, axes = plt.subplots(1, 3, figsize=(13, 3.8))
pairs = list(agreement.groupby(["attention", "reference"]).spearman)
axes[0].boxplot([values.dropna() for _, values in pairs], orientation="horizontal")
axes[0].set_yticks(range(1, len(pairs) + 1), [f"{a} vs |{r}|" for (a, r), _ in pairs], fontsize=8)
axes[0].axvline(0, color="grey", lw=0.8)
axes[0].set(title="attention vs attribution, per text", xlabel="Spearman correlation", xlim=(-1, 1))
axes[1].boxplot([deletions[c] for c in deletions], orientation="horizontal")
axes[1].set_yticks(range(1, deletions.shape[1] + 1), [c.removeprefix("delta_") for c in deletions], fontsize=8)
axes[1].set(title="|change of logit difference|, per text", xlabel="|Δf|", xscale="log")
methods = list(randomisation.groupby("method").spearman)
axes[2].boxplot([values.dropna() for _, values in methods], orientation="horizontal")
axes[2].set_yticks(range(1, len(methods) + 1), [m for m, _ in methods], fontsize=8)
axes[2].set(title="trained vs random head, per text", xlabel="Spearman correlation", xlim=(-1, 1.05))
fig.tight_layout()
plots.save_figure(fig, "attention_checks", figures)
plt.show()
