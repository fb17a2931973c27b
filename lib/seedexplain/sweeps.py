"""Runs of ``make sweep``: rebuilt from the parameters papermill recorded, and compared."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from seedexplain import pipeline
from seedexplain.config import Config, make_config
from seedexplain.report import seed_level_tests, snr_summary
from seedexplain.results import Results


def sweep_results(folder: str | Path, notebook: str = "snr_short_long.ipynb") -> dict[str, Results]:
    """Return the results of every run of a sweep: ``{run folder name: Results}``, in folder-name order.

    ``folder`` holds one sub-folder per run (as ``make sweep`` writes them), each with an executed ``notebook``;
    a run's configuration is rebuilt from the parameters papermill recorded in that notebook, on top of the
    profile's defaults. Models and explanations come from the artifact cache.
    """
    import nbformat

    folder = Path(folder)
    runs = {}
    for path in sorted(folder.glob(f"*/{notebook}")):
        params = dict(nbformat.read(path, as_version=4).metadata.get("papermill", {}).get("parameters", {}))
        known = {k: v for k, v in params.items() if k in Config.__dataclass_fields__ and v is not None}
        runs[path.parent.name] = pipeline.run(make_config(known.pop("profile", "full"), **known))
    if not runs:
        raise FileNotFoundError(f"no executed {notebook} under {folder}/*/: run `make sweep` first")
    return runs


def compare_runs(runs: dict[str, Results], *, n_resamples: int = 1000) -> pd.DataFrame:
    """Return one row per (run, family, split): median per-text SNR (definition A) with its 95% CI, mean accuracy,
    and the seed-level comparison of the linear model against the transformer (ratio, interval, p-value)."""
    frames = []
    for name, results in runs.items():
        summary = snr_summary(results, n_resamples=n_resamples)
        summary = summary[summary.definition == "A"].drop(columns="definition")
        tests = seed_level_tests(results, n_resamples=n_resamples)
        tests = tests[tests.definition == "A"][["split", "ratio", "ratio_low", "ratio_high", "p_value"]]
        accuracy = results.accuracy.groupby(["family", "split"], as_index=False).accuracy.mean()
        frames.append(summary.merge(accuracy, on=["family", "split"]).merge(tests, on="split")
                      .assign(run=name, seeds=f"{results.config.seeds[0]}-{results.config.seeds[-1]}"))
    table = pd.concat(frames, ignore_index=True)
    return table[["run", "seeds", *[c for c in table.columns if c not in ("run", "seeds")]]]
