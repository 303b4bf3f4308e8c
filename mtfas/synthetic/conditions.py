"""Acquisition conditions of the synthetic benchmark: devices, sessions and attack media.

Devices, sessions, printers and displays are fixed tables (the "hardware" and the "rooms" of
the benchmark); the seed only drives subjects and random realisations. Colours are linear RGB.
Lengths marked "output px" are in pixels of the rendered frame, so the spatial cues keep the
same size relative to the sampling grid at every output resolution.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeGuard

import numpy as np

from mtfas.errors import ConfigError

Vec3 = tuple[float, float, float]

PAI_NAMES: tuple[str, ...] = ("live", "print1", "print2", "replay1", "replay2")
"""Presentation species; the index is the species id (0 is bona fide)."""

PRINT_IDS: tuple[int, ...] = (1, 2)
REPLAY_IDS: tuple[int, ...] = (3, 4)

#: Partial-attack regions of the face (see :class:`PartialSpec`).
REGIONS: tuple[str, ...] = ("eyes", "mouth")
#: Kinds of partial attack: a print with holes cut out, or a printed patch worn on the face.
PARTIAL_KINDS: tuple[str, ...] = ("cut", "patch")


@dataclass(frozen=True)
class PartialSpec:
    """A partial attack: a print that covers only part of the attacker's live face.

    * ``kind="cut"``: a printed photo of the subject with the ``regions`` cut out, held in
      front of the face so that the attacker's live eyes and / or mouth show through the
      holes (CASIA-FASD's cut-photo attacks).
    * ``kind="patch"``: only the ``regions`` of the printed photo, worn on the live face
      (paper glasses over the eyes, a paper patch over the mouth).

    The printed part is aligned on the live face's eyes; the attacker is the subject
    itself, so the live regions carry no spoof cue and no identity mismatch.

    Attributes:
        name: Species name.
        printer: The printer (a key of ``PRINTERS``) the photo is printed with.
        kind: ``"cut"`` or ``"patch"``.
        regions: Face regions (of ``REGIONS``) cut out (``cut``) or covered (``patch``).
    """

    name: str
    printer: int
    kind: str
    regions: tuple[str, ...]


@dataclass(frozen=True)
class Light:
    """Illumination of a scene.

    Attributes:
        direction: Unit vector towards the light (x right, y down, z towards the camera).
        ambient: Ambient (unshadowed) fraction of the illumination.
        diffuse: Strength of the directional light.
        intensity: Overall scale of the illumination.
        colour: Linear RGB colour of the light.
        background_gain: Extra gain on the background (a bright window behind the subject).
        gradient: Relative illumination change across the frame in x and y.
        specular: Strength of specular highlights on faces.
    """

    direction: Vec3
    ambient: float
    diffuse: float
    intensity: float
    colour: Vec3
    background_gain: float
    gradient: tuple[float, float]
    specular: float


@dataclass(frozen=True)
class DeviceSpec:
    """A capture device (a phone camera).

    Attributes:
        name: Human-readable name.
        resolution: Sensor pixels per output pixel (< 1: upsampled, softer images).
        blur: Optical blur sigma in sensor pixels.
        read_noise: Standard deviation of signal-independent sensor noise (linear units).
        shot_noise: Variance of signal-dependent noise per unit of signal.
        tint: Residual white-balance gains of the colour pipeline.
        saturation: Colour saturation of the colour matrix.
        gamma: Encoding gamma of the tone curve.
        contrast: Strength of the S-shaped tone curve in [0, 1].
        sharpen: Amount of unsharp masking.
        exposure: Auto-exposure target of the metered (linear) mean.
        awb: Fraction of the light colour cast removed by auto white balance.
    """

    name: str
    resolution: float
    blur: float
    read_noise: float
    shot_noise: float
    tint: Vec3
    saturation: float
    gamma: float
    contrast: float
    sharpen: float
    exposure: float
    awb: float


@dataclass(frozen=True)
class SessionSpec:
    """A recording session (a room and its lighting)."""

    name: str
    light: Light


@dataclass(frozen=True)
class PrintSpec:
    """A printer and its paper.

    Attributes:
        name: Species name.
        screen: ``"am"`` (rotated clustered-dot screens) or ``"dither"`` (ordered dither).
        period: Halftone cell period (``am``) or dither dot size (``dither``), output px.
        angles: Screen angles of the C, M, Y inks in degrees (``am`` only).
        saturation: Gamut compression (chroma scale) before printing.
        contrast: Contrast compression before printing.
        tone: Exponent of the ink linearisation curve (lower: lighter mid-tones).
        density: Ink density (1 - reflectance of full ink coverage).
        paper: Linear RGB reflectance of the paper.
        pre_blur: Blur of the image before halftoning, output px.
        ink_blur: Ink spread after halftoning, output px.
        texture: Amplitude of the paper fibre texture.
        warp: Amplitude of the paper bend displacement, output px.
        sheen: Strength of the broad specular sheen of the paper.
    """

    name: str
    screen: str
    period: float
    angles: Vec3
    saturation: float
    contrast: float
    tone: float
    density: float
    paper: Vec3
    pre_blur: float
    ink_blur: float
    texture: float
    warp: float
    sheen: float


Harmonic = tuple[float, float, float, float]
"""One sinusoid of a display's sub-pixel layout: ``(n_u, n_v, amplitude, phase)`` where
``n_u, n_v`` are cycles per display pixel along the display's axes."""


@dataclass(frozen=True)
class DisplaySpec:
    """A display replaying a video.

    Attributes:
        name: Species name.
        pitch: Pixel pitch in output px at nominal placement (near 1: strong moire).
        layout: Per-channel (R, G, B) sub-pixel harmonics of the emission pattern.
        grid_contrast: Scale of the sub-pixel pattern.
        gamma: Display gamma relative to the source encoding (gamma shift).
        white: Linear RGB white point of the display.
        black: Black level (backlight leakage) relative to white.
        blur: Softness of the replayed video, output px.
        glare: Peak strength of the specular glare of the room light.
        reflect: Uniform reflection of the room light (veiling glare).
        flicker: Standard deviation of the frame-to-frame brightness flicker.
        banding: Amplitude of rolling-shutter bands.
        band_period: Period of the bands as a fraction of the frame height.
    """

    name: str
    pitch: float
    layout: tuple[tuple[Harmonic, ...], tuple[Harmonic, ...], tuple[Harmonic, ...]]
    grid_contrast: float
    gamma: float
    white: Vec3
    black: float
    blur: float
    glare: float
    reflect: float
    flicker: float
    banding: float
    band_period: float


def _unit(x: float, y: float, z: float) -> Vec3:
    n = float(np.sqrt(x * x + y * y + z * z))
    return (x / n, y / n, z / n)


#: One row per device: the fields of :class:`DeviceSpec`, in order (name, resolution, blur,
#: read_noise, shot_noise, tint, saturation, gamma, contrast, sharpen, exposure, awb).
_DEVICE_ROWS: tuple[tuple[Any, ...], ...] = (
    ("phone-a", 1.00, 0.30, 0.002, 0.0004, (1.00, 1.00, 1.00), 1.05, 2.2, 0.15, 0.3, 0.40, 0.8),
    ("phone-b", 0.85, 0.35, 0.004, 0.0009, (1.06, 1.00, 0.91), 1.15, 2.0, 0.25, 0.5, 0.44, 0.7),
    ("phone-c", 0.95, 0.25, 0.003, 0.0006, (0.95, 1.02, 1.05), 0.92, 2.4, 0.10, 0.1, 0.36, 0.9),
    ("phone-d", 0.75, 0.35, 0.005, 0.0012, (1.00, 1.05, 0.94), 0.90, 2.2, 0.30, 0.6, 0.40, 0.6),
    ("phone-e", 0.90, 0.30, 0.003, 0.0008, (1.04, 0.97, 1.03), 1.20, 2.1, 0.20, 0.4, 0.46, 0.8),
    ("phone-f", 0.80, 0.35, 0.004, 0.0010, (0.95, 1.00, 1.08), 1.00, 2.3, 0.20, 0.5, 0.42, 0.7),
)
DEVICES: tuple[DeviceSpec, ...] = tuple(DeviceSpec(*row) for row in _DEVICE_ROWS)
"""The capture devices (six, like the phones of OULU-NPU)."""

SESSIONS: tuple[SessionSpec, ...] = (
    SessionSpec(
        "office",
        Light(
            _unit(-0.35, -0.45, 0.82),
            0.38,
            0.72,
            1.00,
            (1.00, 0.97, 0.92),
            1.0,
            (-0.25, -0.10),
            0.25,
        ),
    ),
    SessionSpec(
        "dim-room",
        Light(
            _unit(0.65, -0.20, 0.73), 0.22, 0.75, 0.45, (1.00, 0.80, 0.58), 0.7, (0.35, 0.05), 0.30
        ),
    ),
    SessionSpec(
        "backlit-hall",
        Light(
            _unit(0.05, -0.80, 0.60), 0.45, 0.55, 0.80, (0.88, 0.95, 1.08), 2.3, (0.05, -0.35), 0.15
        ),
    ),
)
"""The recording sessions (three lighting conditions, like OULU-NPU)."""

#: One row per printer: its id, then the fields of :class:`PrintSpec` in order (name,
#: screen, period, angles, saturation, contrast, tone, density, paper, pre_blur, ink_blur,
#: texture, warp, sheen).
_PRINTER_ROWS: tuple[tuple[Any, ...], ...] = (
    (1, "print1", "am", 3.4, (15.0, 75.0, 0.0), 0.92, 0.92, 2.5, 0.88, (0.93, 0.93, 0.90),
        0.5, 0.45, 0.020, 1.2, 0.05),
    (2, "print2", "dither", 1.5, (0.0, 0.0, 0.0), 0.78, 0.85, 2.1, 0.82, (0.91, 0.89, 0.84),
        0.8, 0.45, 0.035, 2.2, 0.0),
)  # fmt: skip
PRINTERS: dict[int, PrintSpec] = {row[0]: PrintSpec(*row[1:]) for row in _PRINTER_ROWS}
"""The printers of the print species (laser with AM screens; inkjet with ordered dither)."""

_TWO_PI_3 = 2.0 * np.pi / 3.0
_STRIPE_A = 1.6  # first harmonic of a 1/3-duty sub-pixel stripe (mean-normalised)
_ROW_A = 0.45  # first harmonic of the black matrix between pixel rows


def _stripe_channel(c: int) -> tuple[Harmonic, ...]:
    ph = -c * _TWO_PI_3
    ab = 0.5 * _STRIPE_A * _ROW_A
    return (
        (1.0, 0.0, _STRIPE_A, ph),
        (0.0, 1.0, _ROW_A, 0.0),
        (1.0, 1.0, ab, ph),
        (1.0, -1.0, ab, ph),
    )


_PENTILE_G: tuple[Harmonic, ...] = ((1.0, 0.0, 0.9, 0.0), (0.0, 1.0, 0.9, 0.0))
_PENTILE_RB = (1.1, 1.1)


def _pentile_rb(phase: float) -> tuple[Harmonic, ...]:
    return (
        (0.5, 0.5, _PENTILE_RB[0], phase),
        (0.5, -0.5, _PENTILE_RB[1], phase),
        (1.0, 0.0, 0.35, 0.0),
    )


DISPLAYS: dict[int, DisplaySpec] = {
    3: DisplaySpec(
        "replay1",
        2.2,
        (_stripe_channel(0), _stripe_channel(1), _stripe_channel(2)),
        0.6,
        0.85,
        (0.90, 0.98, 1.10),
        0.05,
        0.6,
        0.10,
        0.020,
        0.03,
        0.035,
        0.30,
    ),
    4: DisplaySpec(
        "replay2",
        1.9,
        (_pentile_rb(0.0), _PENTILE_G, _pentile_rb(0.6 * np.pi)),
        1.0,
        1.20,
        (1.02, 1.00, 0.95),
        0.025,
        0.9,
        0.22,
        0.035,
        0.05,
        0.05,
        0.45,
    ),
}
"""The displays of the replay species (an RGB-stripe laptop LCD; a pentile tablet)."""

PARTIALS: dict[int, PartialSpec] = {
    5: PartialSpec("cut_eyes1", 1, "cut", ("eyes",)),
    6: PartialSpec("cut_mouth1", 1, "cut", ("mouth",)),
    7: PartialSpec("cut_eyes2", 2, "cut", ("eyes",)),
    8: PartialSpec("cut_eyes_mouth2", 2, "cut", ("eyes", "mouth")),
    9: PartialSpec("glasses1", 1, "patch", ("eyes",)),
    10: PartialSpec("glasses2", 2, "patch", ("eyes",)),
    11: PartialSpec("mouth_patch2", 2, "patch", ("mouth",)),
}
"""The partial attacks (ids after the full species; the digit names the printer).

Each is its own physical print (its own random stream), re-captured like the full prints.
"""

PARTIAL_NAMES: tuple[str, ...] = tuple(spec.name for spec in PARTIALS.values())
"""Names of the partial attacks, in id order."""

ALL_PAI_NAMES: tuple[str, ...] = PAI_NAMES + PARTIAL_NAMES
"""Every species the generator renders; the index is the species id. ``PAI_NAMES`` (the
first five) is what the layouts of the real benchmarks and the sample grid use."""


def printer_of(pai: int) -> PrintSpec:
    """The printer of a full print (``PRINTERS``) or of a partial attack (``PARTIALS``)."""
    return PRINTERS[pai] if pai in PRINTERS else PRINTERS[PARTIALS[pai].printer]


N_DEVICES: int = len(DEVICES)
N_SESSIONS: int = len(SESSIONS)


def _is_int(value: object) -> TypeGuard[int | np.integer[Any]]:
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def check_index(name: str, value: object, count: int) -> int:
    """Validates an integer id in ``[0, count)``.

    Args:
        name: Name of the argument, for the error message.
        value: The value to check.
        count: Number of valid ids.

    Returns:
        The id as a Python int.

    Raises:
        ConfigError: If ``value`` is not an integer in range.
    """
    if not _is_int(value) or not 0 <= int(value) < count:
        raise ConfigError(
            f"{name} must be an integer in [0, {count - 1}] (the synthetic benchmark has "
            f"{count} {name}s), got {value!r}."
        )
    return int(value)


def check_positive(name: str, value: object, minimum: int = 1) -> int:
    """Validates an integer ``>= minimum``.

    Raises:
        ConfigError: If ``value`` is not an integer ``>= minimum``.
    """
    if not _is_int(value) or int(value) < minimum:
        raise ConfigError(f"{name} must be an integer >= {minimum}, got {value!r}.")
    return int(value)


def resolve_pai(pai: object) -> int:
    """Turns a species name or id into a species id.

    Args:
        pai: A name of ``ALL_PAI_NAMES`` or an id in ``[0, len(ALL_PAI_NAMES))``.

    Returns:
        The species id.

    Raises:
        ConfigError: If ``pai`` names no species.
    """
    names = ALL_PAI_NAMES
    if isinstance(pai, str):
        if pai not in names:
            raise ConfigError(f"Unknown presentation species {pai!r}; use one of {names}.")
        return names.index(pai)
    if _is_int(pai) and 0 <= int(pai) < len(names):
        return int(pai)
    raise ConfigError(
        f"pai must be a species name in {names} or an id in [0, {len(names) - 1}], got {pai!r}."
    )
