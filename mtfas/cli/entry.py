"""The entry point of ``mtfas`` and ``python -m mtfas``: :func:`main`.

Lightning's commands and the pipelines go through :class:`~mtfas.cli.cli.MTFASCLI`
(imported only then: Lightning takes seconds to import); the tools (``synth``, ``report``,
``export``) are parsed by their own parser, the one ``MTFASCLI`` registers for them, and
run without it, and so is the checkpoint predictor (``predict --ckpt_path X --input ...``
with none of Lightning's options). Either way an :class:`~mtfas.errors.MTFASError` is
printed as one message and exits with status 2 (``MTFAS_DEBUG=1`` or ``--debug``: the
traceback).
"""

from __future__ import annotations

import difflib
import os
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from mtfas.cli import inference
from mtfas.cli.commands import (
    COMMANDS,
    TOOL_COMMANDS,
    is_checkpoint_predict,
    predictor_parser,
    tool_parser,
)
from mtfas.cli.quiet import quiet_third_party
from mtfas.errors import MTFASError

__all__ = ["main"]


def _mtfas_error(exc: BaseException) -> MTFASError | None:
    """The :class:`MTFASError` behind ``exc`` (jsonargparse and Lightning may wrap it)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, MTFASError):
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None


def _unknown_command(argv: Sequence[str]) -> str | None:
    if not argv or argv[0].startswith("-") or argv[0] in COMMANDS:
        return None
    close = difflib.get_close_matches(argv[0], list(COMMANDS), n=1, cutoff=0.5)
    hint = f"did you mean '{close[0]}'? " if close else ""
    return (
        f"unknown command '{argv[0]}'; {hint}`mtfas --help` lists every command: "
        f"{', '.join(COMMANDS)}"
    )


@contextmanager
def _debugging(argv: list[str]) -> Iterator[bool]:
    debug = os.environ.get("MTFAS_DEBUG", "") not in ("", "0")
    if "--debug" in argv:
        argv.remove("--debug")
        debug = True
    yield debug


def _run(argv: list[str]) -> int:
    if argv and argv[0] in TOOL_COMMANDS:
        config = tool_parser(argv[0], prog=f"mtfas {argv[0]}").parse_args(argv[1:])
        return TOOL_COMMANDS[argv[0]][2](config)
    if argv[:1] == ["predict"]:
        parser = predictor_parser()
        if is_checkpoint_predict(argv, parser):
            return inference.run_predict(parser.parse_args(argv[1:]))
    from mtfas.cli.cli import MTFASCLI

    return MTFASCLI(args=argv).exit_code


def main(args: Sequence[str] | None = None) -> int:
    """Entry point of the ``mtfas`` console script and of ``python -m mtfas``.

    Args:
        args: Command-line arguments without the program name (default: ``sys.argv[1:]``).

    Returns:
        The exit status: 0 on success, 2 for a mistake mtfas caught (its message is
        printed, without a traceback unless ``MTFAS_DEBUG=1`` or ``--debug``), or what the
        command returns (``predict``: 1 when nothing could be scored).
    """
    argv = list(sys.argv[1:] if args is None else args)
    with _debugging(argv) as debug:
        unknown = _unknown_command(argv)
        if unknown:
            print(f"mtfas: error: {unknown}", file=sys.stderr)
            return 2
        try:
            with quiet_third_party():
                return _run(argv)
        except Exception as exc:
            error = _mtfas_error(exc)
            if error is None or debug:
                raise
            print(f"mtfas: error: {error}", file=sys.stderr)
            return 2
