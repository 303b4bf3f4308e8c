"""Replay-Attack: the benchmark battery, protocols, face locations, errors (tiny release)."""

from __future__ import annotations

import shutil
import warnings
from pathlib import Path

import pandas as pd
import pytest

from mtfas.datamodules import ReplayAttackDataModule
from mtfas.errors import (
    ConfigError,
    DatasetError,
    DatasetNotFoundError,
    DatasetWarning,
    ProtocolError,
)
from mtfas.preprocessing import Box, CropCache, DlibDetector
from mtfas.protocols.replay_attack import ReplayName
from tests.conftest import REPLAY_CROPS
from tests.datamodules.benchmark_tests import BenchmarkTests

SPLITS = ("train", "dev", "test")
ATTACKS_PER_CLIENT = 2 * 5 * 2  # supports x attack sources x lightings
LIVE_PER_CLIENT = 2  # lightings x 1 take
CLIENTS = {"train": 2, "dev": 1, "test": 1}


def _make(root, cache, protocol="grandtest", **overrides):
    kwargs = {
        **REPLAY_CROPS,
        "image_size": 32,
        "batch_size": 8,
        "eval_batch_size": 64,
        "meta_val_fraction": 0.3,
        "cache_dir": cache,
        **overrides,
    }
    return ReplayAttackDataModule(root, protocol=protocol, **kwargs)


@pytest.mark.parametrize("protocol", ["grandtest", "hand"], scope="class")
class TestReplayAttackBenchmark(BenchmarkTests):
    extra_columns = ("support", "medium", "lighting", "session")
    subject_disjoint_splits = True

    @pytest.fixture(scope="class")
    @classmethod
    def make_datamodule(cls, replay_release, replay_cache, protocol):
        def make(**overrides):
            overrides.setdefault("root", replay_release)
            return _make(
                cache=overrides.pop("cache_dir", replay_cache), protocol=protocol, **overrides
            )

        return make


# ----------------------------------------------------------------- protocols
@pytest.fixture(scope="module")
def tables(replay_release, replay_cache):
    out = {}
    for protocol in ("grandtest", "print", "mobile", "highdef", "fixed", "hand"):
        dm = _make(replay_release, replay_cache, protocol)
        out[protocol] = {s: dm.video_table(s) for s in SPLITS}
    return out


def test_grandtest_has_every_video_of_the_three_splits(tables, replay_release):
    for split, table in tables["grandtest"].items():
        n = CLIENTS[split]
        assert (table["label"] == "live").sum() == n * LIVE_PER_CLIENT
        assert (table["label"] == "attack").sum() == n * ATTACKS_PER_CLIENT
        folder = {"train": "train/", "dev": "devel/", "test": "test/"}[split]
        assert all(v.startswith(folder) for v in table["video"])
        assert set(table["pai"]) == {"live", "print", "mobile", "highdef"}
        assert set(table["lighting"]) == {"controlled", "adverse"}
    # Enrolment videos exist in the release but are never listed.
    assert list((replay_release / "enroll").rglob("*.mov"))
    for table in tables["grandtest"].values():
        assert not table["video"].str.contains("enroll").any()


@pytest.mark.parametrize("device", ["print", "mobile", "highdef"])
def test_device_protocols_keep_all_live_and_one_device(tables, device):
    for split, table in tables[device].items():
        full = tables["grandtest"][split]
        assert set(table["pai"]) == {"live", device}
        assert (table["label"] == "live").sum() == (full["label"] == "live").sum()
        assert set(table["video"]) == set(full.query("pai in ['live', @device]")["video"])


@pytest.mark.parametrize("support", ["fixed", "hand"])
def test_support_protocols_keep_all_live_and_one_support(tables, support):
    for split, table in tables[support].items():
        attacks = table[table["label"] == "attack"]
        assert set(attacks["support"]) == {support}
        assert set(attacks["pai"]) == {"print", "mobile", "highdef"}
        assert (table["label"] == "live").sum() == CLIENTS[split] * LIVE_PER_CLIENT
        assert len(attacks) == CLIENTS[split] * ATTACKS_PER_CLIENT // 2


def test_fields_come_from_the_name_and_folder(tables):
    for table in tables["grandtest"].values():
        for row in table.itertuples():
            name = ReplayName.parse(Path(row.video).name)
            assert str(name) == Path(row.video).name
            assert (row.subject, row.lighting, row.session, row.pai) == (
                name.client,
                name.lighting,
                name.session,
                name.pai,
            )
            if name.is_live:
                assert row.video.split("/")[1] == "real" and row.support == row.medium == ""
            else:
                assert row.video.split("/")[1:3] == ["attack", row.support]
                assert row.medium == name.medium


@pytest.mark.parametrize("protocol", ["all", "photo", "Grandtest", ""])
def test_unknown_protocol(tmp_path, protocol):
    with pytest.raises(ProtocolError, match="grandtest"):
        ReplayAttackDataModule(tmp_path, protocol=protocol)


def test_unknown_zero_box_option(tmp_path):
    with pytest.raises(ConfigError, match="zero_box"):
        ReplayAttackDataModule(tmp_path, zero_box="guess")


# ----------------------------------------------------------------- zero boxes
def _small_copy(release, tmp_path):
    """A copy with the live videos and print attacks only (fast to preprocess)."""
    root = tmp_path / "copy"
    shutil.copytree(
        release, root, ignore=shutil.ignore_patterns("attack_mobile*", "attack_highdef*")
    )
    return root


def test_zero_boxes_are_skipped_and_counted(replay_release, tmp_path):
    root = _small_copy(replay_release, tmp_path)
    dm = _make(root, tmp_path / "cache", zero_box="skip", meta_val_fraction=0.0)
    dm.prepare_data()
    counts = dm.last_preprocess.counts
    n_videos = sum(len(dm.video_table(s)) for s in SPLITS)
    assert counts.videos_total == n_videos == 4 * (2 + 4)
    # Frame 0 of every face-location file is a zero box; frames 0, 2, 3 are sampled.
    assert counts.frames_skipped["no_face"] == n_videos
    assert counts.frames_written == 2 * n_videos
    index = CropCache(dm.crop_cache_dir).index
    assert set(index["frame"]) == {2, 3} and set(index["source"]) == {"boxes"}


def test_zero_boxes_go_to_the_detector_by_default(replay_release, tmp_path, monkeypatch):
    root = _small_copy(replay_release, tmp_path)
    calls = []

    def fake_detect(self, image):
        calls.append(image.shape)
        return Box(8, 8, 56, 56, "dlib")

    monkeypatch.setattr(DlibDetector, "detect", fake_detect)
    dm = _make(root, tmp_path / "cache", meta_val_fraction=0.0)
    skip = _make(root, tmp_path / "cache", zero_box="skip")
    assert dm.cache_tag() == "replay-faces0+dlib" and skip.cache_tag() == "replay-faces0"
    assert dm.crop_cache_dir != skip.crop_cache_dir
    dm.prepare_data()
    counts = dm.last_preprocess.counts
    n_videos = counts.videos_total
    assert len(calls) == n_videos  # only the zero-box frame of each video
    assert counts.frames_written == 3 * n_videos and sum(counts.frames_skipped.values()) == 0
    index = CropCache(dm.crop_cache_dir).index
    by_source = index.groupby("source")["frame"].apply(set).to_dict()
    assert by_source == {"dlib": {0}, "boxes": {2, 3}}


def test_a_custom_face_locations_folder_gets_its_own_cache(replay_release, tmp_path):
    moved = tmp_path / "locations"
    shutil.copytree(replay_release / "face-locations", moved)
    dm = _make(replay_release, tmp_path / "cache", face_locations=moved)
    default = _make(replay_release, tmp_path / "cache")
    assert dm.crop_cache_dir != default.crop_cache_dir
    assert (
        dm.box_source("x").primary.annotation_path(replay_release / "train/real/a.mov")
        == moved / "train/real/a.face"
    )


# ----------------------------------------------------------------- bad input
def test_a_missing_face_location_file_fails_the_video(replay_release, tmp_path, capsys):
    root = _small_copy(replay_release, tmp_path)
    video = "devel/attack/fixed/attack_print_client016_session01_highdef_photo_adverse"
    (root / "face-locations" / f"{video}.face").unlink()
    dm = _make(root, tmp_path / "cache", meta_val_fraction=0.0, zero_box="skip")
    dm.prepare_data()
    out = capsys.readouterr().out
    assert "1 failed" in out and f"{video}.face does not exist" in out
    with pytest.raises(DatasetError, match=rf"{video} \(bad_annotation\)"):
        dm.setup("fit")


def test_a_missing_face_locations_folder_is_a_clear_error(replay_release, tmp_path):
    dm = _make(replay_release, tmp_path / "cache", face_locations=tmp_path / "nowhere")
    with pytest.raises(DatasetNotFoundError, match=r"nowhere is not a folder.*face_locations"):
        dm.video_table("train")


def test_a_corrupt_video_is_a_counted_failure(replay_release, tmp_path):
    root = _small_copy(replay_release, tmp_path)
    video = "test/real/client031_session01_webcam_authenticate_adverse_1"
    (root / f"{video}.mov").write_bytes(b"\x00" * 4096)
    dm = _make(root, tmp_path / "cache", meta_val_fraction=0.0, zero_box="skip")
    dm.prepare_data()
    counts = dm.last_preprocess.counts
    assert counts.videos_failed == 1
    assert counts.failures[0].video == video
    with pytest.raises(DatasetError, match=rf"{video} \(\w+_video\)"):
        dm.setup("fit")


@pytest.mark.parametrize("fixture", ["oulu_release", "siw_release"])
def test_another_benchmark_root_is_not_replay_attack(request, tmp_path, fixture):
    dm = _make(request.getfixturevalue(fixture), tmp_path / "cache")
    with pytest.raises(DatasetNotFoundError, match=r"Replay-Attack not found.*lacks"):
        dm.video_table("train")


def _link_copy(release, tmp_path):
    root = tmp_path / "copy"
    root.mkdir()
    for entry in release.iterdir():
        if entry.name != "train":
            (root / entry.name).symlink_to(entry)
    shutil.copytree(release / "train", root / "train")
    return root


def test_a_malformed_name_is_a_clear_error(replay_release, tmp_path):
    root = _link_copy(replay_release, tmp_path)
    source = next((root / "train/real").glob("*.mov"))
    shutil.copy(source, root / "train/real/client001_session01_webcam_login_1.mov")
    with pytest.raises(ProtocolError, match=r"webcam_login_1\.mov.*not a Replay-Attack video"):
        _make(root, tmp_path / "cache").video_table("train")
    # Other splits do not need the train folder to be valid.
    assert len(_make(root, tmp_path / "cache").video_table("test"))


def test_misplaced_videos_are_counted(replay_release, tmp_path):
    root = _link_copy(replay_release, tmp_path)
    attack = "attack_print_client001_session01_highdef_photo_adverse.mov"
    shutil.move(root / "train/attack/fixed" / attack, root / "train/attack" / attack)
    live = "client001_session01_webcam_authenticate_adverse_1.mov"
    shutil.move(root / "train/real" / live, root / "train/attack/fixed" / live)
    dm = _make(root, tmp_path / "cache")
    with pytest.warns(DatasetWarning, match="2 video.*not where the release puts them"):
        table = dm.video_table("train")
    assert f"train/attack/{attack[:-4]}" not in set(table["video"])
    assert f"train/attack/hand/{attack[:-4]}" in set(table["video"])
    row = table[table["video"].str.endswith(live[:-4])].iloc[0]
    assert row["label"] == "live" and row["support"] == ""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _make(replay_release, tmp_path / "cache").video_table("train")


def test_the_listing_is_sorted_and_deterministic(replay_release, tmp_path):
    a = _make(replay_release, tmp_path / "cache").video_table("train")
    b = _make(replay_release, tmp_path / "cache").video_table("train")
    pd.testing.assert_frame_equal(a, b)
    assert a["video"].tolist() == sorted(a["video"])


def test_the_shipped_config_parses(capsys):
    from mtfas.cli import main
    from tests.test_configs import benchmark_args

    with pytest.raises(SystemExit) as exit_info:
        main(["fit", *benchmark_args("replay_attack/grandtest.yaml"), "--print_config"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert "mtfas.datamodules.ReplayAttackDataModule" in out and "protocol: grandtest" in out
