"""Tests of the procedural synthetic FAS benchmark generator."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from mtfas.errors import ConfigError, MTFASError
from mtfas.synthetic import (
    N_DEVICES,
    N_SESSIONS,
    PAI_NAMES,
    Capture,
    layers,
    render_capture,
    render_sample_grid,
    write_sample_grid,
)
from mtfas.synthetic.identity import sample_identity

ATTACKS = PAI_NAMES[1:]


def _clear_caches() -> None:
    for fn in (
        layers.identity,
        layers.live_person,
        layers.room,
        layers.source,
        layers.print_medium,
        layers.display_layers,
    ):
        fn.cache_clear()


def _luma(frame: np.ndarray) -> np.ndarray:
    return frame.astype(np.float64).mean(axis=2) / 255.0


def _face_patch(cap: Capture, t: int = 0) -> np.ndarray:
    """Square luma patch of skin (cheeks and nose, below the eyes and any glasses)."""
    x1, y1, x2, y2 = cap.boxes[t]
    cx, cy = 0.5 * (x1 + x2), 0.5 * (y1 + y2) + 0.12 * (y2 - y1)
    h = int(0.22 * (x2 - x1))
    return _luma(cap.frames[t])[int(cy) - h : int(cy) + h, int(cx) - h : int(cx) + h]


def _hf_ratio(patch: np.ndarray) -> float:
    """Spectral energy above 0.2 cycles/px over energy in 0.02..0.2 cycles/px."""
    g = patch - patch.mean()
    g = g * np.outer(np.hanning(g.shape[0]), np.hanning(g.shape[1]))
    power = np.abs(np.fft.fft2(g)) ** 2
    fy, fx = np.fft.fftfreq(g.shape[0]), np.fft.fftfreq(g.shape[1])
    r = np.hypot(fy[:, None], fx[None, :])
    return float(power[r > 0.2].sum() / power[(r > 0.02) & (r <= 0.2)].sum())


def _peak_power(frame: np.ndarray) -> float:
    """Strongest spectral peak above 0.15 cycles/px of the exposure-normalised luma.

    A display's sub-pixel grid (and its moire) is a strong periodic pattern, while a live
    face and the softened replayed video have no isolated high-frequency peak.
    """
    g = _luma(frame)
    g = g / g.mean()
    g = g - cv2.GaussianBlur(g, (0, 0), 2.0)
    g = g * np.outer(np.hanning(g.shape[0]), np.hanning(g.shape[1]))
    power = np.abs(np.fft.fft2(g)) ** 2
    fy, fx = np.fft.fftfreq(g.shape[0]), np.fft.fftfreq(g.shape[1])
    return float(power[np.hypot(fy[:, None], fx[None, :]) > 0.15].max())


@pytest.mark.parametrize("pai", PAI_NAMES)
def test_shapes_dtypes_and_metadata(pai: str) -> None:
    cap = render_capture(2, pai, device=1, session=2, n_frames=3, size=64, seed=5)
    assert cap.frames.shape == (3, 64, 64, 3)
    assert cap.frames.dtype == np.uint8
    assert cap.eyes.shape == (3, 4) and cap.eyes.dtype == np.float32
    assert cap.boxes.shape == (3, 4) and cap.boxes.dtype == np.float32
    assert (cap.subject, cap.pai, cap.device, cap.session) == (2, PAI_NAMES.index(pai), 1, 2)
    assert cap.label == int(pai != "live")
    assert cap.frames.std() > 10  # an image, not a constant


def test_species_may_be_given_by_id() -> None:
    a = render_capture(0, 3, n_frames=1, size=32)
    b = render_capture(0, "replay1", n_frames=1, size=32)
    assert np.array_equal(a.frames, b.frames)


@pytest.mark.parametrize("pai", PAI_NAMES)
def test_same_arguments_give_identical_bytes(pai: str) -> None:
    kwargs = {"device": 4, "session": 1, "n_frames": 2, "size": 48, "seed": 11}
    a = render_capture(5, pai, **kwargs)
    _clear_caches()  # the second render must not just come from a cache
    b = render_capture(5, pai, **kwargs)
    assert a.frames.tobytes() == b.frames.tobytes()
    assert a.eyes.tobytes() == b.eyes.tobytes()
    assert a.boxes.tobytes() == b.boxes.tobytes()


@pytest.mark.parametrize("pai", ["live", "print2", "replay1"])
def test_different_seed_gives_different_frames(pai: str) -> None:
    a = render_capture(1, pai, n_frames=1, size=48, seed=0)
    b = render_capture(1, pai, n_frames=1, size=48, seed=1)
    assert np.abs(a.frames.astype(int) - b.frames.astype(int)).mean() > 5


def test_frames_do_not_depend_on_n_frames() -> None:
    short = render_capture(3, "replay2", device=2, n_frames=1, size=48)
    long = render_capture(3, "replay2", device=2, n_frames=3, size=48)
    assert np.array_equal(short.frames[0], long.frames[0])
    assert np.array_equal(short.eyes[0], long.eyes[0])


def test_frames_of_a_capture_differ_by_small_motion() -> None:
    cap = render_capture(0, "live", n_frames=4, size=64)
    centres = 0.5 * (cap.eyes[:, :2] + cap.eyes[:, 2:])
    spread = np.ptp(centres, axis=0).max()
    assert 0.05 < spread < 0.1 * 64
    assert not np.array_equal(cap.frames[0], cap.frames[1])


def test_subjects_differ() -> None:
    lives = [
        render_capture(s, "live", n_frames=1, size=64).frames[0].astype(float) for s in range(4)
    ]
    for i in range(4):
        for j in range(i + 1, 4):
            assert np.abs(lives[i] - lives[j]).mean() > 8, (i, j)
    idents = [sample_identity(0, s) for s in range(4)]
    assert len({(i.skin, i.face_w, i.hair_colour) for i in idents}) == 4


def test_devices_and_sessions_change_the_picture() -> None:
    base = render_capture(2, "live", device=0, session=0, n_frames=1, size=64).frames[0]
    for kwargs in ({"device": 3, "session": 0}, {"device": 0, "session": 1}):
        other = render_capture(2, "live", n_frames=1, size=64, **kwargs).frames[0]
        assert np.abs(base.astype(int) - other.astype(int)).mean() > 3, kwargs


@pytest.mark.parametrize("pai", PAI_NAMES)
@pytest.mark.parametrize("size", [48, 128])
def test_eyes_and_boxes_lie_inside_the_frame(pai: str, size: int) -> None:
    for subject, device, session in ((0, 0, 0), (7, 3, 2), (12, 5, 1)):
        cap = render_capture(subject, pai, device=device, session=session, n_frames=3, size=size)
        x1, y1, x2, y2 = cap.boxes.T
        assert (cap.boxes >= 0).all() and (cap.boxes <= size).all()
        assert (cap.eyes >= 0).all() and (cap.eyes <= size - 1).all()
        for ex, ey in (cap.eyes[:, :2].T, cap.eyes[:, 2:].T):
            assert ((x1 < ex) & (ex < x2) & (y1 < ey) & (ey < y2)).all()
        assert (cap.eyes[:, 0] < cap.eyes[:, 2]).all()  # image-left eye first
        width = (x2 - x1) / size
        assert ((0.35 < width) & (width < 0.65)).all(), width
        # a 1.3x enlarged crop around the box stays mostly inside the frame
        cx, cy, half = 0.5 * (x1 + x2), 0.5 * (y1 + y2), 0.65 * np.maximum(x2 - x1, y2 - y1)
        inside = (
            (np.minimum(cx + half, size) - np.maximum(cx - half, 0))
            * (np.minimum(cy + half, size) - np.maximum(cy - half, 0))
            / (2 * half) ** 2
        )
        assert (inside > 0.85).all(), inside


def test_eye_positions_point_at_dark_eye_features() -> None:
    """The darkest pixel near each reported eye centre (the pupil) is darker than the face."""
    for pai in ("live", "print1", "replay1"):
        cap = render_capture(4, pai, n_frames=2, size=128)
        for t in range(2):
            g = _luma(cap.frames[t])
            x1, y1, x2, y2 = (round(float(v)) for v in cap.boxes[t])
            face = g[y1:y2, x1:x2].mean()
            for k in (0, 2):
                x, y = (round(float(v)) for v in cap.eyes[t, k : k + 2])
                assert g[y - 2 : y + 3, x - 2 : x + 3].min() < face - 0.1, (pai, t, k)


def test_attack_shows_the_same_subject_at_the_same_scale() -> None:
    live = render_capture(6, "live", n_frames=2, size=128)
    iod = np.linalg.norm(live.eyes[:, 2:] - live.eyes[:, :2], axis=1).mean()
    ident = sample_identity(0, 6)
    expected = 2 * ident.eye_sep * ident.face_w * 128
    assert iod == pytest.approx(expected, rel=0.12)
    for pai in ATTACKS:
        cap = render_capture(6, pai, n_frames=2, size=128)
        d = np.linalg.norm(cap.eyes[:, 2:] - cap.eyes[:, :2], axis=1).mean()
        assert d == pytest.approx(iod, rel=0.15), pai


def test_attack_source_is_the_subject_at_another_moment() -> None:
    """The photo/video shares the identity's geometry but not the live layer's pixels."""
    ident = sample_identity(0, 2)
    src = layers.source(0, 2, layers.KIND_REPLAY, 128)
    iod = np.linalg.norm(src.person.eyes[1] - src.person.eyes[0])
    assert iod == pytest.approx(2 * ident.eye_sep * ident.face_w * 128, rel=1e-6)
    live = layers.live_person(0, 2, 0, 128)
    assert src.person.rgba.shape != live.rgba.shape or not np.array_equal(
        src.person.rgba, live.rgba
    )
    sc = src.person.rgba.shape[0]
    off = (sc - 128) // 2
    crop = src.person.rgba[off : off + 128, off : off + 128]
    assert np.abs(crop - live.rgba).mean() > 1e-3


@pytest.mark.parametrize("subject,device,session", [(0, 0, 0), (1, 3, 1), (2, 5, 2)])
def test_attacks_differ_from_live_spectrally(subject: int, device: int, session: int) -> None:
    kwargs = {"device": device, "session": session, "n_frames": 1, "size": 128}
    live = render_capture(subject, "live", **kwargs)
    live_hf, live_peak = _hf_ratio(_face_patch(live)), _peak_power(live.frames[0])
    for pai in ("print1", "print2"):  # halftone / dither: high-frequency texture on the face
        cap = render_capture(subject, pai, **kwargs)
        assert _hf_ratio(_face_patch(cap)) > 2.0 * live_hf, pai
    for pai in ("replay1", "replay2"):  # sub-pixel grid: periodic spectral peaks
        cap = render_capture(subject, pai, **kwargs)
        assert _peak_power(cap.frames[0]) > 1.5 * live_peak, pai


def test_attack_is_not_a_brightness_offset_of_live() -> None:
    """Auto exposure keeps attacks near live brightness: the cue is not a global offset."""
    kwargs = {"device": 2, "session": 0, "n_frames": 1, "size": 64}
    live = _luma(render_capture(3, "live", **kwargs).frames[0]).mean()
    for pai in ATTACKS:
        assert abs(_luma(render_capture(3, pai, **kwargs).frames[0]).mean() - live) < 0.15, pai


@pytest.mark.parametrize(
    "kwargs",
    [
        {"device": N_DEVICES},
        {"device": -1},
        {"device": True},
        {"device": 1.0},
        {"session": N_SESSIONS},
        {"session": -1},
        {"n_frames": 0},
        {"size": 16},
        {"size": 4096},
        {"seed": "0"},
    ],
)
def test_invalid_arguments_raise_config_error(kwargs: dict) -> None:
    with pytest.raises(ConfigError):
        render_capture(0, "live", **kwargs)


@pytest.mark.parametrize("pai", ["print3", "Live", 12, -1, None, 1.0])  # 12 = len(ALL_PAI_NAMES)
def test_unknown_species_raises_config_error(pai: object) -> None:
    with pytest.raises(ConfigError, match=r"pai|species"):
        render_capture(0, pai)  # type: ignore[arg-type]


def test_negative_subject_raises_and_errors_are_library_errors() -> None:
    with pytest.raises(ConfigError) as info:
        render_capture(-1, "live")
    assert isinstance(info.value, MTFASError)
    with pytest.raises(ConfigError, match=r"\[0, 5\]"):
        render_capture(0, "live", device=6)


def test_six_devices_and_three_sessions_are_supported() -> None:
    assert N_DEVICES >= 6 and N_SESSIONS >= 3
    cap = render_capture(
        0, "print1", device=N_DEVICES - 1, session=N_SESSIONS - 1, n_frames=1, size=32
    )
    assert cap.frames.shape == (1, 32, 32, 3)


def test_sample_grid_shape_and_labels() -> None:
    grid = render_sample_grid(n_subjects=2, size=48, seed=3)
    header = max(16, 48 // 6)
    assert grid.shape == (header + 2 * 48, len(PAI_NAMES) * 48, 3)
    assert grid.dtype == np.uint8
    for col in range(len(PAI_NAMES)):  # a label (dark text on white) above every column
        cell = grid[:header, col * 48 : (col + 1) * 48]
        assert (cell < 100).any() and (cell == 255).mean() > 0.5
    first = render_capture(1, "replay2", device=1, session=1, n_frames=1, size=48, seed=3)
    assert np.array_equal(grid[header + 48 :, 4 * 48 :], first.frames[0])


def test_write_sample_grid_writes_a_readable_png(tmp_path) -> None:
    path = write_sample_grid(tmp_path / "out", n_subjects=2, size=32, seed=0)
    assert path.exists() and path.suffix == ".png"
    img = cv2.imread(str(path), cv2.IMREAD_COLOR)
    assert img is not None
    expected = render_sample_grid(n_subjects=2, size=32, seed=0)
    assert np.array_equal(cv2.cvtColor(img, cv2.COLOR_BGR2RGB), expected)
