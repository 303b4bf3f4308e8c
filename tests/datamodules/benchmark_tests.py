"""The test battery every benchmark data module must pass (subclass :class:`BenchmarkTests`).

A benchmark's test module subclasses :class:`BenchmarkTests` in a ``Test...`` class and
provides one class-scoped fixture (a classmethod), ``make_datamodule(**overrides)``,
that builds the data module on a tiny release of that benchmark (usually one written by
``mtfas.synthetic.layouts``). Overrides include ``root``, ``cache_dir`` and
``image_size``. Class attributes tune the battery:

* ``extra_columns``: columns the benchmark's video table must have beyond the common ones;
* ``subject_disjoint_splits``: the protocol's train, dev and test share no subject.

The file name does not start with ``test_``, so pytest collects the battery only through
its subclasses.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from mtfas.datamodules.base import SPLITS
from mtfas.datamodules.dataset import REQUIRED_COLUMNS
from mtfas.datamodules.video import CACHE_ENV
from mtfas.errors import DatasetNotFoundError
from mtfas.transforms import normalise


class BenchmarkTests:
    """Contract tests of a :class:`~mtfas.datamodules.VideoDataModule` subclass."""

    extra_columns: tuple[str, ...] = ()
    subject_disjoint_splits: bool = True

    @pytest.fixture(scope="class")
    @classmethod
    def prepared(cls, make_datamodule):
        """A data module after ``prepare_data`` and ``setup('fit')``."""
        dm = make_datamodule()
        dm.prepare_data()
        dm.setup("fit")
        return dm

    # ------------------------------------------------------------ video tables
    def test_video_tables_have_consistent_columns(self, prepared):
        names = set(prepared.pai_names)
        assert prepared.pai_names[0] == "live"
        for split in SPLITS:
            table = prepared.video_table(split)
            assert len(table), split
            for column in (*REQUIRED_COLUMNS, *self.extra_columns):
                assert column in table.columns, (split, column)
            assert table["video"].is_unique, split
            assert set(table["label"]) <= {"live", "attack"}, split
            assert set(table["pai"]) <= names, split
            assert ((table["label"] == "live") == (table["pai"] == "live")).all(), split
            assert np.issubdtype(table["subject"].dtype, np.integer), split
            for video in table["video"]:
                assert not Path(video).is_absolute() and Path(video).suffix == ""
                assert prepared.video_file(video).is_file(), video

    def test_video_tables_decode_no_video(self, make_datamodule, monkeypatch):
        import cv2

        def refuse(*args, **kwargs):
            raise AssertionError("video_table must not open videos")

        monkeypatch.setattr(cv2, "VideoCapture", refuse)
        dm = make_datamodule()
        assert all(len(dm.video_table(split)) for split in SPLITS)

    def test_splits_are_subject_disjoint(self, prepared):
        if not self.subject_disjoint_splits:
            pytest.skip("the protocol shares subjects between splits")
        subjects = {split: set(prepared.video_table(split)["subject"]) for split in SPLITS}
        assert subjects["train"].isdisjoint(subjects["dev"])
        assert subjects["train"].isdisjoint(subjects["test"])
        assert subjects["dev"].isdisjoint(subjects["test"])

    def test_meta_val_is_subject_disjoint_and_from_train_only(self, prepared):
        tables = prepared.split_tables()
        meta, train = tables["meta_val"], tables["train"]
        assert len(meta) and len(train)
        assert set(meta["subject"]).isdisjoint(train["subject"])
        full_train = prepared.video_table("train")
        assert set(meta["video"]) <= set(full_train["video"])
        assert set(meta["video"]) | set(train["video"]) == set(full_train["video"])
        for split in ("dev", "test"):
            assert set(meta["video"]).isdisjoint(prepared.video_table(split)["video"])

    # ------------------------------------------------------------ loaders
    def test_loaders_follow_the_contract(self, prepared):
        loaders = prepared.train_dataloader()
        assert set(loaders) == {"train", "meta_val"}
        size = prepared.image_size
        for name, loader in loaders.items():
            batch = next(iter(loader))
            self._check_batch(batch, size, prepared.datasets[name].table, prepared.pai_names)
        dev, test = prepared.test_dataloader()
        assert dev.dataset is prepared.datasets["dev"]
        assert test.dataset is prepared.datasets["test"]
        assert prepared.val_dataloader().dataset is prepared.datasets["dev"]
        self._check_batch(next(iter(test)), size, test.dataset.table, prepared.pai_names)

    @staticmethod
    def _check_batch(batch, size, table, pai_names):
        assert set(batch) == {"image", "label", "pai", "video", "subject"}
        assert batch["image"].dtype == torch.uint8  # normalised on the device by the system
        image = normalise(batch["image"])
        assert image.dtype == torch.float32 and image.shape[1:] == (3, size, size)
        assert image.min() >= -1 and image.max() <= 1 and image.std() > 0
        for key in ("label", "pai", "video", "subject"):
            assert batch[key].dtype == torch.int64, key
        assert ((batch["label"] == 0) == (batch["pai"] == 0)).all()
        rows = table.iloc[batch["video"].numpy()]
        assert (rows["subject"].to_numpy() == batch["subject"].numpy()).all()
        names = [pai_names[i] for i in batch["pai"].tolist()]
        assert names == rows["pai"].tolist()

    def test_every_video_contributes_frames(self, prepared):
        for split, dataset in prepared.datasets.items():
            assert (dataset.frames_per_video > 0).all(), split

    def test_network_input_size_may_differ_from_crop_size(self, prepared, make_datamodule):
        assert prepared.settings.size != 16
        dm = make_datamodule(image_size=16)
        dm.setup("test")
        batch = next(iter(dm.test_dataloader()[1]))
        assert batch["image"].shape[1:] == (3, 16, 16)

    # ------------------------------------------------------------ root and cache
    def test_missing_root_is_a_clear_error(self, make_datamodule, tmp_path):
        missing = tmp_path / "no_such_copy"
        dm = make_datamodule(root=missing)
        with pytest.raises(DatasetNotFoundError, match="no_such_copy") as info:
            dm.prepare_data()
        assert "root" in str(info.value)
        with pytest.raises(DatasetNotFoundError):
            dm.video_table("train")

    def test_default_cache_is_outside_the_root(self, make_datamodule, monkeypatch, tmp_path):
        monkeypatch.setenv(CACHE_ENV, str(tmp_path / "cache_base"))
        dm = make_datamodule(cache_dir=None)
        assert dm.cache_root.is_relative_to(tmp_path / "cache_base" / dm.benchmark)
        assert not dm.cache_root.is_relative_to(dm.root.resolve())
        monkeypatch.delenv(CACHE_ENV)
        monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
        assert make_datamodule(cache_dir=None).cache_root.is_relative_to(tmp_path / "xdg")
        other = make_datamodule(cache_dir=None, root=tmp_path / "other_copy")
        assert other.cache_root != make_datamodule(cache_dir=None).cache_root

    def test_a_complete_cache_is_reused(self, prepared, make_datamodule, capsys):
        capsys.readouterr()
        dm = make_datamodule()
        dm.prepare_data()
        assert dm.last_preprocess is None
        assert "reused" in capsys.readouterr().out

    def test_an_incomplete_cache_is_completed(self, prepared, make_datamodule):
        from mtfas.preprocessing.cache import part_file

        video = prepared.video_table("test")["video"].iloc[0]
        (prepared.crop_cache_dir / part_file(video)).unlink()
        dm = make_datamodule()
        dm.prepare_data()
        counts = dm.last_preprocess.counts
        assert counts.videos_done == counts.videos_total
        assert counts.videos_total - counts.videos_reused == 1
        assert counts.videos_failed == 0
