"""Albumentations pipelines for face crops."""

from __future__ import annotations

import albumentations as A
import cv2


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


def eval_transform(size: int) -> A.Compose:
    """Evaluation pipeline: resize only."""
    return A.Compose([A.Resize(size, size, interpolation=cv2.INTER_AREA)])
