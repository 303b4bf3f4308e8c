"""Data modules: one per benchmark, thin over a shared core."""

from mtfas.datamodules.base import SPLITS, FASDataModule, carve_meta_val
from mtfas.datamodules.dataset import ArrayStore, FrameDataset, FrameStore
from mtfas.datamodules.oulu_npu import OULUNPUDataModule
from mtfas.datamodules.synthetic import SyntheticDataModule
from mtfas.datamodules.synthetic_oulu_npu import SyntheticOULUNPUDataModule
from mtfas.datamodules.video import CacheFrameStore, VideoDataModule, default_cache_dir

__all__ = [
    "SPLITS",
    "ArrayStore",
    "CacheFrameStore",
    "FASDataModule",
    "FrameDataset",
    "FrameStore",
    "OULUNPUDataModule",
    "SyntheticDataModule",
    "SyntheticOULUNPUDataModule",
    "VideoDataModule",
    "carve_meta_val",
    "default_cache_dir",
]
