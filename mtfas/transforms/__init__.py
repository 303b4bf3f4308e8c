"""Image transforms: pixel normalisation (one definition) and training augmentation."""

from mtfas.transforms.normalise import (
    NORMALISATION,
    PIXEL_SCALE,
    normalise,
    normalise_batch,
    to_tensor,
    to_uint8_tensor,
)

__all__ = [
    "NORMALISATION",
    "PIXEL_SCALE",
    "normalise",
    "normalise_batch",
    "to_tensor",
    "to_uint8_tensor",
]
