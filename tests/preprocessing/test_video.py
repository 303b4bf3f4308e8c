from __future__ import annotations

import struct
from pathlib import Path

import cv2
import numpy as np
import pytest

from mtfas.errors import ConfigError, EmptyVideoError, VideoReadError
from mtfas.preprocessing import apply_rotation, read_frames, rotation_meta
from mtfas.preprocessing.video import open_video


def _marked(height: int = 48, width: int = 64) -> np.ndarray:
    image = np.zeros((height, width, 3), dtype=np.uint8)
    image[:8, :8] = (255, 0, 0)  # red marker in the top-left corner
    return image


def _marker_corner(image: np.ndarray) -> tuple[str, str]:
    ys, xs = np.nonzero(image[..., 0] > 128)
    height, width = image.shape[:2]
    return (
        "top" if ys.mean() < height / 2 else "bottom",
        "left" if xs.mean() < width / 2 else "right",
    )


@pytest.mark.parametrize(
    ("degrees", "corner", "shape"),
    [
        (0, ("top", "left"), (48, 64, 3)),
        (90, ("top", "right"), (64, 48, 3)),
        (180, ("bottom", "right"), (48, 64, 3)),
        (270, ("bottom", "left"), (64, 48, 3)),
        (-90, ("bottom", "left"), (64, 48, 3)),
    ],
)
def test_apply_rotation_is_clockwise(degrees, corner, shape) -> None:
    rotated = apply_rotation(_marked(), degrees)
    assert rotated.shape == shape
    assert _marker_corner(rotated) == corner


def test_apply_rotation_rejects_odd_angles() -> None:
    with pytest.raises(ConfigError, match="multiple of 90"):
        apply_rotation(_marked(), 45)


def test_read_frames_decodes_requested_frames(dataset, synth) -> None:
    path = dataset.videos["live/v0"]
    frames = read_frames(path, [0, 3, 11, 12, 20])
    assert [index for index, _ in frames] == [0, 3, 11, 12, 20]
    for index, image in frames[:3]:
        assert image.shape == (synth.HEIGHT, synth.WIDTH, 3)
        assert abs(int(image[2:6, 2:150].mean()) - synth.marker_value(index)) < 6
    # Beyond the end of the stream: reported as unreadable (None), not dropped.
    assert frames[3][1] is None and frames[4][1] is None
    with pytest.raises(ConfigError, match="increasing"):
        read_frames(path, [3, 1])


def _mp4_with_rotation(path: Path, degrees: int) -> Path:
    """Write an MPEG-4 file and set the track matrix (tkhd) to a display rotation."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 25.0, (64, 48))
    if not writer.isOpened():
        pytest.skip("this OpenCV build cannot write MPEG-4")
    for _ in range(3):
        writer.write(cv2.cvtColor(_marked(), cv2.COLOR_RGB2BGR))
    writer.release()
    data = bytearray(path.read_bytes())
    at = data.find(b"tkhd")
    assert at > 0 and data[at + 4] == 0, "expected a version-0 tkhd box"
    # version/flags, times, track id, reserved, duration, reserved, layer, group, volume,
    # reserved: 40 bytes, then the 3x3 matrix in 16.16 fixed point (last column 2.30).
    one = 0x10000
    a, b, c, d = {90: (0, one, -one, 0), 180: (-one, 0, 0, -one), 270: (0, -one, one, 0)}[degrees]
    matrix = struct.pack(">9i", a, b, 0, c, d, 0, 0, 0, 0x40000000)
    data[at + 44 : at + 80] = matrix
    path.write_bytes(bytes(data))
    return path


@pytest.mark.parametrize("degrees", [90, 270])
def test_rotation_metadata_is_read_and_applied(tmp_path: Path, degrees: int) -> None:
    path = _mp4_with_rotation(tmp_path / "phone.mp4", degrees)
    capture = open_video(path)
    try:
        assert rotation_meta(capture) == degrees
        ok, raw = capture.read()  # automatic rotation is switched off by open_video
    finally:
        capture.release()
    assert ok and raw.shape == (48, 64, 3)
    ((_, upright),) = read_frames(path, [0])
    assert upright.shape == (64, 48, 3)
    raw_rgb = cv2.cvtColor(raw, cv2.COLOR_BGR2RGB)
    assert np.array_equal(upright, apply_rotation(raw_rgb, degrees))
    # Same result as OpenCV's own automatic rotation.
    auto = cv2.VideoCapture(str(path))
    auto.set(cv2.CAP_PROP_ORIENTATION_AUTO, 1)
    ok, by_opencv = auto.read()
    auto.release()
    assert ok and np.array_equal(upright, cv2.cvtColor(by_opencv, cv2.COLOR_BGR2RGB))
    ((_, stored),) = read_frames(path, [0], orientation="ignore")
    assert np.array_equal(stored, raw_rgb)


def test_open_errors_name_the_file(tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.avi"
    garbage.write_bytes(np.random.default_rng(0).integers(0, 256, 4096, np.uint8).tobytes())
    with pytest.raises(VideoReadError, match=r"garbage\.avi"):
        open_video(garbage)
    empty = tmp_path / "empty.avi"
    empty.write_bytes(b"")
    with pytest.raises(EmptyVideoError, match=r"empty\.avi"):
        open_video(empty)
    with pytest.raises(VideoReadError, match=r"missing\.avi does not exist"):
        open_video(tmp_path / "missing.avi")
