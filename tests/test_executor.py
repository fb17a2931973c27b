"""Per-seed tasks on a Dask cluster give the same results as the local executor.

Dask workers run torch with one thread (the nanny sets OMP_NUM_THREADS=1), which changes the order of float
sums: explanations then agree to ~1e-5 relative, not bit for bit. Bit-identity holds for the same thread count
(tests/test_train.py).
"""

import dataclasses

import numpy as np
import pytest

from seedexplain import pipeline


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_dask_local_cluster_matches_local_executor(tiny_config, tmp_path):
    distributed = pytest.importorskip("dask.distributed")
    local = pipeline.run(tiny_config)
    remote_config = dataclasses.replace(tiny_config, artifacts=str(tmp_path / "cluster-artifacts"))
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        remote = pipeline.run(remote_config, scheduler=cluster.scheduler_address)
    assert local.accuracy.equals(remote.accuracy.assign(train_seconds=local.accuracy.train_seconds))
    for family in tiny_config.families:
        a = local.explanations(family, "test_short")
        b = remote.explanations(family, "test_short")
        for x, y in zip(a, b):
            np.testing.assert_allclose(x.attributions, y.attributions, rtol=1e-3, atol=1e-9)


def test_scaling_refuses_bad_input_before_any_work(tiny_config):
    from seedexplain import scaling

    with pytest.raises(ValueError, match="n_workers=.*must be a non-empty list of integers >= 1"):
        scaling.time_executors(tiny_config, n_workers=[0])
    with pytest.raises(ValueError, match="n_workers"):
        scaling.time_executors(tiny_config, n_workers=[])
    with pytest.raises(ValueError, match="profile='huge' is not one of 'quick', 'full'"):
        scaling.scaling_config("huge")
    assert scaling.scaling_config("quick", n_seeds=3).n_seeds == 3
