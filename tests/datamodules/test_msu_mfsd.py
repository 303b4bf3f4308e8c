"""MSU-MFSD: the benchmark battery, the official split lists, devices, rotation, bad input."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest

from mtfas.datamodules import MSUMFSDDataModule
from mtfas.errors import ConfigError, DatasetNotFoundError, DatasetWarning, ProtocolError
from mtfas.protocols.msu_mfsd import OFFICIAL_SPLIT, MSUName, msu_mfsd_videos
from mtfas.synthetic.layouts.face_boxes import FACE_BOX_FOLDER
from tests.conftest import DETECTED_CROPS
from tests.datamodules.benchmark_tests import BenchmarkTests


def _make(root, cache, boxes="release", **overrides):
    """A module over ``root``; ``boxes="release"`` reads the release's true boxes."""
    if boxes == "release":
        boxes = Path(root) / FACE_BOX_FOLDER
    kwargs = {
        **DETECTED_CROPS,
        "image_size": 32,
        "batch_size": 8,
        "eval_batch_size": 64,
        "meta_val_fraction": 0.3,
        "cache_dir": cache,
        "face_boxes": boxes,
        **overrides,
    }
    return MSUMFSDDataModule(root, **kwargs)


class TestMSUMFSDBenchmark(BenchmarkTests):
    extra_columns = ("device",)
    subject_disjoint_splits = True

    @pytest.fixture(scope="class")
    @classmethod
    def make_datamodule(cls, msu_release, msu_cache):
        def make(**overrides):
            root = overrides.pop("root", msu_release)
            return _make(
                root,
                overrides.pop("cache_dir", msu_cache),
                boxes=msu_release / FACE_BOX_FOLDER,
                **overrides,
            )

        return make


# ----------------------------------------------------------------- layout and split
def test_pure_layout_has_the_official_size_and_names():
    assert len(msu_mfsd_videos()) == 280
    assert len(OFFICIAL_SPLIT["train"]) == 15 and len(OFFICIAL_SPLIT["test"]) == 20
    assert set(OFFICIAL_SPLIT["train"]).isdisjoint(OFFICIAL_SPLIT["test"])
    for name in msu_mfsd_videos([7]):
        assert MSUName.parse(str(name)) == name
    assert str(MSUName(7, "android", "live")) == "real_client007_android_SD_scene01"
    for bad in (
        "real_client001_laptop_SD_printed_photo_scene01",  # real with an attack
        "attack_client001_laptop_SD_scene01",
        "real_client001_tablet_SD_scene01",
    ):
        with pytest.raises(ProtocolError, match="not an MSU-MFSD video name"):
            MSUName.parse(bad)


def test_the_split_lists_at_the_root_are_honoured(msu_release, tmp_path):
    dm = _make(msu_release, tmp_path)
    tables = {split: dm.video_table(split) for split in ("train", "dev", "test")}
    assert set(tables["test"]["subject"]) == {1, 13}
    assert set(tables["train"]["subject"]) | set(tables["dev"]["subject"]) == {2, 3, 5, 6}
    assert len(set(tables["dev"]["subject"])) == 1
    assert "train_sub_list.txt" in dm.subject_split()[2]
    for table in tables.values():
        for row in table.itertuples():
            name = MSUName.parse(Path(row.video).name)
            assert row.video == f"{name.folder}/{name}" and row.device == name.device
            assert (row.subject, row.pai) == (name.client, name.pai)
            suffix = {"laptop": ".mov", "android": ".mp4"}[row.device]
            assert dm.video_file(row.video).suffix == suffix
    assert sum(len(t) for t in tables.values()) == 48
    other = _make(msu_release, tmp_path, dev_seed=3)
    assert set(other.dev_subjects()) <= {2, 3, 5, 6}


def _linked_copy(release, tmp_path):
    """A root whose video and box folders link to the release, without the lists."""
    root = tmp_path / "copy"
    root.mkdir()
    for folder in ("real", "attack", FACE_BOX_FOLDER):
        (root / folder).symlink_to(release / folder)
    return root


def test_lists_are_read_leniently_and_checked(msu_release, tmp_path):
    root = _linked_copy(msu_release, tmp_path)
    (root / "train_sub_list.txt").write_text("client002, 3\n\n  05 \n# a comment\nclient_6\n")
    (root / "test_sub_list.txt").write_text("01\r\n13\r\n")
    train, test, _ = _make(root, tmp_path).subject_split()
    assert (train, test) == ([2, 3, 5, 6], [1, 13])
    (root / "test_sub_list.txt").write_text("01\n13\n05\n")
    with pytest.raises(ProtocolError, match=r"clients \[5\] are both"):
        _make(root, tmp_path).video_table("train")
    (root / "test_sub_list.txt").write_text("01\nthirteen\n")
    with pytest.raises(ProtocolError, match=r"line 2: expected client ids.*'thirteen'"):
        _make(root, tmp_path).video_table("train")
    (root / "test_sub_list.txt").unlink()
    with pytest.raises(ProtocolError, match=r"test_sub_list\.txt does not;"):
        _make(root, tmp_path).video_table("train")


def test_without_lists_the_official_ones_or_the_given_ones_are_used(msu_release, tmp_path):
    root = _linked_copy(msu_release, tmp_path)
    dm = _make(root, tmp_path)
    with pytest.warns(DatasetWarning, match=r"official lists.*29 listed client\(s\) have no video"):
        test = dm.video_table("test")
    assert set(test["subject"]) == {1, 13}
    given = _make(root, tmp_path, train_subjects=[2, 3, 5], test_subjects=[6])
    with pytest.warns(DatasetWarning, match=r"2 client\(s\) on disk are in neither list"):
        assert set(given.video_table("test")["subject"]) == {6}
    assert set(given.video_table("train")["subject"]) | set(
        given.video_table("dev")["subject"]
    ) == {2, 3, 5}
    with pytest.raises(ConfigError, match="give both train_subjects and test_subjects"):
        MSUMFSDDataModule(root, train_subjects=[2])
    with pytest.raises(ProtocolError, match="both in the training and the test list"):
        MSUMFSDDataModule(root, train_subjects=[2, 3], test_subjects=[3])


def test_the_device_filter(msu_release, tmp_path):
    android = _make(msu_release, tmp_path, devices=["android"])
    for split in ("train", "dev", "test"):
        assert set(android.video_table(split)["device"]) == {"android"}
    assert len(android.video_table("test")) == 8
    with pytest.raises(ConfigError, match="devices must be"):
        MSUMFSDDataModule(msu_release, devices=["tablet"])


def test_unknown_and_missing_files_are_counted(msu_release, tmp_path):
    root = tmp_path / "copy"
    root.mkdir()
    for folder in ("real", "attack"):
        (root / folder).mkdir()
        for file in (msu_release / folder).iterdir():
            (root / folder / file.name).symlink_to(file)
    for name in ("train_sub_list.txt", "test_sub_list.txt"):
        (root / name).write_text((msu_release / name).read_text())
    (root / "real" / "real_client002_laptop_SD_scene01.mov").unlink()
    (root / "real" / "notes.txt").write_text("x")
    (root / "attack" / "real_client001_laptop_SD_scene01.mov").write_bytes(b"x")  # wrong folder
    (root / "real" / "real_client001_laptop_SD_scene01.face").write_text("")  # known, ignored
    with pytest.warns(DatasetWarning) as record:
        table = _make(root, tmp_path, boxes=None).video_table("test")
    messages = " | ".join(str(w.message) for w in record)
    assert "ignoring 2 file(s)" in messages and "notes.txt" in messages
    assert "client 2 (7 videos)" in messages
    assert len(table) == 16


def test_copies_nested_under_scene01_are_read(msu_release, tmp_path):
    root = tmp_path / "nested"
    (root / "scene01").mkdir(parents=True)
    for folder in ("real", "attack"):
        (root / "scene01" / folder).symlink_to(msu_release / folder)
    for name in ("train_sub_list.txt", "test_sub_list.txt"):
        (root / name).write_text((msu_release / name).read_text())
    dm = _make(root, tmp_path, boxes=None)
    table = dm.video_table("test")
    assert table["video"].str.startswith("scene01/").all() and len(table) == 16
    assert dm.video_file(table["video"][0]).is_file()


def test_another_datasets_root_is_not_found(casia_release, tmp_path):
    with pytest.raises(DatasetNotFoundError, match="lacks real, attack") as info:
        _make(casia_release, tmp_path, boxes=None).video_table("train")
    assert "CASIA-FASD" in str(info.value)


# ----------------------------------------------------------------- rotation
def test_rotate_entries_and_their_precedence(tmp_path):
    rotate = {
        "android": 90,
        "real_client002_android_SD_scene01": 270,
        "attack/attack_client003_android_SD_ipad_video_scene01": -180,
    }
    dm = MSUMFSDDataModule(tmp_path, rotate=rotate)
    assert dm.video_rotation("real/real_client002_android_SD_scene01") == 270
    assert dm.video_rotation("attack/attack_client003_android_SD_ipad_video_scene01") == 180
    assert dm.video_rotation("real/real_client003_android_SD_scene01") == 90
    assert dm.video_rotation("real/real_client003_laptop_SD_scene01") is None
    assert (
        MSUMFSDDataModule(tmp_path).video_rotation("real/real_client003_laptop_SD_scene01") is None
    )
    assert dm.cache_tag() != MSUMFSDDataModule(tmp_path).cache_tag()
    with pytest.raises(ConfigError, match="multiple of 90"):
        MSUMFSDDataModule(tmp_path, rotate={"android": 45})
    with pytest.raises(ConfigError, match="neither a device"):
        MSUMFSDDataModule(tmp_path, rotate={"tablet": 90})


def test_rotate_idiap_turns_idiaps_six_upside_down_videos(tmp_path):
    # bob.db.msu_mfsd_mod 2.2.9, rotated_videos/rotated_videos.txt: live Android videos of
    # clients 3, 5, 6, 7, 8, 9, turned by 180 degrees.
    dm = MSUMFSDDataModule(tmp_path, rotate="idiap")
    for client in (1, 2, 3, 4, 5, 6, 7, 8, 9, 10):
        expected = 180 if client in (3, 5, 6, 7, 8, 9) else None
        assert dm.video_rotation(f"real/real_client{client:03d}_android_SD_scene01") == expected
    assert dm.video_rotation("attack/attack_client003_android_SD_ipad_video_scene01") is None
    assert dm.video_rotation("real/real_client003_laptop_SD_scene01") is None
    assert dm.cache_tag() != MSUMFSDDataModule(tmp_path).cache_tag()
    with pytest.raises(ConfigError, match="or be 'idiap'"):
        MSUMFSDDataModule(tmp_path, rotate="all")


def _android_crops(root, cache, **overrides):
    dm = _make(root, cache, devices=["android"], meta_val_fraction=0.0, **overrides)
    dm.prepare_data()
    store = dm.frame_store()
    index = store.cache.index
    videos = sorted(set(index["video"]))
    return {v: np.asarray(store.frames(v)) for v in videos}, index


def test_sideways_videos_are_turned_upright_by_metadata_or_by_rotate(
    msu_release, msu_bare_release, tmp_path
):
    by_metadata, index = _android_crops(msu_release, tmp_path / "a")
    assert set(index["rotation"]) == {90} and len(by_metadata) == 24
    by_rotate, index = _android_crops(msu_bare_release, tmp_path / "b", rotate={"android": 90})
    assert set(index["rotation"]) == {90}
    as_stored, index = _android_crops(msu_bare_release, tmp_path / "c")
    assert set(index["rotation"]) == {0}
    # Lossless videos and the same true boxes: metadata and override give identical crops;
    # without either, the face is cropped sideways.
    assert by_rotate.keys() == by_metadata.keys()
    for video, crops in by_metadata.items():
        assert np.array_equal(by_rotate[video], crops), video
        assert not np.array_equal(as_stored[video], crops), video
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _make(msu_bare_release, tmp_path, rotate={"android": 90}).video_table("train")


# ----------------------------------------------------------------- shipped configs
@pytest.mark.parametrize("config", ["casia_fasd/default.yaml", "msu_mfsd/default.yaml"])
def test_shipped_configs_parse(config, capsys):
    from mtfas.cli import main
    from tests.test_configs import benchmark_args

    extra = ["--data.init_args.rotate", "{android: 90}"] if "msu" in config else []
    with pytest.raises(SystemExit) as exit_info:
        main(
            [
                "fit",
                *benchmark_args(config),
                "--data.init_args.root",
                "/data/copy",
                *extra,
                "--print_config",
            ]
        )
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert "root: /data/copy" in out and "face_boxes: null" in out
    if extra:
        assert "android: 90" in out
