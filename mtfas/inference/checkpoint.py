"""What a checkpoint carries for prediction and export, and how the student is rebuilt.

Every :class:`~mtfas.systems.FASSystem` checkpoint holds, under :data:`INFERENCE_KEY`,
the student's class path and init args, the input size, the crop scale, the species names
and the dev threshold (see :func:`inference_metadata`). The student's init args are read
from its attributes of the same name as its constructor's arguments (``DepthNet`` stores
``width_mult``, ``theta`` and ``output_activation``); an argument without such an
attribute takes its default. The result is verified by rebuilding the student on the
``meta`` device and comparing parameter shapes; a student that cannot be described this
way gets no spec (with a warning), and :func:`load_student` then needs the network
passed in (``student=...``).
"""

from __future__ import annotations

import importlib
import inspect
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from mtfas.errors import CheckpointError
from mtfas.preprocessing.settings import CROP_SCALE
from mtfas.transforms.normalise import NORMALISATION

__all__ = [
    "INFERENCE_KEY",
    "InferenceInfo",
    "inference_metadata",
    "load_checkpoint",
    "load_student",
    "module_spec",
]

#: Key of the inference metadata in a checkpoint dict.
INFERENCE_KEY = "mtfas_inference"
#: Version of the metadata layout.
FORMAT_VERSION = 1

_PLAIN = (bool, int, float, str, type(None))


def _plain(value: Any) -> bool:
    if isinstance(value, _PLAIN):
        return True
    return isinstance(value, (list, tuple)) and all(isinstance(v, _PLAIN) for v in value)


def module_spec(module: nn.Module) -> dict[str, Any] | None:
    """``{"class_path", "init_args"}`` that rebuild ``module``'s architecture, or ``None``.

    Init args are read from attributes named like the constructor's arguments (plain
    values only); arguments without one take their defaults. The spec is verified by
    building the class on the ``meta`` device (no memory, no time) and comparing every
    parameter and buffer shape with ``module``'s.
    """
    cls = type(module)
    if "<locals>" in cls.__qualname__:
        return None
    try:
        parameters = list(inspect.signature(cls.__init__).parameters.values())[1:]
    except (TypeError, ValueError):
        return None
    init_args: dict[str, Any] = {}
    for param in parameters:
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            continue
        value = getattr(module, param.name, inspect.Parameter.empty)
        if value is not inspect.Parameter.empty and _plain(value):
            init_args[param.name] = list(value) if isinstance(value, tuple) else value
        elif param.default is inspect.Parameter.empty:
            return None
    try:
        with torch.device("meta"):
            clone = cls(**init_args)
    except Exception:
        return None
    if not _same_shapes(clone.state_dict(), module.state_dict()):
        return None
    return {"class_path": f"{cls.__module__}.{cls.__qualname__}", "init_args": init_args}


def _same_shapes(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    return a.keys() == b.keys() and all(a[k].shape == b[k].shape for k in a)


def inference_metadata(system: Any, student_spec: dict[str, Any] | None) -> dict[str, Any]:
    """The metadata a :class:`FASSystem` stores in its checkpoints under :data:`INFERENCE_KEY`.

    Args:
        system: The system being saved (its data module, if attached, gives the input size
            and crop scale).
        student_spec: :func:`module_spec` of the student (``None`` if unavailable).
    """
    trainer = getattr(system, "_trainer", None)
    dm = getattr(trainer, "datamodule", None) if trainer is not None else None
    image_size = getattr(dm, "image_size", None)
    crop_scale = _crop_scale(dm)
    threshold = float(system.threshold)
    return {
        "format": FORMAT_VERSION,
        "system": f"{type(system).__module__}.{type(system).__qualname__}",
        "student": student_spec,
        "input_size": int(image_size) if image_size is not None else None,
        "crop_scale": float(crop_scale) if crop_scale is not None else CROP_SCALE,
        "normalisation": NORMALISATION,
        "score": "mean of the student's map; higher = attack; attack iff score >= threshold",
        "threshold": None if math.isnan(threshold) else threshold,
        "threshold_method": system.threshold_method,
        "pai_names": list(system.pai_names) if system.pai_names is not None else None,
    }


def _crop_scale(dm: Any) -> float | None:
    """The data module's face-box enlargement: ``crop_scale``, or its preprocessing settings."""
    scale = getattr(dm, "crop_scale", None)
    settings = getattr(dm, "settings", None)
    if scale is None and callable(settings):
        try:
            scale = getattr(settings(), "scale", None)
        except Exception:
            scale = None
    return scale


@dataclass(frozen=True)
class InferenceInfo:
    """What a checkpoint says about using its student.

    Attributes:
        path: The checkpoint file.
        student_spec: ``{"class_path", "init_args"}`` of the student, or ``None``.
        input_size: Side of the square network input, or ``None`` if unknown.
        crop_scale: Enlargement of the face box before cropping.
        threshold: Dev-chosen decision threshold (attack iff ``score >= threshold``), or
            ``None`` if the model was never validated.
        threshold_method: How the threshold was chosen (``eer``, ``bpcer``, ``apcer``).
        pai_names: Species names of the training data (index 0 ``live``), or ``None``.
        system: Class path of the system that wrote the checkpoint.
    """

    path: Path
    student_spec: dict[str, Any] | None
    input_size: int | None
    crop_scale: float
    threshold: float | None
    threshold_method: str | None
    pai_names: list[str] | None
    system: str | None


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """Load a Lightning checkpoint file onto the CPU, with clear errors.

    Checkpoints are pickles: load only files you trust.

    Raises:
        CheckpointError: If the file is missing, not a torch checkpoint, or not a
            Lightning checkpoint of a model with a ``state_dict``.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} does not exist (or is not a file).")
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as exc:
        raise CheckpointError(
            f"cannot read checkpoint {path}: {type(exc).__name__}: {exc}. Give a .ckpt file "
            "written by Lightning while training an mtfas system."
        ) from exc
    if not isinstance(checkpoint, dict) or "state_dict" not in checkpoint:
        raise CheckpointError(
            f"{path} is not a Lightning checkpoint (no 'state_dict'); give a .ckpt file "
            "written while training an mtfas system (ModelCheckpoint or trainer.save_checkpoint)."
        )
    return checkpoint


def _info(checkpoint: dict[str, Any], path: Path) -> InferenceInfo:
    meta = checkpoint.get(INFERENCE_KEY)
    if not isinstance(meta, dict):
        raise CheckpointError(
            f"{path} holds no mtfas inference metadata ('{INFERENCE_KEY}'): it was not written "
            "by an mtfas FASSystem (or by an older mtfas). Pass the student network and its "
            "input size yourself, in Python: Predictor.from_checkpoint(path, student=net, "
            "input_size=S) or export_onnx(path, out, student=net, input_size=S)."
        )
    return InferenceInfo(
        path=path,
        student_spec=meta.get("student"),
        input_size=meta.get("input_size"),
        crop_scale=float(meta.get("crop_scale") or CROP_SCALE),
        threshold=meta.get("threshold"),
        threshold_method=meta.get("threshold_method"),
        pai_names=meta.get("pai_names"),
        system=meta.get("system"),
    )


def _student_state(checkpoint: dict[str, Any], path: Path) -> dict[str, torch.Tensor]:
    prefix = "student."
    state = {
        k[len(prefix) :]: v for k, v in checkpoint["state_dict"].items() if k.startswith(prefix)
    }
    if not state:
        raise CheckpointError(
            f"{path} has no 'student.*' weights: it is a checkpoint of another kind of model, "
            "not of an mtfas FAS system."
        )
    return state


def _build(spec: dict[str, Any], path: Path) -> nn.Module:
    class_path = spec.get("class_path", "")
    module_name, _, name = class_path.rpartition(".")
    try:
        cls = getattr(importlib.import_module(module_name), name)
    except (ImportError, AttributeError, ValueError) as exc:
        raise CheckpointError(
            f"the student class {class_path!r} recorded in {path} cannot be imported ({exc}); "
            "install the package that defines it, or pass the network: student=..."
        ) from exc
    try:
        return cls(**spec.get("init_args", {}))
    except Exception as exc:
        raise CheckpointError(
            f"cannot build the student {class_path}(**{spec.get('init_args')}) recorded in "
            f"{path}: {exc}"
        ) from exc


def load_student(
    path: str | Path, student: nn.Module | None = None
) -> tuple[nn.Module, InferenceInfo]:
    """Rebuild the student of a checkpoint and load its weights (CPU, eval mode).

    Args:
        path: A checkpoint written while training an mtfas system.
        student: The network to load the weights into; default: rebuilt from the
            checkpoint's metadata. Needed for checkpoints whose student could not be
            described (see the module docs).

    Returns:
        ``(student, info)``.

    Raises:
        CheckpointError: If the checkpoint is unusable, the student cannot be rebuilt, or
            the weights do not fit the network.
    """
    path = Path(path)
    checkpoint = load_checkpoint(path)
    state = _student_state(checkpoint, path)
    if student is None:
        info = _info(checkpoint, path)
        if info.student_spec is None:
            raise CheckpointError(
                f"{path} does not record how to rebuild its student (its class does not store "
                "its constructor arguments as attributes); pass the network: student=..."
            )
        student = _build(info.student_spec, path)
    else:
        meta = checkpoint.get(INFERENCE_KEY)
        info = _info(checkpoint, path) if isinstance(meta, dict) else _bare_info(checkpoint, path)
    try:
        student.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        raise CheckpointError(
            f"the student weights in {path} do not fit {type(student).__name__}: {exc}"
        ) from exc
    return student.eval(), info


def _bare_info(checkpoint: dict[str, Any], path: Path) -> InferenceInfo:
    """Info of a checkpoint without metadata: only the threshold buffer, if any."""
    value = checkpoint["state_dict"].get("threshold")
    threshold = float(value) if value is not None else math.nan
    return InferenceInfo(
        path=path,
        student_spec=None,
        input_size=None,
        crop_scale=CROP_SCALE,
        threshold=None if math.isnan(threshold) else threshold,
        threshold_method=None,
        pai_names=None,
        system=None,
    )
