"""Input validation shared by the functional metrics and :class:`PADMetrics`.

Every check raises :class:`mtfas.errors.MetricInputError` with a message that says what was
wrong and how to fix it. The helpers return detached tensors in the dtypes the metrics compute
with: ``float64`` scores and ``int64`` labels, species ids and video ids.
"""

from __future__ import annotations

import math
import numbers
from typing import Any

import torch
from torch import Tensor

from mtfas.errors import MetricInputError

_MAX_SHOWN = 5


def _to_1d(values: Any, name: str, dtype: torch.dtype | None = None) -> Tensor:
    """Turn ``values`` into a detached 1-D tensor or raise."""
    if isinstance(values, Tensor):
        tensor = values.detach()
    else:
        try:
            tensor = torch.as_tensor(values, dtype=dtype)
        except (TypeError, ValueError, RuntimeError) as err:
            raise MetricInputError(
                f"{name} must be a 1-D tensor (or array-like); could not convert "
                f"{type(values).__name__}: {err}"
            ) from err
    if tensor.ndim != 1:
        raise MetricInputError(
            f"{name} must be 1-D with one entry per presentation, got shape {tuple(tensor.shape)}; "
            "flatten it (e.g. `.reshape(-1)`) before passing it to the metric."
        )
    if tensor.is_complex():
        raise MetricInputError(f"{name} must be real-valued, got dtype {tensor.dtype}.")
    return tensor


def _first_indices(mask: Tensor) -> list[int]:
    """Return the first few indices where ``mask`` is true."""
    return mask.nonzero().reshape(-1)[:_MAX_SHOWN].tolist()


def as_scores(scores: Any, name: str = "scores") -> Tensor:
    """Validate attack scores and return them as a ``float64`` 1-D tensor.

    Args:
        scores: One score per presentation; higher means more likely an attack.
        name: Name used in error messages.

    Returns:
        The scores as a detached ``float64`` tensor on their original device.

    Raises:
        MetricInputError: If the scores are not 1-D, are boolean, or hold NaN or inf values.
    """
    tensor = _to_1d(scores, name, dtype=torch.float64)
    if tensor.dtype == torch.bool:
        raise MetricInputError(
            f"{name} must hold real-valued attack scores, got a boolean tensor; pass the model's "
            "continuous scores (higher = more likely an attack), not decisions."
        )
    tensor = tensor.to(torch.float64)
    bad = ~torch.isfinite(tensor)
    if bool(bad.any()):
        raise MetricInputError(
            f"{name} contain {int(bad.sum())} NaN or infinite value(s) (first at indices "
            f"{_first_indices(bad)}); every score must be finite. Check the model output or "
            "the loss for divergence before computing metrics."
        )
    return tensor


def _as_integer(values: Any, name: str, meaning: str) -> Tensor:
    """Validate an integer-valued 1-D tensor and return it as ``int64``."""
    tensor = _to_1d(values, name)
    if tensor.dtype == torch.bool or tensor.dtype.is_floating_point:
        raise MetricInputError(
            f"{name} must be an integer tensor ({meaning}), got dtype {tensor.dtype}; "
            "convert it with `.long()`."
        )
    return tensor.to(torch.int64)


def _reject_where(tensor: Tensor, bad: Tensor, rule: str) -> None:
    """Raise ``rule``, the values found and where, if any element of ``bad`` is set."""
    if bool(bad.any()):
        shown = tensor[bad].unique()[:_MAX_SHOWN].tolist()  # type: ignore[no-untyped-call]
        raise MetricInputError(f"{rule}, found values {shown} at indices {_first_indices(bad)}.")


def as_labels(labels: Any, name: str = "labels") -> Tensor:
    """Validate bona fide / attack labels (``0`` / ``1``) and return them as ``int64``.

    Raises:
        MetricInputError: If the labels are not integers in ``{0, 1}``.
    """
    tensor = _as_integer(labels, name, "0 = bona fide, 1 = attack")
    _reject_where(
        tensor, (tensor != 0) & (tensor != 1), f"{name} must be 0 (bona fide) or 1 (attack)"
    )
    return tensor


def as_pai(pai: Any, name: str = "pai") -> Tensor:
    """Validate PAI species ids (``0`` = live, attacks ``>= 1``) and return them as ``int64``.

    Raises:
        MetricInputError: If the ids are not non-negative integers.
    """
    tensor = _as_integer(pai, name, "species ids, 0 = live")
    _reject_where(tensor, tensor < 0, f"{name} species ids must be >= 0 (0 = live)")
    return tensor


def as_video(video: Any, name: str = "video") -> Tensor:
    """Validate integer video ids and return them as ``int64``.

    Raises:
        MetricInputError: If the ids are not integers.
    """
    return _as_integer(video, name, "index of each frame's video")


def check_same_length(**tensors: Tensor) -> None:
    """Raise if the given 1-D tensors do not all have the same length."""
    lengths = {name: int(t.numel()) for name, t in tensors.items()}
    if len(set(lengths.values())) > 1:
        described = ", ".join(f"{name}={n}" for name, n in lengths.items())
        raise MetricInputError(
            f"inputs must have one entry per presentation and equal lengths, got {described}."
        )


def check_pai_matches_labels(labels: Tensor, pai: Tensor) -> None:
    """Raise unless bona fide presentations have species 0 and attacks a species ``>= 1``."""
    bad = ((labels == 0) & (pai != 0)) | ((labels == 1) & (pai == 0))
    if bool(bad.any()):
        raise MetricInputError(
            "labels and pai disagree: bona fide presentations (label 0) must have pai 0 and "
            f"attacks (label 1) a species id >= 1; mismatches at indices {_first_indices(bad)}."
        )


def check_pai_names(pai: Tensor, pai_names: Any) -> list[str]:
    """Validate ``pai_names`` against the species ids present and return it as a list."""
    if isinstance(pai_names, str):
        raise MetricInputError(
            "pai_names must be a sequence of species names (index 0 = 'live'), got a string."
        )
    names = [str(name) for name in pai_names]
    if len(names) < 2:
        raise MetricInputError(
            f"pai_names must list 'live' and at least one attack species, got {names}."
        )
    if len(set(names)) != len(names):
        raise MetricInputError(f"pai_names must be unique, got {names}.")
    if pai.numel() and int(pai.max()) >= len(names):
        raise MetricInputError(
            f"pai holds species id {int(pai.max())} but pai_names has only {len(names)} entries "
            f"({names}); pass the data module's full pai_names list."
        )
    return names


def require_both_classes(labels: Tensor) -> tuple[int, int]:
    """Return ``(n_bona_fide, n_attack)`` or raise if either class is missing."""
    n_attack = int(labels.sum())
    n_bona = int(labels.numel()) - n_attack
    if n_attack == 0 or n_bona == 0:
        missing = "attack (label 1)" if n_attack == 0 else "bona fide (label 0)"
        other = "APCER" if n_attack == 0 else "BPCER"
        raise MetricInputError(
            f"the scores contain no {missing} presentations ({n_bona} bona fide, {n_attack} "
            f"attack), so {other} and every metric built on it are undefined. Evaluate on a "
            "set that holds both bona fide and attack presentations."
        )
    return n_bona, n_attack


def check_threshold(threshold: Any) -> float:
    """Return ``threshold`` as a float, raising if it is not a real number or is NaN."""
    if isinstance(threshold, Tensor):
        if threshold.numel() != 1:
            raise MetricInputError(
                "threshold must be a single number, got a tensor of shape "
                f"{tuple(threshold.shape)}."
            )
        threshold = threshold.item()
    if isinstance(threshold, bool) or not isinstance(threshold, numbers.Real):
        raise MetricInputError(f"threshold must be a real number, got {threshold!r}.")
    value = float(threshold)
    if math.isnan(value):
        raise MetricInputError("threshold must not be NaN.")
    return value


def check_target(target: Any, name: str) -> float:
    """Return an operating-point target as a float in ``[0, 1]`` or raise."""
    if isinstance(target, bool) or not isinstance(target, numbers.Real):
        raise MetricInputError(f"{name} must be a fraction in [0, 1], got {target!r}.")
    value = float(target)
    if not 0.0 <= value <= 1.0:
        raise MetricInputError(
            f"{name} must be a fraction in [0, 1] (e.g. 0.05 for 5 %), got {value}."
        )
    return value
