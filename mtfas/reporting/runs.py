"""Collect several test runs (folds, seeds) into one table with mean +- std.

:func:`collect_runs` reads the ``results.csv`` every test run writes
(:mod:`mtfas.reporting.results`); a folder without one is searched recursively, so the
parent of several runs can be given. A results file that cannot be read completely (cut
short, rows of the wrong length, columns missing) is refused by name, never averaged.

Runs are only averaged when they are runs of one experiment: the same method (model class
and arguments) on the same data (data module class and arguments, ignoring the fold or
sub-protocol, paths, workers and batch sizes), as recorded in the ``config.yaml`` that the
command line saves beside each run (read as data with ``yaml.safe_load``). Runs that differ
are refused unless ``mixed=True`` (``mtfas report --mixed``); runs without a saved
configuration cannot be checked and are counted in the markdown notes.

``std`` is the sample standard deviation (``n - 1``); with one run it is undefined and the
mean is shown as ``n=1``. A species absent from some runs is averaged over the runs that
have it, and the markdown says so.
"""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Sequence
from pathlib import Path

import pandas as pd
import yaml

from mtfas.errors import DatasetError
from mtfas.reporting.results import RESULTS_CSV
from mtfas.reporting.tables import markdown_table, mean_std, percent, spread

__all__ = [
    "REPORT_CSV",
    "REPORT_MD",
    "collect_runs",
    "find_runs",
    "last_logged",
    "read_results",
    "run_identity",
    "runs_markdown",
    "summarise_runs",
]

REPORT_CSV = "report.csv"
REPORT_MD = "report.md"
#: The configuration LightningCLI saves in each run folder.
RUN_CONFIG = "config.yaml"
#: Data arguments that do not change what the data is (folds are averaged on purpose).
_SAME_DATA_KEYS = frozenset(
    {
        "fold",
        "subprotocol",
        "root",
        "data_root",
        "cache_dir",
        "num_workers",
        "preprocess_workers",
        "batch_size",
        "eval_batch_size",
        "pin_memory",
    }
)
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
_REQUIRED = ("report", "apcer", "bpcer", "acer")


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


def read_results(path: str | Path) -> pd.DataFrame:
    """Read a ``results.csv`` completely, or refuse it by name.

    Raises:
        DatasetError: If the file cannot be read, is cut short, has rows of another length
            than its header, or lacks the columns of an mtfas results file.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise DatasetError(f"cannot read {path}: {exc}") from exc
    rows = list(csv.reader(text.splitlines()))
    problem = None
    if not rows or not text.endswith("\n"):
        problem = "it is empty or cut short (no final line end)"
    elif any(c not in rows[0] for c in _REQUIRED):
        problem = f"it lacks the columns {[c for c in _REQUIRED if c not in rows[0]]}"
    elif len(rows) < 2:
        problem = "it holds no report"
    else:
        bad = [i + 1 for i, row in enumerate(rows) if len(row) != len(rows[0])]
        if bad:
            problem = f"lines {bad} do not have the {len(rows[0])} fields of its header"
        elif _older_bpcer_columns(rows[0]):
            problem = (
                "it was written before BPCER@APCER was taken at the worst species' APCER (its "
                "'bpcer@apcer=...' columns are the pooled variant, and it has no "
                "'bpcer@apcer_pooled=...' columns), so it cannot be averaged with newer runs"
            )
    if problem:
        raise DatasetError(
            f"{path} is not a complete mtfas results file: {problem}. Rerun `mtfas test` for "
            "that run, or leave its folder out."
        )
    return pd.read_csv(path)


def _older_bpcer_columns(header: Sequence[str]) -> bool:
    """Whether a results header is of the format whose ``bpcer@apcer=x`` was pooled."""
    worst = any(c.startswith("bpcer@apcer=") for c in header)
    return worst and not any(c.startswith("bpcer@apcer_pooled=") for c in header)


def last_logged(run: str | Path, names: Sequence[str]) -> dict[str, float]:
    """The last value a run's ``metrics.csv`` (CSVLogger) logged of each of ``names``.

    Returns:
        ``{name: value}``, NaN for a name never logged (or a run without ``metrics.csv``,
        e.g. a W&B run: its values are in W&B).

    Raises:
        DatasetError: If ``metrics.csv`` exists but cannot be read.
    """
    path = Path(run) / "metrics.csv"
    found = {name: float("nan") for name in names}
    if not path.is_file():
        return found
    try:
        table = pd.read_csv(path)
    except (OSError, ValueError) as exc:
        raise DatasetError(f"cannot read {path}: {exc}") from exc
    for name in names:
        if name in table:
            logged = table[name].dropna()
            if len(logged):
                found[name] = float(logged.iloc[-1])
    return found


def run_identity(run: Path) -> tuple[str, str] | None:
    """``(method, data)`` of a run from its saved ``config.yaml``; ``None`` if it has none.

    Raises:
        DatasetError: If the saved configuration cannot be parsed.
    """
    path = run / RUN_CONFIG
    if not path.is_file():
        return None
    try:
        config = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise DatasetError(f"cannot read the run configuration {path}: {exc}") from exc
    model = config.get("model") or {}
    data = config.get("data") or {}
    data_args = {k: v for k, v in (data.get("init_args") or {}).items() if k not in _SAME_DATA_KEYS}
    method = json.dumps(
        [model.get("class_path"), model.get("init_args")], sort_keys=True, default=str
    )
    described = json.dumps([data.get("class_path"), data_args], sort_keys=True, default=str)
    return method, described


def _label(run: Path, runs: Sequence[Path]) -> str:
    if len(runs) == 1:
        return run.name or str(run)
    common = Path(os.path.commonpath([str(r.resolve()) for r in runs]))
    relative = run.resolve().relative_to(common)
    return str(relative) if str(relative) != "." else run.name


def _check_same_experiment(runs: Sequence[Path], mixed: bool) -> int:
    """Refuse runs of different methods or data; return how many could not be checked."""
    identities = {run: run_identity(run) for run in runs}
    known = {run: ident for run, ident in identities.items() if ident is not None}
    for index, what in ((0, "methods (model class or arguments)"), (1, "data")):
        groups: dict[str, list[str]] = {}
        for run, ident in known.items():
            groups.setdefault(ident[index], []).append(str(run))
        if len(groups) > 1 and not mixed:
            listing = "; ".join(f"[{', '.join(g)}]" for g in groups.values())
            raise DatasetError(
                f"these runs are of different {what} and would be averaged together: "
                f"{listing}. Report each group separately, or pass --mixed to average them "
                "anyway."
            )
    return len(runs) - len(known)


def collect_runs(
    paths: Sequence[str | Path], report: str = "test", mixed: bool = False
) -> pd.DataFrame:
    """One row per run: ``run``, ``worst_species`` and the values of one report.

    Args:
        paths: Run folders, or folders holding runs.
        report: Which report of each run: ``test`` (dev threshold), ``dev`` or
            ``test_idealised``.
        mixed: Average runs of different methods or data too.

    Returns:
        The table; ``attrs["unchecked"]`` counts the runs without a saved configuration.

    Raises:
        DatasetError: If no run is found, a results file is incomplete or malformed, a run
            lacks the report, or the runs differ in method or data (without ``mixed``).
    """
    runs = find_runs(paths)
    unchecked = _check_same_experiment(runs, mixed)
    rows = []
    for run in runs:
        table = read_results(run / RESULTS_CSV)
        match = table[table["report"] == report]
        if match.empty:
            raise DatasetError(
                f"run {run} has no {report!r} report (it has {table['report'].tolist()}); "
                "choose another with --report."
            )
        row = match.iloc[0].drop(labels="report").to_dict()
        rows.append({"run": _label(run, runs), **row})
    table = pd.DataFrame(rows)
    table.attrs["unchecked"] = unchecked
    return table


def summarise_runs(table: pd.DataFrame) -> pd.DataFrame:
    """The run table followed by ``mean`` and ``std`` rows of every numeric column.

    ``std`` is the sample standard deviation (NaN for a single run). Missing values (a
    species absent from a run) are left out of that column's mean and std.
    """
    numeric = table.select_dtypes("number")
    stats = {column: mean_std(numeric[column]) for column in numeric.columns}
    mean = {"run": "mean", **{c: s[0] for c, s in stats.items()}}
    std = {"run": "std", **{c: s[1] for c, s in stats.items()}}
    summary = pd.concat([table, pd.DataFrame([mean, std])], ignore_index=True)
    summary.attrs.update(table.attrs)
    return summary


def runs_markdown(summary: pd.DataFrame, title: str = "Runs", report: str = "test") -> str:
    """The summary of :func:`summarise_runs` as markdown (percent, ``mean ± std`` row)."""
    runs = summary[~summary["run"].isin(["mean", "std"])]
    mean = summary[summary["run"] == "mean"].iloc[0]
    std = summary[summary["run"] == "std"].iloc[0]
    species = [c for c in summary.columns if c.startswith("apcer/")]
    columns = ["apcer", *species, *(c for c in _SHOWN[1:] if c in summary.columns)]
    header = ["run", *(_LABELS[c] if c in _LABELS else f"APCER {c[6:]}" for c in columns)]
    header.insert(2, "worst species")
    rows = []
    for _, row in runs.iterrows():
        cells = [str(row["run"]), *(percent(row[c]) for c in columns)]
        cells.insert(2, str(row.get("worst_species", "")))
        rows.append(cells)
    counts = {c: int(runs[c].notna().sum()) for c in columns}
    cells = [spread(mean[c], std[c], counts[c]) for c in columns]
    rows.append(["mean ± std", cells[0], "", *cells[1:]])
    notes = [
        f"{len(runs)} run(s), report `{report}`; rates in percent; std is the sample standard "
        "deviation over runs."
    ]
    for column in species:
        if counts[column] < len(runs):
            notes.append(
                f"{column}: the species is absent from {len(runs) - counts[column]} run(s); "
                f"its mean is over the {counts[column]} run(s) that have it."
            )
    unchecked = int(summary.attrs.get("unchecked", 0))
    if unchecked:
        notes.append(
            f"{unchecked} run(s) have no saved {RUN_CONFIG}: whether they are of the same "
            "method and data could not be checked."
        )
    return "\n".join([f"### {title}", "", markdown_table(header, rows), "", *notes]) + "\n"
