"""Workers fail like the main process, end with their parent; unreadable files are named."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from mtfas.errors import ConfigError, DatasetPermissionError
from mtfas.preprocessing import FaceBoxFile, Mirrored, PreprocessSettings, VideoJob, preprocess
from mtfas.preprocessing.cache import cache_lock
from mtfas.preprocessing.worker import _start_time

SETTINGS = PreprocessSettings(size=16, sampling="every", every_n=3)
REPO = Path(__file__).resolve().parents[2]


def _mirrored_jobs(dataset, tmp_path: Path) -> list[VideoJob]:
    wrong = FaceBoxFile(annotation_path=Mirrored(tmp_path / "elsewhere", tmp_path, ".face"))
    return [VideoJob(video, path, wrong) for video, path in dataset.videos.items()]


@pytest.mark.parametrize("start_method", ["fork", None])
def test_worker_error_is_the_error_of_zero_workers(dataset, tmp_path: Path, start_method) -> None:
    jobs = _mirrored_jobs(dataset, tmp_path)
    with pytest.raises(ConfigError) as serial:
        preprocess(jobs, SETTINGS, tmp_path / "a", workers=0, progress=False)
    with pytest.raises(ConfigError) as parallel:
        preprocess(jobs, SETTINGS, tmp_path / "b", 2, False, start_method=start_method)
    # The first video to fail depends on the scheduling; its message is the same.
    named = re.search(r"live/(v\d)\.avi is not under videos_root", str(parallel.value))
    assert named is not None, parallel.value
    assert str(parallel.value) == str(serial.value).replace("v0.avi", f"{named[1]}.avi")
    import multiprocessing

    assert multiprocessing.active_children() == []  # the pool's workers were stopped
    with cache_lock(SETTINGS.cache_dir(tmp_path / "b")):  # and the lock released
        pass


def test_preprocess_inside_worker_bootstrap_is_refused(monkeypatch) -> None:
    import multiprocessing

    monkeypatch.setattr(multiprocessing.current_process(), "_inheriting", True, raising=False)
    with pytest.raises(ConfigError, match=r'__name__ == \\?"__main__\\?"'):
        preprocess([], SETTINGS, "unused", progress=False)


_UNGUARDED = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from mtfas.preprocessing import FaceBoxFile, PreprocessSettings, VideoJob, preprocess

    root = Path(sys.argv[1])
    jobs = [VideoJob(p.stem, p, FaceBoxFile()) for p in sorted(root.glob("live/*.avi"))]
    preprocess(jobs, PreprocessSettings(size=16), root / "cache", workers=2, progress=False)
    """
)


def test_script_without_main_guard_gets_a_clear_error(dataset, tmp_path: Path) -> None:
    # Workers (forkserver) import the main script; without the guard they would run
    # preprocess() again. Before: BrokenProcessPool plus "another process is preprocessing".
    script = tmp_path / "script.py"
    script.write_text(_UNGUARDED)
    run = subprocess.run(
        [sys.executable, str(script), str(dataset.root)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
    )
    assert run.returncode != 0
    last = run.stderr.strip().splitlines()[-1]
    assert last.startswith("mtfas.errors.CacheError: a preprocessing worker process ended")
    assert "__main__" in last
    assert 'must be under `if __name__ == "__main__":`' in run.stderr  # the worker's error
    assert "another process is preprocessing" not in run.stderr


_SLOW = textwrap.dedent(
    """
    import json, multiprocessing, sys, threading, time
    from multiprocessing import forkserver, resource_tracker
    from pathlib import Path
    from mtfas.preprocessing import FaceBoxFile, PreprocessSettings, VideoJob, preprocess

    class Slow(FaceBoxFile):
        def locate(self, path, frames, images):
            time.sleep(0.5)
            return super().locate(path, frames, images)

    def report():
        while len(multiprocessing.active_children()) < 2:
            time.sleep(0.05)
        pids = {
            "workers": [p.pid for p in multiprocessing.active_children()],
            "others": [pid for pid in (forkserver._forkserver._forkserver_pid,
                                       resource_tracker._resource_tracker._pid) if pid],
        }
        print(json.dumps(pids), flush=True)

    if __name__ == "__main__":
        root = Path(sys.argv[1])
        jobs = [VideoJob(p.stem, p, Slow()) for p in sorted(root.glob("live/*.avi"))]
        threading.Thread(target=report, daemon=True).start()
        preprocess(jobs, PreprocessSettings(size=16), sys.argv[2], workers=2, progress=False)
    """
)


def _dead(pid: int) -> bool:
    return _start_time(pid) is None  # gone, or a zombie nobody reaped


def test_workers_end_when_the_parent_is_killed(synth, tmp_path: Path) -> None:
    data = synth.make_dataset(tmp_path / "data", n_videos=40, n_frames=4)
    script = tmp_path / "slow.py"
    script.write_text(_SLOW)
    cache_dir = PreprocessSettings(size=16).cache_dir(tmp_path / "cache")
    child = subprocess.Popen(
        [sys.executable, str(script), str(data.root), str(tmp_path / "cache")],
        stdout=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
    )
    try:
        pids = json.loads(child.stdout.readline())
        assert len(pids["workers"]) == 2
        deadline = time.monotonic() + 120  # the workers are busy once a part is written
        while not list(cache_dir.glob("parts/**/*.json")) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert list(cache_dir.glob("parts/**/*.json")), "the workers wrote nothing"
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=10)
        processes = [*pids["workers"], *pids["others"]]
        deadline = time.monotonic() + 15
        while not all(_dead(p) for p in processes) and time.monotonic() < deadline:
            time.sleep(0.1)
        alive = [p for p in processes if not _dead(p)]
        assert alive == [], f"processes left after the parent's SIGKILL: {alive}"
        count = len(list(cache_dir.glob("parts/**/*.json")))
        time.sleep(1.5)  # nothing writes into the cache any more
        assert len(list(cache_dir.glob("parts/**/*.json"))) == count < 40
    finally:
        if child.poll() is None:
            child.kill()


def test_unreadable_video_is_named_as_a_permission_problem(
    dataset, tmp_path: Path, monkeypatch
) -> None:
    # We run as root, for whom chmod does not take read permission away: the denial is
    # simulated by making open() of that one file raise PermissionError.
    import builtins

    denied = dataset.videos["live/v1"]
    real_open = builtins.open

    def fake_open(file, *args, **kwargs):
        if Path(file) == denied:
            raise PermissionError(13, "Permission denied", str(file))
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", fake_open)
    jobs = [VideoJob(v, p, FaceBoxFile()) for v, p in dataset.videos.items()]
    result = preprocess(jobs, SETTINGS, tmp_path, progress=False)
    (failure,) = result.counts.failures
    assert failure.video == "live/v1" and failure.reason == "permission_denied"
    assert f"permission denied reading {denied}" in failure.message
    assert "chmod" in failure.message and "corrupt" not in failure.message
    with pytest.raises(DatasetPermissionError, match="permission denied"):
        preprocess(jobs, SETTINGS, tmp_path, progress=False, strict=True)


def test_unreadable_folder_is_named_by_the_data_module(tmp_path: Path, monkeypatch) -> None:
    from mtfas.datamodules.video import VideoDataModule

    class Module(VideoDataModule):
        def box_source(self, video):
            return FaceBoxFile()

        def video_table(self, split):
            raise NotImplementedError

    folder = tmp_path / "Train_files"
    real_stat = Path.stat

    def fake_stat(self, *args, **kwargs):
        if self.parent == folder:
            raise PermissionError(13, "Permission denied", str(self))
        return real_stat(self, *args, **kwargs)

    monkeypatch.setattr(Path, "stat", fake_stat)
    module = Module(root=tmp_path)
    with pytest.raises(DatasetPermissionError, match=rf"permission denied reading {folder}"):
        module.video_file("Train_files/1_1_01_1")
