"""The commands of ``mtfas``, with their one-line descriptions (no Lightning import).

:mod:`mtfas.cli.cli` registers them all on one parser; :mod:`mtfas.cli.entry` runs the
tools (which need no model or data) without importing Lightning, so ``mtfas synth``,
``mtfas report`` and ``mtfas export`` start in a second rather than in several.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from jsonargparse import ArgumentParser

from mtfas.cli import inference, report, synth

__all__ = [
    "COMMANDS",
    "PIPELINE_COMMANDS",
    "TOOL_COMMANDS",
    "TRAINER_COMMANDS",
    "is_checkpoint_predict",
    "predictor_parser",
    "tool_parser",
]

#: Lightning's commands, with mtfas's one-line descriptions.
TRAINER_COMMANDS = {
    "fit": "Train, test at the dev-chosen threshold, and save the tested model as last.ckpt.",
    "validate": "Score the dev set and report the metrics at its own threshold.",
    "test": "Test a checkpoint: threshold chosen on dev, applied unchanged to test.",
    "predict": inference.PREDICT_DESCRIPTION,
}
#: Pipelines of several fits, parsed exactly as ``fit``.
PIPELINE_COMMANDS = {
    "folds": "Fit and test every fold or sub-protocol of a protocol; mean ± std.",
    "compare": "Fit and test several methods (model config files) over seeds; mean ± std.",
}
#: Tools that need no model or data: (description, add arguments, run).
TOOL_COMMANDS: dict[str, tuple[str, Callable[[Any], None], Callable[[Any], int]]] = {
    "synth": (synth.DESCRIPTION, synth.add_arguments, synth.run),
    "report": (report.DESCRIPTION, report.add_arguments, report.run),
    "export": (inference.EXPORT_DESCRIPTION, inference.add_export_arguments, inference.run_export),
}
#: Every command and its description, in the order ``mtfas --help`` lists them.
COMMANDS = {
    **TRAINER_COMMANDS,
    **PIPELINE_COMMANDS,
    **{name: spec[0] for name, spec in TOOL_COMMANDS.items()},
}


def tool_parser(name: str, prog: str | None = None) -> ArgumentParser:
    """The parser of the tool ``name`` (a key of :data:`TOOL_COMMANDS`)."""
    description, add_arguments, _ = TOOL_COMMANDS[name]
    parser = ArgumentParser(prog=prog, description=description)
    add_arguments(parser)
    return parser


def predictor_parser() -> ArgumentParser:
    """The parser of ``mtfas predict --ckpt_path X --input ...`` alone (no Lightning options).

    The options are those ``MTFASCLI``'s ``predict`` takes for the checkpoint predictor
    (:func:`~mtfas.cli.inference.add_predict_arguments` and ``--ckpt_path``).
    """
    parser = ArgumentParser(prog="mtfas predict", description=inference.PREDICT_DESCRIPTION)
    parser.add_argument(
        "--ckpt_path", type=str, default=None, help="Checkpoint (.ckpt) of an mtfas run."
    )
    inference.add_predict_arguments(parser)
    return parser


def is_checkpoint_predict(argv: Sequence[str], parser: ArgumentParser | None = None) -> bool:
    """Whether ``argv`` is ``predict --input ...`` with only the predictor's own options.

    Then nothing of Lightning is needed; with any other option (``--config``,
    ``--trainer.*``, ``--help`` ...) the command goes through ``MTFASCLI``.

    Args:
        argv: The command line, command first.
        parser: The :func:`predictor_parser` to read the options from (built if None).
    """
    if not argv or argv[0] != "predict" or "--input" not in argv:
        return False
    parser = parser or predictor_parser()
    known = {option for action in parser._actions for option in action.option_strings}
    known -= {"-h", "--help"}
    for token in argv[1:]:
        if not token.startswith("-") or _is_number(token):
            continue
        if token.split("=", 1)[0] not in known:
            return False
    return True


def _is_number(token: str) -> bool:
    try:
        float(token)
    except ValueError:
        return False
    return True
