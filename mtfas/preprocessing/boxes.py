"""Face box sources: the pluggable interface that tells the pipeline where the face is.

A box source is asked, for one video, about a batch of frames (their indices and the
decoded RGB images) and answers, per frame, either a :class:`Box` or a :class:`Miss`
saying why it has none. Coordinates are pixels of the frame after orientation handling
(see :attr:`PreprocessSettings.orientation`), ``x`` to the right and ``y`` down.
"""

from __future__ import annotations

import abc
import enum
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from mtfas.errors import ConfigError


class Miss(str, enum.Enum):
    """Why a frame was skipped. The values are the names used in counts and indexes."""

    NO_ANNOTATION = "no_annotation"
    """The annotation has no entry for the frame (line missing, file too short)."""
    NO_FACE = "no_face"
    """The source says there is no face (all-zero annotation, detector found nothing)."""
    BAD_BOX = "bad_box"
    """The source gave a degenerate box (zero or negative size, not finite)."""
    UNREADABLE = "unreadable_frame"
    """The frame could not be decoded (set by the pipeline, never by a box source)."""


@dataclass(frozen=True)
class Box:
    """A face box in pixel coordinates.

    Attributes:
        x1: Left edge.
        y1: Top edge.
        x2: Right edge (``> x1``).
        y2: Bottom edge (``> y1``).
        origin: Which source produced the box (filled by the pipeline when empty).
    """

    x1: float
    y1: float
    x2: float
    y2: float
    origin: str = ""

    @property
    def is_valid(self) -> bool:
        """Whether all coordinates are finite and the box has a positive size."""
        coords = (self.x1, self.y1, self.x2, self.y2)
        return all(math.isfinite(c) for c in coords) and self.x2 > self.x1 and self.y2 > self.y1

    def as_tuple(self) -> tuple[float, float, float, float]:
        """Return ``(x1, y1, x2, y2)``."""
        return (self.x1, self.y1, self.x2, self.y2)


BoxAnswer = Box | Miss


class BoxSource(abc.ABC):
    """Where the face of each frame is. Subclass and implement :meth:`locate`.

    Sources must be picklable: the pipeline sends them to worker processes.
    """

    @abc.abstractmethod
    def locate(
        self, path: Path, frames: Sequence[int], images: Sequence[np.ndarray]
    ) -> Sequence[BoxAnswer | tuple[float, float, float, float] | None]:
        """Return one answer per requested frame.

        Args:
            path: The video file.
            frames: 0-based frame indices, increasing.
            images: The decoded frames (RGB uint8, ``H x W x 3``), aligned with
                ``frames``. Annotation-based sources may ignore them.

        Returns:
            One entry per frame: a :class:`Box` (or a plain ``(x1, y1, x2, y2)`` tuple), a
            :class:`Miss`, or ``None`` (read as :attr:`Miss.NO_FACE`).

        Raises:
            mtfas.errors.AnnotationError: If the video's annotation is missing or
                malformed; the pipeline records the video as failed (or raises in strict
                mode).
        """

    def describe(self) -> str:
        """Short name of the source, stored with each crop (e.g. ``"eyes"``, ``"dlib"``)."""
        return type(self).__name__

    def source_files(self, path: Path) -> list[Path]:
        """The files besides the video that this source reads for ``path`` (annotations).

        The cache records their size, modification time and content hash, so that a
        changed annotation recomputes the video's crops. Default: none (e.g. a detector).
        Override in sources that read files.
        """
        return []


def normalise_answers(
    source: BoxSource, answers: Sequence[object], n_frames: int
) -> list[BoxAnswer]:
    """Check a source's answers and turn them into :class:`Box` or :class:`Miss`.

    Plain tuples become boxes, ``None`` becomes :attr:`Miss.NO_FACE`, and boxes of zero
    size or with non-finite coordinates become :attr:`Miss.BAD_BOX`.

    Raises:
        ConfigError: If the source answered for a different number of frames or with an
            object of another type (a bug in the source).
    """
    answers = list(answers)
    if len(answers) != n_frames:
        raise ConfigError(
            f"box source {source.describe()} answered {len(answers)} frames, asked for {n_frames}"
        )
    result: list[BoxAnswer] = []
    for answer in answers:
        if answer is None:
            result.append(Miss.NO_FACE)
        elif isinstance(answer, Miss):
            result.append(answer)
        elif isinstance(answer, Box | tuple | list | np.ndarray) and len(_coords(answer)) == 4:
            x1, y1, x2, y2 = (float(c) for c in _coords(answer))
            origin = answer.origin if isinstance(answer, Box) else ""
            box = Box(x1, y1, x2, y2, origin or source.describe())
            result.append(box if box.is_valid else Miss.BAD_BOX)
        else:
            raise ConfigError(
                f"box source {source.describe()} gave {answer!r}; expected a Box, an "
                "(x1, y1, x2, y2) tuple, a Miss or None"
            )
    return result


def _coords(answer: Box | tuple[Any, ...] | list[Any] | np.ndarray) -> Sequence[float]:
    if isinstance(answer, Box):
        return answer.as_tuple()
    return list(answer)


class Fallback(BoxSource):
    """Ask ``primary`` first and ``secondary`` for the frames the primary misses.

    Typical use: dataset annotations first, the dlib detector where they have no entry.
    A frame missed by both keeps the secondary's reason. Each box records its origin.

    Args:
        primary: The preferred source.
        secondary: The source asked about the primary's misses.
        retry: The miss reasons of the primary that are passed on to the secondary
            (default: every reason).
    """

    def __init__(
        self,
        primary: BoxSource,
        secondary: BoxSource,
        retry: Sequence[Miss] = (Miss.NO_ANNOTATION, Miss.NO_FACE, Miss.BAD_BOX),
    ) -> None:
        self.primary = primary
        self.secondary = secondary
        self.retry = frozenset(Miss(r) for r in retry)

    def describe(self) -> str:
        """Return ``"primary>secondary"``."""
        return f"{self.primary.describe()}>{self.secondary.describe()}"

    def source_files(self, path: Path) -> list[Path]:
        """The files of both sources."""
        return [*self.primary.source_files(path), *self.secondary.source_files(path)]

    def locate(
        self, path: Path, frames: Sequence[int], images: Sequence[np.ndarray]
    ) -> list[BoxAnswer]:
        """Combine both sources as described in the class docstring."""
        answers = normalise_answers(
            self.primary, self.primary.locate(path, frames, images), len(frames)
        )
        missed = [i for i, a in enumerate(answers) if isinstance(a, Miss) and a in self.retry]
        if missed:
            sub_frames = [frames[i] for i in missed]
            sub_images = [images[i] for i in missed]
            second = normalise_answers(
                self.secondary,
                self.secondary.locate(path, sub_frames, sub_images),
                len(missed),
            )
            for i, answer in zip(missed, second, strict=True):
                answers[i] = answer
        return answers


class AnnotationPath(abc.ABC):
    """Maps a video path to the path of its annotation file (picklable callable)."""

    @abc.abstractmethod
    def __call__(self, video: Path) -> Path:
        """Return the annotation file of ``video``."""


@dataclass(frozen=True)
class Sibling(AnnotationPath):
    """The annotation sits next to the video, same name, another suffix.

    ``Sibling(".txt")`` maps ``Train_files/1_1_01_1.avi`` to ``Train_files/1_1_01_1.txt``
    (OULU-NPU); ``Sibling(".face")`` suits SiW.
    """

    suffix: str

    def __call__(self, video: Path) -> Path:
        """Return the sibling path."""
        return Path(video).with_suffix(self.suffix)


@dataclass(frozen=True)
class Mirrored(AnnotationPath):
    """The annotations mirror the video tree under another root.

    ``Mirrored("replay/videos", "replay/face-locations", ".face")`` maps
    ``replay/videos/train/real/client001.mov`` to
    ``replay/face-locations/train/real/client001.face`` (Replay-Attack).
    """

    videos_root: Path
    annotations_root: Path
    suffix: str

    def __call__(self, video: Path) -> Path:
        """Return the mirrored path.

        Raises:
            ConfigError: If ``video`` is not under ``videos_root``.
        """
        try:
            relative = Path(video).relative_to(self.videos_root)
        except ValueError as exc:
            raise ConfigError(
                f"video {video} is not under videos_root {self.videos_root}; "
                "set Mirrored(videos_root=...) to the folder that holds the videos"
            ) from exc
        return (Path(self.annotations_root) / relative).with_suffix(self.suffix)
