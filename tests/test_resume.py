"""A run killed midway resumes from its artifacts and ends with the same numbers as an uninterrupted run."""

import dataclasses
import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from seedexplain import pipeline

RUN = "import json, sys; from seedexplain import pipeline; from seedexplain.config import Config; " \
      "pipeline.run(Config(**json.loads(sys.argv[1])))"


def test_killed_run_resumes_to_identical_results(tiny_config, tmp_path):
    config = dataclasses.replace(tiny_config, artifacts=str(tmp_path / "killed"))
    process = subprocess.Popen([sys.executable, "-c", RUN, json.dumps(config.to_dict())])
    models = Path(config.artifacts) / "model"
    deadline = time.monotonic() + 120
    while not any(models.glob("*/meta.json")) and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert process.returncode == -signal.SIGKILL, "the run finished before it could be killed"
    finished = len(list(models.glob("*/meta.json")))
    assert 1 <= finished < 2 * config.n_seeds

    resumed = pipeline.run(config)
    uninterrupted = pipeline.run(tiny_config)
    assert not list(Path(config.artifacts).glob("*/.tmp-*")), "a partial artifact survived the resumed run"
    assert resumed.accuracy.drop(columns="train_seconds").equals(uninterrupted.accuracy.drop(columns="train_seconds"))
    for family in tiny_config.families:
        for a, b in zip(resumed.explanations(family, "test_long"), uninterrupted.explanations(family, "test_long")):
            # Other tests may change torch's thread count in this process, which reorders float sums (~1e-7).
            np.testing.assert_allclose(a.attributions, b.attributions, rtol=1e-5, atol=1e-10)
