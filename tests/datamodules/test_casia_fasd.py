"""CASIA-FASD: the benchmark battery, species/quality, dev carving, filters, bad input,
and the shared ``face_boxes`` option (box files, detector fallback, dlib)."""

from __future__ import annotations

import shutil
import warnings
from pathlib import Path

import numpy as np
import pytest

from mtfas.datamodules import CASIAFASDDataModule
from mtfas.errors import ConfigError, DatasetError, DatasetNotFoundError, DatasetWarning
from mtfas.protocols.casia_fasd import casia_fasd_videos, casia_file
from mtfas.protocols.subjects import draw_dev_subjects
from mtfas.synthetic.layouts import write_casia_fasd
from mtfas.synthetic.layouts.face_boxes import FACE_BOX_FOLDER
from tests.conftest import DETECTED_CROPS
from tests.datamodules.benchmark_tests import BenchmarkTests

# Species and quality of each file, as Idiap's bob.db.casia_fasd 2.0.10 (models.py,
# get_type / get_quality) gives them: odd files normal, even files low.
FILES = {
    "1": ("live", "normal"),
    "2": ("live", "low"),
    "HR_1": ("live", "high"),
    "3": ("warped_print", "normal"),
    "4": ("warped_print", "low"),
    "HR_2": ("warped_print", "high"),
    "5": ("cut_print", "normal"),
    "6": ("cut_print", "low"),
    "HR_3": ("cut_print", "high"),
    "7": ("replay", "normal"),
    "8": ("replay", "low"),
    "HR_4": ("replay", "high"),
}


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
    return CASIAFASDDataModule(root, **kwargs)


class TestCASIAFASDBenchmark(BenchmarkTests):
    extra_columns = ("quality", "file", "release_subject")
    subject_disjoint_splits = True

    @pytest.fixture(scope="class")
    @classmethod
    def make_datamodule(cls, casia_release, casia_cache):
        def make(**overrides):
            root = overrides.pop("root", casia_release)
            return _make(
                root,
                overrides.pop("cache_dir", casia_cache),
                boxes=casia_release / FACE_BOX_FOLDER,
                **overrides,
            )

        return make


# ----------------------------------------------------------------- layout logic
def test_pure_layout_has_the_official_size():
    assert len(casia_fasd_videos()) == 600
    assert {name: (f.pai, f.quality) for name, f in ((n, casia_file(n)) for n in FILES)} == FILES
    assert casia_file("9") is None and casia_file("HR_5") is None


def test_species_quality_and_subjects_come_from_the_layout(casia_release, tmp_path):
    dm = _make(casia_release, tmp_path)
    tables = {split: dm.video_table(split) for split in ("train", "dev", "test")}
    for split, table in tables.items():
        for row in table.itertuples():
            folder, number, name = row.video.split("/")
            assert folder == ("test_release" if split == "test" else "train_release")
            assert (row.pai, row.quality) == FILES[name] and row.file == name
            assert row.label == ("live" if row.pai == "live" else "attack")
            assert row.release_subject == int(number)
            assert row.subject == int(number) + (20 if split == "test" else 0)
    assert set(tables["test"]["subject"]) == {21, 22}
    assert len(tables["train"]) + len(tables["dev"]) == 4 * 12 and len(tables["test"]) == 24


def test_dev_is_carved_from_train_subjects_seeded_and_disjoint(casia_release, tmp_path):
    draws = set()
    for seed in range(6):
        dm = _make(casia_release, tmp_path, dev_seed=seed)
        dev = set(dm.video_table("dev")["subject"])
        train = set(dm.video_table("train")["subject"])
        assert len(dev) == 1 and dev.isdisjoint(train) and dev | train == {1, 2, 3, 4}
        assert dev == set(_make(casia_release, tmp_path, dev_seed=seed).dev_subjects())
        draws.add(frozenset(dev))
    assert len(draws) > 1  # the seed matters
    half = _make(casia_release, tmp_path, dev_fraction=0.5)
    assert len(half.dev_subjects()) == 2
    # Filters never change which subjects are dev.
    assert (
        _make(casia_release, tmp_path, quality="high").dev_subjects()
        == _make(casia_release, tmp_path).dev_subjects()
    )
    assert draw_dev_subjects(range(1, 21), 0.2, 0) == draw_dev_subjects(range(20, 0, -1), 0.2, 0)


@pytest.mark.parametrize("fraction", [0.0, 1.0, -0.1])
def test_bad_dev_fraction(fraction, tmp_path):
    with pytest.raises(ConfigError, match="dev_fraction"):
        CASIAFASDDataModule(tmp_path, dev_fraction=fraction)


def test_quality_and_attack_filters(casia_release, tmp_path):
    high = _make(casia_release, tmp_path, quality=["high"]).video_table("test")
    assert set(high["file"]) == {"HR_1", "HR_2", "HR_3", "HR_4"} and len(high) == 8
    low_normal = _make(casia_release, tmp_path, quality=["low", "normal"]).video_table("test")
    assert not low_normal["file"].str.startswith("HR").any() and len(low_normal) == 16
    low = _make(casia_release, tmp_path, quality="low").video_table("test")
    assert set(low["file"]) == {"2", "4", "6", "8"} and len(low) == 8
    normal = _make(casia_release, tmp_path, quality="normal").video_table("test")
    assert set(normal["file"]) == {"1", "3", "5", "7"}
    replay = _make(casia_release, tmp_path, attacks="replay").video_table("train")
    assert set(replay["pai"]) == {"live", "replay"}
    with pytest.raises(ConfigError, match="quality must be"):
        CASIAFASDDataModule(tmp_path, quality=["hd"])
    with pytest.raises(ConfigError, match="attacks must be"):
        CASIAFASDDataModule(tmp_path, attacks=["live"])


def test_filtered_caches_are_shared_but_sources_are_not(casia_release, tmp_path):
    dlib = CASIAFASDDataModule(casia_release, cache_dir=tmp_path)
    boxes = _make(casia_release, tmp_path)
    strict = _make(casia_release, tmp_path, detector_fallback=False)
    other = _make(casia_release, tmp_path, boxes=tmp_path)
    tags = {dm.cache_tag() for dm in (dlib, boxes, strict, other)}
    assert len(tags) == 4 and dlib.cache_tag() == "casia-dlib"
    assert boxes.cache_tag().endswith("+dlib") and not strict.cache_tag().endswith("+dlib")
    assert _make(casia_release, tmp_path, quality="high").crop_cache_dir == boxes.crop_cache_dir


# ----------------------------------------------------------------- edited copies
def _copy(release, tmp_path, subjects=None):
    """A writable copy of the release (optionally only some train/test subject folders)."""
    root = tmp_path / "copy"
    shutil.copytree(release, root)
    if subjects is not None:
        for folder in ("train_release", "test_release"):
            for entry in (root / folder).iterdir():
                if f"{folder}/{entry.name}" not in subjects:
                    shutil.rmtree(entry)
    return root


def test_unknown_entries_are_counted_in_a_warning(casia_release, tmp_path):
    root = _copy(casia_release, tmp_path)
    (root / "train_release" / "1" / "notes.txt").write_text("x")
    (root / "train_release" / "1" / "9.avi").write_bytes(b"")
    (root / "test_release" / "extra").mkdir()
    with pytest.warns(DatasetWarning, match=r"ignoring 3 entries .*train_release/1/9\.avi"):
        table = _make(root, tmp_path / "cache").video_table("test")
    assert len(table) == 24
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _make(casia_release, tmp_path / "cache").video_table("test")


def test_missing_videos_are_warned_and_the_rest_listed(casia_release, tmp_path):
    root = _copy(casia_release, tmp_path)
    (root / "test_release" / "2" / "HR_3.avi").unlink()
    (root / "test_release" / "2" / "7.avi").unlink()
    with pytest.warns(DatasetWarning, match=r"1 subject folder.*test_release/2 \(lacks 7, HR_3\)"):
        table = _make(root, tmp_path / "cache").video_table("test")
    assert (table["subject"] == 22).sum() == 10


def test_another_datasets_root_is_not_found(oulu_release, tmp_path):
    dm = _make(oulu_release, tmp_path, boxes=None)
    with pytest.raises(DatasetNotFoundError, match="lacks train_release, test_release") as info:
        dm.video_table("train")
    assert "OULU-NPU" in str(info.value)
    with pytest.raises(DatasetNotFoundError, match="does not exist"):
        _make(tmp_path / "nothing", tmp_path).prepare_data()


def test_a_missing_face_box_folder_is_a_clear_error(casia_release, tmp_path):
    dm = _make(casia_release, tmp_path, boxes=tmp_path / "no_boxes")
    with pytest.raises(DatasetNotFoundError, match=r"face_boxes folder .*no_boxes"):
        dm.prepare_data()


# ----------------------------------------------------------------- bad videos, faces
SMALL = ["train_release/1", "train_release/2", "train_release/3", "test_release/1"]


def test_a_corrupt_video_is_a_counted_failure(casia_release, tmp_path, capsys):
    root = _copy(casia_release, tmp_path, SMALL)
    (root / "test_release" / "1" / "5.avi").write_bytes(b"not a video at all" * 50)
    (root / "train_release" / "2" / "HR_2.avi").write_bytes(b"")
    dm = _make(root, tmp_path / "cache", meta_val_fraction=0.0)
    dm.prepare_data()
    assert dm.last_preprocess.counts.videos_failed == 2
    out = capsys.readouterr().out
    assert "2 failed" in out
    with pytest.raises(DatasetError, match=r"2 video\(s\) have no crop") as info:
        dm.setup("fit")
    assert "test_release/1/5 (unreadable_video)" in str(info.value)
    lenient = _make(root, tmp_path / "cache", meta_val_fraction=0.0, allow_missing_crops=True)
    with pytest.warns(DatasetWarning, match="excluding 2 video"):
        lenient.setup("fit")


def _edit_boxes(root, video, keep_lines=None, zero=False):
    path = root / FACE_BOX_FOLDER / f"{video}.face"
    lines = path.read_text().splitlines()
    if zero:
        lines = [f"{line.split()[0]} 0 0 0 0" for line in lines]
    if keep_lines is not None:
        lines = lines[:keep_lines]
    path.write_text("\n".join(lines) + "\n")


def test_frames_without_a_face_are_counted(casia_release, tmp_path):
    root = _copy(casia_release, tmp_path, SMALL)
    _edit_boxes(root, "test_release/1/3", zero=True)
    dm = _make(root, tmp_path / "cache", meta_val_fraction=0.0, detector_fallback=False)
    dm.prepare_data()
    counts = dm.last_preprocess.counts
    assert counts.frames_skipped["no_face"] == 3 and counts.videos_without_crops == 1
    with pytest.raises(DatasetError, match=r"test_release/1/3 \(no face found\)"):
        dm.setup("fit")


def test_frames_the_box_files_miss_go_to_the_detector_and_are_counted(casia_release, tmp_path):
    root = _copy(casia_release, tmp_path, SMALL)
    _edit_boxes(root, "train_release/1/7", keep_lines=1)  # frames 1, 2 unannotated
    (root / FACE_BOX_FOLDER / "test_release" / "1" / "HR_2.face").unlink()  # no file at all
    # With the fallback: dlib is asked and finds no face in these small synthetic attacks.
    dm = _make(root, tmp_path / "cache", meta_val_fraction=0.0)
    dm.prepare_data()
    counts = dm.last_preprocess.counts
    assert counts.videos_failed == 0
    assert counts.frames_skipped["no_face"] == 2 + 3
    assert counts.frames_skipped["no_annotation"] == 0
    index = dm.last_preprocess.index
    assert set(index["box_source"]) == {"boxes>dlib"}
    # Without it: the frames are counted as unannotated and the file-less video fails.
    strict = _make(root, tmp_path / "cache", meta_val_fraction=0.0, detector_fallback=False)
    strict.prepare_data()
    counts = strict.last_preprocess.counts
    assert counts.frames_skipped["no_annotation"] == 2 and counts.videos_failed == 1
    assert set(strict.last_preprocess.index["box_source"]) == {"boxes"}


# ----------------------------------------------------------------- Idiap's face-location tree
@pytest.fixture(scope="module")
def idiap_tree_release(tmp_path_factory):
    """A release whose box tree is in the format of bob.db.casia_fasd's face-locations/,
    frame 1 of every video marked faceless (``1 0 0 0 0``)."""
    return write_casia_fasd(
        tmp_path_factory.mktemp("casia_idiap") / "CASIA-FASD",
        subjects_per_split=(2, 1),
        n_frames=3,
        size=64,
        face_box_folder="face-locations",
        faceless_frames=[1],
    ).root


def test_the_fake_writer_writes_idiaps_face_location_tree(idiap_tree_release):
    tree = idiap_tree_release / "face-locations"
    files = sorted(p.relative_to(tree).as_posix() for p in tree.rglob("*"))
    expected = sorted(
        [
            f"{folder}/{s}"
            for folder, n in (("train_release", 2), ("test_release", 1))
            for s in range(1, n + 1)
        ]
        + [folder for folder in ("train_release", "test_release")]
        + [
            f"{f}/{s}/{name}.face"
            for f, n in (("train_release", 2), ("test_release", 1))
            for s in range(1, n + 1)
            for name in FILES
        ]
    )
    assert files == expected
    assert not (idiap_tree_release / FACE_BOX_FOLDER).exists()
    rows = [line.split() for line in (tree / "train_release/2/HR_1.face").read_text().splitlines()]
    assert [r[0] for r in rows] == ["0", "1", "2"] and all(len(r) == 5 for r in rows)
    assert rows[1] == ["1", "0", "0", "0", "0"] and all(int(v) > 0 for v in rows[0][3:])
    with pytest.raises(ConfigError, match="faceless_frames"):
        write_casia_fasd(idiap_tree_release.parent / "x", n_frames=3, faceless_frames=[3])
    with pytest.raises(ConfigError, match="face_box_folder"):
        write_casia_fasd(idiap_tree_release.parent / "y", face_box_folder="../boxes")


def test_idiaps_face_location_tree_is_read_unchanged(idiap_tree_release, tmp_path):
    tree = idiap_tree_release / "face-locations"
    strict = _make(
        idiap_tree_release, tmp_path, boxes=tree, meta_val_fraction=0.0, detector_fallback=False
    )
    strict.prepare_data()
    counts = strict.last_preprocess.counts
    n_videos = len(strict.jobs())
    # Every video keeps frames 0 and 2; its zero row (frame 1) is counted as faceless.
    assert counts.videos_failed == 0 and counts.videos_without_crops == 0
    assert counts.frames_skipped["no_face"] == n_videos
    assert counts.frames_written == 2 * n_videos
    index = strict.last_preprocess.index
    assert set(index["frame"]) == {0, 2} and set(index["box_source"]) == {"boxes"}
    # With the fallback the zero rows go to dlib (which finds no face in these small
    # synthetic frames): still counted, now with the detector as the box source.
    fallback = _make(idiap_tree_release, tmp_path / "fb", boxes=tree, meta_val_fraction=0.0)
    fallback.prepare_data()
    assert fallback.last_preprocess.counts.frames_skipped["no_face"] == n_videos
    assert set(fallback.last_preprocess.index["box_source"]) == {"boxes>dlib"}


# ----------------------------------------------------------------- dlib on real-size faces
def _iou(a, b):
    w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - w * h
    return w * h / union


def test_the_dlib_detector_finds_the_live_faces_of_larger_videos(tmp_path):
    """HOG needs faces of about 80 px: render 160 px videos (high quality only: 12 videos)."""
    from mtfas.synthetic.layouts import write_casia_fasd

    root = write_casia_fasd(tmp_path / "big", subjects_per_split=[2, 1], n_frames=2, size=160).root
    dm = _make(
        root,
        tmp_path / "cache",
        boxes=None,
        quality="high",
        meta_val_fraction=0.0,
        dev_fraction=0.5,
        n_frames=2,
    )
    assert dm.cache_tag() == "casia-dlib"
    dm.prepare_data()
    result = dm.last_preprocess
    assert result.counts.videos_total == 12 and result.counts.videos_failed == 0
    index = result.index
    live = index[index["video"].str.endswith("HR_1")]
    assert len(live) == 3 * 2 and (live["status"] == "ok").all()
    assert set(live["source"]) == {"dlib"}
    for row in live.itertuples():
        true = np.loadtxt(root / FACE_BOX_FOLDER / f"{row.video}.face", ndmin=2)[row.frame]
        x, y, w, h = true[1:]
        assert _iou((row.x1, row.y1, row.x2, row.y2), (x, y, x + w, y + h)) > 0.4
    # The detector misses most synthetic attacks: counted, never dropped silently.
    counts = result.counts
    skipped = counts.frames_skipped["no_face"]
    assert counts.frames_written == len(index) and skipped > 0
    assert counts.frames_written + skipped == counts.frames_sampled == 24
