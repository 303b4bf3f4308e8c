"""mtfas: Meta-Teacher face anti-spoofing on PyTorch Lightning.

>>> from mtfas import MetaTeacherSystem

The systems are exported lazily, so that light modules (``mtfas.preprocessing``,
``mtfas.synthetic``, ``mtfas.metrics``) import without Lightning, e.g. in worker
processes.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_LAZY = {
    "FASSystem": "mtfas.systems",
    "MetaTeacherSystem": "mtfas.systems",
    "SupervisedSystem": "mtfas.systems",
    "TeacherStudentSystem": "mtfas.systems",
    "Predictor": "mtfas.inference",
    "export_onnx": "mtfas.inference",
}

__all__ = [
    "FASSystem",
    "MetaTeacherSystem",
    "Predictor",
    "SupervisedSystem",
    "TeacherStudentSystem",
    "__version__",
    "export_onnx",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'mtfas' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
