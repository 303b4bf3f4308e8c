"""The face sources of :class:`~mtfas.datamodules.TableDataModule` rows.

A row's face comes from its annotation file (:class:`FixedPath` to one of the
preprocessing's annotation readers), from its face columns (a box or two eye centres,
written by the data module to a one-line box file read by :class:`StaticBox`), or from
nowhere (:class:`NoFaceInfo`); :class:`RowFaces` puts dlib behind whichever it has.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mtfas.errors import AnnotationError
from mtfas.preprocessing import AnnotationPath, Box, BoxSource, DlibDetector, Fallback, Miss
from mtfas.preprocessing.annotations import read_number_rows
from mtfas.preprocessing.boxes import BoxAnswer, normalise_answers

__all__ = ["FixedPath", "NoFaceInfo", "RowFaces", "StaticBox"]


@dataclass(frozen=True)
class FixedPath(AnnotationPath):
    """The annotation file of one table row, whatever the video path."""

    path: Path

    def __call__(self, video: Path) -> Path:
        """Return the row's file."""
        return Path(self.path)


class StaticBox(BoxSource):
    """One face box for every frame, read from a one-line ``x1 y1 x2 y2`` file.

    The data module writes the file from the table's face columns, so that the crop
    cache sees a changed box as a changed source file and recomputes that item only.

    Args:
        file: The box file.
        origin: Name stored with each crop (``"table-box"``, ``"table-eyes"``).
    """

    def __init__(self, file: Path, origin: str = "table-box") -> None:
        self.file = Path(file)
        self.origin = origin

    def describe(self) -> str:
        """Return the origin."""
        return self.origin

    def source_files(self, path: Path) -> list[Path]:
        """The box file."""
        return [self.file]

    def locate(
        self, path: Path, frames: Sequence[int], images: Sequence[np.ndarray]
    ) -> list[BoxAnswer]:
        """The same box for every frame (``bad_box`` when degenerate).

        Raises:
            AnnotationError: If the file does not hold exactly one line of four numbers.
        """
        rows = read_number_rows(self.file, 4)
        if len(rows) != 1:
            raise AnnotationError(f"{self.file} must hold one line 'x1 y1 x2 y2'")
        x1, y1, x2, y2 = rows[0][1]
        box = Box(x1, y1, x2, y2, self.origin)
        return [box if box.is_valid else Miss.BAD_BOX] * len(frames)


class NoFaceInfo(BoxSource):
    """No face location: every frame is ``no_annotation`` (rows without face columns)."""

    def describe(self) -> str:
        """Return ``"none"``."""
        return "none"

    def locate(
        self, path: Path, frames: Sequence[int], images: Sequence[np.ndarray]
    ) -> list[BoxAnswer]:
        """Miss every frame."""
        return [Miss.NO_ANNOTATION] * len(frames)


class RowFaces(BoxSource):
    """The face source of one table row: its own location if any, dlib as fallback.

    :meth:`describe` is ``"table"`` for every row, so that giving a row a box (or taking
    it away) changes its source files, which recomputes that item, rather than its box
    source, which the cache refuses; each crop records where its box came from.

    Args:
        primary: The row's annotation file or box (None: the row has none).
        detector_fallback: Ask dlib about the frames (or rows) without a location.
    """

    def __init__(self, primary: BoxSource | None, detector_fallback: bool) -> None:
        self.primary = primary
        inner: BoxSource
        if primary is None:
            inner = DlibDetector() if detector_fallback else NoFaceInfo()
        else:
            inner = Fallback(primary, DlibDetector()) if detector_fallback else primary
        self.inner = inner

    def describe(self) -> str:
        """Return ``"table"``."""
        return "table"

    def source_files(self, path: Path) -> list[Path]:
        """The files of the row's own source."""
        return self.inner.source_files(path)

    def locate(
        self, path: Path, frames: Sequence[int], images: Sequence[np.ndarray]
    ) -> list[BoxAnswer]:
        """Answer from the row's source (boxes keep their origin)."""
        return normalise_answers(self.inner, self.inner.locate(path, frames, images), len(frames))
