"""The shared data-module core: splits, the meta-validation slice, loaders, bad tables."""

from __future__ import annotations

import pandas as pd
import pytest
import torch

from mtfas.datamodules.base import carve_meta_val
from mtfas.errors import ConfigError, DatasetError, EmptySplitError
from mtfas.transforms import normalise
from tests.fakes import RandomDataModule


def _table(n_subjects=10, per_subject=3):
    return pd.DataFrame(
        [{"video": f"{s}_{k}", "subject": s} for s in range(n_subjects) for k in range(per_subject)]
    )


@pytest.mark.parametrize("fraction,expected", [(0.2, 2), (0.25, 2), (0.5, 5), (0.01, 1)])
def test_meta_val_is_subject_disjoint_and_sized(fraction, expected):
    train, meta = carve_meta_val(_table(), fraction, seed=0)
    assert set(train["subject"]).isdisjoint(meta["subject"])
    assert meta["subject"].nunique() == expected
    assert len(train) + len(meta) == 30
    assert set(meta["video"]) | set(train["video"]) == set(_table()["video"])


def test_meta_val_draw_is_seeded():
    a = carve_meta_val(_table(), 0.3, seed=1)[1]["subject"].unique()
    b = carve_meta_val(_table(), 0.3, seed=1)[1]["subject"].unique()
    draws = {
        tuple(sorted(carve_meta_val(_table(), 0.3, seed=s)[1]["subject"].unique()))
        for s in range(10)
    }
    assert list(a) == list(b)
    assert len(draws) > 1


@pytest.mark.parametrize("fraction", [-0.1, 1.0, 0.95])
def test_bad_meta_val_fraction(fraction):
    with pytest.raises(ConfigError):
        carve_meta_val(_table(), fraction, seed=0)


def test_loaders_follow_the_contract():
    dm = RandomDataModule(n_subjects=10, batch_size=4)
    dm.setup("fit")
    tables = dm.split_tables()
    assert set(tables["train"]["subject"]).isdisjoint(tables["meta_val"]["subject"])
    assert set(tables["meta_val"]["subject"]) <= set(dm.video_table("train")["subject"])
    loaders = dm.train_dataloader()
    assert set(loaders) == {"train", "meta_val"}
    batch = next(iter(loaders["train"]))
    assert batch["image"].shape == (4, 3, 16, 16) and batch["image"].dtype == torch.uint8
    for key in ("label", "pai", "video", "subject"):
        assert batch[key].dtype == torch.int64, key
    assert ((batch["label"] == 0) == (batch["pai"] == 0)).all()
    image = normalise(batch["image"])
    assert image.dtype == torch.float32 and image.min() >= -1 and image.max() <= 1
    dev, test = dm.test_dataloader()
    assert dev.dataset is dm.datasets["dev"] and test.dataset is dm.datasets["test"]
    assert dm.val_dataloader().dataset is dm.datasets["dev"]


def test_video_index_points_into_the_split_table():
    dm = RandomDataModule(n_subjects=10, frames=3)
    dm.setup("test")
    ds = dm.datasets["test"]
    assert len(ds) == 3 * len(ds.table)
    for i in range(len(ds)):
        item = ds[i]
        row = ds.table.iloc[item["video"]]
        assert dm.pai_names[item["pai"]] == row["pai"]
        assert item["subject"] == row["subject"]


def test_max_frames_per_video_limits_training_frames():
    dm = RandomDataModule(n_subjects=10, frames=3, max_frames_per_video=1)
    dm.setup("fit")
    assert len(dm.datasets["train"]) == len(dm.datasets["train"].table)
    assert len(dm.datasets["test"]) == 3 * len(dm.datasets["test"].table)


class _BadTable(RandomDataModule):
    def __init__(self, mutate, **kwargs):
        super().__init__(**kwargs)
        self.mutate = mutate

    def video_table(self, split):
        return self.mutate(super().video_table(split).copy())


@pytest.mark.parametrize(
    "mutate,match",
    [
        (lambda t: t.drop(columns="pai"), "lacks the columns"),
        (lambda t: t.assign(label="spoof"), "labels must be"),
        (lambda t: t.assign(pai="print9"), "species one of"),
        (lambda t: t.assign(label="live"), "only live videos"),
    ],
)
def test_bad_tables_are_clear_errors(mutate, match):
    with pytest.raises(DatasetError, match=match):
        _BadTable(mutate).setup("fit")


def test_empty_split_is_a_clear_error():
    with pytest.raises(EmptySplitError, match="train split holds no videos"):
        _BadTable(lambda t: t.iloc[:0] if (t["subject"] % 5 < 3).all() else t).setup("fit")


@pytest.mark.parametrize("size", [0, 20, 100])
def test_image_size_must_be_a_multiple_of_8(size):
    with pytest.raises(ConfigError, match="multiple of 8"):
        RandomDataModule(image_size=size)
