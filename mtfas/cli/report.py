"""``mtfas report``: collect several test runs into one table with mean +- std."""

from __future__ import annotations

from pathlib import Path
from typing import Any

DESCRIPTION = "Collect the results of several test runs (folds, seeds) into mean ± std."


def add_arguments(parser: Any) -> None:
    """Add the options of ``mtfas report`` to ``parser``."""
    parser.description = (
        "Collect the results.csv of several test runs (folds, seeds) into one table with "
        "mean +- std; writes report.csv and report.md. Runs of different methods or data "
        "are refused unless --mixed."
    )
    parser.add_argument("runs", type=str, nargs="+", help="Run folders, or folders holding runs.")
    parser.add_argument(
        "--report",
        default="test",
        choices=["test", "dev", "test_idealised"],
        help="test: at the dev-chosen threshold (default); dev; test_idealised.",
    )
    parser.add_argument("--out", type=str, default=".", help="Folder for report.csv and report.md.")
    parser.add_argument("--title", type=str, default="Runs", help="Heading of the markdown table.")
    parser.add_argument(
        "--mixed", action="store_true", help="Average runs of different methods or data too."
    )


def run(args: Any) -> int:
    """Run ``mtfas report`` with parsed arguments; returns the exit status."""
    from mtfas.reporting.runs import REPORT_CSV, collect_runs, runs_markdown, summarise_runs
    from mtfas.reporting.tables import write_tables

    summary = summarise_runs(collect_runs(args.runs, args.report, mixed=args.mixed))
    write_tables(
        Path(args.out),
        Path(REPORT_CSV).stem,
        summary,
        runs_markdown(summary, args.title, args.report),
    )
    return 0
