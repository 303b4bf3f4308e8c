"""Rendering of a subject: head, facial features, hair, body and the background.

The person is painted into a layer of premultiplied albedo, coverage, surface slopes and
specular strength, all vectorised over small windows; the layer is then shaded once with the
scene light (Lambert + Blinn-Phong on normals derived from the slopes).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from mtfas.synthetic.conditions import Light, Vec3
from mtfas.synthetic.identity import HAIR_FRINGE, HAIR_LONG, HAIR_SHAVED, Identity

F32 = np.float32
_SLOPE_MAX = 3.0


@dataclass
class PersonLayer:
    """A shaded person on a transparent canvas.

    Attributes:
        rgba: ``(H, W, 4)`` float32: premultiplied linear RGB radiance and coverage.
        eyes: ``(2, 2)`` float64: ``(x, y)`` of the subject's right and left eye centres
            (image left first), in canvas pixels.
        box: ``(4,)`` float64 face box ``x1, y1, x2, y2`` in canvas pixels.
        centre: ``(2,)`` float64 face centre, the pivot of head motion.
    """

    rgba: np.ndarray
    eyes: np.ndarray
    box: np.ndarray
    centre: np.ndarray


@dataclass
class _Win:
    sl: tuple[slice, slice]
    x: np.ndarray  # (1, w) float32 offsets from the window's reference point
    y: np.ndarray  # (h, 1)


def _win(
    shape: tuple[int, int], cx: float, cy: float, rx: float, ry: float, pad: float = 2.0
) -> _Win | None:
    h, w = shape
    x0 = max(math.floor(cx - rx - pad), 0)
    x1 = min(math.ceil(cx + rx + pad) + 1, w)
    y0 = max(math.floor(cy - ry - pad), 0)
    y1 = min(math.ceil(cy + ry + pad) + 1, h)
    if x0 >= x1 or y0 >= y1:
        return None
    xs = (np.arange(x0, x1, dtype=F32) - F32(cx))[None, :]
    ys = (np.arange(y0, y1, dtype=F32) - F32(cy))[:, None]
    return _Win((slice(y0, y1), slice(x0, x1)), xs, ys)


def _ellipse(x: np.ndarray, y: np.ndarray, rx: float, ry: float, soft: float) -> np.ndarray:
    """Anti-aliased coverage of an ellipse centred at the origin."""
    q = (x / F32(rx)) ** 2 + (y / F32(ry)) ** 2
    grad = 2.0 * np.sqrt((x / F32(rx * rx)) ** 2 + (y / F32(ry * ry)) ** 2)
    d = (q - 1.0) / np.maximum(grad, F32(1e-6))
    return np.clip(0.5 - d / F32(soft), 0.0, 1.0)


def _dome(
    x: np.ndarray, y: np.ndarray, rx: float, ry: float, depth: float
) -> tuple[np.ndarray, np.ndarray]:
    """Surface slopes (dz/dx, dz/dy) of a half ellipsoid of the given depth."""
    q = (x / F32(rx)) ** 2 + (y / F32(ry)) ** 2
    s = np.sqrt(np.clip(1.0 - q, 0.04, 1.0))
    gx = np.clip(-F32(depth / (rx * rx)) * x / s, -_SLOPE_MAX, _SLOPE_MAX)
    gy = np.clip(-F32(depth / (ry * ry)) * y / s, -_SLOPE_MAX, _SLOPE_MAX)
    return gx, gy


def _band(d: np.ndarray, soft: float) -> np.ndarray:
    """Coverage from a signed inside-distance (positive inside)."""
    return np.clip(d / F32(soft) + 0.5, 0.0, 1.0)


class _Canvas:
    """Premultiplied albedo, coverage, slopes and specular strength of a layer."""

    def __init__(self, h: int, w: int) -> None:
        self.shape = (h, w)
        self.rgb = np.zeros((h, w, 3), F32)
        self.alpha = np.zeros((h, w), F32)
        self.gx = np.zeros((h, w), F32)
        self.gy = np.zeros((h, w), F32)
        self.spec = np.zeros((h, w), F32)

    def paint(
        self,
        win: _Win,
        a: np.ndarray,
        colour: Vec3 | np.ndarray,
        slopes: tuple[np.ndarray, np.ndarray] | None = None,
        spec: float = 0.0,
    ) -> None:
        sl = win.sl
        a = np.broadcast_to(a, self.alpha[sl].shape)
        rgb = self.rgb[sl]
        rgb += (np.asarray(colour, F32) - rgb) * a[..., None]
        self.alpha[sl] += a * (1.0 - self.alpha[sl])
        if slopes is not None:
            self.gx[sl] += (slopes[0] - self.gx[sl]) * a
            self.gy[sl] += (slopes[1] - self.gy[sl]) * a
        self.spec[sl] += (F32(spec) - self.spec[sl]) * a

    def tint(self, win: _Win, a: np.ndarray, factor: Vec3 | float) -> None:
        """Multiplies the albedo by ``factor`` where ``a`` is 1 (blended elsewhere)."""
        f = np.asarray(factor, F32) - 1.0
        self.rgb[win.sl] *= 1.0 + a[..., None] * f

    def bump(self, cx: float, cy: float, sx: float, sy: float, height: float) -> None:
        """Adds the slopes of a Gaussian bump (negative height: a dent)."""
        win = _win(self.shape, cx, cy, 2.5 * sx, 2.5 * sy)
        if win is None:
            return
        h = F32(height) * np.exp(-0.5 * ((win.x / F32(sx)) ** 2 + (win.y / F32(sy)) ** 2))
        self.gx[win.sl] -= h * win.x / F32(sx * sx)
        self.gy[win.sl] -= h * win.y / F32(sy * sy)


def _noise(rng: np.random.Generator, shape: tuple[int, int], sx: float, sy: float) -> np.ndarray:
    """Zero-mean, unit-std Gaussian noise low-passed with sigmas ``(sx, sy)`` pixels."""
    n: np.ndarray = rng.standard_normal(shape, dtype=F32)
    n = cv2.GaussianBlur(n, (0, 0), sigmaX=sx, sigmaY=sy, borderType=cv2.BORDER_REFLECT)
    std = float(n.std())
    return n / F32(std if std > 1e-8 else 1.0)


@dataclass(frozen=True)
class Expression:
    """Momentary state of a face: gaze, eye opening and smile offset."""

    gaze: tuple[float, float] = (0.0, 0.0)
    openness: float = 1.0
    smile: float = 0.0

    @staticmethod
    def sample(rng: np.random.Generator) -> Expression:
        """Draws a natural, mostly neutral expression."""
        return Expression(
            gaze=(float(rng.uniform(-0.6, 0.6)), float(rng.uniform(-0.5, 0.5))),
            openness=float(rng.uniform(0.8, 1.08)),
            smile=float(rng.uniform(-0.015, 0.03)),
        )


class _PersonPainter:
    """Paints one person; geometry follows the :class:`Identity` conventions."""

    def __init__(
        self,
        ident: Identity,
        unit: float,
        canvas: tuple[int, int],
        origin: tuple[float, float],
        expr: Expression,
        light: Light,
        rng: np.random.Generator,
    ) -> None:
        self.id = ident
        self.unit = unit
        self.cv = _Canvas(*canvas)
        self.expr = expr
        self.light = light
        self.rng = rng
        self.cx = origin[0] + ident.cx * unit
        self.cy = origin[1] + ident.cy * unit
        self.a = ident.face_w * unit
        self.b = self.a * ident.face_ratio
        self.soft = max(0.6, unit / 256.0)
        self.skin = np.asarray(ident.skin, F32)
        self.hair = np.asarray(ident.hair_colour, F32)
        ew = ident.eye_w * self.a
        ey = self.cy + ident.eye_y * self.b
        self.ew = ew
        self.eyes = np.array(
            [[self.cx - ident.eye_sep * self.a, ey], [self.cx + ident.eye_sep * self.a, ey]],
            np.float64,
        )

    # -- body -------------------------------------------------------------------------
    def body(self) -> None:
        cv, a, b, u = self.cv, self.a, self.b, self.unit
        if self.id.hair_style == HAIR_LONG:
            v = self.id.hair_volume
            w = _win(cv.shape, self.cx, self.cy + 0.3 * b, 1.3 * a * v, 1.3 * b)
            if w is not None:
                cov = _ellipse(w.x, w.y, 1.28 * a * v, 1.28 * b, self.soft)
                cov = cov * _band(1.2 * b - w.y, 3 * self.soft)
                tex = 1.0 + 0.18 * _noise(self.rng, cov.shape, 0.7, 5.0)
                cv.paint(
                    w,
                    cov,
                    self.hair * 0.8 * tex[..., None],
                    _dome(w.x, w.y, 1.28 * a * v, 1.28 * b, 0.5 * a),
                    spec=0.15,
                )
        top = self.cy + b + 0.08 * u
        w = _win(cv.shape, self.cx, top + 0.34 * u, 0.44 * u, 0.36 * u)
        if w is not None:
            cov = _ellipse(w.x, w.y, 0.44 * u, 0.36 * u, self.soft)
            cv.paint(
                w, cov, self.id.clothing, _dome(w.x, w.y, 0.44 * u, 0.36 * u, 0.3 * u), spec=0.05
            )
        # neck: a cylinder from under the jaw into the collar, shadowed near the chin
        nw = 0.4 * a
        w = _win(cv.shape, self.cx, self.cy + 1.0 * b, nw, 0.45 * b)
        if w is not None:
            flare = 1.0 + 0.25 * np.clip(w.y / F32(0.45 * b), 0.0, 1.0) ** 2
            cov = _band(F32(nw) * flare - np.abs(w.x), self.soft)
            cov = cov * _band(F32(0.45 * b) - np.abs(w.y), 2)
            gx = np.clip(w.x / (F32(nw) * flare), -0.95, 0.95)
            gx = -gx / np.sqrt(1.0 - gx * gx) * 0.5
            shade = 0.62 + 0.3 * np.clip((w.y + 0.1 * b) / F32(0.5 * b), 0.0, 1.0)
            cv.paint(
                w, cov, self.skin * 0.92 * shade[..., None], (gx, np.zeros_like(cov)), spec=0.05
            )
        # ears
        for side in (-1.0, 1.0):
            ex, ey = self.cx + side * 0.97 * a, self.cy - 0.02 * b
            rx, ry = 0.13 * a * self.id.ear, 0.24 * b * self.id.ear
            w = _win(cv.shape, ex, ey, rx, ry)
            if w is not None:
                cov = _ellipse(w.x, w.y, rx, ry, self.soft)
                cv.paint(w, cov, self.skin * 0.9, _dome(w.x, w.y, rx, ry, 0.4 * rx), spec=0.05)
                inner = _ellipse(w.x - side * 0.1 * rx, w.y, 0.5 * rx, 0.6 * ry, self.soft)
                cv.tint(w, inner, 0.78)

    # -- head -------------------------------------------------------------------------
    def head(self) -> _Win:
        cv, a, b = self.cv, self.a, self.b
        w = _win(cv.shape, self.cx, self.cy, a, b)
        assert w is not None
        t = w.y / F32(b)
        wy = F32(a) * (1.0 - F32(self.id.jaw) * np.clip(t, 0.0, None) ** 2)
        tv = np.where(t < 0, t * t, np.abs(t) ** F32(self.id.chin))
        q = (w.x / wy) ** 2 + tv
        d = (np.sqrt(q) - 1.0) * np.minimum(wy, F32(b))
        cov = np.clip(0.5 - d / F32(self.soft), 0.0, 1.0)
        s = np.sqrt(np.clip(1.0 - q, 0.03, 1.0))
        depth = 0.9 * a
        gx = np.clip(-F32(depth) * w.x / (wy * wy * s), -_SLOPE_MAX, _SLOPE_MAX)
        gy = np.clip(-F32(depth / (b * b)) * w.y / s, -_SLOPE_MAX, _SLOPE_MAX)
        tex = 1.0 + 0.035 * _noise(self.rng, cov.shape, 0.7 * self.soft, 0.7 * self.soft)
        shade = 1.0 + 0.05 * np.clip(-t, 0.0, 1.0)  # slightly lighter forehead
        cv.paint(w, cov, self.skin * (tex * shade)[..., None], (gx, gy), spec=0.35)
        self.head_cov = cov
        self.head_win = w
        return w

    def relief(self) -> None:
        cv, a, b, ew = self.cv, self.a, self.b, self.ew
        for ex, ey in self.eyes:
            cv.bump(ex, ey, 1.2 * ew, 0.9 * ew, -0.18 * a)
            w = _win(cv.shape, ex, ey, 2.2 * ew, 1.8 * ew)
            if w is not None:
                g = np.exp(-0.5 * ((w.x / F32(1.2 * ew)) ** 2 + (w.y / F32(0.95 * ew)) ** 2))
                cv.tint(w, g, (0.86, 0.84, 0.86))
        for side in (-1.0, 1.0):
            cv.bump(self.cx + side * 0.55 * a, self.cy + 0.12 * b, 0.3 * a, 0.25 * b, 0.12 * a)
            w = _win(cv.shape, self.cx + side * 0.52 * a, self.cy + 0.2 * b, 0.5 * a, 0.5 * a)
            if w is not None and self.id.blush > 0:
                g = np.exp(-0.5 * ((w.x / F32(0.22 * a)) ** 2 + (w.y / F32(0.16 * a)) ** 2))
                cv.tint(w, g * F32(self.id.blush), (1.05, 0.78, 0.78))
        for mx, my, r in self.id.moles:
            x, y, rr = self.cx + mx * a, self.cy + my * b, max(r * a, 0.8 * self.soft)
            w = _win(cv.shape, x, y, rr, rr)
            if w is not None:
                cv.tint(w, _ellipse(w.x, w.y, rr, rr, self.soft) * 0.7, (0.55, 0.45, 0.42))

    def nose(self) -> None:
        cv, a, b = self.cv, self.a, self.b
        nw = self.id.nose_w * a
        tip = self.cy + self.id.nose_len * b
        top = self.eyes[0, 1]
        cv.bump(self.cx, 0.5 * (top + tip), 0.3 * nw, 0.45 * (tip - top), 0.16 * a)
        cv.bump(self.cx, tip - 0.15 * nw, 0.45 * nw, 0.4 * nw, 0.16 * a)
        for side in (-1.0, 1.0):
            cv.bump(self.cx + side * 0.62 * nw, tip, 0.3 * nw, 0.28 * nw, 0.07 * a)
        w = _win(cv.shape, self.cx, tip + 0.35 * nw, nw, 0.5 * nw)
        if w is not None:
            g = np.exp(-0.5 * ((w.x / F32(0.7 * nw)) ** 2 + (w.y / F32(0.22 * nw)) ** 2))
            cv.tint(w, g, (0.78, 0.74, 0.74))
        for side in (-1.0, 1.0):
            x, y = self.cx + side * 0.42 * nw, tip + 0.08 * nw
            w = _win(cv.shape, x, y, 0.25 * nw, 0.14 * nw)
            if w is not None:
                cov = _ellipse(w.x, w.y, 0.22 * nw, 0.11 * nw, self.soft) * 0.85
                cv.tint(w, cov, (0.35, 0.28, 0.27))

    def eyes_(self) -> None:
        cv, ew, idn = self.cv, self.ew, self.id
        up = idn.eye_open * ew * self.expr.openness
        lo = idn.eye_low * ew
        r_i = idn.iris_r * ew
        lx, ly = self.light.direction[0], self.light.direction[1]
        for k, (ex, ey) in enumerate(self.eyes):
            side = -1.0 if k == 0 else 1.0  # image-left eye: outer corner is to the left
            w = _win(cv.shape, ex, ey, 1.15 * ew, 1.2 * max(up, lo) + 0.2 * ew)
            if w is None:
                continue
            u = np.clip(1.0 - (w.x / F32(ew)) ** 2, 0.0, 1.0)
            lift = F32(idn.eye_tilt * ew) * (side * w.x / F32(ew))
            top = -F32(up) * u**0.8 - lift
            bot = F32(lo) * u**0.9 - lift
            inside = np.minimum(w.y - top, bot - w.y)
            eye = _band(inside, self.soft) * (u > 0)
            cv.paint(w, eye, (0.27, 0.25, 0.23), spec=0.2)
            lid = np.clip((w.y - top) / F32(0.8 * up), 0.0, 1.0)
            cv.tint(w, eye * (1.0 - lid), 0.6)
            gx, gy = self.expr.gaze
            ix, iy = gx * 0.22 * ew, gy * 0.12 * up
            dx, dy = w.x - F32(ix), w.y - F32(iy)
            rr = np.sqrt(dx * dx + dy * dy) / F32(r_i)
            iris = np.clip((1.0 - rr) * F32(r_i / self.soft) + 0.5, 0.0, 1.0) * eye
            ring = (1.15 - 0.55 * np.clip(rr, 0.0, 1.0) ** 3)[..., None]
            cv.paint(w, iris, np.asarray(idn.iris, F32) * ring)
            pupil = np.clip((0.42 - rr) * F32(r_i / self.soft) + 0.5, 0.0, 1.0) * eye
            cv.paint(w, pupil, (0.012, 0.01, 0.01))
            gxp, gyp = ix - 0.35 * r_i * lx / 0.6, iy - 0.3 * r_i * (0.5 - ly)
            glint = _ellipse(w.x - F32(gxp), w.y - F32(gyp), 0.17 * r_i, 0.17 * r_i, self.soft)
            cv.paint(w, glint * eye, (0.95, 0.95, 0.95))
            lash_t = F32(max(0.11 * ew, 0.9 * self.soft))
            lash = _band(lash_t - np.abs(w.y - top + 0.35 * lash_t), self.soft)
            lash = lash * _band(F32(1.08 * ew) - np.abs(w.x), self.soft)
            cv.paint(w, lash * 0.95, np.asarray(idn.brow_colour, F32) * 0.25)
            crease = _band(F32(0.6 * self.soft) - np.abs(w.y - top * 1.5 + 0.25 * up), self.soft)
            cv.tint(w, crease * (u > 0) * 0.5, 0.8)
            lower = _band(F32(0.5 * self.soft) - np.abs(w.y - bot), self.soft) * (u > 0)
            cv.tint(w, lower * 0.4, 0.85)

    def brows(self) -> None:
        cv, ew, idn = self.cv, self.ew, self.id
        half = idn.brow_len * ew
        thick = idn.brow_thick * ew
        arch = idn.brow_arch * ew
        colour = np.asarray(idn.brow_colour, F32)
        for k, (ex, ey) in enumerate(self.eyes):
            side = -1.0 if k == 0 else 1.0
            bx, by = ex + side * 0.1 * ew, ey - idn.brow_gap * ew
            w = _win(cv.shape, bx, by, half, arch + thick)
            if w is None:
                continue
            xo = side * w.x / F32(half)  # -1 inner end, +1 outer end
            yc = -F32(arch) * (1.0 - xo * xo) + F32(0.15 * arch) * xo
            th = F32(thick) * (1.0 - 0.55 * np.clip(xo, 0.0, 1.0) ** 2)
            cov = _band(0.5 * th - np.abs(w.y - yc), self.soft)
            cov = cov * _band(F32(half) * (1.0 - np.abs(xo)), 2 * self.soft)
            tex = 1.0 + 0.2 * _noise(self.rng, cov.shape, 1.5, 0.5)
            cv.paint(w, cov * 0.92, colour * tex[..., None])

    def mouth(self) -> None:
        cv, a, b, idn = self.cv, self.a, self.b, self.id
        mx, my = self.cx, self.cy + idn.mouth_y * b
        mw = idn.mouth_w * a
        up, lo = idn.lip_up * a, idn.lip_low * a
        smile = (idn.smile + self.expr.smile) * a
        w = _win(cv.shape, mx, my, mw, up + lo + abs(smile))
        if w is None:
            return
        cv.bump(mx, my + 0.2 * lo, 0.7 * mw, 1.2 * lo, 0.05 * a)
        xn = w.x / F32(mw)
        u = np.clip(1.0 - xn * xn, 0.0, 1.0)
        line = -F32(smile) * xn * xn
        bow = 1.0 - 0.3 * np.exp(-((xn / 0.18) ** 2))
        top = line - F32(up) * u**0.7 * bow
        bot = line + F32(lo) * u**0.8
        upper = _band(np.minimum(w.y - top, line - w.y), self.soft)
        lower = _band(np.minimum(w.y - line, bot - w.y), self.soft)
        lip = np.asarray(idn.lip_colour, F32)
        cv.paint(w, upper * (u > 0), lip * 0.88, spec=0.3)
        cv.paint(w, lower * (u > 0), lip, spec=0.45)
        gap = _band(
            F32(max(0.012 * a, 0.6 * self.soft)) * np.sqrt(u) - np.abs(w.y - line), self.soft
        )
        cv.paint(w, gap * (u > 0), lip * 0.3)

    def beard(self) -> None:
        if self.id.beard <= 0:
            return
        w, cov = self.head_win, self.head_cov
        b = self.b
        y0 = self.id.mouth_y * b - 0.25 * b
        region = np.clip((w.y - F32(y0)) / F32(0.12 * b), 0.0, 1.0) * cov
        tex = 1.0 + 0.35 * _noise(self.rng, region.shape, 0.6, 0.6)
        region = np.clip(region * F32(self.id.beard) * (0.8 + 0.2 * tex), 0.0, 1.0)
        self.cv.paint(w, region, self.hair * 0.75, spec=0.1)

    def hair_front(self) -> None:
        cv, a, b, idn = self.cv, self.a, self.b, self.id
        v = idn.hair_volume
        rx, ry, oy = a * v, b * (v + 0.02), -0.06 * b
        w = _win(cv.shape, self.cx, self.cy + oy, 1.05 * rx, 1.05 * ry)
        if w is None:
            return
        x, y = w.x, w.y - F32(oy)
        theta = np.arctan2(y, x)
        p1, p2 = self.rng.uniform(0.0, 2.0 * math.pi, 2)
        wobble = 1.0 + 0.025 * np.sin(3.0 * theta + p1) + 0.015 * np.sin(7.0 * theta + p2)
        cap = _ellipse(x / wobble, y / wobble, rx, ry, self.soft)
        hl = idn.hairline
        k = {HAIR_FRINGE: 5.0, HAIR_SHAVED: 2.0}.get(idn.hair_style, 2.6)
        xr = np.clip(np.abs(w.x) / F32(a), 0.0, 1.0)
        wiggle = F32(0.015 * b) * np.sin(w.x * F32(40.0 / a) + F32(self.rng.uniform(0, 6.3)))
        yh = F32(-hl * b) + F32((hl + 0.1) * b) * xr**k + wiggle
        line = _band(yh - w.y, 2.5 * self.soft)
        cov = cap * line
        if idn.hair_style == HAIR_SHAVED:
            cov = cov * 0.3 * np.clip((xr - 0.55) / 0.25, 0.0, 1.0)
        tex = 1.0 + 0.22 * _noise(self.rng, cov.shape, 0.6, 3.0)
        cv.paint(w, cov, self.hair * tex[..., None], _dome(x, y, rx, ry, 0.9 * a), spec=0.2)

    def glasses(self) -> None:
        if self.id.glasses == 0:
            return
        cv, ew = self.cv, self.ew
        colour = np.asarray(self.id.glasses_colour, F32)
        th = max(0.08 * ew, 1.0 * self.soft)
        rx, ry = 1.45 * ew, 1.1 * ew
        for ex, ey in self.eyes:
            w = _win(cv.shape, ex, ey + 0.1 * ew, rx + th, ry + th)
            if w is None:
                continue
            outer = _ellipse(w.x, w.y, rx + th, ry + th, self.soft)
            inner = _ellipse(w.x, w.y, rx, ry, self.soft)
            cv.tint(w, inner * 0.5, (1.04, 1.05, 1.06))
            cv.paint(w, np.clip(outer - inner, 0.0, 1.0), colour, spec=0.8)
        (x0, y0), (x1, _) = self.eyes
        w = _win(cv.shape, 0.5 * (x0 + x1), y0 - 0.2 * ew, 0.5 * (x1 - x0) - rx, th)
        if w is not None:
            cv.paint(w, _band(F32(0.5 * th) - np.abs(w.y), self.soft), colour, spec=0.8)

    def shade(self) -> np.ndarray:
        cv, light = self.cv, self.light
        lx, ly, lz = light.direction
        hx, hy, hz = lx, ly, lz + 1.0
        hn = math.sqrt(hx * hx + hy * hy + hz * hz)
        hx, hy, hz = hx / hn, hy / hn, hz / hn
        inv = 1.0 / np.sqrt(1.0 + cv.gx * cv.gx + cv.gy * cv.gy)
        diff = np.clip((F32(lz) - F32(lx) * cv.gx - F32(ly) * cv.gy) * inv, 0.0, None)
        ndh = np.clip((F32(hz) - F32(hx) * cv.gx - F32(hy) * cv.gy) * inv, 0.0, None)
        for _ in range(4):
            ndh *= ndh  # ** 16
        col = np.asarray(light.colour, F32) * F32(light.intensity)
        lum = F32(light.ambient) + F32(light.diffuse) * diff
        rgb = cv.rgb * lum[..., None] + (cv.spec * ndh * F32(light.specular))[..., None]
        rgb *= col
        return np.concatenate([rgb, cv.alpha[..., None]], axis=2)


def render_person(
    ident: Identity,
    unit: float,
    canvas: tuple[int, int],
    origin: tuple[float, float],
    light: Light,
    expr: Expression,
    rng: np.random.Generator,
) -> PersonLayer:
    """Renders a lit person on a transparent canvas.

    Args:
        ident: The subject.
        unit: Width of the (internal) frame in pixels; identity fractions scale with it.
        canvas: ``(H, W)`` of the canvas.
        origin: Canvas pixel position of the frame's top-left corner (the canvas may be
            larger than the frame, e.g. for the photo an attack is printed from).
        light: Scene light.
        expr: Momentary expression.
        rng: Stream for skin, hair and brow textures.

    Returns:
        The shaded :class:`PersonLayer`.
    """
    p = _PersonPainter(ident, unit, canvas, origin, expr, light, rng)
    p.body()
    p.head()
    p.relief()
    p.nose()
    p.beard()
    p.mouth()
    p.eyes_()
    p.brows()
    p.hair_front()
    p.glasses()
    rgba = p.shade()
    box = np.array([p.cx - p.a, p.cy - 0.85 * p.b, p.cx + p.a, p.cy + p.b], np.float64)
    return PersonLayer(rgba, p.eyes.copy(), box, np.array([p.cx, p.cy], np.float64))


def render_background(
    ident: Identity, unit: float, canvas: tuple[int, int], origin: tuple[float, float], light: Light
) -> np.ndarray:
    """Renders a subject's lit background.

    Args:
        ident: The subject (owner of the background).
        unit: Width of the internal frame in pixels.
        canvas: ``(H, W)`` of the canvas.
        origin: Canvas pixel position of the frame's top-left corner.
        light: Scene light.

    Returns:
        ``(H, W, 3)`` float32 linear radiance.
    """
    h, w = canvas
    bg = ident.background
    u = (np.arange(w, dtype=F32) - F32(origin[0])) / F32(unit)
    v = (np.arange(h, dtype=F32) - F32(origin[1])) / F32(unit)
    t = np.clip(v, 0.0, 1.0)[:, None, None]
    top, bottom = np.asarray(bg.top, F32), np.asarray(bg.bottom, F32)
    img = np.ascontiguousarray(np.broadcast_to(top * (1.0 - t) + bottom * t, (h, w, 3)))
    for r in bg.rects:
        xs = np.nonzero((u > r.x0 - 3 * r.soft) & (u < r.x1 + 3 * r.soft))[0]
        ys = np.nonzero((v > r.y0 - 3 * r.soft) & (v < r.y1 + 3 * r.soft))[0]
        if xs.size == 0 or ys.size == 0:
            continue
        sl = (slice(ys[0], ys[-1] + 1), slice(xs[0], xs[-1] + 1))
        uu, vv = u[sl[1]], v[sl[0]]
        ax = np.clip(np.minimum(uu - r.x0, r.x1 - uu) / F32(r.soft) + 0.5, 0.0, 1.0)
        ay = np.clip(np.minimum(vv - r.y0, r.y1 - vv) / F32(r.soft) + 0.5, 0.0, 1.0)
        a = (ay[:, None] * ax[None, :])[..., None]
        img[sl] += (np.asarray(r.colour, F32) - img[sl]) * a
    gx, gy = light.gradient
    level = light.intensity * light.background_gain * (light.ambient + 0.5 * light.diffuse)
    illum = (
        np.clip(1.0 + F32(gy) * (v - 0.5), 0.2, None)[:, None]
        * np.clip(1.0 + F32(gx) * (u - 0.5), 0.2, None)[None, :]
    )
    img *= (illum * F32(level))[..., None]
    img *= np.asarray(light.colour, F32)
    return img
