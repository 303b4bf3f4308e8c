"""Identity parameters of synthetic subjects.

A subject is fully described by an :class:`Identity`, drawn from the identity stream of the
seed, so every capture of a subject (live or the source of an attack) shows the same person.
Geometry is relative: the face half-width is a fraction of the frame width and the other
facial measures are fractions of the face half-width ``a`` or half-height ``b``.
"""

from __future__ import annotations

import colorsys
from dataclasses import dataclass

import numpy as np

from mtfas.synthetic._random import TAG_IDENTITY, stream
from mtfas.synthetic.conditions import Vec3

HAIR_SHORT, HAIR_LONG, HAIR_FRINGE, HAIR_SHAVED = 0, 1, 2, 3

# Display-referred (sRGB-like) palettes; converted to linear on sampling.
_SKIN = np.array(
    [
        (0.96, 0.80, 0.69),
        (0.91, 0.72, 0.60),
        (0.80, 0.60, 0.47),
        (0.66, 0.46, 0.33),
        (0.49, 0.32, 0.22),
        (0.34, 0.22, 0.15),
    ]
)
_HAIR = np.array(
    [
        (0.07, 0.06, 0.06),
        (0.20, 0.13, 0.09),
        (0.38, 0.25, 0.15),
        (0.78, 0.63, 0.40),
        (0.52, 0.24, 0.12),
        (0.62, 0.61, 0.60),
    ]
)
_HAIR_P = np.array([0.30, 0.26, 0.18, 0.12, 0.07, 0.07])
_IRIS = np.array(
    [
        (0.36, 0.21, 0.10),
        (0.16, 0.10, 0.06),
        (0.32, 0.47, 0.66),
        (0.33, 0.47, 0.30),
        (0.50, 0.38, 0.18),
        (0.45, 0.50, 0.56),
    ]
)
_WALL = np.array(
    [
        (0.86, 0.82, 0.74),
        (0.72, 0.74, 0.76),
        (0.70, 0.80, 0.86),
        (0.74, 0.82, 0.70),
        (0.92, 0.91, 0.89),
        (0.55, 0.42, 0.32),
        (0.82, 0.70, 0.62),
        (0.45, 0.50, 0.58),
    ]
)
_BOOKS = np.array(
    [
        (0.60, 0.15, 0.12),
        (0.15, 0.30, 0.55),
        (0.20, 0.45, 0.25),
        (0.85, 0.75, 0.35),
        (0.30, 0.30, 0.30),
        (0.85, 0.85, 0.80),
        (0.45, 0.25, 0.45),
    ]
)


def _lin(c: np.ndarray | tuple[float, ...]) -> Vec3:
    v = np.clip(np.asarray(c, dtype=np.float64), 0.0, 1.0) ** 2.2
    return (float(v[0]), float(v[1]), float(v[2]))


@dataclass(frozen=True)
class Rect:
    """A soft-edged axis-aligned rectangle of the background, in frame fractions."""

    x0: float
    y0: float
    x1: float
    y1: float
    soft: float
    colour: Vec3


@dataclass(frozen=True)
class Background:
    """A subject's background: a vertical gradient and rectangles painted over it."""

    top: Vec3
    bottom: Vec3
    rects: tuple[Rect, ...]


@dataclass(frozen=True)
class Identity:
    """Appearance of one subject (see the module docstring for units)."""

    face_w: float
    face_ratio: float
    jaw: float
    chin: float
    cx: float
    cy: float
    ear: float
    skin: Vec3
    blush: float
    moles: tuple[tuple[float, float, float], ...]
    eye_sep: float
    eye_y: float
    eye_w: float
    eye_open: float
    eye_low: float
    eye_tilt: float
    iris: Vec3
    iris_r: float
    brow_gap: float
    brow_thick: float
    brow_arch: float
    brow_len: float
    brow_colour: Vec3
    nose_len: float
    nose_w: float
    mouth_y: float
    mouth_w: float
    lip_up: float
    lip_low: float
    smile: float
    lip_colour: Vec3
    hair_colour: Vec3
    hair_style: int
    hairline: float
    hair_volume: float
    beard: float
    glasses: int
    glasses_colour: Vec3
    clothing: Vec3
    background: Background


def _background(r: np.random.Generator) -> Background:
    wall = _WALL[r.integers(len(_WALL))] * r.uniform(0.9, 1.08, 3)
    top = wall * r.uniform(1.0, 1.12)
    bottom = wall * r.uniform(0.72, 0.92)
    rects: list[Rect] = []
    style = int(r.integers(4))
    left = bool(r.random() < 0.5)
    if style == 1:  # a door or window at one side
        w = r.uniform(0.16, 0.26)
        x0 = r.uniform(-0.05, 0.08) if left else r.uniform(0.72, 0.86)
        y0 = r.uniform(0.0, 0.18)
        frame = _WALL[r.integers(len(_WALL))] * r.uniform(0.5, 1.0)
        inner = _WALL[r.integers(len(_WALL))] * r.uniform(0.8, 1.15)
        rects.append(Rect(x0, y0, x0 + w, 1.2, 0.006, _lin(frame)))
        rects.append(Rect(x0 + 0.02, y0 + 0.02, x0 + w - 0.02, 1.2, 0.005, _lin(inner)))
    elif style == 2:  # a shelf with books
        y = r.uniform(0.2, 0.42)
        rects.append(Rect(-0.1, y, 1.1, y + 0.025, 0.004, _lin(_WALL[5] * r.uniform(0.7, 1.1))))
        x = r.uniform(-0.05, 0.05)
        while x < 1.05:
            w = r.uniform(0.025, 0.06)
            h = r.uniform(0.08, 0.15)
            book = _BOOKS[r.integers(len(_BOOKS))] * r.uniform(0.7, 1.1)
            rects.append(Rect(x, y - h, x + w, y, 0.003, _lin(book)))
            x += w + r.uniform(0.0, 0.08)
    elif style == 3:  # a corner of the room
        xs = r.uniform(0.08, 0.26) if left else r.uniform(0.74, 0.92)
        shade = wall * r.uniform(0.6, 0.8)
        x0, x1 = (-0.2, xs) if left else (xs, 1.2)
        rects.append(Rect(x0, -0.2, x1, 1.2, 0.008, _lin(shade)))
    else:  # a soft patch of light on a plain wall
        cx, cy = r.uniform(0.0, 1.0), r.uniform(0.0, 0.4)
        s = r.uniform(0.15, 0.3)
        rects.append(Rect(cx - s, cy - s, cx + s, cy + s, 0.25, _lin(top * 1.15)))
    return Background(_lin(top), _lin(bottom), tuple(rects))


def sample_identity(seed: int, subject: int) -> Identity:
    """Draws the identity of a subject.

    Args:
        seed: Global seed of the synthetic benchmark.
        subject: Subject id (non-negative).

    Returns:
        The subject's :class:`Identity`; equal arguments give equal identities.
    """
    r = stream(seed, TAG_IDENTITY, subject)
    t = r.uniform(0.0, len(_SKIN) - 1.0)
    i = min(int(t), len(_SKIN) - 2)
    skin_srgb = _SKIN[i] * (1.0 - (t - i)) + _SKIN[i + 1] * (t - i)
    skin_srgb = skin_srgb * (1.0 + r.normal(0.0, [0.025, 0.025, 0.035]))
    hair_srgb = _HAIR[r.choice(len(_HAIR), p=_HAIR_P)] * r.uniform(0.85, 1.15)
    brow_srgb = np.minimum(hair_srgb, _HAIR[2]) * r.uniform(0.6, 0.9)
    lip_srgb = skin_srgb * np.array([0.95, 0.68, 0.68]) * r.uniform(0.85, 1.0)
    style = int(r.choice(4, p=[0.36, 0.28, 0.24, 0.12]))
    hairline = {
        HAIR_SHORT: r.uniform(0.48, 0.66),
        HAIR_LONG: r.uniform(0.45, 0.62),
        HAIR_FRINGE: r.uniform(0.28, 0.40),
        HAIR_SHAVED: r.uniform(0.62, 0.78),
    }[style]
    glasses = int(r.choice(3, p=[0.78, 0.12, 0.10]))
    glasses_srgb = (0.06, 0.05, 0.05) if glasses == 1 else (0.48, 0.46, 0.42)
    h, s, v = r.random(), r.uniform(0.15, 0.7), r.uniform(0.15, 0.85)
    clothing = colorsys.hsv_to_rgb(h, s, v)
    moles = tuple(
        (float(r.uniform(-0.7, 0.7)), float(r.uniform(-0.3, 0.7)), float(r.uniform(0.01, 0.02)))
        for _ in range(int(r.integers(0, 4)))
    )
    return Identity(
        face_w=float(r.uniform(0.205, 0.245)),
        face_ratio=float(r.uniform(1.22, 1.42)),
        jaw=float(r.uniform(0.05, 0.35)),
        chin=float(r.uniform(1.7, 2.4)),
        cx=float(0.5 + r.uniform(-0.015, 0.015)),
        cy=float(0.475 + r.uniform(-0.012, 0.012)),
        ear=float(r.uniform(0.85, 1.15)),
        skin=_lin(skin_srgb),
        blush=float(r.uniform(0.0, 0.18)),
        moles=moles,
        eye_sep=float(r.uniform(0.40, 0.48)),
        eye_y=float(r.uniform(-0.12, -0.03)),
        eye_w=float(r.uniform(0.17, 0.22)),
        eye_open=float(r.uniform(0.40, 0.55)),
        eye_low=float(r.uniform(0.28, 0.40)),
        eye_tilt=float(r.uniform(-0.12, 0.15)),
        iris=_lin(_IRIS[r.integers(len(_IRIS))] * r.uniform(0.65, 0.95)),
        iris_r=float(r.uniform(0.48, 0.58)),
        brow_gap=float(r.uniform(0.90, 1.25)),
        brow_thick=float(r.uniform(0.16, 0.32)),
        brow_arch=float(r.uniform(0.10, 0.35)),
        brow_len=float(r.uniform(1.05, 1.30)),
        brow_colour=_lin(brow_srgb),
        nose_len=float(r.uniform(0.22, 0.34)),
        nose_w=float(r.uniform(0.17, 0.25)),
        mouth_y=float(r.uniform(0.53, 0.62)),
        mouth_w=float(r.uniform(0.28, 0.40)),
        lip_up=float(r.uniform(0.06, 0.12)),
        lip_low=float(r.uniform(0.08, 0.16)),
        smile=float(r.uniform(-0.03, 0.08)),
        lip_colour=_lin(lip_srgb),
        hair_colour=_lin(hair_srgb),
        hair_style=style,
        hairline=float(hairline),
        hair_volume=float(r.uniform(1.03, 1.12)),
        beard=float(r.uniform(0.3, 0.8)) if r.random() < 0.18 else 0.0,
        glasses=glasses,
        glasses_colour=_lin(glasses_srgb),
        clothing=_lin(clothing),
        background=_background(r),
    )
