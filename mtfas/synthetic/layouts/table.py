"""The synthetic benchmark written as "your own data": images, videos and a table.

The release is what :class:`~mtfas.datamodules.TableDataModule` reads, both ways:

* ``table.csv`` at the root: ``path, species, label, subject, split, annotation``, one row
  per file, paths relative to the root (the table's folder);
* ``data/<split>/<species>/<subject>/image.png`` (a one-frame capture, written as a PNG
  still image) and ``.../video.avi`` (a short video), i.e. the folder convention under
  ``data/``;
* ``mtfas_face_boxes/data/.../<name>.face``: the generator's true boxes (``frame x y w h``
  per line, frame 0 for the image), named by the ``annotation`` column.

Mapping: subject ``n`` of the release (train ``1..``, dev ``101..``, test ``201..``) is
synthetic subject ``6000 + n`` (no identity shared with the other synthetic releases);
the species are the synthetic ``live``, ``print1`` and ``replay1``; images are captured by
synthetic device 0, videos by device 1, both in session (lighting) 0. With ``dev=False``
there is no dev split (the data module then carves one from the training subjects).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

import cv2

from mtfas.errors import DatasetError
from mtfas.io import atomic_write_bytes
from mtfas.synthetic.layouts.codec import video_codec
from mtfas.synthetic.layouts.face_boxes import (
    FACE_BOX_FOLDER,
    BoxedRenderJob,
    face_box_text,
    render_boxed,
)
from mtfas.synthetic.layouts.knobs import RenderKnobs, documents_render_knobs, split_counts
from mtfas.synthetic.layouts.release import render_job, write_release, write_text

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from mtfas.synthetic.layouts.knobs import CodecRenderOptions
    from mtfas.synthetic.layouts.release import SyntheticRelease

LAYOUT = "table"
#: Synthetic subject id of release subject ``n`` is ``SUBJECT_BASE + n``.
SUBJECT_BASE = 6000
#: The release's subjects by split (the first ones are written).
OFFICIAL_SUBJECTS = {"train": range(1, 101), "dev": range(101, 201), "test": range(201, 301)}
#: Species of the release (synthetic names; ``live`` is bona fide).
SPECIES = ("live", "print1", "replay1")
#: Folder of the images and videos (the folder convention).
DATA_FOLDER = "data"
#: The table, at the root.
TABLE_FILE = "table.csv"
#: Capture device of the images and of the videos.
IMAGE_DEVICE, VIDEO_DEVICE = 0, 1
SESSION = 0
VIDEO_EXTENSION = ".avi"
IMAGE_EXTENSION = ".png"


@dataclass(frozen=True)
class ImageRenderJob:
    """One capture to render as a still image into ``path``, its box into ``box_path``."""

    path: str
    box_path: str
    subject: int
    pai: str
    size: int
    seed: int
    n_frames: int = 1  # a still image is a one-frame capture


def render_item(job: ImageRenderJob | BoxedRenderJob) -> None:
    """Render one file of the release: a still image (PNG) or a video with its boxes."""
    if isinstance(job, BoxedRenderJob):
        render_boxed(job)
        return
    capture = render_job(job, (job.subject, job.pai, IMAGE_DEVICE, SESSION))
    ok, encoded = cv2.imencode(IMAGE_EXTENSION, cv2.cvtColor(capture.frames[0], cv2.COLOR_RGB2BGR))
    if not ok:
        raise DatasetError(f"OpenCV cannot encode {job.path} as PNG")
    path = Path(job.path)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(path, encoded.tobytes())
    write_text(Path(job.box_path), face_box_text(capture.boxes))


def table_release_files(
    subjects: dict[str, list[int]],
) -> list[tuple[str, str, int, str, PurePosixPath]]:
    """``(kind, split, subject, species, path without suffix)`` of every file, in order."""
    files = []
    for split, numbers in subjects.items():
        for number in numbers:
            for species in SPECIES:
                folder = PurePosixPath(DATA_FOLDER, split, species, str(SUBJECT_BASE + number))
                files.append(("image", split, SUBJECT_BASE + number, species, folder / "image"))
                files.append(("video", split, SUBJECT_BASE + number, species, folder / "video"))
    return files


@documents_render_knobs
def write_table_release(
    out: str | Path,
    *,
    subjects_per_split: int | Sequence[int] | None = (3, 2, 2),
    dev: bool = True,
    n_frames: int = 3,
    size: int = 64,
    **render: Unpack[CodecRenderOptions],
) -> SyntheticRelease:
    """Render the synthetic benchmark as images, videos and a ``table.csv``.

    Every subject has one image and one video of each species (6 files). Resumable like
    every layout writer.

    Args:
        {release_out}
        subjects_per_split: Subjects of train, dev and test (one count for all, or one per
            split; two with ``dev=False``); None: 100 per split.
        dev: Write a dev split (else the table has train and test rows only).
        {render_knobs}

    Returns:
        What was written (``table.csv`` as the protocol file).

    Raises:
        ConfigError: If a knob is out of range or ``out`` holds something else.
    """
    root = Path(out).expanduser()
    official = {s: r for s, r in OFFICIAL_SUBJECTS.items() if dev or s != "dev"}
    subjects = split_counts("subjects_per_split", subjects_per_split, official)
    knobs = RenderKnobs.of("write_table_release", n_frames, size, render)
    settings = {
        "subjects": subjects,
        **knobs.settings(),
    }
    files = table_release_files(subjects)
    codec = video_codec(knobs.fourcc, VIDEO_EXTENSION)
    lines = ["path,species,label,subject,split,annotation"]
    for kind, split, subject, species, stem in files:
        suffix = IMAGE_EXTENSION if kind == "image" else VIDEO_EXTENSION
        box = PurePosixPath(FACE_BOX_FOLDER) / stem.with_suffix(".face")
        label = 0 if species == "live" else 1
        lines.append(f"{stem.with_suffix(suffix)},{species},{label},{subject},{split},{box}")

    planned: list[tuple[ImageRenderJob | BoxedRenderJob, list[Path]]] = []
    for kind, _split, subject, species, stem in files:
        box_path = root / FACE_BOX_FOLDER / stem.with_suffix(".face")
        path = root / stem.with_suffix(IMAGE_EXTENSION if kind == "image" else VIDEO_EXTENSION)
        job: ImageRenderJob | BoxedRenderJob
        if kind == "image":
            job = ImageRenderJob(str(path), str(box_path), subject, species, size, knobs.seed)
        else:
            conditions = (subject, species, VIDEO_DEVICE, SESSION)
            job = BoxedRenderJob.of((path, box_path), conditions, knobs, codec)
        planned.append((job, [path, box_path]))
    run = knobs.run(codec, "synthetic table")
    texts = {TABLE_FILE: "\n".join(lines) + "\n"}
    return write_release(root, LAYOUT, settings, planned, render_item, run, texts)
