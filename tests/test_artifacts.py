"""Artifacts: atomic writes, reuse, and detection of partial, corrupt or stale folders."""

import json
import os

import pytest

from seedexplain.artifacts import artifact_path, cached, read_meta

PARAMS = {"stage": "demo", "n": 3}


def build_counter(calls):
    def build(folder):
        calls.append(folder)
        (folder / "values.txt").write_text("1 2 3")
        return {"n": 3}
    return build


def test_built_once_then_reused(tmp_path):
    calls = []
    first = cached(tmp_path, "demo", PARAMS, build_counter(calls))
    second = cached(tmp_path, "demo", PARAMS, build_counter(calls))
    assert first == second == artifact_path(tmp_path, "demo", PARAMS)
    assert len(calls) == 1
    assert read_meta(first)["report"] == {"n": 3}
    assert cached(tmp_path, "demo", PARAMS, build_counter(calls), force=True) == first and len(calls) == 2


def test_failed_build_leaves_nothing(tmp_path):
    def broken(folder):
        (folder / "half.txt").write_text("half")
        raise RuntimeError("killed")

    with pytest.raises(RuntimeError):
        cached(tmp_path, "demo", PARAMS, broken)
    assert list((tmp_path / "demo").iterdir()) == []


@pytest.mark.parametrize("damage", ["truncate", "delete_meta", "version", "delete_file"])
def test_damaged_artifact_is_rebuilt(tmp_path, damage):
    calls = []
    folder = cached(tmp_path, "demo", PARAMS, build_counter(calls))
    if damage == "truncate":
        (folder / "values.txt").write_text("1 2")
    elif damage == "delete_meta":
        (folder / "meta.json").unlink()
    elif damage == "version":
        meta = json.loads((folder / "meta.json").read_text())
        (folder / "meta.json").write_text(json.dumps({**meta, "version": "0.0.0"}))
    else:
        (folder / "values.txt").unlink()
    assert read_meta(folder) is None
    cached(tmp_path, "demo", PARAMS, build_counter(calls))
    assert len(calls) == 2 and (folder / "values.txt").read_text() == "1 2 3"


def test_other_parameters_other_folder(tmp_path):
    assert artifact_path(tmp_path, "demo", PARAMS) != artifact_path(tmp_path, "demo", {**PARAMS, "n": 4})


def test_leftover_of_a_live_builder_is_kept_and_of_a_dead_one_removed(tmp_path):
    import os
    import socket

    folder = artifact_path(tmp_path, "demo", PARAMS)
    folder.parent.mkdir(parents=True)
    live = folder.parent / f".tmp-{folder.name}-{socket.gethostname()}-{os.getpid()}-abc"
    dead = folder.parent / f".tmp-{folder.name}-{socket.gethostname()}-999999999-abc"
    live.mkdir()
    dead.mkdir()
    cached(tmp_path, "demo", PARAMS, build_counter([]))
    assert live.exists() and not dead.exists()


def test_cached_value_computes_once_per_params(tmp_path):
    from seedexplain.artifacts import cached_value, machine

    calls = []

    def compute():
        calls.append(1)
        return {"table": [1.5, 2.5]}

    params = {"n": 1, **machine()}
    assert cached_value(tmp_path, "value", params, compute) == {"table": [1.5, 2.5]}
    assert cached_value(tmp_path, "value", params, compute) == {"table": [1.5, 2.5]}
    assert len(calls) == 1
    cached_value(tmp_path, "value", {**params, "n": 2}, compute)
    assert len(calls) == 2
    assert machine()["cpu_count"] == os.cpu_count()


def test_call_key_changes_with_every_argument_and_default():
    from seedexplain import checks
    from seedexplain.artifacts import call_key
    from seedexplain.config import make_config

    config = make_config("quick")
    base = dict(config=config, methods=["attention_last", "grad_x_input"], seed_offset=1000)
    key = call_key(checks.head_randomisation, **base)
    assert key == call_key(checks.head_randomisation, **dict(base))
    for change in (dict(methods=["attention_last"]), dict(seed_offset=1), dict(config=make_config("quick", seed=1))):
        assert call_key(checks.head_randomisation, **{**base, **change}) != key, change
    assert call_key(checks.head_randomisation, **{**base, "config": make_config("quick", artifacts="elsewhere")}) == key
    assert call_key(checks.probes, config=config, n_probe_texts=10, n_repeats=1)["function"].endswith("checks.probes")


def test_call_key_holds_the_revision_of_every_method_its_arguments_name(monkeypatch):
    from seedexplain import artifacts
    from seedexplain.config import make_config

    def check(config, methods):
        """A stand-in for a check of ``methods`` on ``config``."""

    monkeypatch.setattr(artifacts, "METHOD_REVISIONS", {"lrp": 2, "occlusion": 3, "saliency": 1})
    gradient = make_config("quick", method="grad_x_input")
    assert "method_revisions" not in artifacts.call_key(check, config=gradient, methods=["saliency"])
    key = artifacts.call_key(check, config=make_config("quick", method="lrp"), methods=["occlusion", "saliency"])
    assert key["method_revisions"] == {"lrp": 2, "occlusion": 3}  # from the config and from the list
    monkeypatch.setattr(artifacts, "METHOD_REVISIONS", {"lrp": 3, "occlusion": 3})
    assert artifacts.call_key(check, config=gradient, methods=["lrp"])["method_revisions"] == {"lrp": 3}


def test_stored_values_round_trip_without_pickle(tmp_path):
    import numpy as np
    import pandas as pd

    from seedexplain.artifacts import cached_value
    from seedexplain.results import TextExplanations

    value = (["a", "b"], np.arange(3, dtype=np.int64), pd.DataFrame({"x": [0.1, np.nan], "y": ["u", "v"]}),
             {"t": TextExplanations("a b", 1, ("a", "b"), np.array([[1.0 / 3, 2.0], [3.0, 4.0]]))})
    stored = cached_value(tmp_path, "value", {"n": 1}, lambda: value)
    again = cached_value(tmp_path, "value", {"n": 1}, lambda: None)
    for got in (stored, again):
        assert got[0] == value[0] and got[1].dtype == np.int64 and np.array_equal(got[1], value[1])
        pd.testing.assert_frame_equal(got[2], value[2])
        assert got[3]["t"].attributions[0, 0] == 1.0 / 3 and got[3]["t"].words == ("a", "b")
    assert not list(tmp_path.rglob("*.pkl"))


@pytest.mark.skipif(not os.path.exists("/proc/self/clear_refs"), reason="the peak is read from Linux's /proc")
def test_each_build_records_its_own_peak_memory_and_an_outer_build_its_inner_builds(tmp_path):
    import numpy as np

    size_mb = 300

    def big(folder):
        block = np.ones(size_mb * 2**20 // 8)  # touched: resident
        (folder / "sum.txt").write_text(str(block.sum()))
        return {}

    def small(folder):
        (folder / "x.txt").write_text("x")
        return {}

    def outer(folder):
        cached(tmp_path, "inner", {"n": 1}, big)
        return small(folder)

    outer_meta = read_meta(cached(tmp_path, "outer", {"n": 1}, outer))
    inner_meta = read_meta(artifact_path(tmp_path, "inner", {"n": 1}))
    small_meta = read_meta(cached(tmp_path, "small", {"n": 1}, small))
    assert inner_meta["peak_rss_mb"] >= small_meta["peak_rss_mb"] + 0.9 * size_mb  # the peak was reset between
    assert outer_meta["peak_rss_mb"] >= inner_meta["peak_rss_mb"]
