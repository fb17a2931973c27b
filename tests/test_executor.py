"""Per-seed tasks on a Dask cluster give the same results as the local executor."""

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
    for family in pipeline.FAMILIES:
        a = local.explanations(family, "test_short")
        b = remote.explanations(family, "test_short")
        for x, y in zip(a, b):
            np.testing.assert_array_equal(x.attributions, y.attributions)
