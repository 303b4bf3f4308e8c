"""Geometry of partial attacks: the face regions cut out of a print or printed on a patch.

Regions are ellipses aligned with the eye line, placed from the two eye centres and the
subject's :class:`~mtfas.synthetic.identity.Identity` (which gives the face proportions in
units of the inter-eye distance), so they can be drawn in any frame where the eyes are
known: on the print, on the live canvas or in an output frame.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from mtfas.synthetic.identity import Identity

F32 = np.float32


@dataclass(frozen=True)
class Ellipse:
    """An ellipse whose axes follow the eye line.

    Attributes:
        centre: ``(x, y)`` in pixels.
        rx: Semi-axis along the eye line.
        ry: Semi-axis along the downward normal of the eye line.
        angle: Angle of the eye line in radians (``atan2`` of its direction).
    """

    centre: tuple[float, float]
    rx: float
    ry: float
    angle: float

    def contains(self, pts: np.ndarray, margin: float = 1.0) -> np.ndarray:
        """Whether ``(N, 2)`` points lie inside the ellipse scaled by ``margin``."""
        c, s = math.cos(self.angle), math.sin(self.angle)
        d = np.asarray(pts, np.float64) - np.asarray(self.centre)
        u = d[:, 0] * c + d[:, 1] * s
        v = -d[:, 0] * s + d[:, 1] * c
        inside: np.ndarray = (u / (self.rx * margin)) ** 2 + (v / (self.ry * margin)) ** 2 <= 1.0
        return inside


@dataclass(frozen=True)
class FaceFrame:
    """Where a face is, from its eye centres: origin, axes and scale.

    Attributes:
        mid: Midpoint of the eyes.
        along: Unit vector from the image-left to the image-right eye.
        down: Unit normal of the eye line pointing down the face.
        a: Face half-width in pixels (the identity's unit ``face_w * frame``).
        b: Face half-height in pixels.
        ew: Eye half-width in pixels.
    """

    mid: np.ndarray
    along: np.ndarray
    down: np.ndarray
    a: float
    b: float
    ew: float

    @classmethod
    def from_eyes(cls, eyes: np.ndarray, ident: Identity) -> FaceFrame:
        """The frame of a face whose eye centres are ``eyes`` ``(2, 2)`` (image-left first)."""
        e = np.asarray(eyes, np.float64).reshape(2, 2)
        delta = e[1] - e[0]
        d = float(np.hypot(*delta))
        along = delta / max(d, 1e-9)
        down = np.array([-along[1], along[0]])
        if down[1] < 0:
            down = -down
        a = d / (2.0 * ident.eye_sep)
        return cls(e.mean(axis=0), along, down, a, a * ident.face_ratio, ident.eye_w * a)

    @property
    def angle(self) -> float:
        """Angle of the eye line in radians."""
        return math.atan2(float(self.along[1]), float(self.along[0]))

    def point(self, x: float, y: float) -> tuple[float, float]:
        """The pixel at ``x`` pixels along the eye line and ``y`` pixels down from ``mid``."""
        p = self.mid + x * self.along + y * self.down
        return (float(p[0]), float(p[1]))

    def mouth(self, ident: Identity) -> tuple[float, float]:
        """Centre of the mouth (the line between the lips)."""
        return self.point(0.0, (ident.mouth_y - ident.eye_y) * self.b)


def regions(kind: str, names: tuple[str, ...], face: FaceFrame, ident: Identity) -> list[Ellipse]:
    """The ellipses of ``names`` (``"eyes"``, ``"mouth"``) for a partial attack of ``kind``.

    ``cut`` holes are eye- and mouth-sized (the live eye, lids and the lips show through);
    ``patch`` regions are larger: one band over both eyes and brows (paper glasses), or a
    paper mask over the nose tip, mouth and chin.
    """
    out: list[Ellipse] = []
    t = face.angle
    ew, a = face.ew, face.a
    lips = (ident.lip_up + ident.lip_low) * a
    mx, my = face.mouth(ident)
    for name in names:
        if name == "eyes" and kind == "cut":
            for sign in (-1.0, 1.0):
                centre = face.point(sign * ident.eye_sep * a, 0.05 * ew)
                out.append(Ellipse(centre, 1.45 * ew, 0.95 * ew, t))
        elif name == "eyes":
            centre = face.point(0.0, -0.15 * ew)
            out.append(Ellipse(centre, ident.eye_sep * a + 1.9 * ew, 1.45 * ew, t))
        elif name == "mouth" and kind == "cut":
            mw = ident.mouth_w * a
            out.append(Ellipse((mx, my), 1.25 * mw, 0.6 * lips + 0.05 * a, t))
        elif name == "mouth":  # a paper mask over the nose tip, mouth and chin
            centre = face.point(0.0, (ident.mouth_y - ident.eye_y - 0.05) * face.b)
            out.append(Ellipse(centre, 0.85 * a, 0.42 * face.b, t))
        else:
            raise ValueError(f"unknown partial-attack region {name!r}")
    return out


def coverage(shape: tuple[int, int], ellipses: list[Ellipse], soft: float) -> np.ndarray:
    """Anti-aliased union of ellipses on an ``(H, W)`` grid (pixel centres at integers).

    Args:
        shape: ``(H, W)`` of the grid.
        ellipses: The regions.
        soft: Width of the anti-aliased edge in pixels.

    Returns:
        ``(H, W)`` float32 in [0, 1]: 1 inside any ellipse.
    """
    h, w = shape
    out = np.zeros((h, w), F32)
    for e in ellipses:
        r = max(e.rx, e.ry) + 2.0 * soft
        x0, x1 = max(math.floor(e.centre[0] - r), 0), min(math.ceil(e.centre[0] + r) + 1, w)
        y0, y1 = max(math.floor(e.centre[1] - r), 0), min(math.ceil(e.centre[1] + r) + 1, h)
        if x0 >= x1 or y0 >= y1:
            continue
        xs = np.arange(x0, x1, dtype=np.float64)[None, :] - e.centre[0]
        ys = np.arange(y0, y1, dtype=np.float64)[:, None] - e.centre[1]
        c, s = math.cos(e.angle), math.sin(e.angle)
        u = (xs * c + ys * s) / e.rx
        v = (-xs * s + ys * c) / e.ry
        dist = (np.sqrt(u * u + v * v) - 1.0) * min(e.rx, e.ry)
        cov = np.clip(0.5 - dist / soft, 0.0, 1.0).astype(F32)
        np.maximum(out[y0:y1, x0:x1], cov, out=out[y0:y1, x0:x1])
    return out
