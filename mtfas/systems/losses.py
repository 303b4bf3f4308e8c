"""Losses of the teaching (lower) and validation (higher) levels."""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor

from mtfas.errors import ConfigError, ShapeError
from mtfas.models.score import map_score

#: Clamp of map values before a binary cross-entropy: keeps ``log`` finite for ReLU maps.
BCE_EPS = 1e-4

ValLossName = Literal["map_mean_bce", "pixel_bce"]


def supervision_target(teacher_maps: Tensor, labels: Tensor) -> Tensor:
    """ZeroMap for live, the teacher's (learnable) map for spoof.

    Args:
        teacher_maps: ``(B, 1, h, w)`` teacher output in [0, 1].
        labels: ``(B,)``, 0 live / 1 attack.

    Returns:
        ``(B, 1, h, w)`` targets; rows of live samples are exactly zero.
    """
    return teacher_maps * labels.to(teacher_maps.dtype).view(-1, 1, 1, 1)


def binary_map_target(labels: Tensor, like: Tensor) -> Tensor:
    """Handcrafted pixel-wise binary supervision: all-0 map for live, all-1 for spoof."""
    return labels.to(like.dtype).view(-1, 1, 1, 1).expand_as(like)


def check_map_shapes(student_maps: Tensor, target: Tensor) -> None:
    """Raise :class:`ShapeError` unless student maps and targets are both ``(B, 1, h, w)``."""
    if student_maps.dim() != 4 or student_maps.shape[1] != 1:
        raise ShapeError(
            f"The student must map images to (B, 1, h, w) maps; it returned "
            f"{tuple(student_maps.shape)}."
        )
    if target.shape != student_maps.shape:
        raise ShapeError(
            f"Student map shape {tuple(student_maps.shape)} differs from the supervision map "
            f"shape {tuple(target.shape)}: the teacher supervises the student pixel by pixel, "
            "so both networks need the same output stride (DepthNet and TeacherNet: input/8)."
        )


def teaching_loss(student_maps: Tensor, target: Tensor) -> Tensor:
    """Mean squared error between the student's maps and their targets (shapes checked)."""
    check_map_shapes(student_maps, target)
    return F.mse_loss(student_maps, target)


def _bce(p: Tensor, target: Tensor) -> Tensor:
    # Written out (not F.binary_cross_entropy) so that a NaN map yields a NaN loss, which
    # the system detects and skips, instead of an exception deep inside the inner loop.
    p = p.clamp(BCE_EPS, 1.0 - BCE_EPS)
    return -(target * torch.log(p) + (1.0 - target) * torch.log1p(-p)).mean()


def map_mean_bce(maps: Tensor, labels: Tensor) -> Tensor:
    """Binary cross-entropy of the map mean (the score) against the label."""
    p = map_score(maps)
    return _bce(p, labels.to(p.dtype))


def pixel_bce(maps: Tensor, labels: Tensor) -> Tensor:
    """Pixel-wise binary cross-entropy against an all-0 (live) / all-1 (spoof) map."""
    return _bce(maps, binary_map_target(labels, maps))


def validation_loss(name: str, maps: Tensor, labels: Tensor) -> Tensor:
    """Loss of the adapted student on ground-truth labels (the teacher's objective).

    Args:
        name: ``"map_mean_bce"`` or ``"pixel_bce"``.
        maps: Student maps ``(B, 1, h, w)``.
        labels: ``(B,)`` 0 live / 1 attack.
    """
    if name == "map_mean_bce":
        return map_mean_bce(maps, labels)
    if name == "pixel_bce":
        return pixel_bce(maps, labels)
    raise ConfigError(f"Unknown validation loss {name!r}; use 'map_mean_bce' or 'pixel_bce'.")


def all_finite(*values: Tensor) -> bool:
    """True iff every given tensor is finite (one device sync for all of them)."""
    return bool(torch.isfinite(torch.stack([v.detach().float().sum() for v in values])).all())
