"""The ``seedexplain`` command line: measure the seed stability of your own models' explanations in two commands.

::

    seedexplain run --dataset my.csv --transformer ./my-hf-model --n-seeds 10 --method lrp
    seedexplain report seedexplain-runs/<key>

``run`` trains every seed of every family (or takes it from the artifact cache), explains the test texts and writes a
report folder; ``report`` rebuilds that folder from the cache (it trains only what the cache has lost). Every
parameter of :class:`seedexplain.config.Config` is an option of ``run`` (``--n-seeds`` for ``n_seeds``), checked by
:func:`seedexplain.config.make_config` before any work, with the same messages as the notebooks.

The report holds ``per_text_snr.csv`` (signal, noise and SNR of every text, family and split), ``summary.csv``
(median SNR per family and split with its bootstrap interval), ``comparison.csv`` (the seed-level comparison of two
families: log ratio of median SNRs, its interval and p-value, Holm-adjusted), ``accuracy.csv`` (every seed),
heatmaps of a few texts, and ``report.html`` showing them all.
"""

from __future__ import annotations

import argparse
import dataclasses
import html
import json
import logging
import os
import shutil
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from seedexplain import pipeline, plots, report
from seedexplain.config import FIELD_CONSTRAINTS, PROFILE_DEFAULTS, Config, make_config, params_key
from seedexplain.constraints import PROFILES, OneOf
from seedexplain.families import families
from seedexplain.results import Results

RUN_FILE = "run.json"
"""The file of a report folder that records its configuration (read by ``seedexplain report``)."""
N_EXAMPLES = 3
"""Texts shown as heatmaps in a report."""


def _allowed(name: str) -> str:
    """Return what parameter ``name`` accepts, for its ``--help`` line."""
    constraint = FIELD_CONSTRAINTS.get(name)
    if isinstance(constraint, OneOf):
        return "one of " + ", ".join(map(str, constraint.values))
    if constraint is None:
        return "a folder" if name == "artifacts" else "comma-separated names"
    return constraint.describe().removeprefix("must be ").removeprefix("is not ")


def parser() -> argparse.ArgumentParser:
    """Return the argument parser of the ``seedexplain`` command (its options are the fields of :class:`Config`)."""
    main = argparse.ArgumentParser(prog="seedexplain", description=__doc__.split("\n\n")[0], allow_abbrev=False)
    commands = main.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", allow_abbrev=False,
                              help="train, explain and write a report (cached: a re-run resumes)",
                              description="Train every seed of every family, explain the test texts, write a report.")
    run.add_argument("--out", help="report folder (default: seedexplain-runs/<configuration hash>)")
    run.add_argument("--profile", default="full", help=f"sizes of the run: one of {', '.join(PROFILES)}; "
                     "quick: " + ", ".join(f"{k}={v}" for k, v in PROFILE_DEFAULTS["quick"].items()))
    for field in dataclasses.fields(Config):
        if field.name == "profile":
            continue
        run.add_argument(f"--{field.name.replace('_', '-')}", dest=field.name, default=argparse.SUPPRESS,
                         metavar=field.name.upper(),
                         help=f"{_allowed(field.name)} (default {field.default!r}, or the profile's)")
    rebuild = commands.add_parser("report", help="rebuild a report folder from the artifact cache")
    rebuild.add_argument("folder", help=f"a report folder written by `seedexplain run` (it holds {RUN_FILE})")
    return main


def config_from_args(options: argparse.Namespace) -> Config:
    """Return the validated configuration of ``seedexplain run``'s options.

    Paths (a CSV dataset, a model folder, the artifact cache) are made absolute, so that ``seedexplain report``
    finds them from any directory.
    """
    overrides = {k: v for k, v in vars(options).items() if k not in ("command", "out", "profile")}
    overrides["artifacts"] = os.path.abspath(overrides.get("artifacts", Config.artifacts))
    for name in ("dataset", "transformer"):
        if name in overrides and os.path.exists(overrides[name]):
            overrides[name] = os.path.abspath(overrides[name])
    return make_config(options.profile, **overrides)


def _labels(config: Config) -> dict[str, str]:
    """Return a readable name of every family of ``config``, e.g. "transformer (minilm-l6)"."""
    return {f.name: f"{f.name} ({getattr(f, 'model', None) or getattr(f, 'features', '')})"
            for f in families(config)}


def _pair(config: Config) -> tuple[str, str] | None:
    """Return the two families the report compares: the paper's claim when the run has both, else the first two."""
    if set(report.CLAIM) <= set(config.families):
        return report.CLAIM
    return tuple(config.families[:2]) if len(config.families) >= 2 else None


def write_report(results: Results, folder: Path) -> Path:
    """Write the report of ``results`` into ``folder`` (atomically: a finished folder or none); return its page."""
    config = results.config
    folder.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
    tables = {"summary": report.snr_summary(results), "per_text_snr": results.snr_table(),
              "accuracy": results.accuracy}
    pair = _pair(config)
    if pair:
        tables["comparison"] = report.seed_level_tests(results, pair=pair)
    for name, table in tables.items():
        table.to_csv(work / f"{name}.csv", index=False)
    labels = _labels(config)
    examples = []
    for k, i in enumerate(report.example_texts(results, n=min(N_EXAMPLES, len(results.data.test_short.texts)))):
        texts = {family: results.explanations(family, "test_short")[i] for family in results.families}
        words = next(iter(texts.values())).words
        fig = plots.word_heatmap(words, {f: t.attributions for f, t in texts.items()}, labels)
        examples.append(plots.save_figure(fig, f"heatmap_{k}", str(work)).name)
        plots.plt.close(fig)
    (work / "report.html").write_text(_page(config, tables, examples, labels, pair), encoding="utf-8")
    (work / RUN_FILE).write_text(json.dumps({"config": config.to_dict()}, indent=1), encoding="utf-8")
    if folder.exists():
        old = folder.with_name(f".{folder.name}.old")
        os.replace(folder, old)
        os.replace(work, folder)
        shutil.rmtree(old)
    else:
        os.replace(work, folder)
    return folder / "report.html"


def _page(config: Config, tables: dict[str, pd.DataFrame], examples: Sequence[str], labels: dict[str, str],
          pair: tuple[str, str] | None) -> str:
    """Return the report's HTML page (self-contained but for the heatmap images beside it)."""
    def table(name: str, frame: pd.DataFrame) -> str:
        return f"<h2>{html.escape(name)}</h2>\n" + frame.to_html(index=False, float_format=lambda x: f"{x:.4g}")

    summary = tables["summary"].query("definition == 'A'")
    parts = [f"<h1>seedexplain report</h1><p>{len(config.seeds)} seeds ({config.randomness}), method "
             f"{html.escape(config.method)}, dataset {html.escape(config.dataset)}; families: "
             f"{html.escape(', '.join(labels.values()))}.</p>",
             table("Median per-text SNR (definition A) with its 95% bootstrap interval (texts and seeds "
                   "resampled)", summary[["family", "split", "median_snr", "ci_low", "ci_high",
                                          "median_signal", "median_noise", "n_texts"]])]
    if pair:
        parts.append(table(f"Seed-level comparison: log(median SNR {pair[0]} / median SNR {pair[1]}); the "
                           "interval and p-value are about the two families (seeds are the replications), "
                           "Holm-adjusted over the rows", tables["comparison"]))
    parts.append(table("Accuracy per seed", tables["accuracy"]))
    parts += [f'<h2>Text {k + 1}: attributions by every seed</h2><img src="{name}" alt="word heatmap {k + 1}" '
              'style="max-width:100%">' for k, name in enumerate(examples)]
    parts.append("<p>Tables as CSV beside this page: " + ", ".join(f"{n}.csv" for n in tables) + ".</p>")
    return "<!DOCTYPE html><html><head><meta charset='utf-8'><title>seedexplain report</title></head><body>\n" \
        + "\n".join(parts) + "\n</body></html>\n"


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``seedexplain`` command with ``argv`` (default: the process's arguments); return its exit code."""
    options = parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    try:
        if options.command == "run":
            config = config_from_args(options)
            folder = Path(options.out or Path("seedexplain-runs") / params_key(config.to_dict()))
        else:
            folder = Path(options.folder)
            if not (folder / RUN_FILE).is_file():
                raise ValueError(f"folder={str(folder)!r} holds no {RUN_FILE}: give a folder written by "
                                 "`seedexplain run`")
            saved = json.loads((folder / RUN_FILE).read_text(encoding="utf-8"))["config"]
            config = make_config(saved.pop("profile"), **saved)
    except (ValueError, TypeError) as error:
        print(f"seedexplain: error: {error}", file=sys.stderr)
        return 2
    page = write_report(pipeline.run(config), folder)
    print(f"report: {page.resolve()}")
    return 0
