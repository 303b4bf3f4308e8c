"""Albumentations pipelines for face crops."""

from __future__ import annotations

import os

import albumentations as A
import cv2
import numpy as np
import torch


class SeededPerProcess:
    """An albumentations pipeline whose random draws follow torch's seed.

    Albumentations 2 draws from its own generators, seeded from the operating system unless
    given a seed, so ``seed_everything`` would not make augmentation reproducible. This
    wrapper seeds the pipeline, on its first call in each process, from
    ``torch.initial_seed()``: the seed set by ``seed_everything`` in the main process, and
    a distinct per-worker seed in each DataLoader worker (derived by torch from the main
    process's generator), so runs repeat exactly and workers do not draw the same
    augmentations.

    Args:
        pipeline: The albumentations pipeline.
    """

    def __init__(self, pipeline: A.Compose) -> None:
        self.pipeline = pipeline
        self._seeded_in: int | None = None

    def __call__(self, **data: object) -> dict:  # noqa: D102
        if self._seeded_in != os.getpid():
            self.pipeline.set_random_seed(torch.initial_seed() % 2**32)
            self._seeded_in = os.getpid()
        return self.pipeline(**data)


def train_transform(size: int, augment: bool = True) -> SeededPerProcess:
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
    return SeededPerProcess(A.Compose(steps))


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
