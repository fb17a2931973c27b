"""Shared fixtures: offline Hugging Face, quiet progress bars, and a tiny configuration that trains in seconds."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("CI", "true")  # hides progress bars (see seedexplain.progress)
os.environ.setdefault("MPLBACKEND", "Agg")

import pytest  # noqa: E402

from seedexplain.config import Config, make_config  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
PROJECT_FILES = ["Makefile", "_config.yml", "_toc.yml", "references.bib", "requirements.txt",
                 "requirements-data.txt", "pyproject.toml"]


@pytest.fixture(scope="session")
def built_book(tmp_path_factory) -> Path:
    """Return a copy of the project where `make book PROFILE=quick` has run (shared by the book tests)."""
    work = tmp_path_factory.mktemp("project")
    for name in PROJECT_FILES:
        shutil.copy2(ROOT / name, work / name)
    for folder in ("book", "notebooks", "lib", "scripts"):
        shutil.copytree(ROOT / folder, work / folder, ignore=shutil.ignore_patterns("*.ipynb", "__pycache__"),
                        copy_function=shutil.copy2)
    env = {k: v for k, v in os.environ.items() if k != "MPLBACKEND"}
    # -o: use the repository's environment as it is (never reinstall it, which would point it at this copy).
    result = subprocess.run(["make", "-o", str(ROOT / ".venv" / ".installed"), "book", "PROFILE=quick",
                             f"VENV={ROOT / '.venv'}",
                             f"ARTIFACTS={work / 'artifacts'}"], cwd=work, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    return work


@pytest.fixture(scope="module")
def one_torch_thread():
    """Run a module's tiny forward passes on one intra-op thread, then restore torch's setting.

    On a busy 2-core machine two OpenMP threads spin-wait on each other: tiny operations get 10–30× slower.
    """
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def tiny(one_torch_thread):
    """Return ``(model, tokenizer)`` of the tiny BERT drawn from seed 0, run on one torch thread in the module."""
    from seedexplain.models import load_transformer

    return load_transformer("tiny-bert", seed=0)


@pytest.fixture(scope="session")
def tiny_config(tmp_path_factory) -> Config:
    """Return a configuration of the synthetic dataset and the tiny BERT, with artifacts in a session folder.

    Artifacts are caches keyed by their parameters, so tests that share this configuration share (and reuse)
    its trained models and explanations.
    """
    return make_config("quick", dataset="synthetic", transformer="tiny-bert", n_seeds=2, n_train=48,
                       n_test_short=8, n_test_long=4, long_k=3, epochs=2, learning_rate=1e-3,
                       artifacts=str(tmp_path_factory.mktemp("tiny") / "artifacts"))
