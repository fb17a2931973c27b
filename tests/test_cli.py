"""The `seedexplain` command line, as a new user runs it: a CSV, a Hugging Face model folder, two commands."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import fields
from pathlib import Path

import pandas as pd
import pytest

from seedexplain.config import Config
from seedexplain.models import load_transformer
from tests.test_data import _write_csv

COMMAND = str(Path(sys.executable).parent / "seedexplain")


def seedexplain(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([COMMAND, *args], capture_output=True, text=True, cwd=cwd, timeout=600)


def test_help_lists_every_parameter_with_what_it_allows():
    result = seedexplain("run", "--help")
    assert result.returncode == 0, result.stderr
    for field in fields(Config):
        assert f"--{field.name.replace('_', '-')}" in result.stdout
    assert "lrp" in result.stdout and "seed+data" in result.stdout  # allowed values are shown
    assert "report" in seedexplain("--help").stdout


@pytest.mark.parametrize("args,message", [
    (["--n-seeds", "1"], "n_seeds=1 must be an integer >= 2"),
    (["--method", "magic"], "method='magic' is not one of"),
    (["--transformer", "/no/such/model"], "transformer='/no/such/model' is not one of"),
    (["--n-seed", "3"], "unrecognized arguments: --n-seed"),
])
def test_bad_values_fail_before_any_work_with_the_notebooks_message(tmp_path, args, message):
    result = seedexplain("run", "--artifacts", str(tmp_path / "artifacts"), *args)
    assert result.returncode == 2 and message in result.stderr, result.stderr
    assert not (tmp_path / "artifacts").exists()


def test_report_of_a_folder_that_is_not_a_report(tmp_path):
    result = seedexplain("report", str(tmp_path))
    assert result.returncode == 2 and "holds no run.json" in result.stderr


def test_a_csv_and_a_model_folder_measured_in_two_commands(tmp_path):
    model, tokenizer = load_transformer("tiny-bert", seed=0)
    folder = tmp_path / "my-model"
    model.base_model.save_pretrained(folder)  # an encoder without a classification head, as users publish them
    tokenizer.save_pretrained(folder)
    csv = _write_csv(tmp_path / "my.csv")
    run = seedexplain("run", "--dataset", "my.csv", "--transformer", "my-model", "--n-seeds", "3",
                      "--method", "lrp", "--profile", "quick", "--n-train", "40", "--n-test-short", "8",
                      "--n-test-long", "4", "--long-k", "2", "--artifacts", "cache", "--out", "report",
                      cwd=tmp_path)
    assert run.returncode == 0, run.stderr[-3000:]
    report = tmp_path / "report"
    assert run.stdout.strip() == f"report: {report / 'report.html'}"
    assert "seed 2 done (3 of 3" in run.stderr  # one progress line per finished seed
    snr = pd.read_csv(report / "per_text_snr.csv")
    assert set(snr.family) == {"transformer", "linear"} and set(snr.split) == {"test_short", "test_long"}
    assert len(snr) == 2 * (8 + 4) and snr.snr.notna().any()
    comparison = pd.read_csv(report / "comparison.csv")
    assert set(comparison.split) == {"test_short", "test_long"}
    defined = comparison.dropna(subset=["estimate", "ci_low", "ci_high"])  # tiny data: a median SNR can be NaN
    assert len(defined) and (defined.ci_low <= defined.estimate).all() and (defined.estimate <= defined.ci_high).all()
    accuracy = pd.read_csv(report / "accuracy.csv")
    assert len(accuracy) == 2 * 3 * 2 and accuracy.accuracy.between(0, 1).all()
    page = (report / "report.html").read_text()
    assert "transformer (" + str(tmp_path / "my-model") + ")" in page and "heatmap_0.png" in page
    assert (report / "heatmap_0.png").stat().st_size > 0
    before = {name: (report / name).read_bytes() for name in ("per_text_snr.csv", "comparison.csv", "summary.csv")}
    (report / "per_text_snr.csv").unlink()
    again = seedexplain("report", str(report))  # from another directory: the paths were recorded absolute
    assert again.returncode == 0, again.stderr[-3000:]
    assert "written" not in again.stderr  # everything came from the cache: nothing trained or explained
    assert {name: (report / name).read_bytes() for name in before} == before
    assert csv.exists() and not list(tmp_path.glob(".report.*"))  # no half-written folder left behind
