"""Writing synthetic videos with a codec that keeps the fine spoof cues.

Print halftones, display sub-pixel grids and moire are a few pixels wide; a lossy codec
blurs them away, so releases are written losslessly with FFV1 in ``.avi`` when this
OpenCV build can (checked by a round trip), and with MJPG at the highest quality
otherwise (with a warning).
"""

from __future__ import annotations

import contextlib
import functools
import os
import sys
import tempfile
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from mtfas.errors import ConfigError, DatasetError, DatasetWarning

#: Codec used when the preferred one is not available.
FALLBACK_FOURCC = "MJPG"


@dataclass(frozen=True)
class Codec:
    """A video codec that this OpenCV build can write and read back.

    Attributes:
        fourcc: Four-character code, e.g. ``"FFV1"``.
        lossless: Whether a write / read round trip gives the frames back exactly.
    """

    fourcc: str
    lossless: bool


#: Containers whose muxer knows the codec's tag. In others (FFV1 in ``.mov``) FFmpeg
#: falls back to a generic tag, which works (round trip tested) but makes OpenCV print a
#: line to the C-level stderr for every file.
NATIVE_CONTAINERS: dict[str, tuple[str, ...]] = {"FFV1": (".avi", ".mkv")}


@contextlib.contextmanager
def _quiet_native_stderr(quiet: bool) -> Iterator[None]:
    """Send the process's C-level stderr (file descriptor 2) to /dev/null while active."""
    if not quiet:
        yield
        return
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "wb") as null:
            os.dup2(null.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def write_video(path: str | Path, frames: np.ndarray, codec: Codec, fps: float = 25.0) -> Path:
    """Write RGB frames as a video, atomically (temporary file, then rename).

    Args:
        path: The video file (its extension selects the container, e.g. ``.avi``).
        frames: ``(T, H, W, 3)`` uint8 RGB.
        codec: The codec (see :func:`video_codec`).
        fps: Frame rate stored in the container.

    Returns:
        The path.

    Raises:
        DatasetError: If OpenCV cannot write the file.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8 or not len(frames):
        raise ConfigError(
            f"frames must be a non-empty (T, H, W, 3) uint8 array, got "
            f"{frames.dtype} {frames.shape}"
        )
    height, width = frames.shape[1:3]
    tmp = path.with_name(f".{path.stem}.tmp{path.suffix}")
    with _quiet_native_stderr(path.suffix.lower() not in NATIVE_CONTAINERS.get(codec.fourcc, ())):
        writer = cv2.VideoWriter(
            str(tmp), cv2.VideoWriter.fourcc(*codec.fourcc), fps, (width, height)
        )
    try:
        if not writer.isOpened():
            raise DatasetError(
                f"OpenCV cannot write {path} with codec {codec.fourcc}; check that the folder "
                "is writable and that opencv-python-headless is installed"
            )
        if not codec.lossless:
            writer.set(cv2.VIDEOWRITER_PROP_QUALITY, 100)
        for frame in frames:
            writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    finally:
        writer.release()
    os.replace(tmp, path)
    return path


def read_video(path: str | Path) -> np.ndarray:
    """Decode every frame of a video as ``(T, H, W, 3)`` uint8 RGB."""
    capture = cv2.VideoCapture(str(path))
    frames = []
    try:
        while True:
            ok, image = capture.read()
            if not ok:
                break
            frames.append(cv2.cvtColor(image, cv2.COLOR_BGR2RGB))
    finally:
        capture.release()
    return np.stack(frames) if frames else np.empty((0, 0, 0, 3), np.uint8)


@functools.cache
def round_trips(fourcc: str, suffix: str = ".avi") -> bool | None:
    """Whether ``fourcc`` in a ``suffix`` container (``.avi``, ``.mov``) gives frames back exactly.

    Returns:
        True if lossless, False if it writes but alters the frames, None if it cannot write
        or read back.
    """
    rng = np.random.default_rng(0)
    frames = rng.integers(0, 256, (3, 32, 48, 3), dtype=np.uint8)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"probe{suffix}"
        with _quiet_native_stderr(suffix.lower() not in NATIVE_CONTAINERS.get(fourcc, ())):
            writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*fourcc), 25.0, (48, 32))
        if not writer.isOpened():
            writer.release()
            return None
        for frame in frames:
            writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
        writer.release()
        back = read_video(path)
    if back.shape != frames.shape:
        return None
    return bool(np.array_equal(back, frames))


def video_codec(preferred: str = "FFV1", suffix: str = ".avi") -> Codec:
    """The codec to write releases with: ``preferred`` if it round-trips, else MJPG.

    Args:
        preferred: Four-character code to try first (lossless FFV1 by default).
        suffix: Container the videos are written in (``.avi``; ``.mov`` for SiW and
            Replay-Attack, where OpenCV's FFmpeg stores FFV1 under another tag, with a
            console notice, and still round-trips it exactly).

    Returns:
        The codec; falling back to MJPG (highest quality) warns, since JPEG compression
        softens the finest spoof cues.

    Raises:
        ConfigError: If neither codec can be written and read back.
    """
    if len(preferred) != 4:
        raise ConfigError(f"a fourcc has four characters, got {preferred!r}")
    result = round_trips(preferred, suffix)
    if result is not None:
        return Codec(preferred, result)
    fallback = round_trips(FALLBACK_FOURCC, suffix)
    if fallback is None:
        raise ConfigError(
            f"this OpenCV build can write neither {preferred} nor {FALLBACK_FOURCC} {suffix} "
            "videos; install opencv-python-headless from PyPI (it bundles FFmpeg)"
        )
    warnings.warn(
        f"codec {preferred} is not available in this OpenCV build; writing {FALLBACK_FOURCC} "
        "at the highest quality instead, which softens the finest spoof cues",
        DatasetWarning,
        stacklevel=2,
    )
    return Codec(FALLBACK_FOURCC, fallback)
