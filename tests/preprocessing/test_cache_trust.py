"""The cache cannot serve stale or corrupt crops, and a crash at any write leaves it repairable."""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import shutil
import zlib
from pathlib import Path

import numpy as np
import pytest

from mtfas.errors import CacheError
from mtfas.preprocessing import (
    CropCache,
    EyePositionFile,
    FaceBoxFile,
    PreprocessSettings,
    VideoJob,
    preprocess,
)
from mtfas.preprocessing import cache as cache_module
from mtfas.preprocessing.cache import crop_file, part_file, rebuild_index

SETTINGS = PreprocessSettings(size=16, scale=1.3, sampling="every", every_n=2)


def _copy_dataset(dataset, root: Path) -> dict[str, Path]:
    shutil.copytree(dataset.root, root)
    return {video: root / path.relative_to(dataset.root) for video, path in dataset.videos.items()}


def _jobs(videos: dict[str, Path], source=None) -> list[VideoJob]:
    source = source or FaceBoxFile()
    return [VideoJob(video, path, source) for video, path in videos.items()]


def _run(videos, root: Path, **kwargs):
    return preprocess(_jobs(videos), SETTINGS, root, progress=False, **kwargs)


def _cache_bytes(cache_dir: Path) -> dict[str, bytes]:
    """Every file of a cache that does not depend on when it was written."""
    files = {}
    for path in sorted(cache_dir.rglob("*")):
        relative = path.relative_to(cache_dir).as_posix()
        if path.is_file() and not relative.startswith("parts/") and relative != ".lock":
            files[relative] = path.read_bytes()
    return files


def _parts_without_stats(cache_dir: Path) -> dict[str, object]:
    """The parts with the modification times (which differ between runs) left out."""
    parts = {}
    for path in sorted((cache_dir / "parts").rglob("*.json")):
        part = json.loads(path.read_text())
        part["crops"].pop("mtime_ns")
        for source in part["sources"]:
            source.pop("mtime_ns")
        parts[path.relative_to(cache_dir).as_posix()] = part
    return parts


# ---------------------------------------------------------------- stale sources
def test_part_records_sources_and_crop_checksum(dataset, tmp_path: Path) -> None:
    result = _run(dataset.videos, tmp_path / "cache")
    path = dataset.videos["live/v0"]
    part = json.loads((result.cache_dir / part_file("live/v0")).read_text())
    video, annotation = part["sources"]
    assert (video["role"], video["path"]) == ("video", str(path))
    assert video["size"] == path.stat().st_size
    assert video["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    face = path.with_suffix(".face")
    assert annotation["sha256"] == hashlib.sha256(face.read_bytes()).hexdigest()
    crops = (result.cache_dir / crop_file("live/v0")).read_bytes()
    assert part["crops"]["crc32"] == zlib.crc32(crops) and part["crops"]["size"] == len(crops)


@pytest.mark.parametrize(
    "array",
    [
        np.arange(2 * 5 * 4 * 3, dtype=np.uint8).reshape(2, 5, 4, 3),
        np.arange(24, dtype=np.float32).reshape(4, 6)[:, ::2],  # not contiguous
        np.zeros((0, 8, 8, 3), np.uint8),
    ],
)
def test_write_array_record_is_the_crc_of_the_file(array: np.ndarray, tmp_path: Path) -> None:
    path = tmp_path / "a.npy"
    record = cache_module.write_array(path, array)
    raw = path.read_bytes()
    assert record["crc32"] == zlib.crc32(raw) == cache_module.file_crc32(path)
    assert record["size"] == len(raw)
    np.testing.assert_array_equal(np.load(path), array)


def test_zeroed_annotation_is_recomputed_and_fixing_it_too(dataset, tmp_path: Path) -> None:
    videos = _copy_dataset(dataset, tmp_path / "data")
    reference = _run(videos, tmp_path / "ref")
    face = videos["live/v1"].with_suffix(".face")
    good = face.read_bytes()
    face.write_text("0 0 0 0\n" * dataset.n_frames)
    broken = _run(videos, tmp_path / "ref")
    assert broken.counts.recomputed == {
        "live/v1": f"annotation file {face} changed (size {len(good)} -> {face.stat().st_size})"
    }
    assert broken.counts.videos_without_crops == 1 and "live/v1" not in set(broken.index.video)
    assert "recomputed 1 video(s)" in broken.summary()
    # Fixing the file and running again brings the crops back (the "no face" is not reused).
    face.write_bytes(good)
    fixed = _run(videos, tmp_path / "ref")
    assert list(fixed.counts.recomputed) == ["live/v1"]
    assert fixed.index.equals(reference.index)
    assert _cache_bytes(fixed.cache_dir) == _cache_bytes(reference.cache_dir)


def test_truncated_then_restored_video_is_recomputed(dataset, tmp_path: Path) -> None:
    videos = _copy_dataset(dataset, tmp_path / "data")
    path = videos["live/v2"]
    good = path.read_bytes()
    path.write_bytes(good[: len(good) * 2 // 3])
    truncated = _run(videos, tmp_path / "cache")
    written = truncated.counts.frames_written
    path.write_bytes(good)
    restored = _run(videos, tmp_path / "cache")
    assert list(restored.counts.recomputed) == ["live/v2"]
    assert "video file" in restored.counts.recomputed["live/v2"]
    assert restored.counts.frames_written > written
    assert restored.counts.frames_skipped["unreadable_frame"] == 0


def test_same_size_edit_is_found_by_the_hash_and_touch_is_not_a_change(
    dataset, tmp_path: Path
) -> None:
    videos = _copy_dataset(dataset, tmp_path / "data")
    _run(videos, tmp_path / "cache")
    face = videos["live/v3"].with_suffix(".face")
    text = face.read_text()
    # A touch (new mtime, same content) keeps the crops and refreshes the record.
    face.write_text(text)
    touched = _run(videos, tmp_path / "cache")
    assert touched.counts.recomputed == {} and touched.counts.videos_reused == 4
    part = json.loads((touched.cache_dir / part_file("live/v3")).read_text())
    assert part["sources"][1]["mtime_ns"] == face.stat().st_mtime_ns
    # Same size, other content: the hash sees it.
    face.write_text(text.replace("40", "41", 1))
    assert face.stat().st_size == len(text)
    edited = _run(videos, tmp_path / "cache")
    assert edited.counts.recomputed == {"live/v3": f"annotation file {face} changed (content)"}


def test_resynthesised_release_at_the_same_path(synth, tmp_path: Path) -> None:
    data = synth.make_dataset(tmp_path / "data", n_videos=3, n_frames=8)
    _run(data.videos, tmp_path / "cache")
    # The same release written again (same content, new mtimes) is reused ...
    synth.make_dataset(tmp_path / "data", n_videos=3, n_frames=8)
    same = _run(data.videos, tmp_path / "cache")
    assert same.counts.recomputed == {} and same.counts.videos_reused == 3
    # ... another release at the same path (other frames) is recomputed.
    shutil.rmtree(tmp_path / "data")
    other = synth.make_dataset(tmp_path / "data", n_videos=3, n_frames=10)
    again = _run(other.videos, tmp_path / "cache")
    assert sorted(again.counts.recomputed) == sorted(other.videos)
    assert again.counts.frames_sampled == 3 * 5


def test_stale_videos_can_be_reported_instead(dataset, tmp_path: Path) -> None:
    videos = _copy_dataset(dataset, tmp_path / "data")
    _run(videos, tmp_path / "cache")
    face = videos["live/v0"].with_suffix(".face")
    face.write_text(face.read_text() + "\n1 2 3 4\n")
    with pytest.raises(CacheError, match=r"live/v0: annotation file .*v0\.face changed"):
        _run(videos, tmp_path / "cache", on_stale="error")
    assert _run(videos, tmp_path / "cache").counts.recomputed.keys() == {"live/v0"}


def test_eye_file_sources_are_recorded(tmp_path: Path, synth) -> None:
    path = synth.write_video(tmp_path / "v.avi", [synth.draw_frame(f) for f in range(4)])
    path.with_suffix(".txt").write_text("".join(f"{f} 50 60 70 60\n" for f in range(4)))
    job = VideoJob("v", path, EyePositionFile())
    preprocess([job], SETTINGS, tmp_path / "cache", progress=False)
    path.with_suffix(".txt").write_text("".join(f"{f} 0 0 0 0\n" for f in range(4)))
    again = preprocess([job], SETTINGS, tmp_path / "cache", progress=False)
    assert "annotation file" in again.counts.recomputed["v"]
    assert again.counts.videos_without_crops == 1


# ---------------------------------------------------------------- damaged crop files
def _damage(cache_dir: Path, video: str, how: str) -> Path:
    path = cache_dir / crop_file(video)
    if how == "garbage":  # same shape, other pixels
        shape = np.load(path, mmap_mode="r").shape
        np.save(path, np.full(shape, 7, np.uint8))
    elif how == "truncated":
        data = path.read_bytes()
        path.write_bytes(data[: len(data) // 2])
    else:
        path.unlink()
    return path


@pytest.mark.parametrize("how", ["garbage", "truncated", "deleted"])
def test_damaged_crop_file_is_named_when_read_and_repaired_by_the_next_run(
    dataset, tmp_path: Path, how: str
) -> None:
    reference = _run(dataset.videos, tmp_path / "ref")
    result = _run(dataset.videos, tmp_path / "cache")
    path = _damage(result.cache_dir, "live/v2", how)
    cache = CropCache(result.cache_dir)
    assert np.array_equal(cache.load("live/v1"), reference.open().load("live/v1"))
    word = {"garbage": "CRC-32", "truncated": "truncated", "deleted": "missing"}[how]
    with pytest.raises(CacheError, match=rf"{path}.*{word}.*run preprocess\(\)"):
        cache.load("live/v2")
    repaired = _run(dataset.videos, tmp_path / "cache")
    assert list(repaired.counts.recomputed) == ["live/v2"]
    assert str(path) in repaired.counts.recomputed["live/v2"]
    assert _cache_bytes(repaired.cache_dir) == _cache_bytes(reference.cache_dir)
    # Repaired for good: the next run reuses everything, reading works.
    assert _run(dataset.videos, tmp_path / "cache").counts.recomputed == {}
    assert np.array_equal(
        CropCache(result.cache_dir).load("live/v2"), reference.open().load("live/v2")
    )


@pytest.mark.parametrize("threads", [1, 2, 4])
@pytest.mark.parametrize("how", ["garbage", "truncated", "deleted"])
def test_verify_videos_checks_every_file_in_threads_and_names_the_first_damaged(
    dataset, tmp_path: Path, how: str, threads: int
) -> None:
    result = _run(dataset.videos, tmp_path / "cache")
    videos = sorted(dataset.videos)
    damaged = [_damage(result.cache_dir, video, how) for video in videos[-2:]]
    cache = CropCache(result.cache_dir)
    with pytest.raises(CacheError, match=str(damaged[0])) as raised:
        cache.verify_videos([*videos, "not/a/video"], threads=threads)
    assert str(damaged[1]) not in str(raised.value)
    # Every sound file was opened and verified (its first read costs no check again) ...
    sound = videos[:-2]
    assert set(cache._verified) >= {crop_file(video) for video in sound}
    for video in sound:
        assert np.array_equal(cache.load(video), np.load(result.cache_dir / crop_file(video)))
    # ... and only the videos asked for are: a fresh cache checking a subset opens nothing else.
    fresh = CropCache(result.cache_dir)
    fresh.verify_videos(videos[:1], threads=threads)
    assert set(fresh._arrays) == {crop_file(videos[0])}


def test_verify_videos_reads_npy_headers_only_in_the_calling_thread(
    dataset, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # NumPy parses .npy headers with ast.literal_eval, whose compiler is not thread-safe in
    # CPython 3.11 ("AST constructor recursion depth mismatch"): only the checksums may run
    # in the worker threads.
    import threading

    result = _run(dataset.videos, tmp_path / "cache")
    loaded_in: list[str] = []
    summed_in: list[str] = []
    real_load, real_crc = np.load, cache_module.file_crc32

    def load(*args, **kwargs):
        loaded_in.append(threading.current_thread().name)
        return real_load(*args, **kwargs)

    def crc(path):
        summed_in.append(threading.current_thread().name)
        return real_crc(path)

    monkeypatch.setattr(cache_module.np, "load", load)
    monkeypatch.setattr(cache_module, "file_crc32", crc)
    CropCache(result.cache_dir).verify_videos(sorted(dataset.videos), threads=4)
    main = threading.main_thread().name
    assert len(loaded_in) == len(dataset.videos) and set(loaded_in) == {main}
    assert len(summed_in) == len(dataset.videos) and main not in summed_in


def test_same_stat_garbage_is_found_by_full_verify(dataset, tmp_path: Path) -> None:
    result = _run(dataset.videos, tmp_path / "cache")
    path = result.cache_dir / crop_file("live/v0")
    stat = path.stat()
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF
    path.write_bytes(bytes(data))
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # hide the edit from stat
    assert _run(dataset.videos, tmp_path / "cache").counts.recomputed == {}
    with pytest.raises(CacheError, match="CRC-32"):
        CropCache(result.cache_dir).load("live/v0")
    full = _run(dataset.videos, tmp_path / "cache", verify="full")
    assert "checksum mismatch" in full.counts.recomputed["live/v0"]


def test_verification_survives_pickling_without_rehashing(dataset, tmp_path, monkeypatch):
    result = _run(dataset.videos, tmp_path / "cache")
    cache = CropCache(result.cache_dir)
    cache.load("live/v0")
    calls = []
    monkeypatch.setattr(cache_module, "file_crc32", lambda p: calls.append(p) or 0)
    copy = pickle.loads(pickle.dumps(cache))
    copy.load("live/v0")
    assert calls == []
    with pytest.raises(CacheError, match="CRC-32"):
        copy.load("live/v1")  # not verified yet: checked (and the fake CRC differs)


# ---------------------------------------------------------------- kill windows
class Crash(BaseException):
    """A simulated kill (not an Exception, so nothing on the way catches it)."""


def _count_writes(monkeypatch) -> list[str]:
    names: list[str] = []
    real = cache_module.atomic_write

    def counting(path, write):
        names.append(Path(path).name)
        real(path, write)

    monkeypatch.setattr(cache_module, "atomic_write", counting)
    return names


@pytest.fixture(scope="module")
def kill_reference(tmp_path_factory, dataset):
    """A clean run of protocol 1 (videos 0, 1) and then protocol 2 (all four videos)."""
    root = tmp_path_factory.mktemp("kill_ref")
    first = {v: p for v, p in dataset.videos.items() if v in ("live/v0", "live/v1")}
    _run(first, root)
    result = _run(dataset.videos, root)
    return result, _cache_bytes(result.cache_dir), _parts_without_stats(result.cache_dir)


def test_protocol_2_killed_before_the_index_is_complete_on_the_next_run(
    dataset, tmp_path: Path, monkeypatch, kill_reference
) -> None:
    # Issue 11's case: protocol 1 filled the cache, protocol 2 was killed after writing
    # its parts but before rewriting index.csv.
    first = {v: p for v, p in dataset.videos.items() if v in ("live/v0", "live/v1")}
    _run(first, tmp_path)
    real = cache_module.write_if_changed

    def crash_at_index(path, table):
        raise Crash

    monkeypatch.setattr(cache_module, "write_if_changed", crash_at_index)
    import mtfas.preprocessing.pipeline as pipeline

    monkeypatch.setattr(pipeline, "write_if_changed", crash_at_index)
    with pytest.raises(Crash):
        _run(dataset.videos, tmp_path)
    cache_dir = SETTINGS.cache_dir(tmp_path)
    assert len(CropCache(cache_dir).videos) == 4  # the reader builds its index from parts
    monkeypatch.setattr(pipeline, "write_if_changed", real)
    again = _run(dataset.videos, tmp_path)
    assert again.counts.videos_reused == 4 and again.counts.videos_failed == 0
    _, files, parts = kill_reference
    assert _cache_bytes(cache_dir) == files and _parts_without_stats(cache_dir) == parts


def test_a_crash_at_every_write_is_repaired_by_the_next_run(
    dataset, tmp_path: Path, monkeypatch, kill_reference
) -> None:
    first = {v: p for v, p in dataset.videos.items() if v in ("live/v0", "live/v1")}
    names = _count_writes(monkeypatch)
    _run(first, tmp_path / "count")
    names.clear()
    _run(dataset.videos, tmp_path / "count")
    # Protocol 2 writes crops and part of v2 and v3, then the index and failures
    # (skipped.csv is left alone: no frame is skipped, so its content does not change).
    assert names == ["v2.npy", "v2.json", "v3.npy", "v3.json", "index.csv", "failures.csv"]
    real = cache_module.atomic_write
    _, files, parts = kill_reference
    for step in range(len(names)):
        for when in ("before", "after"):
            root = tmp_path / f"{step}-{when}"
            monkeypatch.setattr(cache_module, "atomic_write", real)
            _run(first, root)
            calls = []

            def crashing(path, write, step=step, when=when, calls=calls):
                calls.append(path)
                if len(calls) - 1 == step and when == "before":
                    raise Crash
                real(path, write)
                if len(calls) - 1 == step:
                    raise Crash

            monkeypatch.setattr(cache_module, "atomic_write", crashing)
            with pytest.raises(Crash):
                _run(dataset.videos, root)
            monkeypatch.setattr(cache_module, "atomic_write", real)
            again = _run(dataset.videos, root)
            assert again.counts.videos_done == 4 and again.counts.videos_failed == 0, (step, when)
            cache_dir = SETTINGS.cache_dir(root)
            assert _cache_bytes(cache_dir) == files, (step, when, names[step])
            assert _parts_without_stats(cache_dir) == parts, (step, when)


def test_rebuild_index_from_the_parts(dataset, tmp_path: Path) -> None:
    result = _run(dataset.videos, tmp_path)
    expected = (result.cache_dir / "index.csv").read_bytes()
    (result.cache_dir / "index.csv").unlink()
    (result.cache_dir / "skipped.csv").write_text("garbage")
    index, _ = rebuild_index(result.cache_dir)
    assert (result.cache_dir / "index.csv").read_bytes() == expected
    assert index.equals(result.index)
