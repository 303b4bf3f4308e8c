"""Face detection with dlib's HOG frontal face detector (no model file to download)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from mtfas.errors import ConfigError
from mtfas.preprocessing.boxes import Box, BoxAnswer, BoxSource, Miss

# Building dlib's detector takes about a second, so each process builds it once.
_DETECTOR: Any = None


def frontal_face_detector() -> Any:
    """Return this process's ``dlib.get_frontal_face_detector()``, built on first use.

    Raises:
        ConfigError: If dlib is not installed.
    """
    global _DETECTOR
    if _DETECTOR is None:
        try:
            import dlib
        except ImportError as exc:  # pragma: no cover - depends on the environment
            raise ConfigError("DlibDetector needs the dlib module: pip install dlib-bin") from exc
        _DETECTOR = dlib.get_frontal_face_detector()
    return _DETECTOR


class DlibDetector(BoxSource):
    """Box source that runs ``dlib.get_frontal_face_detector()`` on each frame.

    Of several detections the one with the highest score is kept. Frames without a
    detection are :attr:`Miss.NO_FACE`. Requires the ``dlib`` module (``pip install
    dlib-bin``).

    Args:
        upsample: How many times dlib upsamples the image first (finds smaller faces,
            slower). 0 suits FAS videos, where the face fills much of the frame.
        threshold: dlib's detection threshold; higher gives fewer, surer detections.
        max_side: Frames whose longer side exceeds this are shrunk to it before
            detection (speed); boxes are scaled back to the full frame.
    """

    def __init__(self, upsample: int = 0, threshold: float = 0.0, max_side: int = 640) -> None:
        if upsample < 0 or max_side < 32:
            raise ConfigError(
                f"need upsample >= 0 and max_side >= 32, got {upsample!r}, {max_side!r}"
            )
        self.upsample = int(upsample)
        self.threshold = float(threshold)
        self.max_side = int(max_side)

    def describe(self) -> str:
        """Return ``"dlib"``."""
        return "dlib"

    def detect(self, image: np.ndarray) -> BoxAnswer:
        """Detect the most confident face in one RGB (or grey) uint8 image."""
        height, width = image.shape[:2]
        factor = min(1.0, self.max_side / max(height, width))
        small = image
        if factor < 1.0:
            size = (max(1, round(width * factor)), max(1, round(height * factor)))
            small = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
        rects, scores, _ = frontal_face_detector().run(
            np.ascontiguousarray(small), self.upsample, self.threshold
        )
        if len(rects) == 0:
            return Miss.NO_FACE
        best = rects[int(np.argmax(scores))]
        box = Box(
            best.left() / factor,
            best.top() / factor,
            (best.right() + 1) / factor,
            (best.bottom() + 1) / factor,
            "dlib",
        )
        return box if box.is_valid else Miss.BAD_BOX

    def locate(
        self, path: Path, frames: Sequence[int], images: Sequence[np.ndarray]
    ) -> list[BoxAnswer]:
        """Detect a face in each image (the path and frame indices are not used)."""
        return [self.detect(image) for image in images]
