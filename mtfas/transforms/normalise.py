"""Pixel normalisation: the one definition used by training, prediction and export.

Images enter every network as RGB scaled from uint8 ``[0, 255]`` to ``[-1, 1]``:
``x / 127.5 - 1`` (:data:`NORMALISATION`, recorded in checkpoints and ONNX metadata).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

#: uint8 pixels are divided by this, then 1 is subtracted.
PIXEL_SCALE = 127.5
#: How images are normalised, as recorded in checkpoints and exported models.
NORMALISATION = f"rgb uint8 / {PIXEL_SCALE} - 1"


def to_tensor(image: np.ndarray) -> Tensor:
    """``H x W x 3`` uint8 RGB -> ``3 x H x W`` float32 in [-1, 1]."""
    array = np.ascontiguousarray(image.transpose(2, 0, 1), dtype=np.float32)
    return torch.from_numpy(array).mul_(1.0 / PIXEL_SCALE).sub_(1.0)


def to_uint8_tensor(image: np.ndarray) -> Tensor:
    """``H x W x 3`` uint8 RGB -> ``3 x H x W`` uint8 (normalised later by :func:`normalise`).

    The result is a channels-last view of the pixels (no transposing copy);
    :func:`mtfas.datamodules.dataset.collate_frames` stacks such views with plain memory
    copies.
    """
    image = np.asarray(image)
    if not image.flags.writeable or not image.flags.c_contiguous:
        image = np.array(image)  # read-only memory maps: own the pixels
    return torch.from_numpy(image).permute(2, 0, 1)


def normalise(images: Tensor) -> Tensor:
    """uint8 images in [0, 255] -> float32 in [-1, 1], exactly as :func:`to_tensor` maps them.

    Float input is returned unchanged, so the function may be applied to any batch. The
    data modules deliver uint8 batches (a quarter of the bytes to read, collate and copy
    to the device); the systems normalise them on the device
    (in the steps of :class:`mtfas.systems.FASSystem` and its subclasses).
    """
    if images.dtype != torch.uint8:
        return images
    floats = images.to(torch.float32, memory_format=torch.contiguous_format)
    return floats.mul_(1.0 / PIXEL_SCALE).sub_(1.0)


def normalise_batch(batch: object) -> object:
    """:func:`normalise` every ``"image"`` of a batch, nested dicts and lists included."""
    if isinstance(batch, dict):
        return {
            k: normalise(v) if k == "image" and isinstance(v, Tensor) else normalise_batch(v)
            for k, v in batch.items()
        }
    if isinstance(batch, list | tuple):
        return type(batch)(normalise_batch(v) for v in batch)
    return batch
