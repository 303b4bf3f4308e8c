"""Running the preprocessing of many videos: resume, parallel workers, counts, summary."""

from __future__ import annotations

import itertools
import multiprocessing
import os
import sys
from collections import Counter
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import pandas as pd
from tqdm.auto import tqdm

from mtfas.errors import CacheError, ConfigError
from mtfas.preprocessing.boxes import Miss
from mtfas.preprocessing.cache import (
    FAILURES_FILE,
    INDEX_FILE,
    PART_COLUMNS,
    SKIPPED_FILE,
    STATUS_OK,
    CropCache,
    cache_lock,
    iter_parts,
    merge_parts,
    part_file,
    prepare_cache_dir,
    read_part,
    remove_temporaries,
    stale_reason,
    write_if_changed,
    write_part_record,
    write_table,
)
from mtfas.preprocessing.settings import PreprocessSettings
from mtfas.preprocessing.worker import (
    BackgroundWrites,
    VideoFailure,
    VideoJob,
    init_worker,
    job_record,
    job_sources,
    process_video,
)

#: Position of the status in a part's rows (:data:`PART_COLUMNS`).
STATUS_COLUMN = PART_COLUMNS.index("status")

#: Reasons a sampled frame gives no crop, with the words used in summaries.
SKIP_REASONS = {
    Miss.NO_ANNOTATION.value: "no annotation",
    Miss.NO_FACE.value: "no face",
    Miss.BAD_BOX.value: "degenerate box",
    Miss.UNREADABLE.value: "unreadable frame",
}


def _zero_skips() -> dict[str, int]:
    return dict.fromkeys(SKIP_REASONS, 0)


@dataclass
class PreprocessCounts:
    """What a :func:`preprocess` call achieved, over all the jobs it was given.

    Videos finished by an earlier (possibly interrupted) run count as done and also as
    reused, so a resumed run reports the same totals as an uninterrupted one.

    Attributes:
        videos_total: Jobs given.
        videos_done: Videos complete in the cache (processed now or reused).
        videos_reused: Of those, videos already complete before this call.
        videos_recomputed: Videos complete before this call whose crops no longer matched
            their sources or were damaged, processed again (see ``recomputed``).
        videos_failed: Videos that could not be processed (see ``failures``).
        videos_without_crops: Complete videos of which no sampled frame gave a crop.
        frames_sampled: Frames selected by the sampling, over the done videos.
        frames_written: Crops in the cache for the done videos.
        frames_skipped: Sampled frames without a crop, by reason (keys of
            :data:`SKIP_REASONS`).
        failures: One entry per failed video, with the error message.
        recomputed: ``{video: why}`` for the recomputed videos (e.g. ``"annotation file
            ... changed (content)"``, ``"crop file ... truncated"``).
    """

    videos_total: int = 0
    videos_done: int = 0
    videos_reused: int = 0
    videos_recomputed: int = 0
    videos_failed: int = 0
    videos_without_crops: int = 0
    frames_sampled: int = 0
    frames_written: int = 0
    frames_skipped: dict[str, int] = field(default_factory=_zero_skips)
    failures: list[VideoFailure] = field(default_factory=list)
    recomputed: dict[str, str] = field(default_factory=dict)

    def summary(self) -> str:
        """A multi-line, human-readable report for printing."""
        skipped = sum(self.frames_skipped.values())
        reasons = ", ".join(
            f"{SKIP_REASONS.get(key, key)}: {count}" for key, count in self.frames_skipped.items()
        )
        lines = [
            f"videos: {self.videos_done} of {self.videos_total} done "
            f"({self.videos_reused} already in the cache), {self.videos_failed} failed",
            f"frames: {self.frames_sampled} sampled, {self.frames_written} written, "
            f"{skipped} skipped ({reasons})",
        ]
        if self.videos_without_crops:
            lines.append(f"videos without any crop: {self.videos_without_crops}")
        if self.recomputed:
            lines.append(
                f"recomputed {len(self.recomputed)} video(s) whose cached crops no longer "
                "matched their files:"
            )
            lines.extend(f"  {video}: {why}" for video, why in self.recomputed.items())
        for failure in self.failures:
            lines.append(f"  failed {failure.video} [{failure.reason}]: {failure.message}")
        return "\n".join(lines)


@dataclass
class PreprocessResult:
    """Outcome of :func:`preprocess`.

    Attributes:
        cache_dir: The cache folder of the settings.
        settings: The settings used.
        index: Crops of the given jobs (columns as in :attr:`CropCache.index`), sorted by
            video and frame.
        skipped: Sampled frames of the given jobs without a crop; reason in ``status``.
        counts: Counts and failures.
    """

    cache_dir: Path
    settings: PreprocessSettings
    index: pd.DataFrame
    skipped: pd.DataFrame
    counts: PreprocessCounts

    def summary(self) -> str:
        """The counts' summary, headed by the cache folder."""
        return f"preprocessed into {self.cache_dir}\n{self.counts.summary()}"

    def open(self) -> CropCache:
        """Open the cache for reading."""
        return CropCache(self.cache_dir)


def preprocess(
    jobs: Iterable[VideoJob],
    settings: PreprocessSettings,
    cache_root: str | Path,
    workers: int | Callable[[int], int] = 0,
    progress: bool = True,
    strict: bool = False,
    start_method: str | None = None,
    on_stale: Literal["recompute", "error"] = "recompute",
    verify: Literal["stat", "full"] = "stat",
) -> PreprocessResult:
    """Crop the faces of videos into the cache of ``settings`` under ``cache_root``.

    Videos already complete in the cache are not processed again, so running again
    after an interruption finishes the job; failed videos are tried again. A complete
    video is reused only while its record matches (see :mod:`mtfas.preprocessing.cache`):
    the video file and its annotation files are the ones it was made from (size and
    modification time, else content hash), and its crop file is whole (size, and CRC-32
    when its modification time changed). Otherwise it is recomputed and named in
    ``counts.recomputed``. At the end ``index.csv`` and ``skipped.csv`` are rebuilt from
    the parts (covering every complete video in the cache, including ones from earlier
    calls with other jobs) and ``failures.csv`` is rewritten.

    Args:
        jobs: The videos, with unique ids.
        settings: Crop settings; they select the cache folder.
        cache_root: Folder that holds the caches of all settings.
        workers: Number of worker processes; 0 processes the videos in this process. A
            callable is given the number of videos left to process and returns it.
        progress: Show a tqdm progress bar.
        strict: Raise on the first video that cannot be processed instead of recording
            it in ``counts.failures``.
        start_method: multiprocessing start method of the workers. Default:
            ``"forkserver"`` where available (the server imports the worker code once,
            workers fork from it quickly), else ``"spawn"``. ``"fork"`` starts fastest
            but can deadlock OpenCV when the parent process has used its thread pool.
            Workers end themselves when this process dies.
        on_stale: ``"recompute"`` the videos whose cached crops no longer match their
            files, or ``"error"``: raise, naming them, and change nothing.
        verify: ``"stat"`` trusts size and modification time of unchanged files;
            ``"full"`` rehashes every source and checksums every crop file.

    Returns:
        The index of the jobs' crops and the counts.

    Raises:
        ConfigError: If video ids repeat, ``workers`` is negative, or preprocess() runs
            while a worker process imports the caller's main module.
        CacheError: If another process is writing to the same cache, or (``on_stale=
            "error"``) cached videos are stale.
        mtfas.errors.VideoReadError: In strict mode, for a corrupt, missing or empty
            video (the message names the file).
        mtfas.errors.AnnotationError: In strict mode, for a malformed annotation.
        mtfas.errors.DatasetPermissionError: In strict mode, for a file that may not be
            read.
    """
    _refuse_inside_worker_bootstrap()
    jobs = list(jobs)
    if not callable(workers) and workers < 0:
        raise ConfigError(f"workers must be >= 0, got {workers}")
    if on_stale not in ("recompute", "error") or verify not in ("stat", "full"):
        raise ConfigError(
            f"on_stale must be 'recompute' or 'error' and verify 'stat' or 'full', got "
            f"{on_stale!r} and {verify!r}"
        )
    seen: set[str] = set()
    for job in jobs:
        if job.video in seen:
            raise ConfigError(f"video id {job.video!r} appears twice in the jobs")
        seen.add(job.video)
    cache_dir = prepare_cache_dir(Path(cache_root), settings)
    with cache_lock(cache_dir):
        remove_temporaries(cache_dir)
        parts = _read_parts(cache_dir)
        todo, recomputed = _plan(jobs, settings, cache_dir, parts, verify == "full")
        if recomputed and on_stale == "error":
            listed = "; ".join(f"{v}: {why}" for v, why in recomputed.items())
            raise CacheError(
                f"{len(recomputed)} cached video(s) in {cache_dir} no longer match their "
                f"files: {listed}. Run with on_stale='recompute' to recompute them."
            )
        n_workers = workers(len(todo)) if callable(workers) else workers
        if n_workers < 0:
            raise ConfigError(f"workers must be >= 0, got {n_workers}")
        bar = tqdm(
            total=len(jobs),
            initial=len(jobs) - len(todo),
            desc="preprocess",
            unit="video",
            disable=not progress,
            dynamic_ncols=True,
        )
        failures: dict[str, VideoFailure] = {}

        def record(job: VideoJob, failure: VideoFailure | None) -> None:
            bar.update(1)
            if failure is None:
                return
            if strict:
                raise failure.to_error()
            failures[job.video] = failure
            bar.set_postfix(failed=len(failures))

        try:
            if n_workers == 0:
                with BackgroundWrites() as writes:
                    for job in todo:
                        record(job, process_video(job, settings, cache_dir, writes))
            else:
                _run_parallel(todo, settings, cache_dir, n_workers, start_method, record)
        finally:
            bar.close()
        for job in todo:
            parts.pop(job.video, None)
            path = cache_dir / part_file(job.video)
            if path.exists():
                parts[job.video] = read_part(path)
        return _finish(jobs, todo, settings, cache_dir, parts, failures, recomputed)


def _refuse_inside_worker_bootstrap() -> None:
    """Raise if called while a new process imports the main module (no main guard)."""
    if getattr(multiprocessing.current_process(), "_inheriting", False):
        main = getattr(sys.modules.get("__main__"), "__file__", "the main script")
        raise ConfigError(
            f"preprocess() was called while a worker process was importing {main}: "
            "worker processes import the main script, so the code that starts "
            'preprocessing (or training) must be under `if __name__ == "__main__":`; '
            "or use 0 workers"
        )


def _read_parts(cache_dir: Path) -> dict[str, dict[str, Any]]:
    """All readable parts of the cache; unreadable ones are deleted (recomputed if asked)."""
    parts = {}
    for video, path in iter_parts(cache_dir):
        try:
            parts[video] = read_part(path)
        except CacheError:
            path.unlink()  # ours, written atomically: only an outside edit damages one
    return parts


def _plan(
    jobs: list[VideoJob],
    settings: PreprocessSettings,
    cache_dir: Path,
    parts: dict[str, dict[str, Any]],
    full: bool,
) -> tuple[list[VideoJob], dict[str, str]]:
    """The jobs to process, and why each previously complete one is recomputed."""
    todo: list[VideoJob] = []
    recomputed: dict[str, str] = {}
    for job in jobs:
        part = parts.get(job.video)
        if part is None:
            todo.append(job)
            continue
        expected = job_record(job, settings)
        if part.get("box_source") != expected["box_source"]:
            raise CacheError(
                f"video {job.video!r} is in {cache_dir} with box source "
                f"{[part.get('box_source')]}, now asked with {expected['box_source']!r}; use "
                "another settings.tag for another box source, or delete the cache folder"
            )
        reason, refreshed = stale_reason(cache_dir, part, expected, job_sources(job), full)
        if reason is not None:
            todo.append(job)
            recomputed[job.video] = reason
        elif refreshed is not None:
            write_part_record(cache_dir, refreshed)
            parts[job.video] = refreshed
    return todo, recomputed


def _run_parallel(
    todo: list[VideoJob],
    settings: PreprocessSettings,
    cache_dir: Path,
    workers: int,
    start_method: str | None,
    record: Callable[[VideoJob, VideoFailure | None], None],
) -> None:
    """Process the jobs in a process pool, calling ``record`` as each one ends."""
    if not todo:
        return
    if start_method is None:
        methods = multiprocessing.get_all_start_methods()
        start_method = "forkserver" if "forkserver" in methods else "spawn"
    context = multiprocessing.get_context(start_method)
    if start_method == "forkserver":
        context.set_forkserver_preload([init_worker.__module__])
    pool = ProcessPoolExecutor(
        max_workers=min(workers, len(todo)),
        mp_context=context,
        initializer=init_worker,
        initargs=(start_method != "fork", os.getpid()),
    )
    pending: dict[Future[VideoFailure | None], VideoJob] = {}
    queue = iter(todo)

    def submit(job: VideoJob) -> None:
        pending[pool.submit(process_video, job, settings, cache_dir)] = job

    try:
        # A bounded number of jobs in flight, so that an error stops the run quickly.
        for job in itertools.islice(queue, 2 * workers):
            submit(job)
        while pending:
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                job = pending.pop(future)
                try:
                    outcome = future.result()
                except BrokenProcessPool as exc:
                    raise CacheError(
                        f"a preprocessing worker process ended abruptly while {job.video!r} "
                        f"({job.path}) was being processed: it was killed (out of memory?) "
                        "or failed while starting (its error is printed above; a script "
                        "that starts preprocessing or training at module level must do so "
                        'under `if __name__ == "__main__":`). Run again (finished videos '
                        "are kept), with preprocess workers 0 to see the error in this "
                        "process"
                    ) from exc
                record(job, outcome)
                for next_job in itertools.islice(queue, 1):
                    submit(next_job)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _finish(
    jobs: list[VideoJob],
    todo: list[VideoJob],
    settings: PreprocessSettings,
    cache_dir: Path,
    parts: dict[str, dict[str, Any]],
    failures: dict[str, VideoFailure],
    recomputed: dict[str, str],
) -> PreprocessResult:
    """Rebuild the cache-wide tables from the parts and count the jobs' outcome."""
    index, skipped = merge_parts(parts)
    write_if_changed(cache_dir / INDEX_FILE, index)
    write_if_changed(cache_dir / SKIPPED_FILE, skipped)
    ordered_failures = [failures[job.video] for job in jobs if job.video in failures]
    failure_table = pd.DataFrame(
        [vars(f) for f in ordered_failures], columns=["video", "path", "reason", "message"]
    )
    write_table(cache_dir / FAILURES_FILE, failure_table)

    counts = PreprocessCounts(videos_total=len(jobs), failures=ordered_failures)
    counts.recomputed = {v: why for v, why in recomputed.items() if v in parts}
    counts.videos_recomputed = len(counts.recomputed)
    todo_ids = {job.video for job in todo}
    job_parts = {}
    for job in jobs:
        part = parts.get(job.video)
        if part is None:
            continue
        job_parts[job.video] = part
        status = Counter(str(row[STATUS_COLUMN]) for row in part["rows"])
        written = status.pop(STATUS_OK, 0)
        counts.videos_done += 1
        counts.videos_reused += job.video not in todo_ids
        counts.frames_sampled += written + sum(status.values())
        counts.frames_written += written
        counts.videos_without_crops += written == 0
        for reason, count in sorted(status.items(), key=lambda item: -item[1]):
            counts.frames_skipped[reason] = counts.frames_skipped.get(reason, 0) + count
    counts.videos_failed = len(ordered_failures)
    job_index, job_skipped = merge_parts(job_parts)
    return PreprocessResult(cache_dir, settings, job_index, job_skipped, counts)
