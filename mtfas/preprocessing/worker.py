"""Preprocessing of one video: decode, locate faces, crop, write array and index part.

A job whose file is a still image (:func:`~mtfas.preprocessing.video.is_image`) is read
with :func:`~mtfas.preprocessing.video.read_image` and cropped as a one-frame item
(frame 0; the sampling settings do not apply), into the same cache files as a video.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pandas as pd

from mtfas.errors import (
    AnnotationError,
    ConfigError,
    DatasetError,
    DatasetPermissionError,
    EmptyVideoError,
    VideoReadError,
)
from mtfas.preprocessing.boxes import Box, BoxSource, Miss, normalise_answers
from mtfas.preprocessing.cache import (
    PART_COLUMNS,
    STATUS_OK,
    check_video_id,
    crop_file,
    source_record,
    write_array,
    write_part,
)
from mtfas.preprocessing.crop import crop_face
from mtfas.preprocessing.settings import PreprocessSettings, select_frames
from mtfas.preprocessing.video import (
    apply_rotation,
    count_frames,
    is_image,
    iter_frames,
    open_video,
    read_image,
    video_info,
)

#: Frames decoded before their boxes are asked for and cropped (bounds memory).
CHUNK_FRAMES = 16

#: Failure reasons of whole videos.
UNREADABLE_VIDEO = "unreadable_video"
EMPTY_VIDEO = "empty_video"
BAD_ANNOTATION = "bad_annotation"
PERMISSION_DENIED = "permission_denied"

#: Seconds between two checks of a preprocessing worker that its parent is alive.
PARENT_POLL_S = 0.5


@dataclass(frozen=True)
class VideoJob:
    """One video to preprocess.

    Attributes:
        video: Id of the video, a relative path such as ``"Train_files/1_1_01_1"``; names
            its files in the cache and its rows in the index.
        path: The video file (or a still image: a one-frame item, see the module
            docstring).
        boxes: Where its faces are.
        max_frames: Sample only among the first ``max_frames`` frames of the video (e.g.
            SiW protocol 1 trains on the first 60); None samples the whole video. Not part
            of the cache key: data modules that set it separate their caches with
            :attr:`PreprocessSettings.tag`.
        rotation: Clockwise rotation (0/90/180/270) applied to every frame instead of the
            rotation metadata, for copies stored sideways without metadata (e.g. some
            MSU-MFSD phone videos); None follows ``settings.orientation``. Not part of the
            cache key either: data modules that set it include it in the tag.
    """

    video: str
    path: Path
    boxes: BoxSource
    max_frames: int | None = None
    rotation: int | None = None

    def __post_init__(self) -> None:
        """Check the id and ``max_frames``, and turn ``path`` into a :class:`Path`.

        Raises:
            ConfigError: If ``max_frames`` is not None or an integer >= 1.
        """
        check_video_id(self.video)
        object.__setattr__(self, "path", Path(self.path))
        limit = self.max_frames
        if limit is not None and (
            isinstance(limit, bool) or not isinstance(limit, int) or limit < 1
        ):
            raise ConfigError(f"max_frames must be None or an integer >= 1, got {limit!r}")
        if self.rotation is not None and (
            isinstance(self.rotation, bool) or self.rotation not in (0, 90, 180, 270)
        ):
            raise ConfigError(
                f"rotation must be None or one of 0, 90, 180, 270, got {self.rotation!r}"
            )


def job_record(job: VideoJob, settings: PreprocessSettings) -> dict[str, Any]:
    """What, besides its source files, a job's crops depend on (stored in its part)."""
    return {
        "settings_key": settings.key(),
        "box_source": job.boxes.describe(),
        "max_frames": job.max_frames,
        "rotation": job.rotation,
    }


def job_sources(job: VideoJob) -> list[tuple[str, Path]]:
    """``(role, path)`` of the files a job reads: the video, then its annotations."""
    annotations = job.boxes.source_files(job.path)
    return [("video", job.path)] + [("annotation", Path(p)) for p in annotations]


@dataclass(frozen=True)
class VideoFailure:
    """A video that produced no part: why, and the error message (naming the file).

    Attributes:
        video: Video id.
        path: The video file.
        reason: ``"unreadable_video"``, ``"empty_video"``, ``"bad_annotation"`` or
            ``"permission_denied"``.
        message: The error message.
    """

    video: str
    path: str
    reason: str
    message: str

    def to_error(self) -> DatasetError:
        """The exception that strict mode raises for this failure."""
        if self.reason == PERMISSION_DENIED:
            return DatasetPermissionError(self.message)
        if self.reason == BAD_ANNOTATION:
            return AnnotationError(self.message)
        if self.reason == EMPTY_VIDEO:
            return EmptyVideoError(self.message)
        return VideoReadError(self.message)


def process_video(
    job: VideoJob,
    settings: PreprocessSettings,
    cache_dir: Path,
    writes: BackgroundWrites | None = None,
) -> VideoFailure | None:
    """Preprocess one video into the cache, or report why it cannot be.

    Writes ``crops/<video>.npy`` and then ``parts/<video>.json`` (both atomically; the
    part records the sources' stats and content hashes and the crop file's checksum, see
    :mod:`mtfas.preprocessing.cache`), before returning, or in the background through
    ``writes`` (the next video is decoded while this one is written; the caller closes
    ``writes`` to wait for them). Errors caused by the data (unreadable or empty video,
    malformed annotation, no permission to read) are returned as a
    :class:`VideoFailure`; any other exception propagates.
    """
    try:
        # The sources are hashed in a helper thread while the video is decoded (hashlib
        # releases the GIL), so the hash costs little wall time.
        files = job_sources(job)
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="mtfas-hash") as hasher:
            hashing = hasher.submit(lambda: [source_record(path, role) for role, path in files])
            try:
                rows, crops = _crop_video(job, settings)
            finally:
                sources = hashing.result()
    except DatasetPermissionError as exc:
        return VideoFailure(job.video, str(job.path), PERMISSION_DENIED, str(exc))
    except AnnotationError as exc:
        return VideoFailure(job.video, str(job.path), BAD_ANNOTATION, str(exc))
    except EmptyVideoError as exc:
        return VideoFailure(job.video, str(job.path), EMPTY_VIDEO, str(exc))
    except VideoReadError as exc:
        return VideoFailure(job.video, str(job.path), UNREADABLE_VIDEO, str(exc))
    cache_dir = Path(cache_dir)
    meta = {**job_record(job, settings), "sources": sources}

    def write() -> None:
        record = write_array(cache_dir / crop_file(job.video), crops)
        table = pd.DataFrame(rows, columns=PART_COLUMNS)
        write_part(cache_dir, job.video, table, meta, record)

    if writes is None:
        write()
    else:
        writes.submit(write)
    return None


class BackgroundWrites:
    """Runs cache writes in one background thread, at most one write waiting.

    Writing a video's crops (and syncing them to disk) then overlaps with decoding the
    next video. An error of a write is raised by the next :meth:`submit` or by
    :meth:`close`; :meth:`close` (or leaving the ``with`` block) waits for every write,
    so the cache is complete (or holds only whole files) when it returns.
    """

    def __init__(self) -> None:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="mtfas-write")
        self._pending: Future[None] | None = None

    def submit(self, write: Callable[[], None]) -> None:
        """Wait for the previous write (raising its error), then start ``write``."""
        self._wait()
        self._pending = self._pool.submit(write)

    def _wait(self) -> None:
        pending, self._pending = self._pending, None
        if pending is not None:
            pending.result()

    def close(self) -> None:
        """Wait for the last write (raising its error) and stop the thread."""
        try:
            self._wait()
        finally:
            self._pool.shutdown(wait=True)

    def __enter__(self) -> BackgroundWrites:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _crop_image(
    job: VideoJob, settings: PreprocessSettings
) -> tuple[list[dict[str, object]], np.ndarray]:
    """Crop a still image as frame 0 of a one-frame item (``job.rotation`` applies)."""
    rotation = job.rotation or 0
    image = apply_rotation(read_image(job.path, settings.orientation), rotation)
    cropper = _Cropper(job, settings, 1, rotation)
    cropper.crop([(0, image)])
    return cropper.rows, cropper.crops[: cropper.written]


def _crop_video(
    job: VideoJob, settings: PreprocessSettings
) -> tuple[list[dict[str, object]], np.ndarray]:
    if is_image(job.path):
        return _crop_image(job, settings)
    capture = open_video(job.path)
    try:
        info = video_info(capture)
        frame_count = info.frame_count
        if frame_count <= 0:
            frame_count = count_frames(job.path)
        if frame_count <= 0:
            raise EmptyVideoError(f"video {job.path} has no frames")
        rotation = info.rotation if settings.orientation == "auto" else 0
        if job.rotation is not None:
            rotation = job.rotation
        limit = frame_count if job.max_frames is None else min(frame_count, job.max_frames)
        wanted = select_frames(limit, settings)
        cropper = _Cropper(job, settings, len(wanted), rotation)
        chunk: list[tuple[int, np.ndarray]] = []
        # Decoding (this thread) overlaps with locating and cropping the previous chunk
        # (one helper thread, one chunk in flight); OpenCV releases the GIL for both.
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="mtfas-crop") as helper:
            cropping: Future[None] | None = None
            for index, image in iter_frames(capture, wanted, rotation):
                if image is None:
                    cropper.skip(index, Miss.UNREADABLE)
                    continue
                chunk.append((index, image))
                if len(chunk) == CHUNK_FRAMES:
                    if cropping is not None:
                        cropping.result()
                    cropping = helper.submit(cropper.crop, chunk)
                    chunk = []
            if cropping is not None:
                cropping.result()
        cropper.crop(chunk)
    finally:
        capture.release()
    if wanted and cropper.decoded == 0:
        raise VideoReadError(
            f"no frame of video {job.path} could be decoded ({frame_count} announced); "
            "the file is corrupt or truncated"
        )
    cropper.rows.sort(key=lambda r: int(r["frame"]))  # type: ignore[call-overload]
    return cropper.rows, cropper.crops[: cropper.written]


class _Cropper:
    """Collects the crops and index rows of one video."""

    def __init__(
        self, job: VideoJob, settings: PreprocessSettings, n_frames: int, rotation: int
    ) -> None:
        self.job = job
        self.settings = settings
        self.rotation = rotation
        size = settings.size
        self.crops = np.empty((n_frames, size, size, 3), dtype=np.uint8)
        self.rows: list[dict[str, object]] = []
        self.written = 0
        self.decoded = 0

    def skip(self, frame: int, reason: Miss) -> None:
        """Record a frame that gives no crop."""
        self.rows.append(_row(self.job, frame, reason.value, None, self.rotation, -1))

    def crop(self, chunk: list[tuple[int, np.ndarray]]) -> None:
        """Ask the box source about decoded frames and crop those with a box."""
        if not chunk:
            return
        self.decoded += len(chunk)
        boxes = self.job.boxes
        frames = [index for index, _ in chunk]
        images = [image for _, image in chunk]
        answers = normalise_answers(boxes, boxes.locate(self.job.path, frames, images), len(chunk))
        settings = self.settings
        for (index, image), answer in zip(chunk, answers, strict=True):
            if isinstance(answer, Miss):
                self.skip(index, answer)
                continue
            self.crops[self.written] = crop_face(
                image, answer, settings.size, settings.scale, settings.square, settings.border
            )
            self.rows.append(_row(self.job, index, STATUS_OK, answer, self.rotation, self.written))
            self.written += 1


def _row(
    job: VideoJob, frame: int, status: str, box: Box | None, rotation: int, offset: int
) -> dict[str, object]:
    x1, y1, x2, y2 = box.as_tuple() if box is not None else (np.nan,) * 4
    return {
        "video": job.video,
        "frame": int(frame),
        "status": status,
        "x1": x1,
        "y1": y1,
        "x2": x2,
        "y2": y2,
        "source": box.origin if box is not None else "",
        "rotation": rotation,
        "file": crop_file(job.video) if box is not None else "",
        "offset": offset,
        "box_source": job.boxes.describe(),
    }


def init_worker(single_thread: bool, parent_pid: int | None = None) -> None:
    """Process-pool initialiser.

    Args:
        single_thread: Limit OpenCV to one thread per worker (the workers already run in
            parallel). Must be False in ``fork``-started workers: reconfiguring the
            thread pool inherited from the parent can hang there.
        parent_pid: The process that runs :func:`~mtfas.preprocessing.preprocess`; the
            worker ends itself when that process is gone (see :func:`watch_parent`).
    """
    if single_thread:
        cv2.setNumThreads(1)
    if parent_pid is not None:
        watch_parent(parent_pid)


def _start_time(pid: int) -> str | None:
    """Start time of a process (Linux ``/proc``), to tell it from a reused pid."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            text = handle.read().decode(errors="replace")
    except OSError:
        return None
    fields = text[text.rfind(")") + 2 :].split()
    if fields and fields[0] in ("Z", "X"):  # a zombie is dead
        return None
    return fields[19] if len(fields) > 19 else None


def _alive(pid: int, started: str | None) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # exists, owned by someone else
    return started is None or _start_time(pid) == started


def watch_parent(parent_pid: int, interval: float = PARENT_POLL_S) -> threading.Thread:
    """End this process (``os._exit``) soon after process ``parent_pid`` ends.

    Workers of a ``forkserver`` or ``spawn`` pool are not children of the process that
    asked for them, so ``prctl(PR_SET_PDEATHSIG)`` (which follows the real parent) cannot
    be used; a daemon thread polls instead: the pid must exist and (on Linux) keep its
    start time, so that a reused pid is not taken for the parent. A worker killed while
    writing leaves only a temporary file, which the next run deletes.

    Returns:
        The watching thread (a daemon).
    """
    started = _start_time(parent_pid)

    def watch() -> None:
        while _alive(parent_pid, started):
            time.sleep(interval)
        os._exit(1)

    thread = threading.Thread(target=watch, name="mtfas-watch-parent", daemon=True)
    thread.start()
    return thread
