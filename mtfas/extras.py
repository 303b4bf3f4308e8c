"""Optional dependencies: the extras of ``pyproject.toml`` and a clear error without them.

``pip install "mtfas[onnx]"`` adds what ONNX export needs (onnx, onnxscript) and its
check (onnxruntime); ``pip install "mtfas[wandb]"`` adds Weights & Biases;
``pip install "mtfas[notebooks]"`` what runs the notebooks; ``".[dev]"`` all of them;
``pip install "mtfas[parquet]"`` (pyarrow, not in ``[dev]``) reads Parquet tables of
your own data.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from mtfas.errors import MissingExtraError


def require(extra: str, module: str, purpose: str) -> ModuleType:
    """Import an optional dependency, or say which extra installs it.

    Args:
        extra: The extra of ``pyproject.toml`` that installs ``module`` (e.g. ``"onnx"``).
        module: The module to import (e.g. ``"onnxscript"``).
        purpose: What needs it, for the message (e.g. ``"ONNX export"``).

    Returns:
        The imported module.

    Raises:
        MissingExtraError: If ``module`` cannot be imported.
    """
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise MissingExtraError(
            f"{purpose} needs the {module!r} package, which is not installed ({exc}); "
            f'install it with: pip install "mtfas[{extra}]"'
        ) from exc
