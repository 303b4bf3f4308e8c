"""The partial-attack data module: protocol tables, cue masks in eval batches only, alignment."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from mtfas.datamodules import ArrayStore, FrameDataset, SyntheticPartialDataModule
from mtfas.errors import DatasetError, DatasetNotFoundError
from mtfas.preprocessing import crop_face, eyes_to_box
from mtfas.synthetic import render_capture
from mtfas.synthetic.conditions import ALL_PAI_NAMES
from mtfas.synthetic.layouts.partial import DEFAULT_SPECIES
from mtfas.transforms.augment import eval_transform
from tests.conftest import PARTIAL_CROPS, PARTIAL_RELEASE


@pytest.fixture(scope="module")
def dm(partial_release, partial_cache):
    module = SyntheticPartialDataModule(
        root=partial_release,
        cache_dir=partial_cache,
        image_size=24,
        batch_size=6,
        eval_batch_size=64,
        meta_val_fraction=0.34,
        augment=False,
        **PARTIAL_RELEASE,
        **PARTIAL_CROPS,
    )
    module.prepare_data()
    module.setup("fit")
    return module


def test_splits_hold_the_protocol_species(dm):
    tables = dm.split_tables()
    for split in ("train", "dev", "test"):
        assert sorted(set(tables[split]["pai"])) == sorted(DEFAULT_SPECIES[split])
    assert set(tables["meta_val"]["pai"]) == set(DEFAULT_SPECIES["train"])
    assert dm.pai_names == ALL_PAI_NAMES
    assert tables["test"]["video"].str.startswith("Test_files/").all()


def test_training_batches_never_carry_cue_masks(dm):
    loaders = dm.train_dataloader()
    assert set(loaders) == {"train", "meta_val"}
    for loader in loaders.values():
        batch = next(iter(loader))
        assert "cue_mask" not in batch and batch["image"].shape[1:] == (3, 24, 24)
    assert dm.datasets["train"].cue_masks is None and dm.datasets["meta_val"].cue_masks is None


def test_eval_batches_carry_cue_masks_at_the_image_resolution(dm):
    for loader in [dm.val_dataloader(), *dm.test_dataloader()]:
        for batch in loader:
            mask = batch["cue_mask"]
            assert mask.dtype == torch.float32 and mask.shape == (len(batch["label"]), 1, 24, 24)
            assert mask.min() >= 0 and mask.max() <= 1
            live = batch["label"] == 0
            assert live.any() and mask[live].max() == 0.0  # no instrument on live faces
            full = torch.isin(batch["pai"], torch.tensor([1, 3, 4]))  # print1, replays
            if full.any():
                assert mask[full].min() > 0.99  # the instrument fills the face crop
            partial = batch["pai"] >= 5
            means = mask[partial].mean(dim=(1, 2, 3))
            assert partial.any() and (means > 0).all() and (means < 0.99).all()


def test_cue_mask_crops_align_with_the_image_crops(dm, partial_release):
    # Independently: render the capture, take its boxes from the release's eye file, cut
    # the frame and the mask with the same crop, and resize both like the eval loader.
    test = dm.datasets["test"]
    row = int(np.flatnonzero(test.table["pai"] == "glasses2")[0])
    video = test.table["video"][row]
    name = video.rsplit("/", 1)[1]
    phone, session, user, file = (int(x) for x in name.split("_"))
    cap = render_capture(
        user,
        file - 1,
        device=phone - 1,
        session=session - 1,
        n_frames=PARTIAL_RELEASE["video_frames"],
        size=PARTIAL_RELEASE["video_size"],
    )
    lines = (partial_release / f"{video}.txt").read_text().splitlines()
    resize = eval_transform(24)
    items = [i for i in range(len(test)) if test.video_of[i] == row]
    assert len(items) == len(lines) == 2
    for index, line in zip(items, lines, strict=True):
        t, ax, ay, bx, by = (float(v) for v in line.split(","))
        box = eyes_to_box((ax, ay), (bx, by)).as_tuple()
        grey = np.round(cap.cue_masks[int(t)] * 255).astype(np.uint8)
        mask = crop_face(np.repeat(grey[..., None], 3, axis=2), box, PARTIAL_CROPS["crop_size"])
        image = crop_face(cap.frames[int(t)], box, PARTIAL_CROPS["crop_size"])
        item = test[index]
        np.testing.assert_array_equal(
            item["image"].permute(1, 2, 0).numpy(), resize(image=image)["image"]
        )
        expected = resize(image=mask)["image"][..., 0].astype(np.float32) / 255
        np.testing.assert_array_equal(item["cue_mask"][0].numpy(), expected)
        assert 0.02 < expected.mean() < 0.5  # the glasses: a boundary inside the crop


def test_without_cue_masks_no_batch_carries_them(partial_release, partial_cache):
    module = SyntheticPartialDataModule(
        root=partial_release,
        cache_dir=partial_cache,
        image_size=24,
        batch_size=6,
        cue_masks=False,
        **PARTIAL_RELEASE,
        **PARTIAL_CROPS,
    )
    module.setup("test")
    assert module.cue_masks() is None
    assert "cue_mask" not in next(iter(module.test_dataloader()[1]))


def test_a_missing_release_names_prepare_data(tmp_path):
    module = SyntheticPartialDataModule(root=tmp_path / "none", **PARTIAL_RELEASE, **PARTIAL_CROPS)
    with pytest.raises(DatasetNotFoundError, match="prepare_data"):
        module.video_table("train")


def test_a_mask_count_that_differs_from_the_crops_is_an_error():
    table = pd.DataFrame([{"video": "v", "label": "attack", "pai": "print", "subject": 1}])
    store = ArrayStore({"v": np.zeros((3, 8, 8, 3), np.uint8)})
    with pytest.raises(DatasetError, match="3 crops but 2 cue masks"):
        FrameDataset(table, store, ("live", "print"), cue_masks=lambda v: np.zeros((2, 8, 8, 3)))
    masks = np.zeros((3, 8, 8, 3), np.uint8)
    masks[1, :4] = 255
    dataset = FrameDataset(table, store, ("live", "print"), uint8=True, cue_masks=lambda v: masks)
    batch = dataset.__getitems__([1, 2])
    assert batch[0]["cue_mask"].shape == (1, 8, 8)
    assert batch[0]["cue_mask"][0, :4].min() == 1.0 and batch[0]["cue_mask"][0, 4:].max() == 0.0
    assert batch[1]["cue_mask"].max() == 0.0
