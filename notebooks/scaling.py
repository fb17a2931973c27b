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
# # Scaling the seeds out: local executor and Dask workers
#
# The per-seed tasks (train both families, explain both test splits) are independent. This notebook times one run
# from an empty artifact folder with the local executor and with a Dask `LocalCluster` of 1 and 2 worker processes
# (one torch thread each) on this machine, once: the timings are cached with the other artifacts. On a cluster, the
# same code takes a scheduler address.

# %% tags=["parameters"]
profile = "full"  # which run is timed: seedexplain.scaling.SCALING_RUNS
n_seeds = None  # None: the profile's run
n_workers = (1, 2)
artifacts = "../artifacts"  # the measurement is cached here (once per machine)

# %%
import logging

from myst_nb import glue

from seedexplain import scaling

logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
logging.getLogger("distributed").setLevel(logging.WARNING)  # the cluster's start-up chatter
config = scaling.scaling_config(profile, **({} if n_seeds is None else {"n_seeds": n_seeds}))
table = scaling.measured_scaling(config, n_workers, artifacts)
for row in table.itertuples():
    name = "local" if row.executor == "local" else f"dask_{row.workers}"
    glue(f"scaling_{name}_seconds_per_seed", float(row.seconds_per_seed), display=False)
    glue(f"scaling_{name}_speedup", float(row.speedup), display=False)
glue("scaling_n_seeds", config.n_seeds, display=False)
glue("scaling_n_train", config.n_train, display=False)
table.round(2)
