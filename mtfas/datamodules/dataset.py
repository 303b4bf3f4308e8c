"""The shared frame dataset: crops of every video of a split, with labels and species."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Protocol

import numpy as np
import pandas as pd
import torch
from torch import Tensor
from torch.utils.data import Dataset

from mtfas.errors import DatasetError

#: Columns every ``video_table`` has (benchmarks add their own).
REQUIRED_COLUMNS = ("video", "label", "pai", "subject")
LABELS = {"live": 0, "attack": 1}


class FrameStore(Protocol):
    """Where the face crops of each video live (in memory, or a crop cache on disk)."""

    def frames(self, video: str) -> np.ndarray:
        """All stored crops of ``video``, ``(N, S, S, 3)`` uint8 RGB (may be a memmap)."""
        ...


class ArrayStore:
    """A :class:`FrameStore` over a ``{video: array}`` mapping (synthetic data, tests)."""

    def __init__(self, arrays: Mapping[str, np.ndarray]) -> None:
        self.arrays = dict(arrays)

    def frames(self, video: str) -> np.ndarray:  # noqa: D102
        try:
            return self.arrays[video]
        except KeyError:
            raise DatasetError(f"No frames stored for video {video!r}.") from None


def to_tensor(image: np.ndarray) -> Tensor:
    """``H x W x 3`` uint8 RGB -> ``3 x H x W`` float32 in [-1, 1]."""
    array = np.ascontiguousarray(image.transpose(2, 0, 1), dtype=np.float32)
    return torch.from_numpy(array).mul_(1.0 / 127.5).sub_(1.0)


class FrameDataset(Dataset):
    """One item per stored frame of the videos in a table.

    Items are dicts with ``image`` (float ``3 x H x W`` in [-1, 1]), ``label`` (0 live,
    1 attack), ``pai`` (species id into ``pai_names``), ``video`` (row of the video in
    ``table``) and ``subject``.

    Args:
        table: One row per video with at least the columns of ``REQUIRED_COLUMNS``.
        store: Source of each video's crops.
        pai_names: Species names by id (index 0 = ``"live"``).
        transform: Albumentations-style callable ``transform(image=array)["image"]``.
        max_frames_per_video: Use only each video's first ``n`` stored frames.
    """

    def __init__(
        self,
        table: pd.DataFrame,
        store: FrameStore,
        pai_names: Sequence[str],
        transform: Callable[..., dict] | None = None,
        max_frames_per_video: int | None = None,
    ) -> None:
        self.table = table.reset_index(drop=True)
        self.store = store
        self.transform = transform
        pai_ids = {name: i for i, name in enumerate(pai_names)}
        self.labels = self.table["label"].map(LABELS).to_numpy(np.int64)
        self.pai = self.table["pai"].map(pai_ids).to_numpy(np.int64)
        self.subjects = self.table["subject"].to_numpy(np.int64)
        counts = [len(store.frames(v)) for v in self.table["video"]]
        if max_frames_per_video is not None:
            counts = [min(c, max_frames_per_video) for c in counts]
        self.frames_per_video = np.asarray(counts, dtype=np.int64)
        self.video_of = np.repeat(np.arange(len(counts)), counts)
        starts = np.cumsum(self.frames_per_video) - self.frames_per_video
        self.frame_of = np.arange(len(self.video_of)) - np.repeat(starts, counts)

    def __len__(self) -> int:
        return len(self.video_of)

    def __getitem__(self, index: int) -> dict[str, Tensor | int]:
        v = int(self.video_of[index])
        image = np.asarray(self.store.frames(self.table.at[v, "video"])[self.frame_of[index]])
        if self.transform is not None:
            image = self.transform(image=image)["image"]
        return {
            "image": to_tensor(image),
            "label": int(self.labels[v]),
            "pai": int(self.pai[v]),
            "video": v,
            "subject": int(self.subjects[v]),
        }
