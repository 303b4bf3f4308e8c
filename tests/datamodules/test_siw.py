"""SiW: the benchmark battery, protocol logic, errors, on a tiny synthetic release."""

from __future__ import annotations

import shutil
import warnings
from pathlib import Path

import pandas as pd
import pytest
import yaml

from mtfas.datamodules import SiWDataModule
from mtfas.errors import (
    ConfigError,
    DatasetError,
    DatasetNotFoundError,
    DatasetWarning,
    MissingVideoError,
    ProtocolError,
)
from mtfas.preprocessing import CropCache
from mtfas.protocols.siw import SiWName, in_protocol
from tests.conftest import SIW_CROPS
from tests.datamodules.benchmark_tests import BenchmarkTests

SPLITS = ("train", "dev", "test")
REPLAYS = {f"replay{m}" for m in range(1, 5)}
PRINTS = {"print1", "print2"}


def _make(root, cache, protocol=1, subprotocol=None, **overrides):
    kwargs = {
        **SIW_CROPS,
        "image_size": 32,
        "batch_size": 4,
        "eval_batch_size": 64,
        "meta_val_fraction": 0.3,
        "cache_dir": cache,
        **overrides,
    }
    return SiWDataModule(root, protocol=protocol, subprotocol=subprotocol, **kwargs)


@pytest.mark.parametrize(
    "protocol,subprotocol", [(1, None), (3, 1)], ids=["P1", "P3-1"], scope="class"
)
class TestSiWBenchmark(BenchmarkTests):
    extra_columns = ("sensor", "type", "medium", "session")
    subject_disjoint_splits = True

    @pytest.fixture(scope="class")
    @classmethod
    def make_datamodule(cls, siw_release, siw_cache, protocol, subprotocol):
        def make(**overrides):
            overrides.setdefault("root", siw_release)
            return _make(
                cache=overrides.pop("cache_dir", siw_cache),
                protocol=protocol,
                subprotocol=subprotocol,
                **overrides,
            )

        return make


# ----------------------------------------------------------------- protocol logic
@pytest.fixture(scope="module")
def tables(siw_release, siw_cache):
    """Video tables of every protocol and sub-protocol of the tiny release."""
    out = {}
    for protocol, sub in [(1, None), *((2, k) for k in range(1, 5)), (3, 1), (3, 2)]:
        dm = _make(siw_release, siw_cache, protocol, sub)
        out[protocol, sub] = {s: dm.video_table(s) for s in SPLITS}
    return out


def test_protocol_1_uses_every_video(tables):
    t = tables[1, None]
    # 3 train + 1 dev subject (of 4) and 2 test subjects, 8 videos each.
    assert [len(t[s]) for s in SPLITS] == [24, 8, 16]
    for table in t.values():
        assert set(table["pai"]) == {"live"} | PRINTS | REPLAYS
    assert all(v.startswith("Train/") for s in ("train", "dev") for v in t[s]["video"])
    assert all(v.startswith("Test/") for v in t["test"]["video"])


@pytest.mark.parametrize("k", [1, 2, 3, 4])
def test_protocol_2_leaves_one_replay_medium_out(tables, k):
    t = tables[2, k]
    for split in ("train", "dev"):
        assert set(t[split]["pai"]) == {"live"} | REPLAYS - {f"replay{k}"}
    assert set(t["test"]["pai"]) == {"live", f"replay{k}"}
    assert set(t["test"].query("type == 3")["medium"]) == {k}
    # Live videos are in every sub-protocol; no print anywhere.
    assert (t["test"]["label"] == "live").sum() == 2 * 2
    assert not any(set(t[s]["type"]) & {2} for s in SPLITS)


def test_protocol_3_crosses_attack_types(tables):
    p31, p32 = tables[3, 1], tables[3, 2]
    assert set(p31["train"]["pai"]) == set(p31["dev"]["pai"]) == {"live"} | PRINTS
    assert set(p31["test"]["pai"]) == {"live"} | REPLAYS
    assert set(p32["train"]["pai"]) == {"live"} | REPLAYS
    assert set(p32["test"]["pai"]) == {"live"} | PRINTS


def test_dev_is_carved_from_train_subjects_the_same_way_in_every_protocol(tables):
    dev = {key: set(t["dev"]["subject"]) for key, t in tables.items()}
    assert len(set(map(frozenset, dev.values()))) == 1
    (subjects,) = set(map(frozenset, dev.values()))
    assert len(subjects) == 1 and subjects <= {1, 2, 3, 4}
    for t in tables.values():
        assert set(t["train"]["subject"]).isdisjoint(subjects)


def test_the_dev_draw_follows_the_seed_and_fraction(siw_release, tmp_path):
    draws = {
        seed: tuple(_make(siw_release, tmp_path, dev_seed=seed).dev_subjects()) for seed in range(6)
    }
    assert len(set(draws.values())) > 1
    assert len(_make(siw_release, tmp_path, dev_fraction=0.5).dev_subjects()) == 2
    with pytest.raises(ConfigError, match="dev_fraction"):
        _make(siw_release, tmp_path, dev_fraction=0.0)


def test_species_and_fields_come_from_the_name(tables):
    for table in tables[1, None].values():
        for row in table.itertuples():
            name = SiWName.parse(Path(row.video).name)
            assert (row.subject, row.sensor, row.type, row.medium, row.session) == (
                name.subject,
                name.sensor,
                name.type,
                name.medium,
                name.session,
            )
            assert row.pai == name.pai and row.label == name.label
            folder = "live" if name.type == 1 else "spoof"
            assert row.video.split("/")[1:3] == [folder, f"{name.subject:03d}"]


def test_the_rules_as_pure_functions():
    live, print2, replay3 = (
        SiWName.parse(n) for n in ("001-2-1-1-4", "001-1-2-2-1", "001-1-3-3-2")
    )
    assert print2.pai == "print2" and replay3.pai == "replay3" and live.label == "live"
    assert all(
        in_protocol(p, s, split, live) for p, s in [(1, None), (2, 1), (3, 2)] for split in SPLITS
    )
    assert in_protocol(2, 3, "test", replay3) and not in_protocol(2, 3, "train", replay3)
    assert not in_protocol(2, 1, "test", print2) and not in_protocol(2, 1, "train", print2)
    assert in_protocol(3, 1, "train", print2) and in_protocol(3, 1, "test", replay3)
    assert in_protocol(3, 2, "dev", replay3) and not in_protocol(3, 2, "dev", print2)


@pytest.mark.parametrize(
    "protocol,sub,match",
    [
        (0, None, "protocols 1-3"),
        (4, None, "protocols 1-3"),
        (1, 1, "no sub-protocols"),
        (2, None, r"sub-protocols 1-4 .*medium k"),
        (2, 5, r"subprotocol=\[1, 2, 3, 4\]"),
        (3, 3, r"sub-protocols 1-2 .*print"),
    ],
)
def test_unknown_protocol_or_subprotocol(tmp_path, protocol, sub, match):
    with pytest.raises(ProtocolError, match=match):
        SiWDataModule(tmp_path, protocol=protocol, subprotocol=sub)


def test_bad_train_frames(tmp_path):
    with pytest.raises(ConfigError, match="train_frames"):
        SiWDataModule(tmp_path, train_frames=0)


# ----------------------------------------------------------------- first N frames (P1)
def test_protocol_1_samples_training_videos_within_their_first_frames(siw_release, tmp_path):
    dm = _make(siw_release, tmp_path, meta_val_fraction=0.0)
    other = _make(siw_release, tmp_path, protocol=2, subprotocol=1)
    assert dm.cache_tag() == "siw-face+dlib-first2" and other.cache_tag() == "siw-face+dlib"
    assert dm.crop_cache_dir != other.crop_cache_dir
    assert dm.crop_cache_dir != _make(siw_release, tmp_path, train_frames=3).crop_cache_dir
    dm.prepare_data()
    counts = dm.last_preprocess.counts
    # 32 Train videos (train + dev) x 2 frames + 16 Test videos x 3 frames.
    assert (counts.frames_sampled, counts.frames_written) == (32 * 2 + 16 * 3,) * 2
    index = CropCache(dm.crop_cache_dir).index
    frames = index.groupby("video")["frame"].apply(tuple)
    for split in ("train", "dev"):
        assert {frames[v] for v in dm.video_table(split)["video"]} == {(0, 1)}
    assert {frames[v] for v in dm.video_table("test")["video"]} == {(0, 2, 3)}
    dm.setup("fit")
    assert (dm.datasets["train"].frames_per_video == 2).all()
    assert (dm.datasets["test"].frames_per_video == 3).all()


# ----------------------------------------------------------------- bad input
def _copy(release, tmp_path):
    root = tmp_path / "copy"
    shutil.copytree(release, root)
    return root


def test_an_oulu_root_is_not_siw(oulu_release, tmp_path):
    dm = _make(oulu_release, tmp_path)
    with pytest.raises(DatasetNotFoundError, match=r"SiW not found.*lacks Train, Test"):
        dm.video_table("train")
    with pytest.raises(DatasetNotFoundError):
        dm.prepare_data()


def test_a_malformed_video_name_is_named_and_counted_and_the_rest_loads(
    siw_release, tmp_path, capsys
):
    root = _copy(siw_release, tmp_path)
    shutil.copy(root / "Train/live/001/001-1-1-1-1.mov", root / "Train/live/001/clip_7.mov")
    shutil.copy(root / "Train/live/001/001-1-1-1-1.mov", root / "Train/live/001/001-1-1.mov")
    dm = _make(root, tmp_path / "cache")
    with pytest.warns(DatasetWarning, match=r"2 video\(s\) have a name that is not.*clip_7\.mov"):
        table = dm.listing("train")
    reference = _make(siw_release, tmp_path / "cache").listing("train")
    assert list(table["video"]) == list(reference["video"])
    assert sorted(dm.skipped_files["malformed"]) == [
        "Train/live/001/001-1-1.mov",
        "Train/live/001/clip_7.mov",
    ]
    # prepare_data's summary counts them too.
    _only(root, {1, 2, 91})
    small = _make(root, tmp_path / "cache2", meta_val_fraction=0.0, dev_fraction=0.5)
    with pytest.warns(DatasetWarning, match="clip_7"):
        small.prepare_data()
    assert "left out of the listing: 2 malformed video file(s)" in capsys.readouterr().out


def test_a_root_without_any_siw_name_is_a_clear_error(tmp_path):
    for split in ("Train", "Test"):
        (tmp_path / split / "live").mkdir(parents=True)
        (tmp_path / split / "live" / "clip_7.mov").write_bytes(b"x")
    with (
        pytest.raises(ProtocolError, match=r"none of the 1 video file\(s\).*Is .* SiW"),
        pytest.warns(DatasetWarning, match="clip_7"),
    ):
        _make(tmp_path, tmp_path / "cache").video_table("train")


# ----------------------------------------------------------------- the real name forms
@pytest.fixture(scope="module")
def forms_release(tmp_path_factory):
    """A release with every name form of the real one: .m marks (subject 91, sensor 2),
    .mp4 (subject 2), underscore suffixes (subject 3), live MediumIDs 1 and 2."""
    from mtfas.synthetic.layouts import write_siw

    return write_siw(
        tmp_path_factory.mktemp("siw_forms") / "SiW",
        subjects_per_split=(3, 2),
        sensors=[1, 2],
        live_sessions=[1, 2],
        live_media=[1, 2],
        attack_sessions=[1],
        print_media=[1],
        replay_media=[1, 2],
        marked_subjects=[91],
        mp4_subjects=[2],
        suffixed_subjects=[3],
        n_frames=2,
        size=64,
    ).root


def test_every_real_name_form_is_read(forms_release, tmp_path):
    from mtfas.synthetic.layouts.siw import SUFFIX_TEXT

    marked = {f"Test/live/091/091-2-1-{m}-{n}.m" for m in (1, 2) for n in (1, 2)}
    assert all((forms_release / f"{v}.mov").is_file() for v in marked)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for protocol, sub in ((1, None), (2, 2), (3, 1), (3, 2)):
            dm = _make(forms_release, tmp_path, protocol, sub, dev_fraction=0.34)
            test = dm.video_table("test").set_index("video")
            # The marked videos are live sensor-2 test videos in every protocol.
            assert marked <= set(test.index), protocol
            rows = test.loc[sorted(marked)]
            assert set(rows["label"]) == {"live"} and set(rows["sensor"]) == {2}
            assert set(rows["subject"]) == {91} and set(rows["medium"]) == {1, 2}
        dm = _make(forms_release, tmp_path, dev_fraction=0.34)
        train = pd.concat([dm.video_table("train"), dm.video_table("dev")])
    assert dm.video_file("Train/live/002/002-1-1-1-1").suffix == ".mp4"
    suffixed = train[train["subject"] == 3]
    assert len(suffixed) and suffixed["video"].str.endswith(f"_{SUFFIX_TEXT}").all()
    assert set(train["subject"]) == {1, 2, 3}
    # 3 subjects x 2 sensors x (4 live + 1 print + 2 replay) in Train, under P1.
    assert len(train) == 3 * 2 * 7


def test_the_marked_videos_are_cropped_with_their_face_files(forms_release, tmp_path):
    root = _copy(forms_release, tmp_path)
    _only(root, {1, 2, 91})
    dm = _make(root, tmp_path / "cache", detector_fallback=False, dev_fraction=0.5)
    dm.prepare_data()
    counts = dm.last_preprocess.counts
    assert counts.videos_failed == 0 and counts.videos_done == len(dm.jobs()), counts
    assert counts.frames_skipped["no_annotation"] == 0, counts
    index = pd.read_csv(dm.crop_cache_dir / "index.csv")
    assert {f"Test/live/091/091-2-1-{m}-{n}.m" for m in (1, 2) for n in (1, 2)} <= set(
        index["video"]
    )


def test_idiap_dev_subjects_and_an_explicit_list(siw_release, tmp_path):
    from mtfas.protocols.siw import IDIAP_DEV_SUBJECTS

    assert _make(siw_release, tmp_path, dev_subjects=[2, 3]).dev_subjects() == [2, 3]
    # The tiny release holds Train subjects 1-4, of which Idiap's dev list has 3.
    assert _make(siw_release, tmp_path, dev_subjects="idiap").dev_subjects() == [
        s for s in IDIAP_DEV_SUBJECTS if s <= 4
    ]
    with pytest.raises(ProtocolError, match=r"dev_subjects=\[7\].*holds 4 subject\(s\), not \[7\]"):
        _make(siw_release, tmp_path, dev_subjects=[7]).dev_subjects()
    with pytest.raises(ProtocolError, match="leave some for training"):
        _make(siw_release, tmp_path, dev_subjects=[1, 2, 3, 4]).dev_subjects()
    with pytest.raises(ConfigError, match="dev_subjects must be"):
        _make(siw_release, tmp_path, dev_subjects="all")
    with pytest.raises(ConfigError, match="face_layout must be"):
        _make(siw_release, tmp_path, face_layout="xyxy")


def test_odd_names_are_counted_in_warnings_and_the_name_wins(siw_release, tmp_path):
    root = _copy(siw_release, tmp_path)
    spoof = root / "Train/spoof/002"
    shutil.move(root / "Train/live/002/002-1-1-1-2.mov", spoof / "002-1-1-1-2.mov")
    shutil.copy(spoof / "002-1-3-1-1.mov", spoof / "002-1-3-9-1.mov")  # unknown medium
    shutil.copy(spoof / "002-1-2-1-1.mov", root / "Train/spoof/001/002-1-2-1-3.mov")
    dm = _make(root, tmp_path / "cache")
    with pytest.warns(DatasetWarning) as caught:
        listing = dm.listing("train").set_index("video")
    messages = " | ".join(str(w.message) for w in caught)
    assert "1 video(s) lie in a live/spoof folder" in messages
    assert "1 video(s) are attacks with a MediumID" in messages and "002-1-3-9-1" in messages
    assert "1 video(s) lie in a subject folder" in messages
    assert listing.loc["Train/spoof/002/002-1-1-1-2", "label"] == "live"
    assert listing.loc["Train/spoof/001/002-1-2-1-3", "subject"] == 2
    assert not listing.index.str.contains("002-1-3-9-1").any()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _make(siw_release, tmp_path / "cache").listing("train")


def _only(root, subjects):
    """Keep only these subjects' folders (fast preprocessing)."""
    for folder in root.glob("*/*/*"):
        if int(folder.name) not in subjects:
            shutil.rmtree(folder)


def test_an_empty_face_file_is_counted_with_or_without_the_detector(siw_release, tmp_path):
    root = _copy(siw_release, tmp_path)
    _only(root, {1, 2, 91})
    (root / "Test/spoof/091/091-1-3-2-1.face").write_text("")
    strict = _make(
        root, tmp_path / "cache", detector_fallback=False, meta_val_fraction=0.0, dev_fraction=0.5
    )
    strict.prepare_data()
    counts = strict.last_preprocess.counts
    assert counts.frames_skipped["no_annotation"] == 3 and counts.videos_without_crops == 1
    with pytest.raises(DatasetError, match=r"091-1-3-2-1 \(no face found\)"):
        strict.setup("fit")
    # With the detector (which finds no synthetic face at 64 px) the frames are counted
    # as faceless instead.
    fallback = _make(root, tmp_path / "cache", meta_val_fraction=0.0, dev_fraction=0.5)
    assert fallback.crop_cache_dir != strict.crop_cache_dir
    fallback.prepare_data()
    assert fallback.last_preprocess.counts.frames_skipped["no_face"] == 3
    skipped = pd.read_csv(fallback.crop_cache_dir / "skipped.csv")
    assert set(skipped["video"]) == {"Test/spoof/091/091-1-3-2-1"}


def test_a_missing_face_file_fails_the_video_without_the_detector(siw_release, tmp_path, capsys):
    root = _copy(siw_release, tmp_path)
    _only(root, {1, 2, 91})
    (root / "Train/live/001/001-1-1-1-1.face").unlink()
    dm = _make(
        root, tmp_path / "cache", detector_fallback=False, meta_val_fraction=0.0, dev_fraction=0.5
    )
    dm.prepare_data()
    assert "1 failed" in capsys.readouterr().out
    with pytest.raises(DatasetError, match=r"001-1-1-1-1 \(bad_annotation\)"):
        dm.setup("fit")


def test_a_corrupt_video_is_a_counted_failure(siw_release, tmp_path):
    root = _copy(siw_release, tmp_path)
    _only(root, {1, 2, 91})
    (root / "Test/live/091/091-1-1-1-1.mov").write_bytes(b"not a video" * 50)
    dm = _make(root, tmp_path / "cache", meta_val_fraction=0.0, dev_fraction=0.5)
    dm.prepare_data()
    counts = dm.last_preprocess.counts
    assert counts.videos_failed == 1 and counts.failures[0].reason == "unreadable_video"
    with pytest.raises(DatasetError, match=r"091-1-1-1-1 \(unreadable_video\)"):
        dm.setup("fit")
    lenient = _make(
        root, tmp_path / "cache", meta_val_fraction=0.0, dev_fraction=0.5, allow_missing_crops=True
    )
    with pytest.warns(DatasetWarning, match="excluding 1 video"):
        lenient.setup("fit")


def test_a_video_vanishing_after_listing_is_named(siw_release, tmp_path):
    root = _copy(siw_release, tmp_path)
    dm = _make(root, tmp_path / "cache")
    assert len(dm.video_table("test"))
    (root / "Test/spoof/092/092-1-2-2-1.mov").unlink()
    with pytest.raises(MissingVideoError, match=r"092-1-2-2-1\.mov"):
        dm.prepare_data()


def test_other_video_extensions_are_read(siw_release, tmp_path):
    root = _copy(siw_release, tmp_path)
    video = root / "Test/live/092/092-1-1-1-2.mov"
    video.rename(video.with_suffix(".mp4"))
    table = _make(root, tmp_path / "cache").video_table("test").set_index("video")
    assert "Test/live/092/092-1-1-1-2" in table.index
    dm = _make(root, tmp_path / "cache")
    assert dm.video_file("Test/live/092/092-1-1-1-2").suffix == ".mp4"


# ----------------------------------------------------------------- configs and folds
@pytest.mark.parametrize("protocol,sub", [(1, None), (2, 1), (3, 1)])
def test_shipped_configs_parse_and_plan_their_sub_protocols(protocol, sub, capsys):
    from mtfas.cli import main
    from mtfas.pipelines.folds import plan_folds
    from tests.test_configs import benchmark_args

    with pytest.raises(SystemExit) as exit_info:
        main(["fit", *benchmark_args(f"siw/protocol_{protocol}.yaml"), "--print_config"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert "mtfas.datamodules.SiWDataModule" in out
    assert f"subprotocol: {'null' if sub is None else sub}" in out
    data = yaml.safe_load(out)["data"]
    if protocol == 1:
        assert SiWDataModule.fold_plan({"protocol": 1}) is None
    else:
        subs = [1, 2, 3, 4] if protocol == 2 else [1, 2]
        assert plan_folds(data["class_path"], data["init_args"]) == ("subprotocol", subs)
