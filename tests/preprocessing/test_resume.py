"""Interrupted runs: a second run completes the cache exactly like one uninterrupted run."""

from __future__ import annotations

import multiprocessing
import os
import signal
import time
from pathlib import Path

import numpy as np
import pytest

from mtfas.preprocessing import FaceBoxFile, PreprocessSettings, VideoJob, preprocess

SETTINGS = PreprocessSettings(size=24, scale=1.3, sampling="every", every_n=3)


class Interrupting(FaceBoxFile):
    """Reads the same boxes as FaceBoxFile, but raises once ``limit`` videos are done."""

    def __init__(self, limit: int, delay: float = 0.0) -> None:
        super().__init__()
        self.limit = limit
        self.delay = delay
        self.videos: set[Path] = set()

    def locate(self, path, frames, images):
        self.videos.add(path)
        if len(self.videos) > self.limit:
            raise RuntimeError("simulated crash")
        time.sleep(self.delay)
        return super().locate(path, frames, images)


def _jobs(dataset, source) -> list[VideoJob]:
    return [VideoJob(video, path, source) for video, path in dataset.videos.items()]


def _assert_same_cache(first, second, videos) -> None:
    assert first.index.drop(columns=[]).equals(second.index)
    assert first.skipped.equals(second.skipped)
    a, b = first.counts, second.counts
    assert (a.videos_done, a.frames_written, a.frames_skipped) == (
        b.videos_done,
        b.frames_written,
        b.frames_skipped,
    )
    for video in videos:
        assert np.array_equal(first.open().load(video), second.open().load(video))
    assert (first.cache_dir / "index.csv").read_bytes() == (
        second.cache_dir / "index.csv"
    ).read_bytes()
    assert not list(second.cache_dir.rglob("*.tmp"))


def test_resume_after_an_exception(dataset, tmp_path: Path) -> None:
    reference = preprocess(_jobs(dataset, FaceBoxFile()), SETTINGS, tmp_path / "ref", False)
    with pytest.raises(RuntimeError, match="simulated crash"):
        preprocess(_jobs(dataset, Interrupting(limit=2)), SETTINGS, tmp_path / "run", False)
    cache_dir = SETTINGS.cache_dir(tmp_path / "run")
    assert len(list((cache_dir / "parts").rglob("*.json"))) == 2
    resumed = preprocess(_jobs(dataset, FaceBoxFile()), SETTINGS, tmp_path / "run", False)
    assert resumed.counts.videos_reused == 2
    _assert_same_cache(reference, resumed, dataset.videos)


def _run_slowly(jobs: list[VideoJob], root: Path) -> None:
    preprocess(jobs, SETTINGS, root, progress=False)


def test_resume_after_kill(synth, tmp_path: Path) -> None:
    data = synth.make_dataset(tmp_path / "data", n_videos=10, n_frames=9)
    reference = preprocess(_jobs(data, FaceBoxFile()), SETTINGS, tmp_path / "ref", False)

    # Run in a forked child (no re-import) that spends ~0.1 s per video, and SIGKILL it
    # once some videos are complete.
    root = tmp_path / "run"
    parts = SETTINGS.cache_dir(root) / "parts"
    child = multiprocessing.get_context("fork").Process(
        target=_run_slowly, args=(_jobs(data, Interrupting(limit=99, delay=0.1)), root)
    )
    child.start()
    deadline = time.monotonic() + 20
    while len(list(parts.rglob("*.json"))) < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    os.kill(child.pid, signal.SIGKILL)
    child.join()
    assert child.exitcode == -signal.SIGKILL
    done = len(list(parts.rglob("*.json")))
    assert 3 <= done < len(data.videos), "the run must be killed mid-way"

    # What a kill between the two writes of a video, or during a write, leaves behind.
    cache_dir = SETTINGS.cache_dir(root)
    np.save(cache_dir / "crops" / "live" / "v9.npy", np.zeros((1, 2, 2, 3), np.uint8))
    (cache_dir / "crops" / "live" / ".v8.npy.abc.tmp").write_bytes(b"partial")

    resumed = preprocess(_jobs(data, FaceBoxFile()), SETTINGS, root, progress=False)
    assert resumed.counts.videos_reused == done
    _assert_same_cache(reference, resumed, data.videos)
