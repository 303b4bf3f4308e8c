"""Running the preprocessing of many videos: resume, parallel workers, counts, summary."""

from __future__ import annotations

import itertools
import multiprocessing
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
from tqdm.auto import tqdm

from mtfas.errors import CacheError, ConfigError
from mtfas.preprocessing.boxes import Miss
from mtfas.preprocessing.cache import (
    FAILURES_FILE,
    INDEX_FILE,
    SKIPPED_FILE,
    STATUS_OK,
    CropCache,
    cache_lock,
    empty_table,
    iter_parts,
    part_file,
    prepare_cache_dir,
    read_table,
    remove_temporaries,
    split_status,
    write_table,
)
from mtfas.preprocessing.settings import PreprocessSettings
from mtfas.preprocessing.worker import (
    BackgroundWrites,
    VideoFailure,
    VideoJob,
    init_worker,
    process_video,
)

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
        videos_failed: Videos that could not be processed (see ``failures``).
        videos_without_crops: Complete videos of which no sampled frame gave a crop.
        frames_sampled: Frames selected by the sampling, over the done videos.
        frames_written: Crops in the cache for the done videos.
        frames_skipped: Sampled frames without a crop, by reason (keys of
            :data:`SKIP_REASONS`).
        failures: One entry per failed video, with the error message.
    """

    videos_total: int = 0
    videos_done: int = 0
    videos_reused: int = 0
    videos_failed: int = 0
    videos_without_crops: int = 0
    frames_sampled: int = 0
    frames_written: int = 0
    frames_skipped: dict[str, int] = field(default_factory=_zero_skips)
    failures: list[VideoFailure] = field(default_factory=list)

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
    workers: int = 0,
    progress: bool = True,
    strict: bool = False,
    start_method: str | None = None,
) -> PreprocessResult:
    """Crop the faces of videos into the cache of ``settings`` under ``cache_root``.

    Videos already complete in the cache are not processed again, so running again
    after an interruption finishes the job; failed videos are tried again. At the end
    ``index.csv``, ``skipped.csv`` and ``failures.csv`` of the cache are rewritten
    (covering every complete video in the cache, including ones from earlier calls with
    other jobs).

    Args:
        jobs: The videos, with unique ids.
        settings: Crop settings; they select the cache folder.
        cache_root: Folder that holds the caches of all settings.
        workers: Number of worker processes; 0 processes the videos in this process.
        progress: Show a tqdm progress bar.
        strict: Raise on the first video that cannot be processed instead of recording
            it in ``counts.failures``.
        start_method: multiprocessing start method of the workers. Default:
            ``"forkserver"`` where available (the server imports the worker code once,
            workers fork from it quickly), else ``"spawn"``. ``"fork"`` starts fastest
            but can deadlock OpenCV when the parent process has used its thread pool.

    Returns:
        The index of the jobs' crops and the counts.

    Raises:
        ConfigError: If video ids repeat or ``workers`` is negative.
        CacheError: If another process is writing to the same cache.
        mtfas.errors.VideoReadError: In strict mode, for a corrupt, missing or empty
            video (the message names the file).
        mtfas.errors.AnnotationError: In strict mode, for a malformed annotation.
    """
    jobs = list(jobs)
    if workers < 0:
        raise ConfigError(f"workers must be >= 0, got {workers}")
    seen: set[str] = set()
    for job in jobs:
        if job.video in seen:
            raise ConfigError(f"video id {job.video!r} appears twice in the jobs")
        seen.add(job.video)
    cache_dir = prepare_cache_dir(Path(cache_root), settings)
    with cache_lock(cache_dir):
        remove_temporaries(cache_dir)
        todo = [job for job in jobs if not (cache_dir / part_file(job.video)).exists()]
        _check_reused(jobs, cache_dir, {job.video for job in todo})
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
            if workers == 0:
                with BackgroundWrites() as writes:
                    for job in todo:
                        record(job, process_video(job, settings, cache_dir, writes))
            else:
                _run_parallel(todo, settings, cache_dir, workers, start_method, record)
        finally:
            bar.close()
        return _finish(jobs, todo, settings, cache_dir, failures)


def _check_reused(jobs: list[VideoJob], cache_dir: Path, todo: set[str]) -> None:
    """Refuse to mix crops of different box sources in one cache."""
    for job in jobs:
        if job.video in todo:
            continue
        table = read_table(cache_dir / part_file(job.video))
        stored = set(table["box_source"])
        if stored and stored != {job.boxes.describe()}:
            raise CacheError(
                f"video {job.video!r} is in {cache_dir} with box source {sorted(stored)}, "
                f"now asked with {job.boxes.describe()!r}; use another settings.tag for "
                "another box source, or delete the cache folder"
            )


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
        initargs=(start_method != "fork",),
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
                record(job, future.result())
                for next_job in itertools.islice(queue, 1):
                    submit(next_job)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _finish(
    jobs: list[VideoJob],
    todo: list[VideoJob],
    settings: PreprocessSettings,
    cache_dir: Path,
    failures: dict[str, VideoFailure],
) -> PreprocessResult:
    """Merge the parts into the cache-wide tables and count the jobs' outcome."""
    parts = {video: read_table(path) for video, path in iter_parts(cache_dir)}
    index, skipped = split_status(_concat(list(parts.values())))
    write_table(cache_dir / INDEX_FILE, index)
    write_table(cache_dir / SKIPPED_FILE, skipped)
    ordered_failures = [failures[job.video] for job in jobs if job.video in failures]
    failure_table = pd.DataFrame(
        [vars(f) for f in ordered_failures], columns=["video", "path", "reason", "message"]
    )
    write_table(cache_dir / FAILURES_FILE, failure_table)

    counts = PreprocessCounts(videos_total=len(jobs), failures=ordered_failures)
    todo_ids = {job.video for job in todo}
    job_rows = []
    for job in jobs:
        table = parts.get(job.video)
        if table is None:
            continue
        job_rows.append(table)
        counts.videos_done += 1
        counts.videos_reused += job.video not in todo_ids
        status = table["status"]
        written = int((status == STATUS_OK).sum())
        counts.frames_sampled += len(table)
        counts.frames_written += written
        counts.videos_without_crops += written == 0
        for reason, count in status[status != STATUS_OK].value_counts().items():
            key = str(reason)
            counts.frames_skipped[key] = counts.frames_skipped.get(key, 0) + int(count)
    counts.videos_failed = len(ordered_failures)
    job_index, job_skipped = split_status(_concat(job_rows))
    return PreprocessResult(cache_dir, settings, job_index, job_skipped, counts)


def _concat(tables: list[pd.DataFrame]) -> pd.DataFrame:
    tables = [t for t in tables if len(t)]
    return pd.concat(tables, ignore_index=True) if tables else empty_table()
