"""Run every fold or sub-protocol of a protocol and summarise them (mean +- std).

``mtfas folds --config CONFIG.yaml [--folds 1 2 ...] [--out DIR] [fit arguments ...]``
trains and tests one model per fold, in sequence and in this process, each exactly as
``mtfas fit --config CONFIG.yaml --data.init_args.<key> K [fit arguments ...]`` would
(the threshold is chosen on the fold's dev set and applied unchanged to its test set).
The data module says what its folds are (:meth:`FASDataModule.fold_plan`): the six
leave-one-phone-out folds of OULU-NPU protocols 3 and 4 (key ``fold``), the four
sub-protocols of SiW protocol 2 and the two of SiW protocol 3 (key ``subprotocol``);
``--folds`` and ``--key`` override it. It then writes ``folds.csv`` (one row per fold,
then ``mean`` and ``std``) and ``folds.md`` (the same in percent) to the output folder and
prints the markdown table. Papers report these protocols as mean +- std over folds;
``std`` here is the sample standard deviation (``n - 1`` in the denominator).
"""

from __future__ import annotations

import argparse
import importlib
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path

import pandas as pd
import yaml

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
    key: str = "fold",
) -> pd.DataFrame:
    """Fit and test one model per fold, then write and return the summary table.

    Args:
        fit_args: Arguments of ``mtfas fit`` (``--config ...`` and overrides), without the
            fold.
        folds: Folds to run, each passed as ``--data.init_args.<key> K``.
        out_dir: Folder for ``folds.csv`` and ``folds.md`` (created).
        title: Heading of the markdown table.
        runner: Runs one fit and returns its ``test_reports`` (tests replace it).
        key: The data module argument that selects the fold (``fold``, ``subprotocol``).

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
        print(f"=== {key} {fold} ({folds.index(fold) + 1} of {len(folds)}) ===")
        reports = runner([*fit_args, f"--data.init_args.{key}", str(fold)])
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


def _data_settings(config: str, rest: Sequence[str]) -> tuple[str | None, dict[str, object]]:
    """The data module's class path and init arguments: the YAML, then command-line overrides."""
    try:
        loaded = yaml.safe_load(Path(config).read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"cannot read the config {config}: {exc}") from exc
    data = loaded.get("data") or {}
    class_path = data.get("class_path") if isinstance(data, dict) else None
    init_args = dict(data.get("init_args") or {}) if isinstance(data, dict) else {}
    rest = list(rest)
    for i, arg in enumerate(rest):
        if arg == "--data.class_path" and i + 1 < len(rest):
            class_path = rest[i + 1]
        elif arg.startswith("--data.init_args."):
            name, equals, value = arg[len("--data.init_args."):].partition("=")
            if not equals:
                if i + 1 >= len(rest):
                    continue
                value = rest[i + 1]
            init_args[name] = yaml.safe_load(value)
    return class_path, init_args


def plan_folds(config: str, rest: Sequence[str]) -> tuple[str, list[int]]:
    """The fold key and values the config's data module declares for its protocol.

    Raises:
        ConfigError: If the data module cannot be imported or its protocol has no folds.
    """
    class_path, init_args = _data_settings(config, rest)
    if not class_path:
        raise ConfigError(f"{config} names no data module (data.class_path); pass --folds")
    module_name, _, class_name = str(class_path).rpartition(".")
    try:
        klass = getattr(importlib.import_module(module_name), class_name)
    except (ImportError, AttributeError, ValueError) as exc:
        raise ConfigError(f"cannot import the data module {class_path}: {exc}") from exc
    plan = klass.fold_plan(init_args) if hasattr(klass, "fold_plan") else None
    if plan is None:
        raise ConfigError(
            f"{class_name} with {init_args.get('protocol', 'its default protocol')!r} has no "
            "folds or sub-protocols; use `mtfas fit`, or pass --key and --folds"
        )
    return plan


def folds_main(argv: Sequence[str]) -> int:
    """``mtfas folds``: run the folds of a protocol and report mean +- std."""
    parser = argparse.ArgumentParser(
        prog="mtfas folds",
        allow_abbrev=False,
        description="Fit and test one model per fold or sub-protocol (OULU-NPU protocols 3 "
        "and 4, SiW protocols 2 and 3), then write and print APCER / BPCER / ACER per fold "
        "and their mean +- std. Every other argument is passed to `mtfas fit`.",
    )
    parser.add_argument("--config", required=True, help="The fit configuration (YAML).")
    parser.add_argument(
        "--folds", type=int, nargs="+", default=None,
        help="Folds to run (default: every fold the data module declares for its protocol).",
    )
    parser.add_argument(
        "--key", default=None,
        help="Data module argument selecting the fold (default: the data module's, e.g. "
        "fold or subprotocol).",
    )
    parser.add_argument(
        "--out", default=None, help="Output folder (default: runs/folds/<config name>)."
    )
    args, rest = parser.parse_known_args(list(argv))
    if args.folds is None or args.key is None:
        key, folds = plan_folds(args.config, rest)
        key = args.key or key
        folds = args.folds or folds
    else:
        key, folds = args.key, args.folds
    name = Path(args.config).stem
    out = args.out or str(Path("runs") / "folds" / name)
    run_folds(["--config", args.config, *rest], folds, out, title=f"{name} ({key})", key=key)
    return 0
