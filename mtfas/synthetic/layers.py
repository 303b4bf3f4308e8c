"""Per-subject assets shared by many captures, rendered once and cached.

A subject looks the same (expression, skin and hair texture) in all captures of one session,
and an attack medium (a print, a display replaying a video) is one physical object re-captured
by every device in every session. These assets are the expensive part of rendering, so they
are cached (small LRU caches keyed by all their inputs, hence deterministic); cached arrays
are read-only. Assets of frames larger than ``MAX_CACHED_SIDE`` internal pixels are not
cached, to bound memory.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, TypeVar

import numpy as np

from mtfas.synthetic._geometry import apply, box_corners
from mtfas.synthetic._random import TAG_MEDIUM, TAG_PERSON, TAG_SOURCE, stream
from mtfas.synthetic.conditions import DISPLAYS, SESSIONS, Light, printer_of
from mtfas.synthetic.face import Expression, PersonLayer, render_background, render_person
from mtfas.synthetic.identity import Identity, sample_identity
from mtfas.synthetic.media import display_emission, encode, make_print

MEDIUM_SCALE = 1.3
"""Side of the attack source (photo / video) relative to the frame."""
KIND_PRINT, KIND_REPLAY = 0, 1
MAX_CACHED_SIDE = 512
"""Largest internal frame side whose assets are cached."""

_F = TypeVar("_F", bound=Callable[..., Any])


def _asset_cache(maxsize: int, side: Callable[..., int]) -> Callable[[_F], _F]:
    """LRU cache that is bypassed when ``side(*args)`` exceeds ``MAX_CACHED_SIDE``."""

    def decorate(fn: _F) -> _F:
        cached = lru_cache(maxsize=maxsize)(fn)

        @functools.wraps(fn)
        def call(*args: Any) -> Any:
            return fn(*args) if side(*args) > MAX_CACHED_SIDE else cached(*args)

        call.cache_clear = cached.cache_clear  # type: ignore[attr-defined]
        call.cache_info = cached.cache_info  # type: ignore[attr-defined]
        return call  # type: ignore[return-value]

    return decorate


def _internal_arg(*args: int) -> int:
    return args[-1]


def _frozen(*arrays: np.ndarray) -> None:
    for a in arrays:
        a.flags.writeable = False


@lru_cache(maxsize=64)
def identity(seed: int, subject: int) -> Identity:
    """Cached :func:`~mtfas.synthetic.identity.sample_identity`."""
    return sample_identity(seed, subject)


@_asset_cache(3, _internal_arg)
def live_person(seed: int, subject: int, session: int, internal: int) -> PersonLayer:
    """The subject as seen in ``session``, on a canvas the size of the internal frame."""
    rng = stream(seed, TAG_PERSON, subject, session)
    expr = Expression.sample(rng)
    layer = render_person(
        identity(seed, subject),
        internal,
        (internal, internal),
        (0.0, 0.0),
        SESSIONS[session].light,
        expr,
        rng,
    )
    _frozen(layer.rgba)
    return layer


@_asset_cache(3, _internal_arg)
def room(seed: int, subject: int, session: int, internal: int) -> np.ndarray:
    """The subject's background lit by ``session``, the size of the internal frame."""
    bg = render_background(
        identity(seed, subject), internal, (internal, internal), (0.0, 0.0), SESSIONS[session].light
    )
    _frozen(bg)
    return bg


def _source_light(rng: np.random.Generator) -> Light:
    d = np.array([rng.normal(0.0, 0.3), -0.3 + rng.normal(0.0, 0.15), 1.0])
    d /= np.linalg.norm(d)
    tint = 1.0 + rng.normal(0.0, 0.03, 3)
    return Light(
        (float(d[0]), float(d[1]), float(d[2])),
        float(rng.uniform(0.35, 0.5)),
        float(rng.uniform(0.55, 0.7)),
        1.0,
        (float(tint[0]), float(tint[1]), float(tint[2])),
        float(rng.uniform(0.8, 1.2)),
        (float(rng.normal(0.0, 0.1)), float(rng.normal(0.0, 0.1))),
        0.2,
    )


def source_unit(size: int) -> int:
    """Frame width in pixels at which attack sources are rendered for ``size`` outputs.

    Sources are rendered at (at least) the output resolution rather than the internal one:
    printing and replaying soften them anyway, and the fine patterns of the media are
    rendered at the internal resolution.
    """
    return max(size, 64)


@dataclass(frozen=True, eq=False)
class Source:
    """The photo or video an attack is made from (the subject at another moment).

    Attributes:
        person: The subject on a canvas ``MEDIUM_SCALE`` times the frame of ``unit`` px.
        bg: ``(H, W, 3)`` background of the source.
        white: Source radiance mapped to white by the source camera's exposure.
        unit: Frame width in source pixels.
    """

    person: PersonLayer
    bg: np.ndarray
    white: float
    unit: int

    def to_internal(self, internal: int) -> np.ndarray:
        """3x3 map from source pixels to pixels of a source rendered at ``internal``."""
        k = internal / self.unit
        return np.array([[k, 0.0, 0.5 * k - 0.5], [0.0, k, 0.5 * k - 0.5], [0.0, 0.0, 1.0]])


@_asset_cache(2, lambda *a: 2 * a[-1])
def source(seed: int, subject: int, kind: int, unit: int) -> Source:
    """Renders the source of the print (``kind=KIND_PRINT``) or replay attacks of a subject."""
    rng = stream(seed, TAG_SOURCE, subject, kind)
    sc = round(unit * MEDIUM_SCALE)
    off = 0.5 * (sc - unit)
    light = _source_light(rng)
    expr = Expression.sample(rng)
    ident = identity(seed, subject)
    person = render_person(ident, unit, (sc, sc), (off, off), light, expr, rng)
    bg = render_background(ident, unit, (sc, sc), (off, off), light)
    x1, y1, x2, y2 = (round(v) for v in person.box)
    a = person.rgba[y1:y2, x1:x2, 3:]
    face = person.rgba[y1:y2, x1:x2, :3] + bg[y1:y2, x1:x2] * (1.0 - a)
    _frozen(person.rgba, bg)
    return Source(person, bg, float(face.mean()) / 0.3, unit)


@dataclass(frozen=True, eq=False)
class PrintAsset:
    """A print with the positions of the printed face on it (internal pixels).

    Attributes:
        rgba: ``(H, W, 4)`` premultiplied reflectance and paper coverage.
        eyes: ``(2, 2)`` eye centres on the (bent) print.
        corners: ``(4, 2)`` face box corners on the print.
        centre: ``(2,)`` face centre on the print.
    """

    rgba: np.ndarray
    eyes: np.ndarray
    corners: np.ndarray
    centre: np.ndarray


@_asset_cache(2, lambda *a: a[-2] * a[-1])
def print_medium(seed: int, subject: int, pai: int, size: int, ss: int) -> PrintAsset:
    """The print of species ``pai`` made from the subject's source photo.

    ``pai`` is a full print (``PRINTERS``) or a partial attack (``PARTIALS``, printed with
    its printer): every species is its own physical print, with its own random stream.
    """
    src = source(seed, subject, KIND_PRINT, source_unit(size))
    internal = size * ss
    rgba = src.person.rgba
    photo = encode(rgba[..., :3] + src.bg * (1.0 - rgba[..., 3:]), src.white)
    sc = round(internal * MEDIUM_SCALE)
    medium = make_print(
        photo,
        printer_of(pai),
        ss,
        src.unit / size,
        (sc, sc),
        stream(seed, TAG_MEDIUM, subject, pai),
    )
    _frozen(medium.rgba)
    m = src.to_internal(internal)
    return PrintAsset(
        medium.rgba,
        medium.to_medium(apply(m, src.person.eyes)),
        medium.to_medium(apply(m, box_corners(src.person.box))),
        medium.to_medium(apply(m, src.person.centre[None]))[0],
    )


@_asset_cache(2, lambda *a: 2 * a[-1])
def display_layers(
    seed: int, subject: int, pai: int, size: int
) -> tuple[Source, np.ndarray, np.ndarray]:
    """The subject's source video on display ``pai``: (source, person RGBA, background).

    The emission layers have the resolution of the source; warp them with
    ``Source.to_internal``.
    """
    src = source(seed, subject, KIND_REPLAY, source_unit(size))
    spec = DISPLAYS[pai]
    px = src.unit / size
    person = display_emission(src.person.rgba, src.white, spec, px)
    bg = display_emission(src.bg, src.white, spec, px)
    _frozen(person, bg)
    return src, person, bg
