"""Inputs of prediction: images, videos and folders of them, read frame by frame."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from mtfas.errors import ConfigError, VideoReadError
from mtfas.preprocessing.settings import PreprocessSettings, select_frames
from mtfas.preprocessing.video import (
    IMAGE_SUFFIXES,
    VIDEO_SUFFIXES,
    count_frames,
    iter_frames,
    open_video,
    video_info,
)

__all__ = ["IMAGE_SUFFIXES", "VIDEO_SUFFIXES", "InputFile", "discover", "read_input"]


@dataclass(frozen=True)
class InputFile:
    """One file to predict on.

    Attributes:
        path: The file.
        kind: ``"image"``, ``"video"`` or ``"unsupported"`` (by suffix).
    """

    path: Path
    kind: str


def _kind(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix in IMAGE_SUFFIXES:
        return "image"
    if suffix in VIDEO_SUFFIXES:
        return "video"
    return "unsupported"


def discover(paths: Sequence[str | Path]) -> list[InputFile]:
    """The files to predict on: given files, and every file below given folders (sorted).

    Files of unknown type are kept with kind ``"unsupported"`` so that they are reported
    as skipped, not silently dropped (hidden files in folders are ignored).

    Raises:
        ConfigError: If a path does not exist or nothing is given.
    """
    if not paths:
        raise ConfigError("no input given: pass image or video files, or folders of them.")
    found: list[InputFile] = []
    for path in map(Path, paths):
        if path.is_dir():
            files = sorted(
                p
                for p in path.rglob("*")
                if p.is_file()
                and not any(part.startswith(".") for part in p.relative_to(path).parts)
            )
            found += [InputFile(p, _kind(p)) for p in files]
        elif path.is_file():
            found.append(InputFile(path, _kind(path)))
        else:
            raise ConfigError(f"input {path} does not exist; give image or video files or folders.")
    return found


def read_image(path: Path) -> np.ndarray | None:
    """An image file as ``H x W x 3`` uint8 RGB, or ``None`` if it cannot be decoded."""
    data = np.fromfile(str(path), dtype=np.uint8)
    image = cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None
    return None if image is None else cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def _video_frames(path: Path, max_frames: int | None) -> Iterator[tuple[int, np.ndarray | None]]:
    capture = open_video(path)
    try:
        info = video_info(capture)
        count = info.frame_count or count_frames(path)
        if count == 0:
            raise VideoReadError(f"video {path} holds no frames")
        settings = PreprocessSettings(sampling="even", n_frames=max_frames or count)
        yield from iter_frames(capture, select_frames(count, settings), info.rotation)
    finally:
        capture.release()


def read_input(
    item: InputFile, max_frames: int | None = None
) -> Iterator[tuple[int, np.ndarray | None]]:
    """``(frame index, RGB image or None)`` of an input: one frame for images.

    Args:
        item: The input.
        max_frames: For videos, at most this many frames, evenly spread (as the
            preprocessing's ``"even"`` sampling); ``None`` reads every frame.

    Raises:
        VideoReadError: If a video cannot be opened or holds no frames (images that cannot
            be decoded give ``None`` instead).
    """
    if item.kind == "image":
        yield 0, read_image(item.path)
    elif item.kind == "video":
        yield from _video_frames(item.path, max_frames)
    else:
        raise ConfigError(f"{item.path} is neither an image nor a video (by its suffix).")
