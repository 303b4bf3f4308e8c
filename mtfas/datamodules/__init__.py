"""Data modules: one per benchmark, thin over a shared core, and one for your own data."""

from mtfas.datamodules.base import SPLITS, FASDataModule, carve_meta_val
from mtfas.datamodules.casia_fasd import CASIAFASDDataModule
from mtfas.datamodules.cross_dataset import CrossDatasetDataModule, DomainFrameStore
from mtfas.datamodules.dataset import ArrayStore, FrameDataset, FrameStore
from mtfas.datamodules.face_boxes import FaceBoxOption
from mtfas.datamodules.msu_mfsd import MSUMFSDDataModule
from mtfas.datamodules.oulu_npu import OULUNPUDataModule
from mtfas.datamodules.replay_attack import ReplayAttackDataModule
from mtfas.datamodules.siw import SiWDataModule
from mtfas.datamodules.synthetic import SyntheticDataModule
from mtfas.datamodules.synthetic_oulu_npu import SyntheticOULUNPUDataModule
from mtfas.datamodules.synthetic_partial import SyntheticPartialDataModule
from mtfas.datamodules.table import TableDataModule
from mtfas.datamodules.video import CacheFrameStore, VideoDataModule, default_cache_dir

__all__ = [
    "SPLITS",
    "ArrayStore",
    "CASIAFASDDataModule",
    "CacheFrameStore",
    "CrossDatasetDataModule",
    "DomainFrameStore",
    "FASDataModule",
    "FaceBoxOption",
    "FrameDataset",
    "FrameStore",
    "MSUMFSDDataModule",
    "OULUNPUDataModule",
    "ReplayAttackDataModule",
    "SiWDataModule",
    "SyntheticDataModule",
    "SyntheticOULUNPUDataModule",
    "SyntheticPartialDataModule",
    "TableDataModule",
    "VideoDataModule",
    "carve_meta_val",
    "default_cache_dir",
]
