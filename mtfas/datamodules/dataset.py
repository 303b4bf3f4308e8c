"""The shared frame dataset: crops of every video of a split, with labels and species."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

import numpy as np
import pandas as pd
import torch
from torch import Tensor
from torch.utils.data import Dataset, default_collate

from mtfas.errors import DatasetError
from mtfas.transforms import to_tensor, to_uint8_tensor

#: Columns every ``video_table`` has (benchmarks add their own).
REQUIRED_COLUMNS = ("video", "label", "pai", "subject")
LABELS = {"live": 0, "attack": 1}
#: Batch key of the cue masks of evaluation batches (synthetic benchmarks with known masks).
CUE_MASK_KEY = "cue_mask"

CueMasks = Callable[[str], np.ndarray]
"""Gives the cue masks of a video, ``(N, S, S, 3)`` uint8 (grey in every channel, 255 where
the attack instrument is seen), one per stored crop and cropped like them."""


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


def _empty_batch(shape: tuple[int, ...], dtype: torch.dtype = torch.uint8) -> Tensor:
    """An uninitialised tensor, in shared memory inside a loader worker (as torch's collate).

    In a worker the batch is then handed to the main process without another copy.
    """
    if torch.utils.data.get_worker_info() is None:
        return torch.empty(shape, dtype=dtype)
    like = torch.empty(0, dtype=dtype)
    typed = like._typed_storage()  # type: ignore[no-untyped-call]
    storage = typed._new_shared(math.prod(shape), device=like.device)
    return like.new(storage).resize_(shape)


class FrameBatch(list[dict[str, Any]]):
    """The items of one batch, whose uint8 images are slices of one ``(B, H, W, 3)`` tensor.

    Returned by :meth:`FrameDataset.__getitems__`; :func:`collate_frames` then uses
    :attr:`images` as the batch without copying the pixels again. It is a plain list of
    item dicts for any other collate function.

    Attributes:
        images: The pixels of every item, ``(B, H, W, 3)`` uint8.
    """

    def __init__(self, items: Sequence[dict[str, Any]], images: Tensor) -> None:
        super().__init__(items)
        self.images = images


def collate_frames(items: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Collate frame items; uint8 images become one channels-last ``(B, 3, H, W)`` batch.

    Copying each image's pixels in their stored order (height, width, channel) into the
    batch is a plain memory copy, where stacking ``3 x H x W`` tensors would transpose
    every image. The batch has the usual shape; only its memory layout is channels-last
    (:func:`normalise` returns a contiguous float tensor). Float images are stacked as
    usual.
    """
    rest = default_collate([{k: v for k, v in item.items() if k != "image"} for item in items])
    if isinstance(items, FrameBatch):
        return {"image": items.images.permute(0, 3, 1, 2), **rest}
    images = [item["image"] for item in items]
    if images[0].dtype != torch.uint8:
        return {"image": default_collate(images), **rest}
    channels, height, width = images[0].shape
    out = _empty_batch((len(images), height, width, channels))
    for i, image in enumerate(images):
        out[i].copy_(image.permute(1, 2, 0))
    return {"image": out.permute(0, 3, 1, 2), **rest}


class FrameDataset(Dataset[dict[str, Any]]):
    """One item per stored frame of the videos in a table.

    Items are dicts with ``image`` (float ``3 x H x W`` in [-1, 1]; uint8 in [0, 255]
    with ``uint8=True``, see :func:`normalise`), ``label`` (0 live,
    1 attack), ``pai`` (species id into ``pai_names``), ``video`` (row of the video in
    ``table``) and ``subject``; with ``cue_masks`` also ``cue_mask``, float32
    ``1 x H x W`` in [0, 1], transformed like the image.

    Args:
        table: One row per video with at least the columns of ``REQUIRED_COLUMNS``.
        store: Source of each video's crops.
        pai_names: Species names by id (index 0 = ``"live"``).
        transform: Albumentations-style callable ``transform(image=array)["image"]``.
        max_frames_per_video: Use only each video's first ``n`` stored frames.
        uint8: Give images as uint8 tensors (the loaders of the data modules do).
        cue_masks: Where the cue masks of each video are (evaluation datasets of benchmarks
            that know them; ``transform`` must then be deterministic, a resize, since it
            is applied to the image and the mask separately).

    Raises:
        DatasetError: If a video has another number of cue masks than of crops.
    """

    def __init__(
        self,
        table: pd.DataFrame,
        store: FrameStore,
        pai_names: Sequence[str],
        transform: Callable[..., dict[str, Any]] | None = None,
        max_frames_per_video: int | None = None,
        uint8: bool = False,
        cue_masks: CueMasks | None = None,
    ) -> None:
        self.table = table.reset_index(drop=True)
        self.uint8 = uint8
        self.cue_masks = cue_masks
        self.store = store
        self.transform = transform
        pai_ids = {name: i for i, name in enumerate(pai_names)}
        self.labels = self.table["label"].map(LABELS).to_numpy(np.int64)
        self.pai = self.table["pai"].map(pai_ids).to_numpy(np.int64)
        self.subjects = self.table["subject"].to_numpy(np.int64)
        self.videos = self.table["video"].to_numpy(object)
        counts = [len(store.frames(v)) for v in self.table["video"]]
        if max_frames_per_video is not None:
            counts = [min(c, max_frames_per_video) for c in counts]
        self.frames_per_video = np.asarray(counts, dtype=np.int64)
        self.video_of = np.repeat(np.arange(len(counts)), counts)
        starts = np.cumsum(self.frames_per_video) - self.frames_per_video
        self.frame_of = np.arange(len(self.video_of)) - np.repeat(starts, counts)
        if cue_masks is not None:
            for video in self.table["video"]:
                n_masks, n_crops = len(cue_masks(video)), len(store.frames(video))
                if n_masks != n_crops:
                    raise DatasetError(
                        f"video {video!r} has {n_crops} crops but {n_masks} cue masks; "
                        "preprocess the release again (prepare_data) so that both are cut "
                        "from the same frames"
                    )

    def __len__(self) -> int:
        return len(self.video_of)

    def _pixels(self, index: int) -> tuple[int, np.ndarray]:
        """The video row and the (transformed) ``H x W x 3`` uint8 pixels of an item."""
        v = int(self.video_of[index])
        image = np.asarray(self.store.frames(self.videos[v])[self.frame_of[index]])
        if self.transform is not None:
            image = self.transform(image=image)["image"]
        return v, image

    def _item(self, v: int, image: Tensor, index: int) -> dict[str, Tensor | int]:
        item: dict[str, Tensor | int] = {
            "image": image,
            "label": int(self.labels[v]),
            "pai": int(self.pai[v]),
            "video": v,
            "subject": int(self.subjects[v]),
        }
        if self.cue_masks is not None:
            item[CUE_MASK_KEY] = self._cue_mask(v, index)
        return item

    def _cue_mask(self, v: int, index: int) -> Tensor:
        """The cue mask of an item, ``1 x H x W`` float32 in [0, 1], transformed like its image."""
        assert self.cue_masks is not None
        mask = np.asarray(self.cue_masks(self.videos[v])[self.frame_of[index]])
        if self.transform is not None:
            mask = self.transform(image=mask)["image"]
        grey = np.ascontiguousarray(mask[..., 0] if mask.ndim == 3 else mask)
        return torch.from_numpy(grey.astype(np.float32) / np.float32(255.0))[None]

    def __getitem__(self, index: int) -> dict[str, Tensor | int]:
        v, image = self._pixels(index)
        return self._item(v, to_uint8_tensor(image) if self.uint8 else to_tensor(image), index)

    def __getitems__(self, indices: Sequence[int]) -> list[dict[str, Tensor | int]]:
        """The items of a batch (PyTorch's loaders fetch batches through this method).

        With ``uint8`` the pixels are copied once, straight from the store into one
        ``(B, H, W, 3)`` batch tensor (a :class:`FrameBatch`, which :func:`collate_frames`
        uses as is).
        """
        if not self.uint8 or not len(indices):
            return [self[int(i)] for i in indices]
        rows, images = [], None
        for slot, index in enumerate(indices):
            v, image = self._pixels(int(index))
            if images is None:
                images = _empty_batch((len(indices), *image.shape))
                pixels = images.numpy()
            pixels[slot] = image
            rows.append(v)
        assert images is not None  # indices is not empty
        items = [
            self._item(v, images[slot].permute(2, 0, 1), int(indices[slot]))
            for slot, v in enumerate(rows)
        ]
        return FrameBatch(items, images)
