"""Box sources that read the face annotations shipped with FAS benchmarks.

Formats (one text line per frame; values separated by commas, spaces, tabs or semicolons
in any mix; blank lines and lines starting with ``#`` are ignored):

* OULU-NPU eye positions (:class:`EyePositionFile`): ``frame, x1, y1, x2, y2`` where
  ``(x1, y1)`` and ``(x2, y2)`` are the two eye centres.
* SiW (:class:`FaceBoxFile` with ``layout="corners"``): ``x1 y1 x2 y2``, the n-th line
  (counting non-blank lines from 0) is frame n.
* Replay-Attack ``face-locations`` (:class:`FaceBoxFile` with ``layout="frame_xywh"``):
  ``frame x y w h``.

A line of zeros means "no face in this frame" (:attr:`Miss.NO_FACE`); a frame with no line
is :attr:`Miss.NO_ANNOTATION`. If a frame appears twice, the last line wins.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from mtfas.errors import AnnotationError, ConfigError
from mtfas.preprocessing.boxes import AnnotationPath, Box, BoxAnswer, BoxSource, Miss, Sibling
from mtfas.preprocessing.cache import permission_error

_SEPARATORS = re.compile(r"[,;\s]+")


def read_number_rows(path: Path, n_values: int) -> list[tuple[int, list[float]]]:
    """Read a text file of ``n_values`` numbers per line.

    Args:
        path: The annotation file.
        n_values: How many numbers each line must hold.

    Returns:
        ``(line_number, values)`` for each non-blank, non-comment line (1-based line
        numbers, for error messages).

    Raises:
        AnnotationError: If the file is missing or a line has the wrong count of numbers
            or something that is not a number; the message names the file and the line.
    """
    try:
        text = Path(path).read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError as exc:
        raise AnnotationError(
            f"annotation file {path} does not exist; check the dataset folder or use a "
            "box source that does not need it (e.g. the dlib detector)"
        ) from exc
    except PermissionError as exc:
        raise permission_error(path, exc) from exc
    except OSError as exc:
        raise AnnotationError(f"cannot read annotation file {path}: {exc}") from exc
    rows: list[tuple[int, list[float]]] = []
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        parts = [p for p in _SEPARATORS.split(stripped) if p]
        try:
            values = [float(p) for p in parts]
        except ValueError:
            values = []
        if len(values) != n_values or len(parts) != n_values:
            raise AnnotationError(
                f"{path}, line {number}: expected {n_values} numbers separated by commas "
                f"or spaces, got {stripped!r}"
            )
        rows.append((number, values))
    return rows


class _FileSource(BoxSource):
    """Shared machinery: resolve the file, parse it once per video, answer by frame."""

    def __init__(self, annotation_path: AnnotationPath, missing_ok: bool) -> None:
        self.annotation_path = annotation_path
        self.missing_ok = missing_ok
        self._cached: tuple[tuple[object, ...], dict[int, BoxAnswer]] | None = None

    def __getstate__(self) -> dict[str, object]:
        state = dict(self.__dict__)
        state["_cached"] = None
        return state

    def source_files(self, path: Path) -> list[Path]:
        """The annotation file of ``path``."""
        return [self.annotation_path(Path(path))]

    def table(self, video: Path) -> dict[int, BoxAnswer]:
        """Return the parsed annotation of ``video`` as ``{frame: Box or Miss}``."""
        file = self.annotation_path(Path(video))
        try:  # the parse is reused while the file is unchanged (an edit re-parses it)
            stat = file.stat()
            key: tuple[object, ...] = (file, stat.st_size, stat.st_mtime_ns)
        except OSError:
            key = (file,)
        if self._cached is not None and self._cached[0] == key:
            return self._cached[1]
        if self.missing_ok and not file.exists():
            parsed: dict[int, BoxAnswer] = {}
        else:
            parsed = self._parse(file)
        self._cached = (key, parsed)
        return parsed

    def _parse(self, file: Path) -> dict[int, BoxAnswer]:
        raise NotImplementedError

    def locate(
        self, path: Path, frames: Sequence[int], images: Sequence[np.ndarray]
    ) -> list[BoxAnswer]:
        """Look the frames up in the annotation; frames without a line are missed."""
        table = self.table(path)
        return [table.get(int(f), Miss.NO_ANNOTATION) for f in frames]


def _frame_number(file: Path, line: int, value: float, base: int) -> int:
    if not math.isfinite(value) or value != int(value) or int(value) < base:
        raise AnnotationError(
            f"{file}, line {line}: frame number {value!r} is not an integer >= {base}"
        )
    return int(value) - base


def _box_or_miss(x1: float, y1: float, x2: float, y2: float, origin: str) -> BoxAnswer:
    if x1 == y1 == x2 == y2 == 0:
        return Miss.NO_FACE
    box = Box(x1, y1, x2, y2, origin)
    return box if box.is_valid else Miss.BAD_BOX


class EyePositionFile(_FileSource):
    """Face boxes derived from eye-centre annotations (OULU-NPU).

    Which eye comes first in the file is not documented, so the box is built only from
    quantities that do not depend on the order:

    * the midpoint ``m`` of the two eye centres,
    * the inter-eye distance ``d``,
    * the unit normal ``n`` of the eye line that points down the image (``n_y >= 0``).

    The box is the axis-aligned square of side ``width * d`` centred at
    ``m + down * d * n``. With the defaults (``width=2.2``, ``down=0.7``) the square
    reaches from about ``0.4 d`` above the eyes (eyebrows) to about ``1.8 d`` below them
    (chin) for an upright face, and is about as wide as the face (``2.2 d``). The roll of
    the head is not undone; the pipeline enlarges this box by ``settings.scale``.

    Args:
        annotation_path: Maps a video to its annotation file (default: the sibling
            ``.txt``).
        width: Side of the face box in inter-eye distances.
        down: Offset of the box centre below the eye midpoint, in inter-eye distances.
        frame_base: The frame number the file gives the first frame (0 or 1).
        missing_ok: Treat a missing annotation file as "no annotation for any frame"
            (useful inside :class:`Fallback`) instead of raising.
    """

    def __init__(
        self,
        annotation_path: AnnotationPath | None = None,
        width: float = 2.2,
        down: float = 0.7,
        frame_base: int = 0,
        missing_ok: bool = False,
    ) -> None:
        super().__init__(annotation_path or Sibling(".txt"), missing_ok)
        if not width > 0:
            raise ConfigError(f"width must be positive, got {width!r}")
        self.width = float(width)
        self.down = float(down)
        self.frame_base = int(frame_base)

    def describe(self) -> str:
        """Return ``"eyes"``."""
        return "eyes"

    def _parse(self, file: Path) -> dict[int, BoxAnswer]:
        table: dict[int, BoxAnswer] = {}
        for line, (frame, ax, ay, bx, by) in read_number_rows(file, 5):
            index = _frame_number(file, line, frame, self.frame_base)
            if ax == ay == bx == by == 0:
                table[index] = Miss.NO_FACE
                continue
            box = eyes_to_box((ax, ay), (bx, by), self.width, self.down)
            table[index] = box if box is not None else Miss.BAD_BOX
        return table


def eyes_to_box(
    eye_a: tuple[float, float],
    eye_b: tuple[float, float],
    width: float = 2.2,
    down: float = 0.7,
) -> Box | None:
    """Derive a square face box from two eye centres, independent of their order.

    See :class:`EyePositionFile` for the geometry.

    Returns:
        The box, or None if the eyes coincide (no distance to scale by).
    """
    a = np.asarray(eye_a, dtype=float)
    b = np.asarray(eye_b, dtype=float)
    d = float(np.hypot(*(b - a)))
    if not math.isfinite(d) or d <= 0:
        return None
    mid = (a + b) / 2
    ux, uy = (b - a) / d
    normal = np.array([-uy, ux])
    if normal[1] < 0 or (normal[1] == 0 and normal[0] < 0):
        normal = -normal
    cx, cy = mid + down * d * normal
    half = width * d / 2
    return Box(cx - half, cy - half, cx + half, cy + half, "eyes")


class FaceBoxFile(_FileSource):
    """Face boxes read from per-frame box files (SiW ``.face``, Replay-Attack ``.face``).

    Args:
        layout: ``"corners"``: ``x1 y1 x2 y2`` per line, line n (0-based, blank lines
            skipped) is frame n (SiW). ``"frame_xywh"``: ``frame x y w h`` per line
            (Replay-Attack face-locations).
        annotation_path: Maps a video to its annotation file (default: the sibling
            ``.face``; use :class:`Mirrored` for Replay-Attack's separate tree).
        frame_base: For ``"frame_xywh"``: the number the file gives the first frame.
        missing_ok: Treat a missing file as "no annotation for any frame" instead of
            raising.
    """

    def __init__(
        self,
        layout: str = "corners",
        annotation_path: AnnotationPath | None = None,
        frame_base: int = 0,
        missing_ok: bool = False,
    ) -> None:
        if layout not in ("corners", "frame_xywh"):
            raise ConfigError(f"layout must be 'corners' or 'frame_xywh', got {layout!r}")
        super().__init__(annotation_path or Sibling(".face"), missing_ok)
        self.layout = layout
        self.frame_base = int(frame_base)

    def describe(self) -> str:
        """Return ``"boxes"``."""
        return "boxes"

    def _parse(self, file: Path) -> dict[int, BoxAnswer]:
        table: dict[int, BoxAnswer] = {}
        if self.layout == "corners":
            for index, (_line, (x1, y1, x2, y2)) in enumerate(read_number_rows(file, 4)):
                table[index] = _box_or_miss(x1, y1, x2, y2, "boxes")
            return table
        for line, (frame, x, y, w, h) in read_number_rows(file, 5):
            index = _frame_number(file, line, frame, self.frame_base)
            if x == y == w == h == 0:
                table[index] = Miss.NO_FACE
            else:
                table[index] = _box_or_miss(x, y, x + w, y + h, "boxes")
        return table
