"""Cutting the enlarged face box out of a frame and resizing it."""

from __future__ import annotations

import cv2
import numpy as np

from mtfas.preprocessing.boxes import Box
from mtfas.preprocessing.settings import CROP_SCALE

_BORDER_MODES = {"constant": cv2.BORDER_CONSTANT, "replicate": cv2.BORDER_REPLICATE}


def crop_region(
    box: Box | tuple[float, float, float, float], scale: float, square: bool = True
) -> tuple[int, int, int, int]:
    """Return the integer pixel region ``(x1, y1, x2, y2)`` (end exclusive) to crop.

    The box is enlarged by ``scale`` around its centre. With ``square`` the region is a
    square of side ``scale * max(w, h)``, so faces are never distorted by the resize.
    The region may extend beyond the frame; :func:`crop_face` pads it.
    """
    x1, y1, x2, y2 = box.as_tuple() if isinstance(box, Box) else box
    cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
    width, height = (x2 - x1) * scale, (y2 - y1) * scale
    if square:
        width = height = max(width, height)
    w, h = max(1, round(width)), max(1, round(height))
    left, top = round(cx - w / 2), round(cy - h / 2)
    return left, top, left + w, top + h


def crop_face(
    image: np.ndarray,
    box: Box | tuple[float, float, float, float],
    size: int,
    scale: float = CROP_SCALE,
    square: bool = True,
    border: str = "constant",
) -> np.ndarray:
    """Crop the enlarged face box from an image and resize it to ``size x size``.

    Parts of the region outside the image are filled according to ``border`` (black for
    ``"constant"``, repeated edge pixels for ``"replicate"``); the resize is
    :func:`resize_square`.

    Args:
        image: ``H x W x 3`` uint8 frame.
        box: Face box ``(x1, y1, x2, y2)`` in the image's pixel coordinates.
        size: Output side length.
        scale: Enlargement of the box around its centre.
        square: Crop a square (see :func:`crop_region`).
        border: ``"constant"`` or ``"replicate"``.

    Returns:
        A ``size x size x 3`` uint8 array.
    """
    height, width = image.shape[:2]
    left, top, right, bottom = crop_region(box, scale, square)
    inside = image[max(top, 0) : min(bottom, height), max(left, 0) : min(right, width)]
    pads = (max(0, -top), max(0, bottom - height), max(0, -left), max(0, right - width))
    if inside.size == 0:
        # The whole region lies outside the frame: nothing but border.
        patch = np.zeros((bottom - top, right - left, image.shape[2]), dtype=image.dtype)
        if border == "replicate":
            ys = np.clip(np.arange(top, bottom), 0, height - 1)
            xs = np.clip(np.arange(left, right), 0, width - 1)
            patch = image[np.ix_(ys, xs)]
    elif any(pads):
        patch = cv2.copyMakeBorder(inside, *pads, _BORDER_MODES[border], value=0)
    else:
        patch = inside
    return resize_square(patch, size)


def resize_square(patch: np.ndarray, size: int) -> np.ndarray:
    """Resize an image to ``size x size``, low-pass filtered when shrinking.

    While the image is at least twice the target size it is halved with
    :func:`cv2.pyrDown` (Gaussian blur, then every second pixel), which prevents
    aliasing; the last step (less than a factor 2) is bilinear. Much faster than
    ``INTER_AREA`` at non-integer ratios, with comparable quality.
    """
    while min(patch.shape[:2]) >= 2 * size:
        patch = cv2.pyrDown(patch)
    return cv2.resize(patch, (size, size), interpolation=cv2.INTER_LINEAR)
