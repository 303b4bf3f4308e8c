"""Reading video frames with OpenCV, including the rotation metadata of phone videos.

Phone videos (MSU-MFSD, SiW) are often stored sideways with a display rotation in their
metadata. OpenCV's FFmpeg backend exposes it as ``CAP_PROP_ORIENTATION_META`` (degrees,
0/90/180/270) and, by default, rotates frames itself (``CAP_PROP_ORIENTATION_AUTO``).
This module switches the automatic rotation off, reads the metadata, and rotates with
:func:`apply_rotation`, so that the behaviour is the same on every OpenCV build and can be
turned off (``orientation="ignore"``).

Still images (:data:`IMAGE_SUFFIXES`) are read with :func:`read_image` (``cv2.imdecode``,
which applies their EXIF orientation unless ``orientation="ignore"``): the preprocessing
crops an image as a one-frame item (frame 0), never as a video.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from mtfas.errors import ConfigError, EmptyVideoError, VideoReadError
from mtfas.preprocessing.cache import permission_error

#: File suffixes read as still images (lower case), one frame each.
IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp"})
#: File suffixes read as videos (lower case).
VIDEO_SUFFIXES = frozenset(
    {".avi", ".mp4", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv", ".3gp"}
)

_ROTATIONS = {
    0: None,
    90: cv2.ROTATE_90_CLOCKWISE,
    180: cv2.ROTATE_180,
    270: cv2.ROTATE_90_COUNTERCLOCKWISE,
}


def apply_rotation(frame: np.ndarray, degrees: int) -> np.ndarray:
    """Rotate a frame clockwise by a multiple of 90 degrees.

    The angle follows OpenCV's ``CAP_PROP_ORIENTATION_META``: the clockwise rotation
    that turns the stored frame upright. With 90, the stored frame's top-left corner
    ends up top-right and a ``W x H`` frame becomes ``H x W``.

    Args:
        frame: Image ``H x W`` or ``H x W x C``.
        degrees: Clockwise angle; any multiple of 90 (taken modulo 360).

    Returns:
        The rotated image (the input itself for 0).

    Raises:
        ConfigError: If the angle is not a multiple of 90.
    """
    nearest = round(float(degrees))
    angle = nearest % 360
    if angle not in _ROTATIONS or abs(float(degrees) - nearest) > 1e-6:
        raise ConfigError(f"rotation must be a multiple of 90 degrees, got {degrees!r}")
    code = _ROTATIONS[angle]
    return frame if code is None else cv2.rotate(frame, code)


@dataclass(frozen=True)
class VideoInfo:
    """What the container says about a video.

    Attributes:
        frame_count: Number of frames announced by the container (may be inexact).
        rotation: Clockwise display rotation from the metadata (0, 90, 180 or 270).
        width: Stored frame width (before rotation).
        height: Stored frame height (before rotation).
        fps: Frames per second (0 when unknown).
    """

    frame_count: int
    rotation: int
    width: int
    height: int
    fps: float


def _readable_size(path: Path, kind: str) -> int:
    """The size of a readable, non-empty file; ``kind`` (video, image) names it in errors.

    Raises:
        EmptyVideoError: If the file has 0 bytes.
        VideoReadError: If it does not exist, is a folder or cannot be read.
        mtfas.errors.DatasetPermissionError: If this user may not read it.
    """
    try:
        with open(path, "rb") as handle:  # readable? (OpenCV would only say "cannot open")
            size = os.fstat(handle.fileno()).st_size
    except FileNotFoundError:
        raise VideoReadError(f"{kind} {path} does not exist") from None
    except PermissionError as exc:
        raise permission_error(path, exc) from exc
    except IsADirectoryError:
        raise VideoReadError(f"{kind} {path} is a folder, not a file") from None
    except OSError as exc:
        raise VideoReadError(
            f"cannot read {kind} {path}: {exc.strerror or exc} (an I/O error, not a format "
            "problem: check the disk or the network share)"
        ) from exc
    if size == 0:
        raise EmptyVideoError(f"{kind} {path} is empty (0 bytes); re-copy it from the dataset")
    return size


def is_image(path: str | Path) -> bool:
    """Whether ``path`` is read as a still image (its suffix is in :data:`IMAGE_SUFFIXES`)."""
    return Path(path).suffix.lower() in IMAGE_SUFFIXES


def read_image(path: str | Path, orientation: str = "auto") -> np.ndarray:
    """Read a still image as ``H x W x 3`` uint8 RGB.

    Args:
        path: The image file.
        orientation: ``"auto"`` applies its EXIF orientation (``cv2.imdecode``'s
            default), ``"ignore"`` keeps the stored pixels.

    Raises:
        EmptyVideoError: If the file has 0 bytes.
        VideoReadError: If it does not exist or OpenCV cannot decode it.
        mtfas.errors.DatasetPermissionError: If this user may not read it.
    """
    path = Path(path)
    _readable_size(path, "image")
    flags = cv2.IMREAD_COLOR
    if orientation != "auto":
        flags |= cv2.IMREAD_IGNORE_ORIENTATION
    image = cv2.imdecode(np.fromfile(str(path), dtype=np.uint8), flags)
    if image is None or image.size == 0:
        raise VideoReadError(
            f"cannot decode image {path}: OpenCV does not recognise it (corrupt, truncated "
            "or an unsupported format); re-copy it from the dataset"
        )
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def open_video(path: Path) -> cv2.VideoCapture:
    """Open a video with automatic rotation switched off.

    Raises:
        EmptyVideoError: If the file has 0 bytes.
        VideoReadError: If the file does not exist or OpenCV cannot open it (corrupt or
            unsupported); the message names the file.
        mtfas.errors.DatasetPermissionError: If the file (or a folder above it) is not
            readable by this user.
    """
    path = Path(path)
    _readable_size(path, "video")
    capture = cv2.VideoCapture(str(path))
    if not capture.isOpened():
        capture.release()
        raise VideoReadError(
            f"cannot open video {path}: OpenCV/FFmpeg does not recognise it (corrupt, "
            "truncated or an unsupported codec); re-copy it from the dataset"
        )
    # Rotation is applied by apply_rotation, so the raw frames are wanted here.
    capture.set(cv2.CAP_PROP_ORIENTATION_AUTO, 0)
    return capture


def rotation_meta(capture: cv2.VideoCapture) -> int:
    """Return the clockwise display rotation of an open video (0 when absent).

    Reads ``CAP_PROP_ORIENTATION_META``; backends that do not provide it give 0.
    """
    value = capture.get(cv2.CAP_PROP_ORIENTATION_META)
    if not np.isfinite(value) or value < 0:
        return 0
    angle = round(float(value)) % 360
    return angle if angle in _ROTATIONS else 0


def video_info(capture: cv2.VideoCapture) -> VideoInfo:
    """Read frame count, rotation, size and frame rate of an open video."""
    count = capture.get(cv2.CAP_PROP_FRAME_COUNT)
    fps = capture.get(cv2.CAP_PROP_FPS)
    return VideoInfo(
        frame_count=int(count) if np.isfinite(count) and count > 0 else 0,
        rotation=rotation_meta(capture),
        width=int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)),
        height=int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT)),
        fps=float(fps) if np.isfinite(fps) and fps > 0 else 0.0,
    )


def count_frames(path: Path) -> int:
    """Count the frames of a video by decoding it (for containers that do not say)."""
    capture = open_video(path)
    try:
        count = 0
        while capture.grab():
            count += 1
        return count
    finally:
        capture.release()


def iter_frames(
    capture: cv2.VideoCapture, frames: Sequence[int], rotation: int = 0
) -> Iterator[tuple[int, np.ndarray | None]]:
    """Decode the given frames of an open video, in order, as RGB images.

    Frames are read sequentially from the current position, which must be the start
    (``grab`` every frame, ``retrieve`` the wanted ones): exact for every codec, unlike
    seeking.

    Args:
        capture: A video opened with :func:`open_video` and not read yet.
        frames: Strictly increasing 0-based frame indices.
        rotation: Clockwise rotation applied to each frame (see :func:`apply_rotation`).

    Yields:
        ``(frame_index, image)`` for every requested index, in order. ``image`` is an RGB
        uint8 array, or None if the frame could not be decoded or the stream ended
        before it.

    Raises:
        ConfigError: If the indices are not strictly increasing.
    """
    wanted = [int(f) for f in frames]
    if any(b <= a for a, b in itertools.pairwise(wanted)) or (wanted and wanted[0] < 0):
        raise ConfigError("frame indices must be >= 0 and strictly increasing")
    position = 0  # number of frames grabbed so far
    ended = False
    for index in wanted:
        while not ended and position < index:
            ended = not capture.grab()
            position += 1
        if ended or not capture.grab():
            ended = True
            yield index, None
            continue
        position += 1
        ok, image = capture.retrieve()
        if not ok or image is None or image.size == 0:
            yield index, None
            continue
        code = cv2.COLOR_GRAY2RGB if image.ndim == 2 else cv2.COLOR_BGR2RGB
        yield index, apply_rotation(cv2.cvtColor(image, code), rotation)


def read_frames(
    path: Path, frames: Sequence[int], orientation: str = "auto"
) -> list[tuple[int, np.ndarray | None]]:
    """Open a video and decode the given frames (see :func:`iter_frames`).

    Args:
        path: The video file.
        frames: Strictly increasing 0-based frame indices.
        orientation: ``"auto"`` applies the rotation metadata, ``"ignore"`` does not.

    Raises:
        VideoReadError: If the video cannot be opened.
    """
    capture = open_video(path)
    try:
        rotation = rotation_meta(capture) if orientation == "auto" else 0
        return list(iter_frames(capture, frames, rotation))
    finally:
        capture.release()
