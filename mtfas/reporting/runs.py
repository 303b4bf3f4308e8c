"""Collect several test runs (folds, seeds) into one table with mean +- std.

``mtfas report RUN_DIR... [--report test] [--out DIR]`` reads the ``results.csv`` every
test run writes (:mod:`mtfas.reporting.results`). A folder without ``results.csv`` is searched
recursively, so the parent of several runs can be given. It writes ``report.csv`` (one row
per run, then ``mean`` and ``std``; rates as fractions) and ``report.md`` (percent, with a
``mean ± std`` row) to ``--out`` and prints the markdown. ``std`` is the sample standard
deviation (``n - 1``); with one run it is undefined and shown as ``-``. A species absent
from some runs is averaged over the runs that have it, and the markdown says so.
"""

from __future__ import annotations

import argparse
import math
import os
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from mtfas.errors import ConfigError, DatasetError
from mtfas.reporting.results import RESULTS_CSV, markdown_table

__all__ = ["collect_runs", "find_runs", "report_main", "runs_markdown", "summarise_runs"]

REPORT_CSV = "report.csv"
REPORT_MD = "report.md"
#: Columns shown in the markdown table, in order (species columns go after ``apcer``).
_SHOWN = ("apcer", "apcer_pooled", "bpcer", "acer", "hter", "eer", "auc")
_LABELS = {
    "apcer": "APCER (worst)",
    "apcer_pooled": "APCER pooled",
    "bpcer": "BPCER",
    "acer": "ACER",
    "hter": "HTER",
    "eer": "EER",
    "auc": "AUC",
}


def find_runs(paths: Sequence[str | Path]) -> list[Path]:
    """Run folders (holding ``results.csv``) in the given folders, searched recursively.

    Raises:
        DatasetError: If a path does not exist or holds no run.
    """
    runs: list[Path] = []
    for path in map(Path, paths):
        if not path.exists():
            raise DatasetError(f"{path} does not exist; give run folders written by mtfas test.")
        if path.is_file() and path.name == RESULTS_CSV:
            found = [path.parent]
        elif (path / RESULTS_CSV).is_file():
            found = [path]
        else:
            found = sorted(p.parent for p in path.rglob(RESULTS_CSV))
        if not found:
            raise DatasetError(
                f"no {RESULTS_CSV} in {path} or below it: every `mtfas test` (and `fit`, which "
                "tests after training) writes one to its log folder."
            )
        runs += [run for run in found if run not in runs]
    return runs


def _label(run: Path, runs: Sequence[Path]) -> str:
    if len(runs) == 1:
        return run.name or str(run)
    common = Path(os.path.commonpath([str(r.resolve()) for r in runs]))
    relative = run.resolve().relative_to(common)
    return str(relative) if str(relative) != "." else run.name


def collect_runs(paths: Sequence[str | Path], report: str = "test") -> pd.DataFrame:
    """One row per run: ``run``, ``worst_species`` and the values of one report.

    Args:
        paths: Run folders, or folders holding runs.
        report: Which report of each run: ``test`` (dev threshold), ``dev`` or
            ``test_idealised``.

    Raises:
        DatasetError: If no run is found, a results file is malformed, or a run lacks
            the report.
    """
    runs = find_runs(paths)
    rows = []
    for run in runs:
        table = pd.read_csv(run / RESULTS_CSV)
        if "report" not in table.columns:
            raise DatasetError(f"{run / RESULTS_CSV} is not an mtfas results file (no 'report').")
        match = table[table["report"] == report]
        if match.empty:
            raise DatasetError(
                f"run {run} has no {report!r} report (it has {table['report'].tolist()}); "
                "choose another with --report."
            )
        row = match.iloc[0].drop(labels="report").to_dict()
        rows.append({"run": _label(run, runs), **row})
    return pd.DataFrame(rows)


def summarise_runs(table: pd.DataFrame) -> pd.DataFrame:
    """The run table followed by ``mean`` and ``std`` rows of every numeric column.

    ``std`` is the sample standard deviation (NaN for a single run). Missing values (a
    species absent from a run) are left out of that column's mean and std.
    """
    numeric = table.select_dtypes("number")
    mean = {"run": "mean", **numeric.mean().to_dict()}
    std = {"run": "std", **numeric.std(ddof=1).to_dict()}
    return pd.concat([table, pd.DataFrame([mean, std])], ignore_index=True)


def _pct(value: float) -> str:
    return "-" if value is None or math.isnan(value) else f"{100 * value:.2f}"


def runs_markdown(summary: pd.DataFrame, title: str = "Runs", report: str = "test") -> str:
    """The summary of :func:`summarise_runs` as markdown (percent, ``mean ± std`` row)."""
    runs = summary[~summary["run"].isin(["mean", "std"])]
    mean = summary[summary["run"] == "mean"].iloc[0]
    std = summary[summary["run"] == "std"].iloc[0]
    species = [c for c in summary.columns if c.startswith("apcer/")]
    columns = ["apcer", *species, *_SHOWN[1:]]
    header = ["run", *(_LABELS[c] if c in _LABELS else f"APCER {c[6:]}" for c in columns)]
    header.insert(2, "worst species")
    rows = []
    for _, row in runs.iterrows():
        cells = [str(row["run"]), *(_pct(row[c]) for c in columns)]
        cells.insert(2, str(row.get("worst_species", "")))
        rows.append(cells)
    spread = [_pct(mean[c]) + ("" if math.isnan(std[c]) else f" ± {_pct(std[c])}") for c in columns]
    rows.append(["mean ± std", spread[0], "", *spread[1:]])
    notes = [
        f"{len(runs)} run(s), report `{report}`; rates in percent; std is the sample standard "
        "deviation over runs."
    ]
    for column in species:
        present = int(runs[column].notna().sum())
        if present < len(runs):
            notes.append(
                f"{column}: the species is absent from {len(runs) - present} run(s); its "
                f"mean is over the {present} run(s) that have it."
            )
    return "\n".join([f"### {title}", "", markdown_table(header, rows), "", *notes]) + "\n"


def report_main(argv: Sequence[str]) -> int:
    """``mtfas report``: collect runs into one table with mean +- std."""
    parser = argparse.ArgumentParser(
        prog="mtfas report",
        allow_abbrev=False,
        description="Collect the results.csv of several test runs (folds, seeds) into one "
        "table with mean +- std; writes report.csv and report.md.",
    )
    parser.add_argument("runs", nargs="+", help="Run folders, or folders holding runs.")
    parser.add_argument(
        "--report",
        default="test",
        choices=["test", "dev", "test_idealised"],
        help="test: at the dev-chosen threshold (default); dev; test_idealised.",
    )
    parser.add_argument("--out", default=".", help="Folder for report.csv and report.md.")
    parser.add_argument("--title", default="Runs", help="Heading of the markdown table.")
    args = parser.parse_args(list(argv))
    try:
        summary = summarise_runs(collect_runs(args.runs, args.report))
    except (DatasetError, ConfigError) as exc:
        parser.exit(2, f"mtfas report: error: {exc}\n")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    summary.to_csv(out / REPORT_CSV, index=False)
    markdown = runs_markdown(summary, args.title, args.report)
    (out / REPORT_MD).write_text(markdown, encoding="utf-8")
    print(markdown)
    print(f"Wrote {out / REPORT_CSV} and {out / REPORT_MD}")
    return 0
