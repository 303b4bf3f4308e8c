"""Albumentations pipelines for face crops."""

from __future__ import annotations

import os
import random
from collections import deque
from collections.abc import Iterable
from typing import Any

import albumentations as A
import cv2
import numpy as np
import torch


class SeededPerProcess:
    """An albumentations pipeline whose random draws are seeded, never taken from the OS.

    Albumentations 2 draws from its own generators, seeded from the operating system unless
    given a seed, so ``seed_everything`` alone would not make augmentation reproducible.

    * The training loaders of the data modules give every item its own seed
      (:meth:`queue_seeds`, through :class:`mtfas.datamodules.sampling.SeededItems`): the
      draw for sample ``i`` of pass ``p`` is then a function of ``(seed, p, i)`` alone,
      the same with any number of DataLoader workers and after a resume.
    * Called without a queued seed (a dataset indexed directly), the pipeline is seeded once
      per process from ``torch.initial_seed()``: the seed set by ``seed_everything`` in the
      main process, and a distinct per-worker seed in each DataLoader worker.

    Args:
        pipeline: The albumentations pipeline.
    """

    def __init__(self, pipeline: A.Compose) -> None:
        self.pipeline = pipeline
        self._seeded_in: int | None = None
        self._queue: deque[int] = deque()

    def seed(self, seed: int) -> None:
        """Reseed the pipeline now: the next draws depend on ``seed`` only."""
        seed = int(seed) % 2**32
        # One numpy and one Python generator, shared by every transform of the pipeline
        # (much cheaper to renew per item than ``Compose.set_random_seed``).
        self.pipeline.set_random_state(
            np.random.Generator(np.random.PCG64(seed)), random.Random(seed)
        )
        self._seeded_in = os.getpid()

    def queue_seeds(self, seeds: Iterable[int]) -> None:
        """Seed each of the next calls, in order, from one of ``seeds``."""
        self._queue.extend(int(s) for s in seeds)

    @property
    def queued(self) -> int:
        """Number of queued seeds not used yet."""
        return len(self._queue)

    def clear_queue(self) -> None:
        """Drop the queued seeds."""
        self._queue.clear()

    def __call__(self, **data: object) -> dict[str, Any]:  # noqa: D102
        if self._queue:
            self.seed(self._queue.popleft())
        elif self._seeded_in != os.getpid():
            self.seed(torch.initial_seed())
        out: dict[str, Any] = self.pipeline(**data)
        return out


def train_transform(size: int, augment: bool = True) -> SeededPerProcess:
    """Training pipeline: mild geometric and photometric jitter, then resize to ``size``.

    The jitter is kept mild on purpose: spoof cues (halftone dots, moire, colour
    compression) are fine-grained and strong colour or blur augmentation would erase them.
    The scale jitter plays the role of the random 1.2-1.5 face-box enlargement.
    """
    steps: list[Any] = []
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
        resized = cv2.resize(
            np.asarray(image), (self.size, self.size), interpolation=cv2.INTER_AREA
        )
        return {"image": resized}


def eval_transform(size: int) -> Resize:
    """Evaluation pipeline: resize only."""
    return Resize(size)
