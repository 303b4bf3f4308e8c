"""Rendering one capture into a video plus a file of its true face boxes.

Used by the writers of benchmarks whose releases have no face annotations (CASIA-FASD,
MSU-MFSD). Their synthetic releases carry the generator's true boxes in an extra folder,
``<release>/mtfas_face_boxes/<video id>.face`` (one line ``frame x y w h`` per frame,
frames from 0), the format the data modules' ``face_boxes`` option reads (see
:mod:`mtfas.datamodules.face_boxes`). The folder is not part of any official layout and
is read only when ``face_boxes`` points to it, so tests can exercise the data path
without the detector (dlib does not find faces in the synthetic attack videos).

Phone videos can be stored sideways: rotated 90 degrees counter-clockwise, optionally
with a display rotation of 90 degrees clockwise written into the MPEG-4 / QuickTime track
header (:func:`set_display_rotation`), which OpenCV reports as
``CAP_PROP_ORIENTATION_META``. OpenCV cannot write that metadata itself and PyAV is not a
dependency, so the header is patched in place.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from mtfas.errors import DatasetError
from mtfas.synthetic.layouts.codec import Codec, write_video
from mtfas.synthetic.layouts.knobs import RenderKnobs
from mtfas.synthetic.layouts.release import render_job, write_text

#: Folder of a release (relative to its root) holding the true face boxes.
FACE_BOX_FOLDER = "mtfas_face_boxes"

_CONTAINERS = (b"moov", b"trak")
_ONE = 0x10000
_MATRICES = {
    0: (_ONE, 0, 0, _ONE),
    90: (0, _ONE, -_ONE, 0),
    180: (-_ONE, 0, 0, -_ONE),
    270: (0, -_ONE, _ONE, 0),
}


@dataclass(frozen=True)
class BoxedRenderJob:
    """One capture to render into ``path`` with its boxes in ``box_path``.

    Attributes:
        path: The video file.
        box_path: The ``.face`` file, or None to write none.
        subject: Synthetic subject id.
        pai: Synthetic species name.
        device: Synthetic capture device.
        session: Synthetic session (lighting).
        n_frames: Frames of the video.
        size: Side of the square frames.
        seed: Generator seed.
        codec: Video codec.
        fps: Frame rate.
        sideways: 0, or 90 to store the frames rotated 90 degrees counter-clockwise.
        metadata: With ``sideways``: write the display rotation into the file (``.mp4``
            / ``.mov`` only).
        faceless: Frames whose box line is written as ``frame 0 0 0 0`` (Idiap's
            face-location files mark frames without a detected face so).
    """

    path: str
    box_path: str | None
    subject: int
    pai: str
    device: int
    session: int
    n_frames: int
    size: int
    seed: int
    codec: Codec
    fps: float
    sideways: int = 0
    metadata: bool = True
    faceless: tuple[int, ...] = ()

    @classmethod
    def of(
        cls,
        files: tuple[Path, Path],
        conditions: tuple[int, str, int, int],
        knobs: RenderKnobs,
        codec: Codec,
        **options: Any,
    ) -> BoxedRenderJob:
        """A job from its files, the capture's conditions and the render knobs.

        Args:
            files: ``(video, box file)``.
            conditions: ``(subject, pai, device, session)``.
            knobs: The writer's render knobs.
            codec: Codec of this video.
            **options: ``sideways``, ``metadata``, ``faceless``.
        """
        (path, box_path), (subject, pai, device, session) = files, conditions
        return cls(
            str(path), str(box_path), subject, pai, device, session, knobs.n_frames,
            knobs.size, knobs.seed, codec, knobs.fps, **options,
        )  # fmt: skip


def face_box_text(boxes: np.ndarray, faceless: Collection[int] = ()) -> str:
    """Box-file text of ``(T, 4)`` ``x1 y1 x2 y2`` boxes: ``frame x y w h`` per line.

    The frames of ``faceless`` get ``frame 0 0 0 0`` (no face), as in Idiap's files.
    """
    lines = []
    for frame, (x1, y1, x2, y2) in enumerate(np.asarray(boxes, dtype=float)):
        if frame in faceless:
            lines.append(f"{frame} 0 0 0 0")
            continue
        x, y = round(x1), round(y1)
        lines.append(f"{frame} {x} {y} {max(1, round(x2) - x)} {max(1, round(y2) - y)}")
    return "\n".join(lines) + "\n"


def render_boxed(job: BoxedRenderJob) -> None:
    """Render one capture; write its video (sideways if asked) and its true boxes."""
    capture = render_job(job, (job.subject, job.pai, job.device, job.session))
    frames = capture.frames
    if job.sideways:
        frames = np.ascontiguousarray(np.rot90(frames, k=job.sideways // 90, axes=(1, 2)))
    path = write_video(Path(job.path), frames, job.codec, job.fps)
    if job.sideways and job.metadata:
        set_display_rotation(path, job.sideways)
    if job.box_path is not None:
        # Boxes are in the coordinates of the upright frame, as the reader sees it.
        write_text(Path(job.box_path), face_box_text(capture.boxes, job.faceless))


def _boxes(data: bytes | bytearray, start: int, end: int) -> Iterator[tuple[bytes, int, int]]:
    """Yield ``(type, payload start, box end)`` of the ISO-BMFF boxes in ``data[start:end]``."""
    at = start
    while at + 8 <= end:
        size, kind = struct.unpack(">I4s", data[at : at + 8])
        header = 8
        if size == 1:
            size = struct.unpack(">Q", data[at + 8 : at + 16])[0]
            header = 16
        elif size == 0:
            size = end - at
        if size < header or at + size > end:
            return
        yield kind, at + header, at + size
        at += size


def set_display_rotation(path: str | Path, degrees: int) -> None:
    """Write a clockwise display rotation into every video track header of an MP4/MOV.

    Args:
        path: An ``.mp4`` or ``.mov`` file (as written by OpenCV).
        degrees: 0, 90, 180 or 270.

    Raises:
        DatasetError: If the file has no track header to patch.
    """
    path = Path(path)
    data = bytearray(path.read_bytes())
    a, b, c, d = _MATRICES[int(degrees) % 360]
    matrix = struct.pack(">9i", a, b, 0, c, d, 0, 0, 0, 0x40000000)
    patched = 0

    def visit(start: int, end: int) -> None:
        nonlocal patched
        for kind, payload, box_end in _boxes(data, start, end):
            if kind in _CONTAINERS:
                visit(payload, box_end)
            elif kind == b"tkhd":
                # version 0: 32-bit times (matrix after 40 bytes); version 1: 64-bit (52).
                offset = payload + (52 if data[payload] == 1 else 40)
                data[offset : offset + 36] = matrix
                patched += 1

    visit(0, len(data))
    if not patched:
        raise DatasetError(f"{path} has no track header (tkhd) to store a rotation in")
    tmp = path.with_name(f".{path.stem}.rot{path.suffix}")
    tmp.write_bytes(bytes(data))
    os.replace(tmp, path)
