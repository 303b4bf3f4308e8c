"""The ``mtfas`` command line: one parser for every command.

:class:`MTFASCLI` is LightningCLI over any :class:`~mtfas.systems.FASSystem` and
:class:`~mtfas.datamodules.FASDataModule`, with mtfas's own commands registered on the
same parser (as anomalib's ``add_subcommands`` does), so ``mtfas --help`` lists them all:

* ``fit``, ``validate``, ``test``, ``predict``: Lightning's commands. ``fit`` tests the
  trained model right after training (dev threshold applied to test) unless
  ``--test_after_fit false``, then saves exactly the tested model (weights and dev
  threshold) as ``last.ckpt``. ``predict --ckpt_path X --input PATH...`` is the
  checkpoint predictor (:mod:`mtfas.cli.inference`).
* ``folds``, ``compare``: pipelines of several fits. Their parser is ``fit``'s, so several
  ``--config``, flags and ``--print_config`` behave exactly as in ``mtfas fit``; each job
  is an ``mtfas fit`` with the command's arguments plus the job's own
  (:mod:`mtfas.pipelines`).
* ``synth``, ``report``, ``export``: tools that need no model or data.

The entry point, :func:`mtfas.cli.main` (:mod:`mtfas.cli.entry`), builds it for every
command but the tools, which it runs without Lightning. An
:class:`~mtfas.errors.MTFASError` (a mistake mtfas catches: a wrong root, an unknown
protocol, a missing checkpoint) is printed there as one message and exits with status 2;
``MTFAS_DEBUG=1`` or ``--debug`` shows the traceback.

>>> MTFASCLI(["fit", "--config", "configs/demo.yaml"])  # doctest: +SKIP
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from jsonargparse import Namespace
from lightning.pytorch.cli import LightningArgumentParser, LightningCLI
from lightning.pytorch.loggers import CSVLogger, TensorBoardLogger

from mtfas.cli import inference
from mtfas.cli.checkpoints import save_best_checkpoint, save_tested_checkpoint
from mtfas.cli.commands import (
    COMMANDS,
    PIPELINE_COMMANDS,
    TOOL_COMMANDS,
    TRAINER_COMMANDS,
    tool_parser,
)
from mtfas.cli.trust import check_checkpoint_hparams
from mtfas.datamodules.base import FASDataModule
from mtfas.errors import CheckpointError, ConfigError
from mtfas.pipelines.compare import compare_jobs, run_compare
from mtfas.pipelines.folds import fold_jobs, plan_folds, run_folds
from mtfas.pipelines.jobs import Job, JobResult
from mtfas.systems.base import FASSystem

__all__ = ["COMMANDS", "MTFASCLI", "save_tested_checkpoint"]

#: Options of the pipelines that ``mtfas fit`` does not take, with how many values each.
_PIPELINE_OPTIONS: dict[str, dict[str, str | int]] = {
    "folds": {"--folds": "+", "--key": 1, "--out": 1},
    "compare": {"--methods": "+", "--seeds": "+", "--out": 1},
}
#: Loggers whose run folder a pipeline job can move under its own folder (save_dir, name).
_FILE_LOGGERS = frozenset(c.__name__ for c in (CSVLogger, TensorBoardLogger))
#: ``--ckpt_path`` values Lightning resolves itself.
_SPECIAL_CKPT = ("last", "best", "hpc", "registry")


class MTFASCLI(LightningCLI):
    """LightningCLI over any :class:`FASSystem` and :class:`FASDataModule`, every command.

    Args:
        args: Command-line arguments without the program name (default ``sys.argv[1:]``),
            or a parsed configuration.
        run: Run the command (``False``: parse and instantiate only, as LightningCLI).
        **kwargs: Further LightningCLI arguments (``trainer_defaults``, ...).
    """

    def __init__(
        self,
        args: Sequence[str] | dict[str, Any] | Namespace | None = None,
        run: bool = True,
        **kwargs: Any,
    ) -> None:
        self.argv = (
            list(sys.argv[1:] if args is None else args)
            if not isinstance(args, (dict, Namespace))
            else []
        )
        #: Exit status of the command (0 on success).
        self.exit_code = 0
        self._building: str | None = None
        kwargs.setdefault("model_class", FASSystem)
        kwargs.setdefault("datamodule_class", FASDataModule)
        kwargs.setdefault("subclass_mode_model", True)
        kwargs.setdefault("subclass_mode_data", True)
        kwargs.setdefault("save_config_kwargs", {"overwrite": True})
        kwargs.setdefault("parser_kwargs", {"prog": "mtfas"})
        super().__init__(args=args, run=run, **kwargs)  # type: ignore[arg-type]

    # ------------------------------------------------------------------ parser
    def _add_subcommands(self, parser: LightningArgumentParser, **kwargs: Any) -> None:
        """Register Lightning's commands, the pipelines and the tools on one parser."""
        self._subcommand_parsers: dict[str, LightningArgumentParser] = {}
        subcommands = parser.add_subcommands()
        for name, description in (*TRAINER_COMMANDS.items(), *PIPELINE_COMMANDS.items()):
            self._building = name
            method = name if name in TRAINER_COMMANDS else "fit"
            sub_kwargs = {"description": description, **kwargs.get(name, {})}
            sub = self._prepare_subcommand_parser(self.trainer_class, method, **sub_kwargs)  # type: ignore[arg-type]
            self._subcommand_method_arguments[name] = self._subcommand_method_arguments[method]
            if name == "predict":
                inference.add_predict_arguments(sub)
            elif name == "folds":
                _add_folds_arguments(sub)
            elif name == "compare":
                _add_compare_arguments(sub)
            self._subcommand_parsers[name] = sub
            subcommands.add_subcommand(name, sub, help=description)
        self._building = None
        for name, (description, _, _) in TOOL_COMMANDS.items():
            subcommands.add_subcommand(name, tool_parser(name), help=description)

    def add_core_arguments_to_parser(self, parser: LightningArgumentParser) -> None:
        """As LightningCLI; for ``predict`` the model and data are optional (``--input``)."""
        if self._building != "predict":
            super().add_core_arguments_to_parser(parser)
            return
        parser.add_lightning_class_args(self.trainer_class, "trainer")
        defaults = {f"trainer.{k}": v for k, v in self.trainer_defaults.items() if k != "callbacks"}
        parser.set_defaults(defaults)
        parser.add_lightning_class_args(
            self._model_class, "model", subclass_mode=True, required=False
        )
        parser.add_lightning_class_args(
            self._datamodule_class, "data", subclass_mode=True, required=False
        )

    def add_arguments_to_parser(self, parser: LightningArgumentParser) -> None:  # noqa: D102
        if self._building in ("fit", "validate", "test", *PIPELINE_COMMANDS):
            parser.add_argument(
                "--allow_class",
                type=list[str] | None,
                default=None,
                help="Classes (pkg.module.Class) a --ckpt_path checkpoint may name besides "
                "mtfas's systems, networks, data modules and torch's optimisers.",
            )
        if self._building in ("fit", *PIPELINE_COMMANDS):
            parser.add_argument(
                "--test_after_fit",
                type=bool,
                default=True,
                help="After fit, run test (threshold chosen on dev, applied to test) and save "
                "the tested model as last.ckpt.",
            )

    def parse_arguments(self, parser: LightningArgumentParser, args: Any) -> None:
        """Parse ``args`` (always given explicitly by :func:`main`, so no warning about it)."""
        if isinstance(args, (dict, Namespace)):
            self.config = parser.parse_object(args)
        else:
            self.config = parser.parse_args(args)

    # ------------------------------------------------------------------ what runs
    @property
    def _command(self) -> str | None:
        command = self.config.get("subcommand")
        return None if command is None else str(command)

    @property
    def _checkpoint_predict(self) -> bool:
        return self._command == "predict" and self.config.predict.get("input") is not None

    @property
    def _runs_trainer(self) -> bool:
        if self._command is None:  # run=False: parse and instantiate, as LightningCLI
            return True
        return self._command in TRAINER_COMMANDS and not self._checkpoint_predict

    def _parse_ckpt_path(self) -> None:
        """Check ``--ckpt_path`` before anything is prepared, then as LightningCLI."""
        if not self._runs_trainer or self._command is None:
            return
        command = self._command
        if command == "predict" and self.config.predict.get("model") is None:
            raise ConfigError(
                "mtfas predict needs --input (score files with the checkpoint predictor: "
                "mtfas predict --ckpt_path X --input PATH...) or --config with a model and "
                "data (Lightning's predict loop)."
            )
        ckpt_path = self.config[command].get("ckpt_path")
        check_ckpt_path(ckpt_path)
        if ckpt_path and Path(ckpt_path).is_file():
            # LightningCLI imports every class the checkpoint's hyper-parameters name:
            # refuse any outside the allow-list before it reads them.
            allowed = self.config[command].get("allow_class") or ()
            check_checkpoint_hparams(ckpt_path, allowed_classes=allowed)
        super()._parse_ckpt_path()

    def _set_seed(self) -> None:
        if self._runs_trainer:
            super()._set_seed()

    def instantiate_classes(self) -> None:
        """As LightningCLI for Lightning's commands; pipelines and tools build their own."""
        if self._runs_trainer:
            super().instantiate_classes()

    def _run_subcommand(self, subcommand: str) -> None:
        config = self.config[subcommand]
        if subcommand in TOOL_COMMANDS:
            self.exit_code = TOOL_COMMANDS[subcommand][2](config)
        elif subcommand in PIPELINE_COMMANDS:
            self.exit_code = self._run_pipeline(subcommand, config)
        elif self._checkpoint_predict:
            self.exit_code = inference.run_predict(config)
        else:
            super()._run_subcommand(subcommand)

    def after_fit(self) -> None:
        """Test the trained model on [dev, test] and save it as ``last.ckpt``, unless disabled.

        A checkpoint that a monitoring ``ModelCheckpoint`` chose on validation is saved
        beside it as ``best.ckpt`` first (named and described as such, never tested here).
        """
        if not self.config[self.subcommand].get("test_after_fit", True):
            return
        save_best_checkpoint(self.trainer)
        self.trainer.test(self.model, datamodule=self.datamodule, verbose=False)
        save_tested_checkpoint(self.trainer)

    # ------------------------------------------------------------------ pipelines
    def _run_pipeline(self, command: str, config: Namespace) -> int:
        base = fit_arguments(self.argv, command)
        runner = _FitRunner(base, _logger_class(config))
        out = config.get("out")
        if command == "folds":
            data = config.data
            key, folds = config.key, config.folds
            if key is None or folds is None:
                plan_key, plan = plan_folds(data.class_path, _plain(data.init_args))
                key, folds = key or plan_key, folds or plan
            name = _config_name(config) or "folds"
            out = Path(out or Path("runs") / "folds" / name)
            run_folds(fold_jobs(key, folds), runner, out, title=f"{name} ({key})")
        else:
            name = _config_name(config) or "compare"
            out = Path(out or Path("runs") / "compare" / name)
            jobs = compare_jobs(config.methods, config.seeds)
            run_compare(jobs, runner, out, title=f"supervision comparison: {name}")
        return 0


def _pipeline_group(parser: LightningArgumentParser, command: str, description: str) -> Any:
    """The argument group of a pipeline command, with its ``--out`` folder."""
    group = parser.add_argument_group(command, description)
    group.add_argument(
        "--out",
        type=str,
        default=None,
        help=f"Output folder (default: runs/{command}/<last config name>).",
    )
    return group


def _add_folds_arguments(parser: LightningArgumentParser) -> None:
    group = _pipeline_group(parser, "folds", "Which folds to run and where the table goes.")
    group.add_argument(
        "--folds",
        type=int,
        nargs="+",
        default=None,
        help="Folds to run (default: every fold the data module declares).",
    )
    group.add_argument(
        "--key",
        type=str,
        default=None,
        help="Data module argument selecting the fold (default: the data "
        "module's, e.g. fold or subprotocol).",
    )


def _add_compare_arguments(parser: LightningArgumentParser) -> None:
    group = _pipeline_group(parser, "compare", "Methods, seeds and where the table goes.")
    group.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="Seeds.")
    group.add_argument(
        "--methods",
        type=str,
        nargs="+",
        required=True,
        help="Model config files, one per method (e.g. configs/model/*.yaml), "
        "each applied after the other configs: same student, same data.",
    )


def _plain(value: Any) -> dict[str, Any]:
    if isinstance(value, Namespace):
        return value.as_dict()
    return dict(value or {})


def _config_name(config: Namespace) -> str | None:
    configs = config.get("config") or []
    return Path(str(configs[-1])).stem if configs else None


def _logger_class(config: Namespace) -> str | None:
    logger = config.get("trainer", {}).get("logger")
    if isinstance(logger, Namespace):
        return str(logger.get("class_path"))
    return None


def fit_arguments(argv: Sequence[str], command: str) -> list[str]:
    """The ``mtfas fit`` arguments of a pipeline command line (its own options removed).

    Args:
        argv: The command line without the program name (``folds --config C --folds 1``).
        command: The pipeline command (``folds`` or ``compare``).
    """
    argv = list(argv)
    argv = argv[argv.index(command) + 1 :] if command in argv else argv
    options = _PIPELINE_OPTIONS[command]
    kept: list[str] = []
    i = 0
    while i < len(argv):
        name, equals, _ = argv[i].partition("=")
        if name not in options:
            kept.append(argv[i])
            i += 1
            continue
        i += 1
        if equals:
            continue
        if options[name] == "+":
            while i < len(argv) and not _is_option(argv[i]):
                i += 1
        else:
            i += int(options[name])
    return kept


def _is_option(token: str) -> bool:
    """Whether a token starts an option (``-c``, ``--x``), not a value such as ``-1``."""
    return token.startswith("-") and not token.lstrip("-").replace(".", "", 1).isdigit()


class _FitRunner:
    """Runs a pipeline job as ``mtfas fit`` with the command's arguments plus the job's."""

    def __init__(self, base: Sequence[str], logger_class: str | None) -> None:
        self.base = list(base)
        self.logger_class = logger_class

    def arguments(self, job: Job, run_dir: Path) -> list[str]:
        """The ``mtfas fit`` arguments of ``job``, writing its run to ``run_dir``.

        A file logger (CSV, TensorBoard; by any import path, e.g.
        ``lightning.pytorch.loggers.CSVLogger``) is pointed at ``run_dir`` itself.
        """
        args = ["fit", *self.base, *job.args, "--trainer.default_root_dir", str(run_dir)]
        if self.logger_class and self.logger_class.rsplit(".", 1)[-1] in _FILE_LOGGERS:
            args += [
                "--trainer.logger.init_args.save_dir",
                str(run_dir.parent),
                "--trainer.logger.init_args.name",
                run_dir.name,
                "--trainer.logger.init_args.version",
                "",
            ]
        return args

    def __call__(self, job: Job, run_dir: Path) -> JobResult:
        cli = MTFASCLI(args=self.arguments(job, run_dir))
        model = cli.model
        return JobResult(job, dict(model.test_reports), model.test_results_dir)


def check_ckpt_path(ckpt_path: str | None) -> None:
    """Refuse a ``--ckpt_path`` that is not a file before any data is prepared.

    Raises:
        CheckpointError: If the path is neither a file nor one of Lightning's names
            (``last``, ``best``, ``hpc``, ``registry...``).
    """
    if not ckpt_path or str(ckpt_path).startswith(_SPECIAL_CKPT):
        return
    path = Path(ckpt_path)
    if not path.is_file():
        where = "it is a folder" if path.is_dir() else "no such file"
        raise CheckpointError(
            f"--ckpt_path {ckpt_path}: {where}. Give the .ckpt file of an mtfas run (fit "
            "prints the path of the tested model's last.ckpt)."
        )
