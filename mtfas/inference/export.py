"""ONNX export of a checkpoint's student.

The exported graph takes ``image``: float32 ``(batch, 3, S, S)`` normalised as in training
(RGB uint8 / 127.5 - 1, ``S`` the model's input size) and returns ``map`` ``(batch, 1,
S/8, S/8)`` and ``score`` ``(batch,)`` (the map mean; attack iff ``score >= threshold``).
The batch axis is dynamic; the spatial size is fixed at the input size. The threshold,
input size, crop scale, normalisation and species names are stored in the model's
metadata (``metadata_props``). The export uses ``torch.onnx.export(dynamo=True)`` (needs
``onnx`` and ``onnxscript``); with ``onnxruntime`` installed, the result is checked
against PyTorch on a random batch.
"""

from __future__ import annotations

import json
import logging
import warnings
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from mtfas.errors import CheckpointError, ConfigError
from mtfas.extras import require
from mtfas.inference.checkpoint import ClassLike, InferenceInfo, load_student
from mtfas.io import atomic_path
from mtfas.transforms.normalise import NORMALISATION

__all__ = ["ExportResult", "ScoringModel", "export_onnx"]

#: Default tolerance of the ONNX Runtime check (absolute, on maps and scores).
DEFAULT_ATOL = 1e-4


class ScoringModel(nn.Module):
    """A student returning its map and the score (map mean) of each image."""

    def __init__(self, student: nn.Module) -> None:
        super().__init__()
        self.student = student

    def forward(self, image: Tensor) -> tuple[Tensor, Tensor]:  # noqa: D102
        maps = self.student(image)
        return maps, maps.flatten(1).mean(dim=1)


@dataclass(frozen=True)
class ExportResult:
    """What :func:`export_onnx` wrote.

    Attributes:
        path: The ``.onnx`` file.
        input_size: Side of the square input.
        max_abs_diff: Largest absolute difference between ONNX Runtime and PyTorch on the
            check batch (maps and scores), or ``None`` if not checked.
        checked: Whether ONNX Runtime checked the export (``False``: not installed, or
            ``check=False``).
        selection: What chose the checkpoint on validation (a ``best.ckpt``), or ``None``
            for the tested model.
    """

    path: Path
    input_size: int
    max_abs_diff: float | None
    checked: bool
    selection: str | None = None


def export_onnx(
    checkpoint: str | Path,
    out: str | Path,
    *,
    student: nn.Module | None = None,
    input_size: int | None = None,
    opset: int | None = None,
    check: bool = True,
    atol: float = DEFAULT_ATOL,
    allowed_classes: Iterable[ClassLike] = (),
) -> ExportResult:
    """Export the student of a checkpoint to ONNX (dynamic batch axis).

    Args:
        checkpoint: A checkpoint written while training an mtfas system.
        out: The ``.onnx`` file to write (folders are created).
        student: The network, for checkpoints that do not record how to build it.
        input_size: Override of the stored input size.
        opset: ONNX opset (default: the exporter's).
        check: Compare ONNX Runtime with PyTorch on a random batch of 2 (skipped, and
            reported as ``checked=False``, when onnxruntime is not installed).
        atol: Largest absolute difference the check accepts.
        allowed_classes: Student classes besides mtfas's networks that the checkpoint may
            name (see :func:`~mtfas.inference.checkpoint.load_student`).

    The file is written atomically (a temporary file in the same folder, fsynced, then
    renamed): an existing ``out`` stays as it was until the new model is complete and has
    passed the check, and a failed export leaves no partial file.

    Raises:
        CheckpointError: If the checkpoint is unusable, or ONNX Runtime's output differs
            from PyTorch's by more than ``atol``.
        ConfigError: If the input size is unknown.
        MissingExtraError: If onnx or onnxscript is not installed (``pip install
            "mtfas[onnx]"``).
    """
    # torch's exporter needs both; fail before any work, naming the extra that adds them.
    for module in ("onnx", "onnxscript"):
        require("onnx", module, "ONNX export")
    net, info = load_student(checkpoint, student, allowed_classes=allowed_classes)
    size = input_size or info.input_size
    if size is None:
        raise ConfigError(
            f"the input size of {checkpoint} is unknown; pass input_size (a multiple of 8)."
        )
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    model = ScoringModel(net).eval()
    example = torch.zeros(2, 3, size, size)
    batch = torch.export.Dim("batch", min=1)
    onnx_logger = logging.getLogger("torch.onnx")
    level = onnx_logger.level
    # The exporter warns about optional torchvision operators; none is used here.
    onnx_logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", (FutureWarning, DeprecationWarning, UserWarning))
            program = torch.onnx.export(
                model,
                (example,),
                dynamo=True,
                input_names=["image"],
                output_names=["map", "score"],
                dynamic_shapes=({0: batch},),
                opset_version=opset,
                verbose=False,
            )
    finally:
        onnx_logger.setLevel(level)
    assert program is not None  # the dynamo exporter always returns its program
    with atomic_path(out) as tmp:
        program.save(str(tmp), external_data=False)
        _add_metadata(tmp, info, size)
        diff = _check(model, tmp, size, atol, out) if check else None
    return ExportResult(out, int(size), diff, diff is not None, info.selection)


def _add_metadata(path: Path, info: InferenceInfo, size: int) -> None:
    import onnx

    proto = onnx.load(str(path))
    values: dict[str, Any] = {
        "mtfas_input_size": size,
        "mtfas_normalisation": NORMALISATION,
        "mtfas_crop_scale": info.crop_scale,
        "mtfas_threshold": info.threshold,
        "mtfas_threshold_method": info.threshold_method,
        "mtfas_pai_names": info.pai_names,
        # The level the threshold was chosen at: True = per-video mean scores (average a
        # video's frame scores before comparing), False = frame scores, null = unknown.
        "mtfas_video_level": info.video_level,
        "mtfas_selection": info.selection,
        "mtfas_decision_rule": "attack iff score >= threshold",
    }
    for key, value in values.items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, json.dumps(value)
    onnx.save(proto, str(path))


def _check(model: nn.Module, path: Path, size: int, atol: float, out: Path) -> float | None:
    try:
        import onnxruntime
    except ImportError:
        return None
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    image = torch.rand(2, 3, size, size, generator=torch.Generator().manual_seed(0)) * 2 - 1
    with torch.inference_mode():
        expected = [t.numpy() for t in model(image)]
    got = session.run(["map", "score"], {"image": image.numpy()})
    diff = max(float(np.max(np.abs(a - b))) for a, b in zip(got, expected, strict=True))
    if diff > atol:
        raise CheckpointError(
            f"the ONNX export {out} differs from PyTorch by {diff:.3g} (> atol {atol:g}), so "
            "it was not written; try another opset (--opset) or report the student's architecture."
        )
    return diff
