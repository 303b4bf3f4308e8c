"""2-D similarity transforms as 3x3 homogeneous matrices (pixel centres at integers)."""

from __future__ import annotations

import math

import numpy as np


def similarity(
    scale: float,
    angle_deg: float,
    src: tuple[float, float] | np.ndarray,
    dst: tuple[float, float] | np.ndarray,
) -> np.ndarray:
    """Returns the map ``p -> scale * R(angle) (p - src) + dst``."""
    t = math.radians(angle_deg)
    c, s = scale * math.cos(t), scale * math.sin(t)
    sx, sy = float(src[0]), float(src[1])
    return np.array(
        [
            [c, -s, float(dst[0]) - (c * sx - s * sy)],
            [s, c, float(dst[1]) - (s * sx + c * sy)],
            [0.0, 0.0, 1.0],
        ]
    )


def apply(m: np.ndarray, pts: np.ndarray) -> np.ndarray:
    """Applies a 3x3 affine map to ``(N, 2)`` points."""
    out: np.ndarray = pts @ m[:2, :2].T + m[:2, 2]
    return out


def box_corners(box: np.ndarray) -> np.ndarray:
    """The four corners ``(4, 2)`` of an ``x1, y1, x2, y2`` box."""
    x1, y1, x2, y2 = box
    return np.array([[x1, y1], [x2, y1], [x2, y2], [x1, y2]], np.float64)


def bounding_box(pts: np.ndarray) -> np.ndarray:
    """Axis-aligned ``x1, y1, x2, y2`` box of ``(N, 2)`` points."""
    return np.concatenate([pts.min(axis=0), pts.max(axis=0)])


def to_output(pts: np.ndarray, ss: float) -> np.ndarray:
    """Converts internal pixel coordinates to output pixel coordinates (supersampling ``ss``)."""
    return (pts + 0.5) / ss - 0.5
