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
# # Do the estimators recover a planted truth?
#
# Synthetic explanations `a[t, w, s] = mu[t, w] + sqrt(noise_t) * eps[t, w, s]` with a known signal (the variance
# of `mu` over the words of text `t`) and noise (`noise_t`, log-normal around `noise_var` across texts) test every
# estimator of the chapter "Estimating signal, noise and SNR": recovery, bias against the number of seeds,
# bootstrap coverage, and definition B under seed-scale jitter.

# %% tags=["parameters"]
profile = "full"
seed = 0
n_texts = 300
n_texts_coverage = 100
n_reps = 200
n_resamples = 200
n_seeds = 10
n_words_min = 15
n_words_max = 40
signal_var = 1.0
noise_var = 1.0
noise_spread = 0.5
n_calibration_reps = 200  # repetitions of the old and new family comparisons on the shared-effects oracle
n_corpus_reps = 150  # corpora of the coverage check of definition C's interval
artifacts = "../artifacts"  # where the definition C coverage table is cached
figures = "../book/figures"  # where the book picks up this notebook's figures

# %%
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from myst_nb import glue

from seedexplain import plots, prose, synthetic
from seedexplain.artifacts import cached_call

if profile == "quick":  # a smoke run: the same figures from fewer repetitions
    n_texts, n_texts_coverage, n_reps, n_resamples, n_corpus_reps = 100, 50, 30, 100, 20
n_words = range(n_words_min, n_words_max + 1)
draw = dict(n_words=n_words, signal_var=signal_var, noise_var=noise_var, noise_spread=noise_spread)
for name, value in [("n_seeds", n_seeds), ("n_reps", n_reps), ("n_texts_coverage", n_texts_coverage),
                    ("n_resamples", n_resamples)]:
    glue(name, value, display=False)

# %% [markdown]
# ## Recovery: estimate against truth, per text

# %%
recovery = synthetic.recovery_table(n_texts, n_seeds_grid=[3, 5, n_seeds], **draw, rng=seed)
fig, axes = plt.subplots(3, 3, figsize=(10, 9), sharex="col", sharey="col")
for row, (s, group) in zip(axes, recovery.groupby("n_seeds")):
    for ax, q in zip(row, ["signal", "noise", "snr"]):
        if q != "noise":
            ax.scatter(group[f"true_{q}"], group[f"{q}_naive"], s=5, color="0.65", label="naive")
        label = "bias-corrected" if q != "noise" else "estimate"
        ax.scatter(group[f"true_{q}"], group[q], s=5, color="C0", label=label)
        lims = np.array([group[f"true_{q}"].min(), group[f"true_{q}"].max()])
        ax.plot(lims, lims, "k--", lw=1)
        ax.set_title(f"{q}, S = {s}", fontsize=10)
        ax.set_xlabel(f"true {q}")
    row[0].set_ylabel("estimate")
axes[0, 0].legend(frameon=False, markerscale=3)
fig.tight_layout()
plots.save_figure(fig, "estimators_recovery", figures)
plt.show()

# %% [markdown]
# ## Bias of the naive and the corrected signal against the number of seeds

# %%
bias = synthetic.bias_by_n_seeds(synthetic.recovery_table(10 * n_texts, n_seeds_grid=range(2, 21), **draw, rng=seed))
fig, ax = plt.subplots(figsize=(6, 3.8))
ax.plot(bias.index, bias.bias_naive, "o-", color="0.5", label="naive $S_{naive}$")
ax.plot(bias.index, bias.expected_naive, "k--", lw=1, label="expected $N / (S\\,\\mathrm{signal})$")
ax.plot(bias.index, bias.bias_corrected, "o-", color="C0", label="bias-corrected $S^*$")
ax.axhline(0, color="k", lw=0.5)
ax.set(xlabel="number of seeds S", ylabel="relative bias of the mean signal")
ax.legend(frameon=False)
for s in (3, 10):
    glue(f"bias_naive_s{s}", float(bias.bias_naive[s]), display=False)
    glue(f"bias_corrected_s{s}", float(bias.bias_corrected[s]), display=False)
plots.save_figure(fig, "estimators_bias", figures)
plt.show()

# %% [markdown]
# ## Coverage of the bootstrap intervals of the median SNR

# %%
coverage = synthetic.coverage_experiment(
    n_reps=n_reps, n_texts=n_texts_coverage, n_seeds=n_seeds, **draw, rng=seed, n_resamples=n_resamples
)
rate = coverage.groupby("over").covered.mean().reindex(["texts", "seeds", "both"])
band = 1.96 * np.sqrt(0.95 * 0.05 / n_reps)
fig, ax = plt.subplots(figsize=(5, 3.5))
ax.bar_label(ax.bar(rate.index, rate.to_numpy(), color="C0", width=0.6), fmt="%.3f")
ax.axhspan(0.95 - band, 0.95 + band, color="0.8", zorder=0)
ax.set(ylim=(0.7, 1.04), xlabel="resampled", ylabel=f"coverage over {n_reps} corpora")
ax.set_title("95% intervals; grey: 0.95 ± Monte Carlo error", fontsize=10)
for over, value in rate.items():
    glue(f"coverage_{over}", float(value), display=False)
plots.save_figure(fig, "estimators_coverage", figures)
plt.show()

# %% [markdown]
# ## Definition B: normalising each seed removes seed-scale noise

# %%
jitter = synthetic.scale_jitter_table([0.0, 0.1, 0.25, 0.5, 1.0], n_texts=n_texts, n_seeds=n_seeds, **draw, rng=seed)
fig, ax = plt.subplots(figsize=(6, 3.8))
for scale, group in jitter.groupby("scale", sort=False):
    ax.plot(group.jitter, group.median_snr, "o-", label=scale)
ax.plot(jitter.jitter.unique(), jitter.groupby("jitter").median_true_snr.first(), "k--", lw=1, label="truth")
ax.set(xlabel="seed-scale jitter (sd of log scale)", ylabel="median per-text SNR")
ax.legend(frameon=False, title="scale")
at = jitter[jitter.jitter == 0.5].set_index("scale")
for scale in ("raw", "l2", "zscore"):
    glue(f"snr_{scale}_jitter", float(at.median_snr[scale]), display=False)
glue("snr_true_jitter", float(at.median_true_snr.iloc[0]), display=False)
plots.save_figure(fig, "estimators_scale", figures)
plt.show()

# %% [markdown]
# ## Comparing two families: texts as units against seeds as units
#
# Two families drawn from one generator whose seed noise is shared across texts (per-seed scales, per word type
# and seed, heavy tails), and the same with the second family's noise doubled (a planted log ratio of log 2).

# %%
sizes = dict(n_texts=60, n_words=range(6, 15), n_seeds=n_seeds, n_resamples=300)
calibration = pd.concat([
    synthetic.comparison_calibration(n_reps=n_calibration_reps, rng=seed + 1, noise_ratio=1.0, **sizes)
    .assign(setting="null"),
    synthetic.comparison_calibration(n_reps=n_calibration_reps, rng=seed + 2, noise_ratio=2.0, **sizes)
    .assign(setting="ratio 2")])
rates = calibration.groupby("setting")[["wilcoxon_reject", "texts_covered", "seed_level_reject",
                                        "seed_level_covered"]].mean()
for setting, row in rates.iterrows():
    for column, value in row.items():
        glue(f"cal_{setting.replace(' ', '_')}_{column}", float(value), display=False)
glue("cal_n_reps", n_calibration_reps, display=False)
rates.round(3)

# %% [markdown]
# ## Definition C: coverage of its interval under shared seed effects
#
# Corpora whose noise is shared by a word type's occurrences (half of it) with per-seed noise scales of spread
# `seed_scale`; the log-t interval of `corpus_bootstrap_ci` against a plain percentile interval of its replicates.

# %%
corpus_coverage = cached_call(artifacts, "corpus_coverage", synthetic.corpus_coverage, n_reps=n_corpus_reps,
                              n_texts=100, n_words=range(10, 21), n_seeds=n_seeds, seed_scales=[0.0, 0.3, 0.5],
                              rng=seed, n_resamples=n_resamples)
scale_key = (10 * corpus_coverage.seed_scale).round().astype(int).astype(str)  # 0.3 -> "3"
prose.glue_frame(corpus_coverage.assign(scale=scale_key), ["scale"], "ccov")
glue("n_corpus_reps", n_corpus_reps, display=False)
corpus_coverage.round(3)
