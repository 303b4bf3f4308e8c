from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mtfas.errors import AnnotationError, CacheError, ConfigError, VideoReadError
from mtfas.preprocessing import (
    CropCache,
    FaceBoxFile,
    PreprocessSettings,
    VideoJob,
    preprocess,
)
from mtfas.preprocessing.cache import cache_lock, prepare_cache_dir

EVERY = PreprocessSettings(size=32, scale=1.0, sampling="every", every_n=1)


def _jobs(dataset, source=None) -> list[VideoJob]:
    source = source or FaceBoxFile()
    return [VideoJob(video, path, source) for video, path in dataset.videos.items()]


def test_crops_land_on_the_annotated_box(dataset, synth, tmp_path: Path) -> None:
    result = preprocess(_jobs(dataset), EVERY, tmp_path, progress=False)
    counts = result.counts
    assert counts.videos_done == 4 and counts.frames_written == 4 * dataset.n_frames
    assert sum(counts.frames_skipped.values()) == 0 and counts.failures == []
    cache = CropCache(result.cache_dir)
    assert cache.index.equals(result.index)
    for column in ("video", "frame", "x1", "y1", "x2", "y2", "file", "offset"):
        assert column in cache.index.columns
    for i, row in cache.index.iterrows():
        assert (row.x1, row.y1, row.x2, row.y2) == synth.box_of(row.frame)
        crop = cache.crop(i)
        assert crop.shape == (32, 32, 3)
        # The crop is the red patch only: the box moves 3 px per frame, so a crop taken
        # with another frame's box would include grey or skin pixels.
        assert np.abs(crop[2:-2, 2:-2].astype(int) - synth.PATCH).max() < 40
    array = np.load(result.cache_dir / "crops/live/v1.npy", mmap_mode="r")
    assert array.shape == (dataset.n_frames, 32, 32, 3) and array.dtype == np.uint8
    assert np.array_equal(array, cache.load("live/v1"))
    assert np.array_equal(pd.read_csv(result.cache_dir / "index.csv")["frame"], cache.index.frame)
    copy = pickle.loads(pickle.dumps(cache))  # e.g. into DataLoader workers
    assert np.array_equal(copy.crop(5), cache.crop(5))


def test_enlarged_crop_has_face_in_the_middle(dataset, synth, tmp_path: Path) -> None:
    settings = PreprocessSettings(size=64, scale=2.0, sampling="even", n_frames=3)
    result = preprocess(_jobs(dataset)[:1], settings, tmp_path, progress=False)
    crops = result.open().load("live/v0")
    centre = crops[:, 22:42, 22:42].astype(int)
    assert np.abs(centre - synth.PATCH).max() < 40
    assert np.abs(crops[:, :4, :4].astype(int) - synth.BACKGROUND).max() < 40


def test_sampling_every_n_and_even(dataset, tmp_path: Path) -> None:
    jobs = _jobs(dataset)[:2]
    every = PreprocessSettings(size=16, sampling="every", every_n=5)
    result = preprocess(jobs, every, tmp_path, progress=False)
    assert result.index.groupby("video")["frame"].apply(list).to_dict() == {
        "live/v0": [0, 5, 10],
        "live/v1": [0, 5, 10],
    }
    even = PreprocessSettings(size=16, sampling="even", n_frames=4)
    result = preprocess(jobs, even, tmp_path, progress=False)
    assert list(result.index[result.index.video == "live/v0"].frame) == [1, 4, 7, 10]
    assert list(result.index.offset[result.index.video == "live/v0"]) == [0, 1, 2, 3]


def test_settings_key_separates_caches(dataset, tmp_path: Path) -> None:
    jobs = _jobs(dataset)[:1]
    small = PreprocessSettings(size=16, sampling="even", n_frames=2)
    large = PreprocessSettings(size=24, sampling="even", n_frames=2)
    first = preprocess(jobs, small, tmp_path, progress=False)
    second = preprocess(jobs, large, tmp_path, progress=False)
    assert first.cache_dir != second.cache_dir
    assert first.cache_dir.name == f"crops16_{small.key()}"
    assert CropCache(first.cache_dir).load("live/v0").shape == (2, 16, 16, 3)
    assert CropCache(second.cache_dir).load("live/v0").shape == (2, 24, 24, 3)
    assert PreprocessSettings.from_json((first.cache_dir / "settings.json").read_text()) == small
    again = preprocess(jobs, small, tmp_path, progress=False)
    assert again.counts.videos_reused == 1 and again.index.equals(first.index)


def test_settings_json_mismatch_is_refused(dataset, tmp_path: Path) -> None:
    settings = PreprocessSettings(size=16, n_frames=2)
    result = preprocess(_jobs(dataset)[:1], settings, tmp_path, progress=False)
    other = PreprocessSettings(size=16, n_frames=3).to_json()
    (result.cache_dir / "settings.json").write_text(other)
    with pytest.raises(CacheError, match="other settings"):
        preprocess(_jobs(dataset)[:1], settings, tmp_path, progress=False)


def test_skipped_frames_are_counted_by_reason(synth, tmp_path: Path) -> None:
    path = synth.write_video(tmp_path / "data" / "v.avi", [synth.draw_frame(f) for f in range(10)])
    # Frames 2 and 3 have a zero box, frames 8 and 9 have no line at all.
    synth.write_face_file(path.with_suffix(".face"), 8, zero=(2, 3))
    settings = PreprocessSettings(size=16, sampling="every")
    result = preprocess([VideoJob("v", path, FaceBoxFile())], settings, tmp_path, progress=False)
    counts = result.counts
    assert counts.frames_sampled == 10 and counts.frames_written == 6
    assert counts.frames_skipped == {
        "no_annotation": 2,
        "no_face": 2,
        "bad_box": 0,
        "unreadable_frame": 0,
    }
    assert list(result.skipped.frame) == [2, 3, 8, 9]
    assert list(result.skipped.status) == ["no_face"] * 2 + ["no_annotation"] * 2
    assert list(result.index.offset) == list(range(6))
    summary = result.summary()
    assert "6 written" in summary and "no annotation: 2" in summary and "no face: 2" in summary
    assert list(CropCache(result.cache_dir).skipped.frame) == [2, 3, 8, 9]


def _broken_jobs(dataset, tmp_path: Path) -> list[VideoJob]:
    garbage = tmp_path / "bad" / "garbage.avi"
    garbage.parent.mkdir()
    garbage.write_bytes(np.random.default_rng(1).integers(0, 256, 8192, np.uint8).tobytes())
    empty = tmp_path / "bad" / "empty.avi"
    empty.write_bytes(b"")
    source = FaceBoxFile()
    return [
        *_jobs(dataset)[:1],
        VideoJob("bad/garbage", garbage, source),
        VideoJob("bad/empty", empty, source),
        VideoJob("bad/missing", tmp_path / "bad" / "missing.avi", source),
    ]


def test_corrupt_empty_and_missing_videos_are_counted(dataset, tmp_path: Path) -> None:
    settings = PreprocessSettings(size=16, n_frames=2)
    result = preprocess(_broken_jobs(dataset, tmp_path), settings, tmp_path, progress=False)
    counts = result.counts
    assert (counts.videos_done, counts.videos_failed) == (1, 3)
    reasons = {f.video: f.reason for f in counts.failures}
    assert reasons == {
        "bad/garbage": "unreadable_video",
        "bad/empty": "empty_video",
        "bad/missing": "unreadable_video",
    }
    for failure in counts.failures:
        assert Path(failure.path).name in failure.message
    summary = result.summary()
    assert "3 failed" in summary and "garbage.avi" in summary and "empty.avi" in summary
    table = pd.read_csv(result.cache_dir / "failures.csv")
    assert list(table.video) == ["bad/garbage", "bad/empty", "bad/missing"]


def test_strict_mode_raises_naming_the_file(dataset, tmp_path: Path) -> None:
    settings = PreprocessSettings(size=16, n_frames=2)
    with pytest.raises(VideoReadError, match=r"garbage\.avi"):
        preprocess(_broken_jobs(dataset, tmp_path), settings, tmp_path, False, strict=True)


def test_video_with_zero_frames(synth, tmp_path: Path) -> None:
    path = synth.write_video(tmp_path / "zero.avi", [])
    job = VideoJob("zero", path, FaceBoxFile(missing_ok=True))
    result = preprocess([job], EVERY, tmp_path, progress=False)
    (failure,) = result.counts.failures
    assert failure.reason == "empty_video" and "zero.avi" in failure.message


def test_bad_annotation_fails_the_video(synth, tmp_path: Path) -> None:
    path = synth.write_video(tmp_path / "v.avi", [synth.draw_frame(0)])
    path.with_suffix(".face").write_text("1 2 x 4\n")
    job = VideoJob("v", path, FaceBoxFile())
    result = preprocess([job], EVERY, tmp_path, progress=False)
    assert result.counts.failures[0].reason == "bad_annotation"
    assert "v.face, line 1" in result.counts.failures[0].message
    with pytest.raises(AnnotationError, match=r"v\.face"):
        preprocess([job], EVERY, tmp_path, progress=False, strict=True)


@pytest.mark.parametrize("start_method", ["fork", None])
def test_two_workers_match_in_process(dataset, tmp_path: Path, start_method) -> None:
    # None: the default (forkserver), whose server imports mtfas once (slow while the
    # package imports Lightning eagerly); fork: quick.
    settings = PreprocessSettings(size=24, scale=1.3, sampling="every", every_n=2)
    serial = preprocess(_jobs(dataset), settings, tmp_path / "a", workers=0, progress=False)
    parallel = preprocess(
        _jobs(dataset), settings, tmp_path / "b", 2, False, start_method=start_method
    )
    assert serial.index.equals(parallel.index)
    assert serial.counts == parallel.counts
    for video in dataset.videos:
        assert np.array_equal(serial.open().load(video), parallel.open().load(video))


def test_reused_part_of_another_box_source_is_refused(dataset, tmp_path: Path) -> None:
    settings = PreprocessSettings(size=16, n_frames=2)
    preprocess(_jobs(dataset)[:1], settings, tmp_path, progress=False)
    source = FaceBoxFile(missing_ok=True)
    source.describe = lambda: "other"  # type: ignore[method-assign]
    with pytest.raises(CacheError, match="box source"):
        preprocess(_jobs(dataset, source)[:1], settings, tmp_path, progress=False)


def test_job_validation(dataset, tmp_path: Path) -> None:
    path = dataset.videos["live/v0"]
    with pytest.raises(ConfigError, match="twice"):
        preprocess([VideoJob("a", path, FaceBoxFile())] * 2, EVERY, tmp_path, progress=False)
    for bad in ("", "/abs", "a/../b", "a//b", ".hidden"):
        with pytest.raises(ConfigError):
            VideoJob(bad, path, FaceBoxFile())


def test_concurrent_run_on_the_same_cache_is_refused(dataset, tmp_path: Path) -> None:
    settings = PreprocessSettings(size=16, n_frames=2)
    cache_dir = prepare_cache_dir(tmp_path, settings)
    with cache_lock(cache_dir), pytest.raises(CacheError, match="another process"):
        preprocess(_jobs(dataset)[:1], settings, tmp_path, progress=False)


def test_crop_cache_errors(tmp_path: Path) -> None:
    with pytest.raises(CacheError, match="not a preprocessing cache"):
        CropCache(tmp_path)
    settings = PreprocessSettings(size=16)
    settings.cache_dir(tmp_path).mkdir()
    (settings.cache_dir(tmp_path) / "settings.json").write_text(settings.to_json())
    with pytest.raises(CacheError, match="did not finish"):
        CropCache.for_settings(tmp_path, settings)


def test_truncated_video_counts_unreadable_frames(dataset, tmp_path: Path) -> None:
    data = dataset.videos["live/v0"].read_bytes()
    path = tmp_path / "v.avi"
    path.write_bytes(data[: len(data) * 2 // 3])  # header announces 12 frames
    path.with_suffix(".face").write_bytes(
        dataset.videos["live/v0"].with_suffix(".face").read_bytes()
    )
    result = preprocess([VideoJob("v", path, FaceBoxFile())], EVERY, tmp_path, progress=False)
    counts = result.counts
    assert counts.videos_done == 1 and 0 < counts.frames_written < 12
    assert counts.frames_skipped["unreadable_frame"] == 12 - counts.frames_written
    assert "unreadable frame" in result.summary()
