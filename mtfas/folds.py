"""Run every fold of a folded protocol (OULU-NPU protocols 3 and 4) and summarise them.

``mtfas folds --config CONFIG.yaml [--folds 1 2 ...] [--out DIR] [fit arguments ...]``
trains and tests one model per fold, in sequence and in this process, each exactly as
``mtfas fit --config CONFIG.yaml --data.init_args.fold K [fit arguments ...]`` would (the
threshold is chosen on the fold's dev set and applied unchanged to its test set). It
then writes ``folds.csv`` (one row per fold, then ``mean`` and ``std``) and ``folds.md``
(the same in percent) to the output folder and prints the markdown table. Papers report
protocols 3 and 4 as mean +- std over the six folds; ``std`` here is the sample standard
deviation (``n - 1`` in the denominator).
"""

from __future__ import annotations

import argparse
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path

import pandas as pd

from mtfas.errors import ConfigError
from mtfas.metrics.report import PADReport

#: Columns of the per-fold table (rates are fractions).
RATE_COLUMNS = ("apcer", "bpcer", "acer")

FitRunner = Callable[[list[str]], dict[str, PADReport]]


def fold_row(fold: int, reports: dict[str, PADReport]) -> dict[str, object]:
    """One row of the fold table from a fold's ``test_reports``.

    Raises:
        ConfigError: If the fold produced no test report at the dev threshold.
    """
    if "test" not in reports or "dev" not in reports:
        raise ConfigError(
            f"fold {fold} produced no test report at a dev-chosen threshold; keep "
            "--test_after_fit true and let the data module return [dev, test] test loaders"
        )
    test = reports["test"]
    return {
        "fold": str(fold),
        "apcer": test.apcer,
        "worst_species": test.worst_species,
        "bpcer": test.bpcer,
        "acer": test.acer,
        "threshold": test.threshold,
    }


def summarise(rows: list[dict[str, object]]) -> pd.DataFrame:
    """Per-fold rows followed by ``mean`` and ``std`` (sample std; NaN for one fold)."""
    table = pd.DataFrame(rows)
    rates = table[list(RATE_COLUMNS)].astype(float)
    mean = {"fold": "mean", **rates.mean().to_dict()}
    std = {"fold": "std", **rates.std(ddof=1).to_dict()}
    return pd.concat([table, pd.DataFrame([mean, std])], ignore_index=True)


def to_markdown(table: pd.DataFrame, title: str) -> str:
    """The fold table in percent, with a final ``mean +- std`` line, as markdown."""
    lines = [
        f"### {title}",
        "",
        "| fold | APCER (worst) % | worst species | BPCER % | ACER % |",
        "|---|---|---|---|---|",
    ]
    folds = table[~table["fold"].isin(["mean", "std"])]
    for row in folds.itertuples():
        lines.append(
            f"| {row.fold} | {100 * row.apcer:.2f} | {row.worst_species} | "
            f"{100 * row.bpcer:.2f} | {100 * row.acer:.2f} |"
        )
    mean = table[table["fold"] == "mean"].iloc[0]
    std = table[table["fold"] == "std"].iloc[0]
    cells = [f"{100 * mean[c]:.2f} ± {100 * std[c]:.2f}" for c in RATE_COLUMNS]
    lines.append(f"| mean ± std | {cells[0]} | | {cells[1]} | {cells[2]} |")
    lines += [
        "",
        f"{len(folds)} folds; each at the threshold chosen on its own dev set; std is the "
        "sample standard deviation over folds.",
    ]
    return "\n".join(lines) + "\n"


def fit_in_process(args: list[str]) -> dict[str, PADReport]:
    """Run ``mtfas fit`` with ``args`` in this process and return the test reports."""
    from mtfas.cli import MTFASCLI
    from mtfas.datamodules.base import FASDataModule
    from mtfas.systems.base import FASSystem

    with warnings.catch_warnings():
        # Passing args while sys.argv holds `mtfas folds ...` is intended here.
        warnings.filterwarnings("ignore", message="LightningCLI's args parameter")
        cli = MTFASCLI(
            FASSystem,
            FASDataModule,
            subclass_mode_model=True,
            subclass_mode_data=True,
            args=["fit", *args],
            save_config_kwargs={"overwrite": True},
            run=True,
        )
    return dict(cli.model.test_reports)


def run_folds(
    fit_args: Sequence[str],
    folds: Sequence[int],
    out_dir: str | Path,
    title: str = "folds",
    runner: FitRunner = fit_in_process,
) -> pd.DataFrame:
    """Fit and test one model per fold, then write and return the summary table.

    Args:
        fit_args: Arguments of ``mtfas fit`` (``--config ...`` and overrides), without the
            fold.
        folds: Folds to run, each passed as ``--data.init_args.fold K``.
        out_dir: Folder for ``folds.csv`` and ``folds.md`` (created).
        title: Heading of the markdown table.
        runner: Runs one fit and returns its ``test_reports`` (tests replace it).

    Returns:
        The table written to ``folds.csv``.

    Raises:
        ConfigError: If no fold is given or folds repeat.
    """
    folds = [int(k) for k in folds]
    if not folds or len(set(folds)) != len(folds):
        raise ConfigError(f"folds must be distinct fold numbers, got {folds}")
    rows = []
    for fold in folds:
        print(f"=== fold {fold} ({folds.index(fold) + 1} of {len(folds)}) ===")
        reports = runner([*fit_args, "--data.init_args.fold", str(fold)])
        rows.append(fold_row(fold, reports))
    table = summarise(rows)
    write_tables(out_dir, "folds", table, to_markdown(table, title))
    return table


def write_tables(out_dir: str | Path, stem: str, table: pd.DataFrame, markdown: str) -> None:
    """Write ``<stem>.csv`` and ``<stem>.md`` to ``out_dir`` (created) and print the markdown."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    table.to_csv(out / f"{stem}.csv", index=False)
    (out / f"{stem}.md").write_text(markdown, encoding="utf-8")
    print(markdown)
    print(f"Wrote {out / f'{stem}.csv'} and {out / f'{stem}.md'}")


def folds_main(argv: Sequence[str]) -> int:
    """``mtfas folds``: run the folds of a protocol and report mean +- std."""
    parser = argparse.ArgumentParser(
        prog="mtfas folds",
        allow_abbrev=False,
        description="Fit and test one model per fold (e.g. OULU-NPU protocols 3 and 4), "
        "then write and print APCER / BPCER / ACER per fold and their mean +- std. Every "
        "other argument is passed to `mtfas fit`.",
    )
    parser.add_argument("--config", required=True, help="The fit configuration (YAML).")
    parser.add_argument(
        "--folds", type=int, nargs="+", default=list(range(1, 7)), help="Folds (default 1-6)."
    )
    parser.add_argument(
        "--out", default=None, help="Output folder (default: runs/folds/<config name>)."
    )
    args, rest = parser.parse_known_args(list(argv))
    name = Path(args.config).stem
    out = args.out or str(Path("runs") / "folds" / name)
    run_folds(["--config", args.config, *rest], args.folds, out, title=name)
    return 0
