"""Albumentations pipelines for face crops."""

from __future__ import annotations

import albumentations as A
import cv2
import numpy as np


def train_transform(size: int, augment: bool = True) -> A.Compose:
    """Training pipeline: mild geometric and photometric jitter, then resize to ``size``.

    The jitter is kept mild on purpose: spoof cues (halftone dots, moire, colour
    compression) are fine-grained and strong colour or blur augmentation would erase them.
    The scale jitter plays the role of the random 1.2-1.5 face-box enlargement.
    """
    steps: list = []
    if augment:
        steps += [
            A.HorizontalFlip(p=0.5),
            A.Affine(
                scale=(0.92, 1.15),
                translate_percent=(-0.04, 0.04),
                rotate=(-8, 8),
                border_mode=cv2.BORDER_REFLECT_101,
                p=0.7,
            ),
            A.RandomBrightnessContrast(brightness_limit=0.1, contrast_limit=0.1, p=0.5),
        ]
    steps.append(A.Resize(size, size, interpolation=cv2.INTER_AREA))
    return A.Compose(steps)


class Resize:
    """Resize to ``size x size`` with ``cv2.INTER_AREA``; crops of that size pass untouched.

    Called like an albumentations pipeline (``transform(image=array)["image"]``) and
    equal to ``A.Resize(size, size, interpolation=cv2.INTER_AREA)``, without its per-call
    overhead (it dominates loading crops that already have the network's size).
    """

    def __init__(self, size: int) -> None:
        self.size = int(size)

    def __call__(self, *, image: np.ndarray) -> dict[str, np.ndarray]:  # noqa: D102
        if image.shape[0] == self.size and image.shape[1] == self.size:
            return {"image": image}
        resized = cv2.resize(np.asarray(image), (self.size, self.size),
                             interpolation=cv2.INTER_AREA)
        return {"image": resized}


def eval_transform(size: int) -> Resize:
    """Evaluation pipeline: resize only."""
    return Resize(size)
