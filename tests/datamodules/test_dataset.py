"""uint8 batches: collation, normalisation on the device, and the fast evaluation resize."""

from __future__ import annotations

import albumentations as A
import cv2
import numpy as np
import pandas as pd
import pytest
import torch
from torch.utils.data import DataLoader

from mtfas import SupervisedSystem
from mtfas.datamodules.dataset import (
    ArrayStore,
    FrameBatch,
    FrameDataset,
    collate_frames,
)
from mtfas.transforms import normalise, normalise_batch, to_tensor
from mtfas.transforms.augment import eval_transform
from tests.fakes import TinyStudent


def _dataset(uint8: bool, size: int = 24, transform=None) -> FrameDataset:
    rng = np.random.default_rng(0)
    arrays = {f"v{i}": rng.integers(0, 256, (3, size, size, 3), dtype=np.uint8) for i in range(4)}
    table = pd.DataFrame(
        {
            "video": list(arrays),
            "label": ["live", "attack"] * 2,
            "pai": ["live", "print"] * 2,
            "subject": [0, 1, 2, 3],
        }
    )
    return FrameDataset(table, ArrayStore(arrays), ["live", "print"], transform, uint8=uint8)


def test_normalise_matches_to_tensor_exactly():
    images = np.random.default_rng(1).integers(0, 256, (5, 16, 16, 3), dtype=np.uint8)
    expected = torch.stack([to_tensor(image) for image in images])
    batch = torch.from_numpy(images).permute(0, 3, 1, 2)  # channels-last view
    got = normalise(batch)
    assert got.dtype == torch.float32 and got.is_contiguous()
    assert torch.equal(got, expected)
    assert normalise(expected) is expected  # float passes through


@pytest.mark.parametrize("workers", [0, 1])
def test_uint8_loader_batches_equal_the_float_ones_after_normalisation(workers):
    fast = DataLoader(_dataset(True), batch_size=5, collate_fn=collate_frames, num_workers=workers)
    slow = DataLoader(_dataset(False), batch_size=5)
    for a, b in zip(fast, slow, strict=True):
        assert a["image"].dtype == torch.uint8 and a["image"].shape == b["image"].shape
        assert torch.equal(normalise(a["image"]), b["image"])
        for key in ("label", "pai", "video", "subject"):
            assert torch.equal(a[key], b[key]), key


def test_dataset_items_never_alias_the_read_only_store():
    store = np.zeros((1, 8, 8, 3), dtype=np.uint8)
    store.setflags(write=False)
    table = pd.DataFrame({"video": ["v"], "label": ["live"], "pai": ["live"], "subject": [0]})
    item = FrameDataset(table, ArrayStore({"v": store}), ["live"], uint8=True)[0]
    item["image"].add_(1)  # would crash or corrupt the store if it were a view of it
    assert store.max() == 0


def test_systems_normalise_nested_uint8_batches():
    from lightning.pytorch import LightningModule

    from mtfas.systems.meta_teacher import split_meta_batch
    from mtfas.systems.supervised import training_images

    images = torch.randint(0, 256, (2, 3, 8, 8), dtype=torch.uint8)
    batch = {
        "train": {"image": images, "label": torch.tensor([0, 1])},
        "meta_val": {"image": images.clone(), "label": torch.tensor([1, 0])},
    }
    for part, out in zip(("train", "meta_val"), split_meta_batch(batch)):
        assert torch.equal(out["image"], normalise(images))
        assert torch.equal(out["label"], batch[part]["label"])
    x, _ = training_images(batch, use_meta_val=True)
    assert torch.equal(x, normalise(torch.cat([images, images])))
    # The systems normalise in their steps, not in a batch-transfer hook, so Lightning
    # has no reason to warn that the module overrides a data module's hook.
    system = SupervisedSystem(student=TinyStudent(), pai_names=["live", "print"])
    assert type(system).on_after_batch_transfer is LightningModule.on_after_batch_transfer
    assert torch.equal(
        system.predict_step({"image": images}, 0)["score"], system.score(normalise(images))
    )
    assert normalise_batch([{"image": images}])[0]["image"].dtype == torch.float32


@pytest.mark.parametrize("size", [24, 16, 40])
def test_eval_resize_equals_albumentations_and_skips_same_size(size):
    image = np.random.default_rng(2).integers(0, 256, (24, 24, 3), dtype=np.uint8)
    got = eval_transform(size)(image=image)["image"]
    reference = A.Resize(size, size, interpolation=cv2.INTER_AREA)(image=image)["image"]
    np.testing.assert_array_equal(got, reference)
    if size == 24:
        assert got is image


def test_batched_fetch_copies_pixels_once_into_the_batch():
    dataset = _dataset(True, transform=eval_transform(24))
    items = dataset.__getitems__([3, 0, 7])
    assert isinstance(items, FrameBatch) and items.images.shape == (3, 24, 24, 3)
    for item, index in zip(items, [3, 0, 7], strict=True):
        single = dataset[index]
        assert torch.equal(item["image"], single["image"])
        assert {k: v for k, v in item.items() if k != "image"} == {
            k: v for k, v in single.items() if k != "image"
        }
    batch = collate_frames(items)
    assert batch["image"].data_ptr() == items.images.data_ptr()  # no second copy
    assert batch["image"].shape == (3, 3, 24, 24)
    assert batch["video"].tolist() == [
        single["video"] for single in map(dataset.__getitem__, [3, 0, 7])
    ]


def _augmented(seed: int, n: int = 4) -> list[np.ndarray]:
    from mtfas.transforms.augment import train_transform

    image = np.random.default_rng(3).integers(0, 256, (24, 24, 3), dtype=np.uint8)
    transform = train_transform(24)
    torch.manual_seed(seed)
    return [transform(image=image)["image"] for _ in range(n)]


def test_augmentation_follows_the_torch_seed():
    first, again, other = _augmented(0), _augmented(0), _augmented(1)
    assert all(np.array_equal(a, b) for a, b in zip(first, again, strict=True))
    assert not all(np.array_equal(a, b) for a, b in zip(first, other, strict=True))
    assert not all(np.array_equal(first[0], a) for a in first[1:])  # draws still vary


def test_loader_workers_draw_different_augmentations():
    from mtfas.transforms.augment import train_transform

    image = np.random.default_rng(3).integers(0, 256, (1, 24, 24, 3), dtype=np.uint8)
    table = pd.DataFrame(
        {"video": ["a", "b"], "label": ["live"] * 2, "pai": ["live"] * 2, "subject": [0, 1]}
    )
    dataset = FrameDataset(
        table, ArrayStore({"a": image, "b": image}), ["live"], train_transform(24), uint8=True
    )
    torch.manual_seed(0)
    batches = list(DataLoader(dataset, batch_size=1, num_workers=2, collate_fn=collate_frames))
    assert not torch.equal(batches[0]["image"], batches[1]["image"])
