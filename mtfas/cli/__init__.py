"""The ``mtfas`` command line: :class:`MTFASCLI` and :func:`main`."""

from mtfas.cli.cli import MTFASCLI, main

__all__ = ["MTFASCLI", "main"]
