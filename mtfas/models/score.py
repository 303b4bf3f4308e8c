"""The attack score of a pixel-wise map (one definition for training, evaluation, inference)."""

from __future__ import annotations

from torch import Tensor

__all__ = ["map_score"]


def map_score(maps: Tensor) -> Tensor:
    """Spoof score of each image: the mean of its map. Higher = more likely an attack.

    Args:
        maps: ``(B, 1, h, w)`` maps.

    Returns:
        ``(B,)`` scores.
    """
    return maps.flatten(1).mean(dim=1)
