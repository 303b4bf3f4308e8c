"""The ``mtfas`` command line: :func:`main` and :class:`MTFASCLI`.

``MTFASCLI`` is imported on first use (it imports Lightning), so that the tools start fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mtfas.cli.entry import main

if TYPE_CHECKING:
    from mtfas.cli.cli import MTFASCLI

__all__ = ["MTFASCLI", "main"]


def __getattr__(name: str) -> Any:
    if name == "MTFASCLI":
        from mtfas.cli.cli import MTFASCLI

        return MTFASCLI
    raise AttributeError(f"module 'mtfas.cli' has no attribute {name!r}")
