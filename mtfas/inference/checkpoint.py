"""What a checkpoint carries for prediction and export, and how the student is rebuilt.

Every :class:`~mtfas.systems.FASSystem` checkpoint holds, under :data:`INFERENCE_KEY`,
the student's class path and init args, the input size, the crop scale, the species names,
the dev threshold and the level it was chosen at (``video_level``; see
:func:`inference_metadata`). The student's init args are read
from its attributes of the same name as its constructor's arguments (``DepthNet`` stores
``width_mult``, ``theta`` and ``output_activation``); an argument without such an
attribute takes its default. The result is verified by rebuilding the student on the
``meta`` device and comparing parameter shapes; a student that cannot be described this
way gets no spec (with a warning), and :func:`load_student` then needs the network
passed in (``student=...``).

Loading is data, never code. A checkpoint is read with ``torch.load(weights_only=True)``
(tensors, numbers, strings, lists, dicts: an embedded pickle payload is refused, never
run), and the student is rebuilt only from a class on an allow-list: mtfas's own networks
(:func:`student_classes`: ``DepthNet``, ``CDCN``, ``TeacherNet``, ``CDConv2d``) plus the
classes the caller names (``allowed_classes=[...]`` in Python, ``--allow_class`` on the
command line). Its init args must be plain data (numbers, strings, booleans, ``None``,
lists and dicts of these); a nested ``{"class_path", "init_args"}`` is checked against
the same allow-list. Nothing named by the file is imported before it passed the check.
:func:`check_checkpoint_hparams` applies the same rule to the ``hyper_parameters`` that
LightningCLI instantiates for ``mtfas test --ckpt_path``. Checkpoints are written so that
``weights_only=True`` reads them: :func:`plain_hyperparameters` turns the classes and
functions that ``save_hyperparameters`` records (e.g. ``torch.optim.Adam``) into their
``{"class_path": ...}`` form (LightningCLI's own).
"""

from __future__ import annotations

import enum
import functools
import importlib
import inspect
import math
import os
import pickle
import re
import types
import typing
import warnings
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from torch import nn

from mtfas.errors import CheckpointError, ConfigError
from mtfas.preprocessing.settings import CROP_SCALE
from mtfas.transforms.normalise import NORMALISATION

__all__ = [
    "INFERENCE_KEY",
    "SELECTION_KEY",
    "AllowList",
    "InferenceInfo",
    "check_checkpoint_hparams",
    "inference_metadata",
    "load_checkpoint",
    "load_student",
    "module_spec",
    "plain_checkpoint_hparams",
    "plain_hyperparameters",
    "selection_note",
    "student_classes",
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
        "video_level": bool(getattr(system, "video_level", True)),
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
        video_level: ``True`` if the threshold was chosen on per-video mean scores,
            ``False`` if on frame scores, ``None`` if the checkpoint does not say (older
            checkpoints; :class:`mtfas.Predictor` then assumes video level, the default).
        selection: For a checkpoint chosen on validation (``best.ckpt``), what chose it
            (:func:`selection_note`); ``None`` for the tested model (``last.ckpt``) and
            checkpoints saved during training.
    """

    path: Path
    student_spec: dict[str, Any] | None
    input_size: int | None
    crop_scale: float
    threshold: float | None
    threshold_method: str | None
    pai_names: list[str] | None
    system: str | None
    video_level: bool | None = None
    selection: str | None = None


#: Key of a checkpoint chosen on validation (``best.ckpt``) that describes the choice.
SELECTION_KEY = "mtfas_selection"


def selection_note(checkpoint: dict[str, Any]) -> str | None:
    """``"val/acer = 0.03125 (min) at epoch 3, step 88"`` for a ``best.ckpt``, else None."""
    chosen = checkpoint.get(SELECTION_KEY)
    if not isinstance(chosen, dict):
        return None
    score = chosen.get("score")
    value = f"{score:.6g}" if isinstance(score, int | float) else "?"
    return (
        f"{chosen.get('monitor')} = {value} ({chosen.get('mode')}) at epoch "
        f"{chosen.get('epoch')}, step {chosen.get('step')}"
    )


def _safe_globals() -> list[Any]:
    """The only classes a checkpoint may name: torch's own optimisers.

    ``save_hyperparameters`` used to record the optimiser factory (``torch.optim.Adam``,
    the systems' default) as the class itself; checkpoints written before
    :func:`plain_hyperparameters` hold it, so these classes (and nothing else) are allowed
    to appear. Constructing one from a file has no effect outside the optimiser object.
    """
    optimizer = torch.optim.Optimizer
    return sorted(
        (c for c in vars(torch.optim).values() if isinstance(c, type) and issubclass(c, optimizer)),
        key=lambda c: c.__qualname__,
    )


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """Load a Lightning checkpoint file onto the CPU as data: ``torch.load(weights_only=True)``.

    Only tensors, numbers, strings, lists, tuples, dicts and the optimiser classes of
    ``torch.optim`` (older checkpoints' hyper-parameters) are read; a file that holds
    anything else (a pickled object, a payload) is refused before anything in it runs.

    Raises:
        CheckpointError: If the file is missing, not a torch checkpoint, holds objects
            other than plain data, or is not a Lightning checkpoint of a model with a
            ``state_dict``.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} does not exist (or is not a file).")
    try:
        with torch.serialization.safe_globals(_safe_globals()), warnings.catch_warnings():
            # Plain pickles of newer protocols: refused below, without torch's aside.
            warnings.filterwarnings("ignore", "Detected pickle protocol", UserWarning)
            checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        if "Unsupported global" not in str(exc):
            raise CheckpointError(
                f"cannot read checkpoint {path}: it is not a file that torch.load("
                f"weights_only=True) reads ({_first_line(exc)}); mtfas reads checkpoints as "
                "data only, never as pickled objects. Give a .ckpt file written by Lightning "
                "while training an mtfas system."
            ) from None
        raise CheckpointError(
            f"refused to read checkpoint {path}: it holds more than plain data (tensors, "
            "numbers, strings, lists, dicts), and mtfas never runs code from a file. "
            f"torch.load(weights_only=True) said: {_first_line(exc)}. Checkpoints that mtfas "
            "writes hold plain data only. If you made this file yourself (other code, or an "
            "older mtfas with such hyper-parameters), load it in Python as you trust it and "
            "re-save it as plain data; if you did not, do not load it."
        ) from None
    except Exception as exc:
        raise CheckpointError(
            f"cannot read checkpoint {path}: {type(exc).__name__}: {_first_line(exc)}. Give a "
            ".ckpt file written by Lightning while training an mtfas system."
        ) from exc
    if not isinstance(checkpoint, dict) or "state_dict" not in checkpoint:
        raise CheckpointError(
            f"{path} is not a Lightning checkpoint (no 'state_dict'); give a .ckpt file "
            "written while training an mtfas system (ModelCheckpoint or trainer.save_checkpoint)."
        )
    if not isinstance(checkpoint["state_dict"], dict):
        raise CheckpointError(f"the 'state_dict' of {path} is not a dict of tensors.")
    return checkpoint


def _first_line(exc: BaseException) -> str:
    """The message of ``exc`` without torch's long advice on ``weights_only=False``."""
    text = str(exc)
    marker = "WeightsUnpickler error:"
    if marker in text:
        text = text.split(marker, 1)[1]
    text = " ".join(text.split())
    for cut in (" Please use `torch.serialization.add_safe_globals", " Check the documentation"):
        text = text.split(cut, 1)[0]
    return _short(text.strip().rstrip("."), 300)


def _short(text: object, limit: int = 120) -> str:
    shown = str(text)
    return shown if len(shown) <= limit else shown[: limit - 3] + "..."


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
        video_level=meta["video_level"] if isinstance(meta.get("video_level"), bool) else None,
        selection=selection_note(checkpoint),
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
    for key, value in state.items():
        if not isinstance(value, torch.Tensor):
            raise CheckpointError(
                f"the weight student.{_short(key)} in {path} is a {type(value).__name__}, not a "
                "tensor."
            )
    return state


# ---------------------------------------------------------------------- allow-lists
#: A class the user trusts: the class, or its dotted path (named by the user, never a file).
ClassLike = type | str


class AllowList:
    """Classes that a checkpoint may name, by dotted path.

    A path from a file is looked up, never imported: only the classes given here (already
    imported objects, or dotted paths that the *caller* names and that are imported on
    the caller's behalf) can be built. Each class is known under its defining path
    (``mtfas.models.depthnet.DepthNet``) and any alias it was given
    (``mtfas.models.DepthNet``).

    Args:
        classes: ``{path: class}`` of the built-in entries (aliases included).
        extra: Classes the user trusts: class objects, or dotted paths (imported here).
        what: What the built-in entries are, for messages (``"mtfas model"``).
        summary: How messages describe the built-in entries (default: their paths).

    Raises:
        ConfigError: If a user-named path cannot be imported or is not a class.
    """

    def __init__(
        self,
        classes: Mapping[str, type],
        extra: Iterable[ClassLike] = (),
        what: str = "mtfas",
        summary: str | None = None,
    ) -> None:
        self.what = what
        self.summary = summary or ", ".join(sorted({_class_path(c) for c in classes.values()}))
        self.classes: dict[str, type] = dict(classes)
        for item in extra:
            cls = _import_allowed(item) if isinstance(item, str) else item
            if not isinstance(cls, type):
                raise ConfigError(
                    f"allowed classes must be classes, got {item!r} ({type(cls).__name__}): "
                    "mtfas builds classes named by a checkpoint, never calls functions."
                )
            self.classes[_class_path(cls)] = cls
            if isinstance(item, str):
                self.classes[item] = cls

    def resolve(self, class_path: Any, where: str, advice: str = "") -> type:
        """The allowed class named ``class_path`` (found in ``where``), or a clear refusal.

        Args:
            class_path: The path as the file gives it.
            where: Where it was found (``"the student of ckpt"``), for the message.
            advice: More advice appended to the refusal (``"; or pass student=..."``).

        Raises:
            CheckpointError: If ``class_path`` is not a string or not on the list.
        """
        if isinstance(class_path, str) and class_path in self.classes:
            return self.classes[class_path]
        if not isinstance(class_path, str):
            raise CheckpointError(
                f"{where} gives a class_path that is not a string ({type(class_path).__name__})."
            )
        shown = _short(repr(class_path))
        raise CheckpointError(
            f"{where} names the class {shown}, which is not one of the {self.what} "
            f"classes mtfas builds ({self.summary}). mtfas does not import or call "
            "what a checkpoint file names, because a crafted file could run code that way. "
            f"If you trust this file and that class, allow it explicitly: --allow_class "
            f"{_short(class_path)} on the command line, allowed_classes=[{shown}] in "
            f"Python{advice}."
        )


def _class_path(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def _import_allowed(path: str) -> Any:
    """Import a class that the user (not a file) named: ``pkg.module.Class``."""
    module_name, _, name = path.rpartition(".")
    if not module_name or not name:
        raise ConfigError(f"allowed class {path!r} must be a dotted path, pkg.module.Class.")
    try:
        return getattr(importlib.import_module(module_name), name)
    except (ImportError, AttributeError) as exc:
        raise ConfigError(
            f"the allowed class {path!r} cannot be imported ({exc}); give its full path, "
            "pkg.module.Class, and install the package that defines it."
        ) from exc


def _exported(modules: Iterable[Any], base: type) -> dict[str, type]:
    """``{path: class}`` of the subclasses of ``base`` that mtfas modules export."""
    found: dict[str, type] = {}
    for module in modules:
        for name, obj in vars(module).items():
            if (
                isinstance(obj, type)
                and issubclass(obj, base)
                and obj.__module__.split(".")[0] in ("mtfas", "torch")
            ):
                found[f"{module.__name__}.{name}"] = obj
                found[_class_path(obj)] = obj
    return found


def student_classes(allowed_classes: Iterable[ClassLike] = ()) -> AllowList:
    """The classes a student may be rebuilt from: mtfas's networks plus ``allowed_classes``.

    Built in: the :class:`torch.nn.Module` classes of :mod:`mtfas.models` (``DepthNet``,
    ``CDCN``, ``TeacherNet``, ``CDConv2d``), under their defining and exported paths.
    """
    import mtfas.models

    mtfas_models = {
        k: v
        for k, v in _exported([mtfas.models], nn.Module).items()
        if v.__module__.startswith("mtfas.")
    }
    return AllowList(mtfas_models, allowed_classes, what="mtfas model")


# ---------------------------------------------------------------------- plain data
_SCALARS = (bool, int, float, str, type(None))
#: Deepest nesting of lists, dicts and class specs accepted in init args.
MAX_DEPTH = 32


def _check_plain(value: Any, where: str, allow: AllowList, advice: str, depth: int = 0) -> None:
    """Refuse anything in init args that is not plain data or an allowed class spec."""
    if depth > MAX_DEPTH:
        raise CheckpointError(f"{where} is nested more than {MAX_DEPTH} levels deep.")
    if isinstance(value, _SCALARS):
        return
    if isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            _check_plain(item, f"{where}[{i}]", allow, advice, depth + 1)
        return
    if isinstance(value, dict):
        for key in value:
            if not isinstance(key, str):
                raise CheckpointError(f"{where} has a key that is not a string: {_short(key)!r}.")
        if "class_path" in value:
            _check_spec(value, where, allow, advice, depth + 1)
            return
        for key, item in value.items():
            _check_plain(item, f"{where}[{key!r}]", allow, advice, depth + 1)
        return
    raise CheckpointError(
        f"{where} is a {type(value).__module__}.{type(value).__qualname__}, not plain data "
        "(numbers, strings, booleans, None, lists and dicts of these, or an allowed "
        "{'class_path', 'init_args'} spec); mtfas does not build such init args from a file."
    )


def _check_spec(spec: Any, where: str, allow: AllowList, advice: str, depth: int = 0) -> type:
    if not isinstance(spec, dict):
        raise CheckpointError(f"{where} is not a {{'class_path', 'init_args'}} dict.")
    extra = set(spec) - {"class_path", "init_args"}
    if extra:
        raise CheckpointError(
            f"{where} has keys other than class_path and init_args: {sorted(map(str, extra))}."
        )
    cls = allow.resolve(spec.get("class_path"), where, advice)
    init_args = spec.get("init_args", {})
    if not isinstance(init_args, dict):
        raise CheckpointError(f"the init_args of {where} are not a dict.")
    _check_plain(init_args, f"the init_args of {where}", allow, advice, depth)
    return cls


def _instantiate(spec: dict[str, Any], allow: AllowList) -> Any:
    """Build a spec that passed :func:`_check_spec` (nested specs first)."""
    cls = allow.classes[spec["class_path"]]
    return cls(**{k: _built(v, allow) for k, v in spec.get("init_args", {}).items()})


def _built(value: Any, allow: AllowList) -> Any:
    if isinstance(value, dict):
        if "class_path" in value:
            return _instantiate(value, allow)
        return {k: _built(v, allow) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_built(v, allow) for v in value)
    return value


def _build(spec: Any, path: Path, allow: AllowList, advice: str) -> nn.Module:
    where = f"the student recorded in {path}"
    _check_spec(spec, where, allow, advice)
    try:
        student = _instantiate(spec, allow)
    except Exception as exc:
        raise CheckpointError(
            f"cannot build {where}, {spec['class_path']}(**{_short(spec.get('init_args'), 300)}): "
            f"{type(exc).__name__}: {exc}"
        ) from exc
    if not isinstance(student, nn.Module):
        raise CheckpointError(
            f"{where}, {spec['class_path']}, built a {type(student).__name__}, not a network "
            "(torch.nn.Module)."
        )
    return student


def load_student(
    path: str | Path,
    student: nn.Module | None = None,
    *,
    allowed_classes: Iterable[ClassLike] = (),
) -> tuple[nn.Module, InferenceInfo]:
    """Rebuild the student of a checkpoint and load its weights (CPU, eval mode).

    Args:
        path: A checkpoint written while training an mtfas system.
        student: The network to load the weights into; default: rebuilt from the
            checkpoint's metadata. Needed for checkpoints whose student could not be
            described (see the module docs).
        allowed_classes: Classes besides mtfas's networks (:func:`student_classes`) that
            the checkpoint may name for its student (class objects or ``pkg.mod.Class``
            paths). Allow only classes you trust: a class named by a file is built with the
            file's init args.

    Returns:
        ``(student, info)``.

    Raises:
        CheckpointError: If the checkpoint is unusable or holds more than plain data, its
            student's class is not allowed or cannot be built, or the weights do not fit
            the network.
        ConfigError: If an allowed class cannot be imported.
    """
    path = Path(path)
    allow = student_classes(allowed_classes)
    checkpoint = load_checkpoint(path)
    state = _student_state(checkpoint, path)
    if student is None:
        info = _info(checkpoint, path)
        if info.student_spec is None:
            raise CheckpointError(
                f"{path} does not record how to rebuild its student (its class does not store "
                "its constructor arguments as attributes); pass the network: student=..."
            )
        advice = "; or pass the network yourself: student=..."
        student = _build(info.student_spec, path, allow, advice)
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
        selection=selection_note(checkpoint),
    )


# ---------------------------------------------------------------------- hyper-parameters
#: Keys of the hyper-parameters Lightning writes (model, data module).
HPARAMS_KEYS = ("hyper_parameters", "datamodule_hyper_parameters")
#: The one instantiator Lightning records (and allows) for LightningCLI models.
CLI_INSTANTIATOR = "lightning.pytorch.cli.instantiate_module"
_DOTTED = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)+$")


def plain_hyperparameters(value: Any, key: str = "hyper_parameters") -> Any:
    """``value`` with classes and functions replaced by plain data, for ``weights_only=True``.

    ``save_hyperparameters`` records constructor arguments as given: a class
    (``student_optimizer=torch.optim.Adam``) or a ``functools.partial`` of one would make
    the checkpoint unreadable with ``torch.load(weights_only=True)``. They become
    LightningCLI's ``{"class_path": ..., "init_args": ...}`` form (how LightningCLI records
    them, and what ``mtfas test --ckpt_path`` parses); a module-level function becomes its
    dotted path, paths become strings, enums their values, NumPy values Python numbers or
    lists. Anything else is replaced by a ``"<not saved: TYPE>"`` string, with a warning
    naming it. Tensors, numbers, strings, lists, tuples and dicts are kept.

    Args:
        value: The hyper-parameters (or a part of them).
        key: Its name, for the warning.
    """
    if isinstance(value, _SCALARS) or isinstance(value, torch.Tensor):
        return value
    if isinstance(value, enum.Enum):
        return plain_hyperparameters(value.value, key)
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if isinstance(value, Mapping):
        return {str(k): plain_hyperparameters(v, f"{key}.{k}") for k, v in value.items()}
    if isinstance(value, tuple) and type(value) is tuple:
        return tuple(plain_hyperparameters(v, f"{key}[{i}]") for i, v in enumerate(value))
    if isinstance(value, (list, tuple, set, frozenset)):
        return [plain_hyperparameters(v, f"{key}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, (np.generic, np.ndarray)):
        return value.tolist()
    if isinstance(value, (torch.dtype, torch.device)):
        return str(value)
    if isinstance(value, type) and "<locals>" not in value.__qualname__:
        return {"class_path": _class_path(value)}
    if (
        isinstance(value, functools.partial)
        and isinstance(value.func, type)
        and not value.args
        and "<locals>" not in value.func.__qualname__
    ):
        init_args = plain_hyperparameters(dict(value.keywords), key)
        return {"class_path": _class_path(value.func), "init_args": init_args}
    if (
        isinstance(value, (types.FunctionType, types.BuiltinFunctionType))
        and "<" not in value.__qualname__
    ):
        return f"{value.__module__}.{value.__qualname__}"
    kind = f"{type(value).__module__}.{type(value).__qualname__}"
    warnings.warn(
        f"the hyper-parameter {key} ({kind}) cannot be stored as plain data; the checkpoint "
        f"records '<not saved: {kind}>' instead (the weights are saved). Pass classes, "
        "functools.partial(Class, **plain_kwargs), numbers or strings to keep it.",
        stacklevel=2,
    )
    return f"<not saved: {kind}>"


def plain_checkpoint_hparams(checkpoint: dict[str, Any]) -> None:
    """Make the hyper-parameters of a checkpoint being saved plain data, in place.

    Called by :meth:`mtfas.systems.FASSystem.on_save_checkpoint`, so that every checkpoint
    mtfas writes is read by ``torch.load(weights_only=True)`` (see
    :func:`plain_hyperparameters`).
    """
    for key in HPARAMS_KEYS:
        if key in checkpoint:
            checkpoint[key] = plain_hyperparameters(checkpoint[key], key)


def check_checkpoint_hparams(path: str | Path, allow: AllowList) -> dict[str, Any]:
    """Refuse a checkpoint whose hyper-parameters name classes outside the allow-list.

    LightningCLI (``mtfas test|validate|predict|fit --ckpt_path X``) reads a checkpoint's
    ``hyper_parameters`` and parses them over the configuration: every ``class_path`` (and
    the model's ``_class_path``) found there is imported, and a dotted string given for a
    callable argument is imported too; importing a module runs its code. Call this first:
    every such name must be in ``allow`` (the command line passes
    :func:`mtfas.cli.trust.hparams_classes`: mtfas's systems, networks and data modules,
    torch's optimisers and schedulers, and the classes the user allows); init args
    must be plain data; a dotted string is accepted only for an argument annotated as a
    string (``backend="torch.func"``) or when it names an allowed class.

    Args:
        path: The checkpoint file.
        allow: The classes its hyper-parameters may name.

    Returns:
        The checkpoint (read with ``weights_only=True``).

    Raises:
        CheckpointError: If the file is unreadable, holds more than plain data, or its
            hyper-parameters name a class (or import path) that is not allowed.
        ConfigError: If an allowed class cannot be imported.
    """
    path = Path(path)
    checkpoint = load_checkpoint(path)
    advice = " (mtfas test|validate|predict --ckpt_path reads these hyper-parameters)"
    for key in HPARAMS_KEYS:
        hparams = checkpoint.get(key)
        if hparams is None:
            continue
        where = f"the {key} of {path}"
        if not isinstance(hparams, dict):
            raise CheckpointError(f"{where} are not a dict ({type(hparams).__name__}).")
        hparams = dict(hparams)
        instantiator = hparams.pop("_instantiator", None)
        if instantiator is not None and instantiator != CLI_INSTANTIATOR:
            raise CheckpointError(
                f"{where} name the instantiator {_short(repr(instantiator))}; the only one "
                f"accepted is Lightning's {CLI_INSTANTIATOR}."
            )
        cls = None
        if "_class_path" in hparams:
            cls = allow.resolve(hparams.pop("_class_path"), f"{where} (_class_path)", advice)
        elif key == "hyper_parameters":
            cls = _recorded_system(checkpoint, allow)
        _check_hparams(hparams, cls, where, allow, advice, 0)
    return checkpoint


def _recorded_system(checkpoint: dict[str, Any], allow: AllowList) -> type | None:
    """The allowed system class the inference metadata names (for the argument types)."""
    meta = checkpoint.get(INFERENCE_KEY)
    system = meta.get("system") if isinstance(meta, dict) else None
    return allow.classes.get(system) if isinstance(system, str) else None


def _check_hparams(
    args: dict[str, Any], cls: type | None, where: str, allow: AllowList, advice: str, depth: int
) -> None:
    """Check the init args of ``cls`` (or of an unknown class) as LightningCLI parses them."""
    if depth > MAX_DEPTH:
        raise CheckpointError(f"{where} is nested more than {MAX_DEPTH} levels deep.")
    hints = _init_hints(cls) if cls is not None else {}
    for name, value in args.items():
        if not isinstance(name, str):
            raise CheckpointError(f"{where} has a key that is not a string: {_short(name)!r}.")
        _check_hparam(value, hints.get(name), f"{where}[{name!r}]", allow, advice, depth + 1)


def _check_hparam(
    value: Any, hint: Any, where: str, allow: AllowList, advice: str, depth: int
) -> None:
    if depth > MAX_DEPTH:
        raise CheckpointError(f"{where} is nested more than {MAX_DEPTH} levels deep.")
    if isinstance(value, str):
        if _DOTTED.match(value) and not _is_text(hint) and value not in allow.classes:
            allow.resolve(value, f"{where} (an import path)", advice)
        return
    if isinstance(value, _SCALARS) or isinstance(value, torch.Tensor):
        return
    if isinstance(value, type) and value in allow.classes.values():
        return  # an optimiser class in an older checkpoint (see load_checkpoint)
    if isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            _check_hparam(item, None, f"{where}[{i}]", allow, advice, depth + 1)
        return
    if isinstance(value, dict):
        if "class_path" in value:
            cls = allow.resolve(value["class_path"], where, advice)
            extra = set(value) - {"class_path", "init_args", "dict_kwargs"}
            if extra:
                raise CheckpointError(
                    f"{where} has keys besides class_path, init_args and dict_kwargs: "
                    f"{sorted(map(str, extra))}."
                )
            for part in ("init_args", "dict_kwargs"):
                inner = value.get(part, {})
                if not isinstance(inner, dict):
                    raise CheckpointError(f"the {part} of {where} are not a dict.")
                _check_hparams(inner, cls, f"the {part} of {where}", allow, advice, depth + 1)
            return
        for key, item in value.items():
            if not isinstance(key, str):
                raise CheckpointError(f"{where} has a key that is not a string: {_short(key)!r}.")
            _check_hparam(item, None, f"{where}[{key!r}]", allow, advice, depth + 1)
        return
    raise CheckpointError(
        f"{where} is a {type(value).__module__}.{type(value).__qualname__}, not plain data."
    )


def _init_hints(cls: type) -> dict[str, Any]:
    """Type hints of the constructor arguments of ``cls`` and of its bases (``**kwargs``)."""
    hints: dict[str, Any] = {}
    for klass in reversed(cls.__mro__):
        init = klass.__dict__.get("__init__")
        if init is None:
            continue
        try:
            hints.update(typing.get_type_hints(init))
        except Exception:  # unresolvable annotations: treat the arguments as untyped
            continue
    return hints


def _is_text(hint: Any) -> bool:
    """Whether an argument annotated ``hint`` takes only text (LightningCLI imports nothing)."""
    if hint is str:
        return True
    origin = typing.get_origin(hint)
    if origin is Literal:
        return all(isinstance(a, (str, type(None))) for a in typing.get_args(hint))
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        return bool(args) and all(_is_text(a) for a in args)
    return False
