"""Rendering of captures: live videos, print, replay and partial attacks.

Partial attacks are cut prints and printed patches worn over the live face.

Every frame comes with its *cue mask* (:attr:`Capture.cue_masks`): the fraction of each
output pixel where the attack instrument (print, display) is seen; 0 on live skin and
background. It is computed from the same geometry as the frame and draws no random
number, so it never changes the frames.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from mtfas.errors import ConfigError
from mtfas.synthetic import layers, partial
from mtfas.synthetic._geometry import apply, bounding_box, box_corners, similarity, to_output
from mtfas.synthetic._random import TAG_CAPTURE, TAG_FRAME, TAG_SOURCE_FRAME, stream
from mtfas.synthetic.camera import Camera, SensorEffects, display_grid, sensor_to_internal
from mtfas.synthetic.conditions import (
    DEVICES,
    DISPLAYS,
    N_DEVICES,
    N_SESSIONS,
    PARTIALS,
    PRINTERS,
    SESSIONS,
    PrintSpec,
    check_index,
    check_positive,
    resolve_pai,
)

F32 = np.float32
MIN_SIZE = 32
MAX_SIZE = 1024

Frame = tuple[np.ndarray, np.ndarray, np.ndarray, SensorEffects | None, np.ndarray | float]
"""Scene radiance, eye centres ``(2, 2)``, face box ``(4,)`` (internal px), sensor effects,
and the instrument coverage: an ``(S, S)`` float32 map or a constant (0 live, 1 display)."""


@dataclass(frozen=True, eq=False)
class Capture:
    """A rendered capture (a short video of one presentation).

    Attributes:
        frames: ``(T, H, W, 3)`` uint8 RGB frames.
        eyes: ``(T, 4)`` float32 ``x1, y1, x2, y2``: centres of the image-left and
            image-right eye in pixel coordinates of each frame (for attacks, where the eyes
            of the printed / displayed face appear).
        boxes: ``(T, 4)`` float32 ``x1, y1, x2, y2`` face box of each frame.
        subject: Subject id.
        pai: Species id (index into ``ALL_PAI_NAMES``; 0 is bona fide).
        device: Capture device id.
        session: Session id.
        cue_masks: ``(T, H, W)`` float32 in [0, 1]: where the attack instrument is seen
            in each frame (area fraction of each pixel). All zeros for live captures;
            the paper (all of the frame it covers) for prints, the whole frame for
            replays, the printed part for partial attacks (0 in the holes of a cut print,
            where the live face shows). None only for captures built by hand.
    """

    frames: np.ndarray
    eyes: np.ndarray
    boxes: np.ndarray
    subject: int = 0
    pai: int = 0
    device: int = 0
    session: int = 0
    cue_masks: np.ndarray | None = None

    @property
    def label(self) -> int:
        """0 for a bona fide capture, 1 for an attack."""
        return int(self.pai != 0)


def supersampling(size: int) -> int:
    """Internal pixels per output pixel used to render frames of ``size`` pixels."""
    return max(2, math.ceil(128 / size))


@dataclass
class _Context:
    seed: int
    subject: int
    pai: int
    device: int
    session: int
    size: int
    ss: int
    camera: Camera
    rng: np.random.Generator

    @property
    def internal(self) -> int:
        return self.size * self.ss

    def placement(self, src_centre: np.ndarray) -> np.ndarray:
        """Capture-level pose: maps ``src_centre`` near the subject's usual face centre."""
        s = self.internal
        ident = layers.identity(self.seed, self.subject)
        target = np.array([ident.cx * s, ident.cy * s]) + self.rng.uniform(-0.025, 0.025, 2) * s
        scale = float(self.rng.uniform(0.94, 1.06))
        angle = float(np.clip(self.rng.normal(0.0, 2.5), -5.0, 5.0))
        return similarity(scale, angle, src_centre, target)


def _jitter(rng: np.random.Generator, pivot: np.ndarray, unit: float) -> np.ndarray:
    """Small frame-to-frame motion about ``pivot``."""
    scale = 1.0 + float(np.clip(rng.normal(0.0, 0.012), -0.03, 0.03))
    angle = float(np.clip(rng.normal(0.0, 1.2), -3.0, 3.0))
    shift = np.clip(rng.normal(0.0, 0.006, 2), -0.015, 0.015) * unit
    return similarity(scale, angle, pivot, pivot + shift)


def _warp(img: np.ndarray, m: np.ndarray, s: int, replicate: bool) -> np.ndarray:
    border = cv2.BORDER_REPLICATE if replicate else cv2.BORDER_CONSTANT
    return cv2.warpAffine(img, m[:2], (s, s), flags=cv2.INTER_LINEAR, borderMode=border)


class _Live:
    """The subject in front of the camera."""

    def __init__(self, ctx: _Context) -> None:
        s = ctx.internal
        self.ctx = ctx
        self.person = layers.live_person(ctx.seed, ctx.subject, ctx.session, s)
        self.bg = layers.room(ctx.seed, ctx.subject, ctx.session, s)
        self.base = ctx.placement(self.person.centre)
        self.pivot = apply(self.base, self.person.centre[None])[0]
        self.corners = box_corners(self.person.box)

    def frame(self, t: int, rng: np.random.Generator) -> Frame:
        s = self.ctx.internal
        m = _jitter(rng, self.pivot, s) @ self.base
        rgba = _warp(self.person.rgba, m, s, replicate=True)
        scene = rgba[..., :3] + self.bg * (1.0 - rgba[..., 3:4])
        return scene, apply(m, self.person.eyes), bounding_box(apply(m, self.corners)), None, 0.0


class _Print:
    """A printed photo of the subject held in front of the camera."""

    def __init__(self, ctx: _Context) -> None:
        s = ctx.internal
        self.ctx = ctx
        spec = PRINTERS[ctx.pai]
        self.medium = layers.print_medium(ctx.seed, ctx.subject, ctx.pai, ctx.size, ctx.ss)
        self.base = ctx.placement(self.medium.centre)
        self.pivot = apply(self.base, self.medium.centre[None])[0]
        self.illum = _paper_light(ctx, spec)
        self.bg = layers.room(ctx.seed, ctx.subject, ctx.session, s)

    def frame(self, t: int, rng: np.random.Generator) -> Frame:
        s = self.ctx.internal
        m = _jitter(rng, self.pivot, s) @ self.base
        rgba = _warp(self.medium.rgba, m, s, replicate=False)
        scene = rgba[..., :3] * self.illum + self.bg * (1.0 - rgba[..., 3:4])
        eyes = apply(m, self.medium.eyes)
        return scene, eyes, bounding_box(apply(m, self.medium.corners)), None, rgba[..., 3]


def _paper_light(ctx: _Context, spec: PrintSpec) -> np.ndarray:
    """Illumination ``(S, S, 3)`` of a sheet of paper held in the session's light.

    Draws the sheet's tilt (two normals) and, for glossy paper, the sheen's position
    (two uniforms) from the capture stream, in this order.
    """
    s = ctx.internal
    light = SESSIONS[ctx.session].light
    tilt = np.array([ctx.rng.normal(0.0, 0.15), ctx.rng.normal(0.0, 0.15), 1.0])
    tilt /= np.linalg.norm(tilt)
    ndl = max(float(np.dot(tilt, light.direction)), 0.0)
    level = light.intensity * (light.ambient + light.diffuse * ndl)
    u = (np.arange(s, dtype=F32) + 0.5) / F32(s) - 0.5
    gx, gy = light.gradient
    field = (
        np.maximum(1.0 + F32(gy) * u, F32(0.2))[:, None]
        * np.maximum(1.0 + F32(gx) * u, F32(0.2))[None, :]
    ) * F32(level)
    illum: np.ndarray = field[..., None] * np.asarray(light.colour, F32)
    if spec.sheen > 0:
        cx, cy = ctx.rng.uniform(0.2, 0.8, 2)
        g = (
            np.exp(-0.5 * ((u + 0.5 - cx) / 0.25) ** 2)[None, :]
            * np.exp(-0.5 * ((u + 0.5 - cy) / 0.4) ** 2)[:, None]
        )
        illum = illum + (F32(spec.sheen * light.intensity) * g)[..., None] * np.asarray(
            light.colour, F32
        )
    return illum


class _Partial:
    """A partial attack worn by the subject: a cut print or a printed patch.

    See :class:`~mtfas.synthetic.conditions.PartialSpec`. The live subject is placed like
    a bona fide capture; the species' own print is aligned on the live eyes (a similarity
    from the printed eyes to the live ones) and moves with the face. Only the part of the
    print that the regions leave (``cut``) or keep (``patch``) is drawn; the live face
    and the room show elsewhere.
    """

    def __init__(self, ctx: _Context) -> None:
        s = ctx.internal
        self.ctx = ctx
        self.spec = PARTIALS[ctx.pai]
        printer = PRINTERS[self.spec.printer]
        self.person = layers.live_person(ctx.seed, ctx.subject, ctx.session, s)
        self.bg = layers.room(ctx.seed, ctx.subject, ctx.session, s)
        self.base = ctx.placement(self.person.centre)
        self.pivot = apply(self.base, self.person.centre[None])[0]
        self.corners = box_corners(self.person.box)
        self.illum = _paper_light(ctx, printer)
        medium = layers.print_medium(ctx.seed, ctx.subject, ctx.pai, ctx.size, ctx.ss)
        live_eyes, print_eyes = self.person.eyes, medium.eyes
        dl, dp = live_eyes[1] - live_eyes[0], print_eyes[1] - print_eyes[0]
        self.align = similarity(
            float(np.hypot(*dl) / np.hypot(*dp)),
            math.degrees(math.atan2(dl[1], dl[0]) - math.atan2(dp[1], dp[0])),
            print_eyes.mean(axis=0),
            live_eyes.mean(axis=0),
        )
        ident = layers.identity(ctx.seed, ctx.subject)
        face = partial.FaceFrame.from_eyes(print_eyes, ident)
        shapes = partial.regions(self.spec.kind, self.spec.regions, face, ident)
        inside = partial.coverage(medium.rgba.shape[:2], shapes, soft=max(1.0, ctx.ss / 2.0))
        keep = 1.0 - inside if self.spec.kind == "cut" else inside
        self.rgba = medium.rgba * keep[..., None]

    def frame(self, t: int, rng: np.random.Generator) -> Frame:
        s = self.ctx.internal
        m = _jitter(rng, self.pivot, s) @ self.base
        live = _warp(self.person.rgba, m, s, replicate=True)
        paper = _warp(self.rgba, m @ self.align, s, replicate=False)
        cover = paper[..., 3:4]
        behind = live[..., :3] + self.bg * (1.0 - live[..., 3:4])
        scene = paper[..., :3] * self.illum + behind * (1.0 - cover)
        eyes = apply(m, self.person.eyes)
        return scene, eyes, bounding_box(apply(m, self.corners)), None, paper[..., 3]


class _Replay:
    """A video of the subject replayed on a display held in front of the camera."""

    def __init__(self, ctx: _Context) -> None:
        s = ctx.internal
        self.ctx = ctx
        self.spec = DISPLAYS[ctx.pai]
        self.src, self.person, self.bg = layers.display_layers(
            ctx.seed, ctx.subject, ctx.pai, ctx.size
        )
        self.to_int = self.src.to_internal(s)
        self.eyes = apply(self.to_int, self.src.person.eyes)
        self.corners = apply(self.to_int, box_corners(self.src.person.box))
        self.centre = apply(self.to_int, self.src.person.centre[None])[0]
        self.base = ctx.placement(self.centre)
        self.pivot = apply(self.base, self.centre[None])[0]
        r = ctx.rng
        pitch = self.spec.pitch * ctx.ss
        self.to_display = np.array(
            [[1.0 / pitch, 0.0, r.random()], [0.0, 1.0 / pitch, r.random()], [0.0, 0.0, 1.0]]
        )
        light = SESSIONS[ctx.session].light
        n = ctx.camera.n
        self.glare_pos = (
            np.array(
                [
                    0.5 - 0.45 * light.direction[0] + r.normal(0.0, 0.12),
                    0.35 - 0.3 * light.direction[1] + r.normal(0.0, 0.12),
                ]
            )
            * n
        )
        self.glare_sigma = r.uniform(0.12, 0.25, 2) * n
        self.light_rgb = np.asarray(light.colour, F32) * F32(light.intensity)
        self.band_phase = r.uniform(0.0, 2.0 * math.pi)
        self.level = F32(0.5 + 0.45 * light.intensity)  # screens are dimmed in dim rooms
        self.rows = np.arange(n, dtype=F32)

    def frame(self, t: int, rng: np.random.Generator) -> Frame:
        ctx, spec = self.ctx, self.spec
        s, n = ctx.internal, ctx.camera.n
        srng = stream(ctx.seed, TAG_SOURCE_FRAME, ctx.subject, layers.KIND_REPLAY, t)
        video = _jitter(srng, self.centre, s)
        d = _jitter(rng, self.pivot, s) @ self.base
        m = d @ video
        p = _warp(self.person, m @ self.to_int, s, replicate=True)
        b = _warp(self.bg, d @ self.to_int, s, replicate=True)
        scene = (p[..., :3] + b * (1.0 - p[..., 3:4])) * self.level
        sensor_to_display = self.to_display @ np.linalg.inv(d) @ sensor_to_internal(n, s)
        grid = display_grid(sensor_to_display, n, spec, DEVICES[ctx.device].blur)
        i = self.rows
        phase = self.band_phase + rng.uniform(0.0, 2.0 * math.pi)
        rows = 1.0 + F32(spec.banding) * np.cos(
            F32(2.0 * math.pi / (spec.band_period * n)) * i + F32(phase)
        )
        flicker = float(
            np.clip(rng.normal(0.0, spec.flicker), -2.5 * spec.flicker, 2.5 * spec.flicker)
        )
        shift = (d[:2, 2] - self.base[:2, 2]) * (-2.0 * n / s)
        gx, gy = self.glare_pos + shift
        glare = (
            np.exp(-0.5 * ((i - F32(gy)) / F32(self.glare_sigma[1])) ** 2)[:, None]
            * np.exp(-0.5 * ((i - F32(gx)) / F32(self.glare_sigma[0])) ** 2)[None, :]
        )
        add = (F32(spec.reflect) + F32(spec.glare) * glare)[..., None] * self.light_rgb
        fx = SensorEffects(grid=grid, rows=rows, gain=1.0 + flicker, add=add)
        return scene, apply(m, self.eyes), bounding_box(apply(m, self.corners)), fx, 1.0


def render_capture(
    subject: int,
    pai: str | int,
    *,
    device: int = 0,
    session: int = 0,
    n_frames: int = 4,
    size: int = 128,
    seed: int = 0,
) -> Capture:
    """Renders one capture of the synthetic benchmark.

    Attacks are made from the same subject's face at another moment (a separate random
    stream), then re-captured by ``device`` in ``session``.

    Args:
        subject: Subject id (non-negative integer; any number of subjects).
        pai: Species name of ``ALL_PAI_NAMES`` (``PAI_NAMES`` and the partial attacks
            ``PARTIAL_NAMES``) or its id.
        device: Capture device id in ``[0, N_DEVICES)``.
        session: Session (lighting) id in ``[0, N_SESSIONS)``.
        n_frames: Number of frames (frame ``t`` does not depend on ``n_frames``).
        size: Side of the square frames in pixels, in ``[32, 1024]``.
        seed: Global seed (any integer); equal arguments give identical bytes.

    Returns:
        The :class:`Capture`, with the cue mask of every frame.

    Raises:
        ConfigError: If an argument is out of range or names no species.
    """
    pai_id = resolve_pai(pai)
    subject = check_positive("subject", subject, minimum=0)
    device = check_index("device", device, N_DEVICES)
    session = check_index("session", session, N_SESSIONS)
    n_frames = check_positive("n_frames", n_frames)
    size = check_positive("size", size, minimum=MIN_SIZE)
    if size > MAX_SIZE:
        raise ConfigError(f"size must be at most {MAX_SIZE} pixels, got {size}.")
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool):
        raise ConfigError(f"seed must be an integer, got {seed!r}.")
    seed = int(seed)
    ss = supersampling(size)
    ctx = _Context(
        seed,
        subject,
        pai_id,
        device,
        session,
        size,
        ss,
        Camera(device, session, size, size * ss),
        stream(seed, TAG_CAPTURE, subject, pai_id, device, session),
    )
    scene: _Live | _Print | _Replay | _Partial
    if pai_id == 0:
        scene = _Live(ctx)
    elif pai_id in PRINTERS:
        scene = _Print(ctx)
    elif pai_id in PARTIALS:
        scene = _Partial(ctx)
    else:
        scene = _Replay(ctx)
    frames = np.empty((n_frames, size, size, 3), np.uint8)
    eyes = np.empty((n_frames, 4), F32)
    boxes = np.empty((n_frames, 4), F32)
    cues = np.empty((n_frames, size, size), F32)
    for t in range(n_frames):
        rng = stream(seed, TAG_FRAME, subject, pai_id, device, session, t)
        img, eye_pts, box, fx, cue = scene.frame(t, rng)
        frames[t] = ctx.camera.capture(img, rng, fx)
        eyes[t] = np.clip(to_output(eye_pts, ss), 0.0, size - 1).reshape(4)
        boxes[t] = np.clip(to_output(box.reshape(2, 2), ss), 0.0, size).reshape(4)
        cues[t] = _output_mask(cue, size)
    return Capture(frames, eyes, boxes, subject, pai_id, device, session, cues)


def _output_mask(cue: np.ndarray | float, size: int) -> np.ndarray:
    """The instrument coverage at the output resolution (area average), clipped to [0, 1]."""
    if isinstance(cue, float):
        return np.full((size, size), cue, F32)
    out = cv2.resize(np.ascontiguousarray(cue, F32), (size, size), interpolation=cv2.INTER_AREA)
    return np.clip(out, 0.0, 1.0)
