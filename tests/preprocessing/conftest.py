"""Synthetic videos and annotations for the preprocessing tests."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import cv2
import numpy as np
import pytest

WIDTH, HEIGHT = 160, 120
BACKGROUND = (90, 90, 90)  # RGB
PATCH = (230, 20, 20)  # RGB, drawn exactly inside the face box
BOX_SIDE = 40


def marker_value(frame: int) -> int:
    """Brightness of the bar at the top of frame ``frame`` (identifies the frame)."""
    return 10 + 15 * (frame % 16)


def box_of(frame: int) -> tuple[int, int, int, int]:
    """The face box of frame ``frame``: a square that moves right 3 px per frame."""
    x1 = 30 + 3 * frame
    y1 = 40
    return (x1, y1, x1 + BOX_SIDE, y1 + BOX_SIDE)


def draw_frame(frame: int, with_face: bool = True) -> np.ndarray:
    """RGB frame: grey background, frame marker bar on top, red patch at the box."""
    image = np.full((HEIGHT, WIDTH, 3), BACKGROUND, dtype=np.uint8)
    image[:8, :] = marker_value(frame)
    if with_face:
        x1, y1, x2, y2 = box_of(frame)
        centre = ((x1 + x2) // 2, (y1 + y2) // 2)
        cv2.ellipse(image, centre, (30, 36), 0, 0, 360, (200, 160, 140), -1)
        image[y1:y2, x1:x2] = PATCH
    return image


def write_video(path: Path, frames: list[np.ndarray], fourcc: str = "MJPG") -> Path:
    """Write RGB frames as a video (MJPG .avi by default)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    height, width = frames[0].shape[:2] if frames else (HEIGHT, WIDTH)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), 25.0, (width, height))
    assert writer.isOpened(), f"cannot write {path} with {fourcc}"
    for image in frames:
        writer.write(cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
    writer.release()
    return path


def write_face_file(path: Path, n_frames: int, zero: tuple[int, ...] = ()) -> Path:
    """SiW-style ``.face``: ``x1 y1 x2 y2`` per frame; frames in ``zero`` get zeros."""
    lines = []
    for frame in range(n_frames):
        box = (0, 0, 0, 0) if frame in zero else box_of(frame)
        lines.append(" ".join(str(v) for v in box))
    path.write_text("\n".join(lines) + "\n")
    return path


@dataclass(frozen=True)
class Dataset:
    """A folder of synthetic videos with SiW-style annotations."""

    root: Path
    videos: dict[str, Path]
    n_frames: int


def make_dataset(root: Path, n_videos: int, n_frames: int = 12) -> Dataset:
    """``n_videos`` annotated videos under ``root/live/`` named ``v0``, ``v1``, ..."""
    videos = {}
    for i in range(n_videos):
        path = write_video(root / "live" / f"v{i}.avi", [draw_frame(f) for f in range(n_frames)])
        write_face_file(path.with_suffix(".face"), n_frames)
        videos[f"live/v{i}"] = path
    return Dataset(root, videos, n_frames)


@pytest.fixture(scope="session")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Dataset:
    """Four annotated 12-frame videos, shared by the tests (read only)."""
    return make_dataset(tmp_path_factory.mktemp("data"), n_videos=4)


@pytest.fixture
def synth() -> ModuleType:
    """This module: the drawing and writing helpers above, for use inside tests."""
    return sys.modules[__name__]
