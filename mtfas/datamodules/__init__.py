"""Data modules: one per benchmark, thin over a shared core."""

from mtfas.datamodules.base import SPLITS, FASDataModule, carve_meta_val
from mtfas.datamodules.dataset import ArrayStore, FrameDataset, FrameStore
from mtfas.datamodules.synthetic import SyntheticDataModule

__all__ = [
    "SPLITS",
    "ArrayStore",
    "FASDataModule",
    "FrameDataset",
    "FrameStore",
    "SyntheticDataModule",
    "carve_meta_val",
]
