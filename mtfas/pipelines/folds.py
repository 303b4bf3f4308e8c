"""Every fold or sub-protocol of a protocol, and their mean +- std.

``mtfas folds [fit arguments ...] [--folds 1 2 ...] [--key KEY] [--out DIR]`` trains and
tests one model per fold, each exactly as ``mtfas fit [fit arguments ...]
--data.init_args.<key> K`` would (the threshold is chosen on the fold's dev set and applied
unchanged to its test set). The data module says what its folds are
(:meth:`FASDataModule.fold_plan`): the six leave-one-phone-out folds of OULU-NPU protocols
3 and 4 (key ``fold``), the four sub-protocols of SiW protocol 2 and the two of SiW
protocol 3 (key ``subprotocol``); ``--folds`` and ``--key`` override it. Each fold's run
goes to ``<out>/runs/fold_K``; ``folds.csv`` (one row per fold, then ``mean`` and ``std``)
and ``folds.md`` (percent, each row linked to its run folder) go to ``<out>``. Papers
report these protocols as mean +- std over folds; ``std`` is the sample standard deviation
(``n - 1``), and a single fold is shown as ``n=1``.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping, Sequence
from pathlib import Path

import pandas as pd

from mtfas.errors import ConfigError
from mtfas.pipelines.jobs import Job, JobResult, Runner, run_jobs
from mtfas.reporting.tables import markdown_table, percent, spread, summarise, write_tables

__all__ = ["RATE_COLUMNS", "fold_jobs", "fold_table", "plan_folds", "run_folds"]

#: Rates of the per-fold table (fractions).
RATE_COLUMNS = ("apcer", "bpcer", "acer")


def plan_folds(class_path: str, init_args: Mapping[str, object]) -> tuple[str, list[int]]:
    """The fold key and values a data module declares for its protocol.

    Args:
        class_path: The data module's resolved class path (from the parsed configuration).
        init_args: Its resolved init arguments.

    Raises:
        ConfigError: If the class cannot be imported or its protocol has no folds.
    """
    module_name, _, class_name = class_path.rpartition(".")
    try:
        klass = getattr(importlib.import_module(module_name), class_name)
    except (ImportError, AttributeError, ValueError) as exc:
        raise ConfigError(f"cannot import the data module {class_path}: {exc}") from exc
    plan = klass.fold_plan(dict(init_args)) if hasattr(klass, "fold_plan") else None
    if plan is None:
        raise ConfigError(
            f"{class_name} with protocol {init_args.get('protocol', 'default')!r} has no "
            "folds or sub-protocols; use `mtfas fit`, or pass --key and --folds"
        )
    key, folds = plan
    return key, [int(k) for k in folds]


def fold_jobs(key: str, folds: Sequence[int]) -> list[Job]:
    """One job per fold, selecting it with ``--data.init_args.<key> K``.

    Raises:
        ConfigError: If no fold is given or folds repeat.
    """
    folds = [int(k) for k in folds]
    if not folds or len(set(folds)) != len(folds):
        raise ConfigError(f"folds must be distinct fold numbers, got {folds}")
    return [Job(f"{key}_{k}", (f"--data.init_args.{key}", str(k)), {key: k}) for k in folds]


def fold_table(results: Sequence[JobResult], out_dir: str | Path) -> pd.DataFrame:
    """Per-fold rows (with each run folder) followed by ``mean`` and ``std`` rows."""
    rows = []
    for result in results:
        test = result.test_report()
        rows.append(
            {
                "fold": str(next(iter(result.job.labels.values()))),
                "apcer": test.apcer,
                "worst_species": test.worst_species,
                "bpcer": test.bpcer,
                "acer": test.acer,
                "threshold": test.threshold,
                "run": _relative(result.run_dir, out_dir),
            }
        )
    table = pd.DataFrame(rows)
    summary = summarise(table, RATE_COLUMNS).iloc[0]
    mean = {"fold": "mean", **{c: summary[f"{c}_mean"] for c in RATE_COLUMNS}}
    std = {"fold": "std", **{c: summary[f"{c}_std"] for c in RATE_COLUMNS}}
    return pd.concat([table, pd.DataFrame([mean, std])], ignore_index=True)


def _relative(path: Path | None, root: str | Path) -> str:
    if path is None:
        return ""
    try:
        return str(Path(path).resolve().relative_to(Path(root).resolve()))
    except ValueError:
        return str(path)


def _markdown(table: pd.DataFrame, title: str) -> str:
    folds = table[~table["fold"].isin(["mean", "std"])]
    rows = [
        [
            f"[{row['fold']}]({row['run']})" if row["run"] else str(row["fold"]),
            percent(float(row["apcer"])),
            str(row["worst_species"]),
            percent(float(row["bpcer"])),
            percent(float(row["acer"])),
        ]
        for row in folds.to_dict("records")
    ]
    n = len(folds)
    mean = table[table["fold"] == "mean"].iloc[0]
    std = table[table["fold"] == "std"].iloc[0]
    cells = [spread(mean[c], std[c], n) for c in RATE_COLUMNS]
    rows.append(["mean ± std", cells[0], "", cells[1], cells[2]])
    header = ["fold", "APCER (worst) %", "worst species", "BPCER %", "ACER %"]
    notes = (
        f"{n} fold(s); each at the threshold chosen on its own dev set; std is the sample "
        "standard deviation over folds; each fold links to its run folder."
    )
    return f"### {title}\n\n{markdown_table(header, rows)}\n\n{notes}\n"


def run_folds(
    jobs: Sequence[Job], runner: Runner, out_dir: str | Path, title: str = "folds"
) -> pd.DataFrame:
    """Run one fit + test per fold, then write ``folds.csv`` / ``folds.md`` to ``out_dir``.

    Returns:
        The table written to ``folds.csv``.
    """
    table = fold_table(run_jobs(jobs, runner, out_dir), out_dir)
    write_tables(out_dir, "folds", table, _markdown(table, title))
    return table
