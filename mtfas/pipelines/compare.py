"""Compare supervision methods on one benchmark: MT-FAS vs handcrafted vs teacher-student.

``mtfas compare --config CONFIG.yaml [--seeds 0 1 2] [--methods ...] [--out DIR] [fit args]``
trains and tests, for every seed, the same student on the same data (the config's data
module, trainer and student) with each supervision method, exactly as ``mtfas fit`` would
(threshold chosen on dev, applied unchanged to test), then writes ``compare.csv`` (one row
per run) and ``compare.md`` (test APCER, BPCER and ACER as mean +- std over seeds, per
method) and prints the markdown table.

Methods (model overrides applied on top of the config; the config's ``student`` and, where
the method has one, ``teacher`` are kept):

* ``mtfas``: :class:`~mtfas.MetaTeacherSystem` (the meta-learned teacher);
* ``binary_map``: :class:`~mtfas.SupervisedSystem`, ZeroMap / OneMap pixel-wise supervision;
* ``map_mean_bce``: :class:`~mtfas.SupervisedSystem`, binary cross-entropy on the map mean;
* ``teacher_student``: :class:`~mtfas.TeacherStudentSystem`, a teacher trained for
  accuracy and distilled into the student.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from mtfas.errors import ConfigError
from mtfas.pipelines.folds import FitRunner, fit_in_process, write_tables

#: Model overrides (LightningCLI arguments) of each method.
METHODS: dict[str, list[str]] = {
    "mtfas": ["--model.class_path", "mtfas.MetaTeacherSystem"],
    "binary_map": [
        "--model.class_path", "mtfas.SupervisedSystem", "--model.init_args.loss", "binary_map",
    ],
    "map_mean_bce": [
        "--model.class_path", "mtfas.SupervisedSystem", "--model.init_args.loss", "map_mean_bce",
    ],
    "teacher_student": ["--model.class_path", "mtfas.TeacherStudentSystem"],
}
RATES = ("apcer", "bpcer", "acer")


def summarise(runs: pd.DataFrame) -> pd.DataFrame:
    """Mean and sample std (over seeds) of each rate, per method, in the methods' order."""
    grouped = runs.groupby("method", sort=False)[list(RATES)]
    mean, std = grouped.mean(), grouped.std(ddof=1)
    table = pd.DataFrame({"method": mean.index, "runs": grouped.size().to_numpy()})
    for rate in RATES:
        table[f"{rate}_mean"] = mean[rate].to_numpy()
        table[f"{rate}_std"] = std[rate].to_numpy()
    return table


def to_markdown(summary: pd.DataFrame, title: str) -> str:
    """The summary in percent as a markdown table."""
    lines = [
        f"### {title}",
        "",
        "| method | runs | APCER (worst) % | BPCER % | ACER % |",
        "|---|---|---|---|---|",
    ]
    for row in summary.itertuples():
        cells = [
            f"{100 * getattr(row, f'{r}_mean'):.2f} ± {100 * getattr(row, f'{r}_std'):.2f}"
            for r in RATES
        ]
        lines.append(f"| {row.method} | {row.runs} | {' | '.join(cells)} |")
    lines += ["", "Test set at the threshold chosen on dev; ± is the sample std over seeds."]
    return "\n".join(lines) + "\n"


def run_compare(
    fit_args: Sequence[str],
    methods: Sequence[str],
    seeds: Sequence[int],
    out_dir: str | Path,
    title: str = "supervision comparison",
    runner: FitRunner = fit_in_process,
) -> pd.DataFrame:
    """Fit and test every (method, seed), write ``compare.csv`` / ``compare.md``.

    Returns:
        The per-method summary.

    Raises:
        ConfigError: For an unknown method, or no seed.
    """
    unknown = [m for m in methods if m not in METHODS]
    if unknown:
        raise ConfigError(f"unknown methods {unknown}; choose from {list(METHODS)}")
    if not seeds:
        raise ConfigError("give at least one seed")
    rows = []
    for seed in seeds:
        for method in methods:
            print(f"=== {method}, seed {seed} ===", flush=True)
            reports = runner([*fit_args, *METHODS[method], "--seed_everything", str(seed)])
            if "test" not in reports:
                raise ConfigError(f"{method} (seed {seed}) produced no test report")
            test = reports["test"]
            rows.append(
                {"method": method, "seed": seed, "apcer": test.apcer, "bpcer": test.bpcer,
                 "acer": test.acer, "worst_species": test.worst_species}
            )
    runs = pd.DataFrame(rows)
    summary = summarise(runs)
    write_tables(out_dir, "compare", runs, to_markdown(summary, title))
    return summary


def compare_main(argv: Sequence[str]) -> int:
    """``mtfas compare``: entry point of the command line."""
    parser = argparse.ArgumentParser(
        prog="mtfas compare",
        description="Train and test MT-FAS and the baselines with several seeds; unknown "
        "arguments are passed to every `mtfas fit`.",
    )
    parser.add_argument("--config", required=True, help="Config of the benchmark and student.")
    parser.add_argument("--methods", nargs="+", default=list(METHODS), choices=list(METHODS))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--out", default="runs/compare", help="Output folder.")
    args, fit_args = parser.parse_known_args(list(argv))
    run_compare(["--config", args.config, *fit_args], args.methods, args.seeds, args.out,
                title=f"supervision comparison: {Path(args.config).name}")
    return 0
