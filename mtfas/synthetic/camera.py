"""Capture-device model: optics, sensor sampling and noise, auto exposure, colour and tone.

The scene arrives as linear radiance at the internal (supersampled) resolution. The camera
area-samples it onto its sensor (``DeviceSpec.resolution`` sensor pixels per output pixel),
blurs it with its optics, applies optional sensor-plane effects of a replay attack (the
display's sub-pixel grid sampled into moire, rolling-shutter bands, glare), exposes, samples
through its colour filter array with signal-dependent noise, demosaics, applies white
balance, colour matrix, tone curve and sharpening, and resamples to the output size.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np

from mtfas.synthetic.conditions import DEVICES, SESSIONS, DisplaySpec

F32 = np.float32
_LUT_MAX = 1.25
_LUT_N = 4096
_LUMA = np.array([[0.2126, 0.7152, 0.0722]], F32)


def luma(x: np.ndarray) -> np.ndarray:
    """Luma ``(H, W)`` of a float32 RGB image (no BLAS, so bitwise reproducible)."""
    return cv2.transform(x, _LUMA)


@dataclass
class SensorEffects:
    """Sensor-plane effects of one frame (used by replay attacks).

    Attributes:
        grid: ``(n, n, 3)`` multiplicative emission pattern at sensor resolution.
        rows: ``(n,)`` multiplicative per-row gain (rolling-shutter banding).
        gain: Global multiplicative gain (flicker).
        add: ``(n, n, 3)`` additive radiance (glare, reflections).
    """

    grid: np.ndarray | None = None
    rows: np.ndarray | None = None
    gain: float = 1.0
    add: np.ndarray | None = None


def sensor_size(size: int, device: int) -> int:
    """Returns the sensor side length of ``device`` for an output of ``size`` pixels."""
    return max(8, round(size * DEVICES[device].resolution))


def sensor_to_internal(n: int, internal: int) -> np.ndarray:
    """3x3 affine map from sensor pixel coordinates to internal pixel coordinates."""
    s = internal / n
    return np.array([[s, 0.0, 0.5 * s - 0.5], [0.0, s, 0.5 * s - 0.5], [0.0, 0.0, 1.0]])


def display_grid(
    sensor_to_display: np.ndarray, n: int, display: DisplaySpec, blur: float
) -> np.ndarray:
    """Samples a display's sub-pixel pattern on the sensor.

    Each harmonic of the layout is a plane wave in display coordinates; through the affine
    map it is a plane wave on the sensor whose pixel-box integral and optical blur are exact
    (``sinc`` and Gaussian attenuation). Sampling it at the sensor pixel centres aliases
    frequencies above Nyquist into low-frequency moire, as in a real re-capture.

    Args:
        sensor_to_display: 3x3 affine map from sensor pixel coordinates to display pixels.
        n: Sensor side length.
        display: The display.
        blur: Optical blur sigma of the camera in sensor pixels.

    Returns:
        ``(n, n, 3)`` float32 multiplicative pattern with mean about 1.
    """
    a = sensor_to_display
    amps: dict[tuple[float, float], np.ndarray] = {}
    for c, harmonics in enumerate(display.layout):
        for nu, nv, amp, phase in harmonics:
            z = amps.setdefault((nu, nv), np.zeros(3, np.complex128))
            z[c] += amp * np.exp(1j * phase)
    idx = np.arange(n, dtype=np.float64)
    rows, cols = [], []
    for (nu, nv), z in amps.items():
        fj = nu * a[0, 0] + nv * a[1, 0]
        fi = nu * a[0, 1] + nv * a[1, 1]
        f0 = nu * a[0, 2] + nv * a[1, 2]
        att = (
            display.grid_contrast
            * np.sinc(fj)
            * np.sinc(fi)
            * np.exp(-2.0 * np.pi**2 * blur**2 * (fj * fj + fi * fi))
        )
        w = att * z
        if np.abs(w).max() < 1e-3:
            continue
        pj = 2.0 * np.pi * (fj * idx + f0)
        pi = 2.0 * np.pi * fi * idx
        ci, si, cj, sj = np.cos(pi), np.sin(pi), np.cos(pj), np.sin(pj)
        # Re(w exp(i (pi + pj))) = ci (wr cj - wi sj) - si (wr sj + wi cj)
        rows += [ci.astype(F32), (-si).astype(F32)]
        cols += [
            (np.outer(cj, w.real) - np.outer(sj, w.imag)).astype(F32),
            (np.outer(sj, w.real) + np.outer(cj, w.imag)).astype(F32),
        ]
    out = np.ones((n, n, 3), F32)
    for left, right in zip(rows, cols, strict=True):  # no BLAS: bitwise reproducible
        out += left[:, None, None] * right[None, :, :]
    return out


@lru_cache(maxsize=64)
def _pipeline(device: int, session: int) -> tuple[np.ndarray, np.ndarray]:
    dev = DEVICES[device]
    light = SESSIONS[session].light
    wb = (1.0 / np.asarray(light.colour)) ** dev.awb * np.asarray(dev.tint)
    lum = np.tile(_LUMA.astype(np.float64), (3, 1))
    sat = lum + dev.saturation * (np.eye(3) - lum)
    matrix = (sat * wb[None, :]).astype(F32)
    x = np.linspace(0.0, _LUT_MAX, _LUT_N)
    y = np.clip(x, 0.0, None) ** (1.0 / dev.gamma)
    knee = 0.85
    y = np.where(y < knee, y, knee + (1.0 - knee) * np.tanh((y - knee) / (1.0 - knee)))
    y = (1.0 - dev.contrast) * y + dev.contrast * (y * y * (3.0 - 2.0 * y))
    lut = (255.0 * y).astype(F32)
    return matrix, lut


def _mosaic(x: np.ndarray) -> np.ndarray:
    """Samples an RGB image through an RGGB colour filter array."""
    raw = np.empty(x.shape[:2], F32)
    raw[0::2, 0::2] = x[0::2, 0::2, 0]
    raw[0::2, 1::2] = x[0::2, 1::2, 1]
    raw[1::2, 0::2] = x[1::2, 0::2, 1]
    raw[1::2, 1::2] = x[1::2, 1::2, 2]
    return raw


def _demosaic(raw: np.ndarray) -> np.ndarray:
    """Bilinear demosaicing of an RGGB mosaic (aliases fine patterns into colour moire)."""
    q = np.clip(raw * F32(65535.0 / _LUT_MAX), 0.0, 65535.0).astype(np.uint16)
    return cv2.cvtColor(q, cv2.COLOR_BayerRGGB2RGB).astype(F32) * F32(_LUT_MAX / 65535.0)


@lru_cache(maxsize=64)
def _metering(n: int) -> np.ndarray:
    g = np.exp(-0.5 * ((np.arange(n) + 0.5 - 0.5 * n) / (0.3 * n)) ** 2)
    w = np.outer(g, g)
    weights: np.ndarray = (w / w.sum()).astype(F32)
    return weights


class Camera:
    """A capture device in a session, producing uint8 frames of ``size`` pixels."""

    def __init__(self, device: int, session: int, size: int, internal: int) -> None:
        self.dev = DEVICES[device]
        self.size = size
        self.internal = internal
        self.n = sensor_size(size, device)
        self.matrix, self.lut = _pipeline(device, session)
        self.metering = _metering(self.n)

    def capture(
        self, scene: np.ndarray, rng: np.random.Generator, fx: SensorEffects | None = None
    ) -> np.ndarray:
        """Captures one frame.

        Args:
            scene: ``(S, S, 3)`` float32 linear radiance at the internal resolution.
            rng: Stream of the frame's sensor noise.
            fx: Optional sensor-plane effects.

        Returns:
            ``(size, size, 3)`` uint8 RGB frame.
        """
        dev, n = self.dev, self.n
        x = (
            cv2.resize(scene, (n, n), interpolation=cv2.INTER_AREA)
            if n != scene.shape[0]
            else scene.copy()
        )
        if dev.blur > 0:
            x = cv2.GaussianBlur(x, (0, 0), dev.blur, borderType=cv2.BORDER_REFLECT)
        if fx is not None:
            if fx.grid is not None:
                x *= fx.grid
            if fx.rows is not None:
                x *= fx.rows[:, None, None]
            if fx.gain != 1.0:
                x *= F32(fx.gain)
            if fx.add is not None:
                x += fx.add
        level = float((luma(x) * self.metering).sum())
        gain = float(np.clip((dev.exposure / max(level, 1e-4)) ** 0.85, 0.25, 5.0))
        raw = _mosaic(x) * F32(gain)
        np.clip(raw, 0.0, None, out=raw)
        sigma = np.sqrt(F32(dev.read_noise**2 * gain) + F32(dev.shot_noise * gain) * raw)
        raw += sigma * rng.standard_normal(raw.shape, dtype=F32)
        x = _demosaic(raw)
        y = luma(x)[..., None]
        chroma = cv2.GaussianBlur(x - y, (0, 0), 0.8, borderType=cv2.BORDER_REFLECT)
        x = y + chroma  # chroma denoising of the ISP
        x = cv2.transform(x, self.matrix)
        idx = np.clip(x * F32((_LUT_N - 1) / _LUT_MAX), 0, _LUT_N - 1).astype(np.int32)
        y = self.lut[idx]
        if dev.sharpen > 0:
            blur = cv2.GaussianBlur(y, (0, 0), 1.0, borderType=cv2.BORDER_REFLECT)
            y = cv2.addWeighted(y, 1.0 + dev.sharpen, blur, -dev.sharpen, 0.0)
        if n != self.size:
            y = cv2.resize(y, (self.size, self.size), interpolation=cv2.INTER_LINEAR)
        np.clip(y, 0.0, 255.0, out=y)
        image: np.ndarray = (y + 0.5).astype(np.uint8)
        return image
