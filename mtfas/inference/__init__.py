"""Prediction and export with trained checkpoints.

* :class:`Predictor` scores images, videos and folders (``mtfas predict``).
* :func:`export_onnx` writes the student as an ONNX model (``mtfas export``).
* :mod:`mtfas.inference.checkpoint`: what checkpoints carry for both.
"""

from __future__ import annotations

from mtfas.inference.checkpoint import InferenceInfo, load_student
from mtfas.inference.export import ExportResult, export_onnx
from mtfas.inference.predictor import Prediction, Predictor

__all__ = [
    "ExportResult",
    "InferenceInfo",
    "Prediction",
    "Predictor",
    "export_onnx",
    "load_student",
]
