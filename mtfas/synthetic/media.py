"""Attack media: printed photos (halftone or dither on paper) and displays.

A print is made once per (subject, printer) from the subject's source photo and is then
re-captured in every session and device; a display processes the source video (gamma shift,
white point, black level, softness) and its sub-pixel grid is sampled on the sensor by
:func:`mtfas.synthetic.camera.display_grid`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import cast

import cv2
import numpy as np

from mtfas.synthetic.camera import luma
from mtfas.synthetic.conditions import DisplaySpec, PrintSpec

F32 = np.float32
_BAYER4 = (
    np.array([[0, 8, 2, 10], [12, 4, 14, 6], [3, 11, 1, 9], [15, 7, 13, 5]], np.float64) + 0.5
) / 16.0


def encode(linear: np.ndarray, white: float) -> np.ndarray:
    """Gamma-encodes linear radiance exposed so that ``white`` maps to 1."""
    return np.clip(linear * F32(1.0 / white), 0.0, 1.0) ** F32(1.0 / 2.2)


def _plane_cos(kx: float, ky: float, phase: float, h: int, w: int) -> np.ndarray:
    """``cos(kx * x + ky * y + phase)`` on an ``(h, w)`` grid via separable outer products."""
    xs = kx * np.arange(w) + phase
    ys = ky * np.arange(h)
    return (np.outer(np.cos(ys), np.cos(xs)) - np.outer(np.sin(ys), np.sin(xs))).astype(F32)


def _screen(
    spec: PrintSpec, channel: int, h: int, w: int, ss: float, rng: np.random.Generator
) -> np.ndarray:
    """Threshold map in [0, 1] of one ink (clustered-dot AM screen or ordered dither)."""
    if spec.screen == "am":
        k = 2.0 * math.pi / (spec.period * ss)
        t = math.radians(spec.angles[channel])
        c, s = math.cos(t), math.sin(t)
        p1, p2 = rng.uniform(0, 2 * math.pi, 2)
        thr: np.ndarray = 0.5 + 0.25 * (
            _plane_cos(k * c, k * s, p1, h, w) + _plane_cos(-k * s, k * c, p2, h, w)
        )
        return thr
    q = spec.period * ss
    ox, oy = (2 * channel) % 4, (3 * channel) % 4
    ix = (np.floor(np.arange(w) / q).astype(np.int64) + ox) % 4
    iy = (np.floor(np.arange(h) / q).astype(np.int64) + oy) % 4
    return _BAYER4[iy[:, None], ix[None, :]].astype(F32)


@dataclass
class PrintMedium:
    """A printed photo.

    Attributes:
        rgba: ``(H, W, 4)`` float32: linear reflectance (premultiplied) and paper coverage.
        bend: ``(amplitude px, wavelength px, phase)`` of the horizontal paper bend.
    """

    rgba: np.ndarray
    bend: tuple[float, float, float]

    def to_medium(self, pts: np.ndarray) -> np.ndarray:
        """Maps photo coordinates to coordinates on the bent print (where they appear)."""
        amp, lam, ph = self.bend
        out = pts.astype(np.float64).copy()
        for _ in range(4):  # solve m + d(m) = p
            out[:, 0] = pts[:, 0] - amp * np.sin(2 * math.pi * out[:, 0] / lam + ph)
        return out


def make_print(
    photo: np.ndarray,
    spec: PrintSpec,
    ss: float,
    photo_px: float,
    shape: tuple[int, int],
    rng: np.random.Generator,
) -> PrintMedium:
    """Prints a gamma-encoded photo.

    Tone, gamut and contrast are processed at the photo's resolution; the halftone, ink,
    paper texture and bend at the print's (internal) resolution.

    Args:
        photo: ``(h, w, 3)`` float32 encoded RGB in [0, 1].
        spec: The printer.
        ss: Print pixels per output pixel (pattern sizes are in output px).
        photo_px: Photo pixels per output pixel.
        shape: ``(H, W)`` of the print, the photo's extent at ``ss``.
        rng: Stream of screen phases, paper texture and bend.

    Returns:
        The :class:`PrintMedium`.
    """
    h, w = shape
    img = cv2.GaussianBlur(photo, (0, 0), spec.pre_blur * photo_px)
    y = luma(img)[..., None]
    img = y + F32(spec.saturation) * (img - y)
    img = F32(0.5) + F32(spec.contrast) * (img - F32(0.5))
    cover = 1.0 - np.clip(img, 0.0, 1.0) ** F32(spec.tone)
    cover = cv2.resize(cover, (w, h), interpolation=cv2.INTER_LINEAR)
    ink = np.empty_like(cover)
    inv_soft = F32(1.0 / (0.12 if spec.screen == "am" else 0.04))
    for c in range(3):
        thr = _screen(spec, c, h, w, ss, rng)
        ink[..., c] = (cover[..., c] - thr) * inv_soft
    np.clip(ink + F32(0.5), 0.0, 1.0, out=ink)
    others = ink.sum(axis=2, keepdims=True) - ink
    refl: np.ndarray = (1.0 - F32(spec.density) * ink) * (1.0 - F32(0.04) * others)
    refl *= np.asarray(spec.paper, F32)
    refl = cv2.GaussianBlur(refl, (0, 0), spec.ink_blur * ss)
    fibre: np.ndarray = rng.standard_normal((h, w), dtype=F32)
    # cv2 types its results as any-dtype arrays; this one keeps fibre's float32
    fibre = cast(np.ndarray, cv2.GaussianBlur(fibre, (0, 0), sigmaX=0.5 * ss, sigmaY=1.4 * ss))
    mottle: np.ndarray = rng.standard_normal((max(h // 16, 2), max(w // 16, 2)), dtype=F32)
    mottle = cv2.resize(mottle, (w, h), interpolation=cv2.INTER_CUBIC)
    fibre *= F32(spec.texture / max(float(fibre[::4, ::4].std()), 1e-6))
    tex = fibre + F32(0.5 * spec.texture) * mottle + F32(1.0)
    # bend: horizontal displacement d(x) = amp sin(2 pi x / lam + ph) with matching shading
    amp = spec.warp * ss * rng.uniform(0.6, 1.0)
    lam = w * rng.uniform(0.5, 0.9)
    ph = rng.uniform(0, 2 * math.pi)
    xs = np.arange(w, dtype=np.float64)
    arg = 2 * math.pi * xs / lam + ph
    shading = (1.0 + 0.9 * (2 * math.pi * amp / lam) * np.cos(arg)).astype(F32)
    tex *= shading[None, :]
    rgba: np.ndarray = np.empty((h, w, 4), F32)
    np.multiply(refl, tex[..., None], out=rgba[..., :3])
    rgba[..., 3] = 1.0
    map_x = np.broadcast_to((xs + amp * np.sin(arg)).astype(F32)[None, :], (h, w))
    map_y = np.broadcast_to(np.arange(h, dtype=F32)[:, None], (h, w))
    rgba = cv2.remap(
        rgba,
        np.ascontiguousarray(map_x),
        np.ascontiguousarray(map_y),
        cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=(0.0, 0.0, 0.0, 0.0),
    )
    return PrintMedium(rgba, (amp, lam, ph))


def display_emission(rgba: np.ndarray, white: float, spec: DisplaySpec, px: float) -> np.ndarray:
    """Turns a premultiplied linear source layer into display emission (same layout).

    The source is encoded with gamma 2.2 and shown with gamma ``2.2 * spec.gamma``, the
    display's white point and black level, and softened like a re-encoded video.

    Args:
        rgba: ``(H, W, 3)`` or ``(H, W, 4)`` float32, premultiplied if it has coverage.
        white: Radiance of the source that maps to full display white.
        spec: The display.
        px: Pixels of ``rgba`` per output pixel.

    Returns:
        Float32 array of the same shape: premultiplied linear emission (and coverage).
    """
    rgb = rgba[..., :3]
    alpha = rgba[..., 3:4] if rgba.shape[2] == 4 else None
    if alpha is not None:
        rgb = rgb / np.maximum(alpha, F32(1e-4))
    level = np.clip(rgb * F32(1.0 / white), 0.0, 1.0) ** F32(spec.gamma)
    out = F32(spec.black) + F32(1.0 - spec.black) * level * np.asarray(spec.white, F32)
    if alpha is not None:
        out = np.concatenate([out * alpha, alpha], axis=2)
    return cv2.GaussianBlur(out, (0, 0), spec.blur * px)
