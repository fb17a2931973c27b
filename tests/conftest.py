"""Shared fixtures: offline Hugging Face, quiet progress bars, and a tiny configuration that trains in seconds."""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("CI", "true")  # hides progress bars (see seedexplain.pipeline.quiet)
os.environ.setdefault("MPLBACKEND", "Agg")

import pytest  # noqa: E402

from seedexplain.config import Config, make_config  # noqa: E402


@pytest.fixture
def tiny_config(tmp_path) -> Config:
    """Return a configuration of the synthetic dataset and the tiny BERT, with artifacts under ``tmp_path``."""
    return make_config("quick", dataset="synthetic", transformer="tiny-bert", n_seeds=2, n_train=48,
                       n_test_short=8, n_test_long=4, long_k=3, epochs=2, learning_rate=1e-3,
                       artifacts=str(tmp_path / "artifacts"))
