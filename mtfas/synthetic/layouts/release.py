"""What every synthetic release writer shares: the marker file, resuming, parallel jobs.

A release folder holds a marker ``mtfas_synthetic.json`` with the layout, the settings
it was made with and whether it is complete. Writers refuse to write into a non-empty
folder without a marker (it may be a user's real dataset) or with a marker of other
settings; with a marker of the same settings they resume, skipping the videos already
written. A job's capture is rendered by :func:`render_job`, from the job's knobs.
"""

from __future__ import annotations

import json
import multiprocessing
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, Protocol, TypeVar

from tqdm.auto import tqdm

from mtfas.errors import ConfigError
from mtfas.synthetic.capture import Capture, render_capture
from mtfas.synthetic.layouts.codec import Codec

MARKER_FILE = "mtfas_synthetic.json"

T = TypeVar("T")
N = TypeVar("N")


@dataclass(frozen=True)
class RenderRun:
    """How a writer renders its videos: their codec, the processes, the progress bar.

    Attributes:
        fourcc: Codec of the videos (of most of them, when they differ by file type).
        lossless: Whether that codec is lossless.
        workers: Rendering processes; 0 renders in this process.
        progress: Show a progress bar.
        desc: Label of the progress bar.
    """

    fourcc: str
    lossless: bool
    workers: int
    progress: bool
    desc: str

    @classmethod
    def of(cls, codec: Codec, workers: int, progress: bool, desc: str) -> RenderRun:
        """The run of videos written with ``codec``."""
        return cls(codec.fourcc, codec.lossless, workers, progress, desc)


@dataclass(frozen=True)
class SyntheticRelease:
    """A synthetic release written by a layout writer.

    Attributes:
        root: The release folder.
        layout: Name of the layout (a key of ``LAYOUTS``).
        n_videos: Videos in the release.
        n_written: Videos rendered by this call (the others were there already).
        fourcc: Codec of the videos.
        lossless: Whether that codec is lossless.
        settings: The writer's settings, as stored in the marker.
        protocol_files: Paths (relative to ``root``) of the protocol files written.
    """

    root: Path
    layout: str
    n_videos: int
    n_written: int
    fourcc: str
    lossless: bool
    settings: dict[str, Any]
    protocol_files: list[str] = field(default_factory=list)


class RenderedJob(Protocol):
    """What :func:`render_job` reads of a render job (its knobs)."""

    @property
    def n_frames(self) -> int:  # noqa: D102
        ...

    @property
    def size(self) -> int:  # noqa: D102
        ...

    @property
    def seed(self) -> int:  # noqa: D102
        ...


#: The synthetic conditions of one capture: ``(subject, pai, device, session)``.
Conditions = tuple[int, str | int, int, int]


def render_job(job: RenderedJob, conditions: Conditions, segments: int = 1) -> Capture:
    """Render the capture of ``conditions`` with the job's frame count, size and seed.

    Args:
        job: The render job.
        conditions: ``(subject, pai, device, session)``, as
            :func:`~mtfas.synthetic.render_capture` takes them.
        segments: Render ``segments`` times the job's frames (one recording cut into
            segments, as the SiW and Replay-Attack writers store a later segment).
    """
    subject, pai, device, session = conditions
    return render_capture(
        subject,
        pai,
        device=device,
        session=session,
        n_frames=job.n_frames * segments,
        size=job.size,
        seed=job.seed,
    )


@dataclass(frozen=True)
class NamedRenderJob(Generic[N]):
    """One video of a layout whose name says how to render it.

    Attributes:
        path: The video file.
        name: The video's parsed name in the layout (e.g. an ``OULUName``).
        n_frames: Frames of the video.
        size: Side of the square frames.
        seed: Generator seed.
        codec: Video codec.
        fps: Frame rate.
    """

    path: str
    name: N
    n_frames: int
    size: int
    seed: int
    codec: Codec
    fps: float


def write_text(path: Path, text: str) -> None:
    """Write a text file atomically (temporary file, then rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def read_marker(root: Path) -> dict[str, Any] | None:
    """The marker of a release folder, or None if there is none."""
    path = Path(root) / MARKER_FILE
    if not path.is_file():
        return None
    try:
        marker: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{path} is not valid JSON ({exc}); delete the folder") from exc
    return marker


def is_complete(root: str | Path, layout: str, settings: dict[str, Any]) -> bool:
    """Whether ``root`` holds a complete release of ``layout`` made with ``settings``."""
    marker = read_marker(Path(root))
    return bool(
        marker
        and marker.get("complete")
        and marker.get("layout") == layout
        and marker.get("settings") == settings
    )


def claim_folder(root: Path, layout: str, settings: dict[str, Any]) -> None:
    """Make ``root`` a release folder of ``layout`` with ``settings`` (or resume one).

    Raises:
        ConfigError: If ``root`` is a file, a non-empty folder without a marker, or a
            release of another layout or other settings.
    """
    if root.exists() and not root.is_dir():
        raise ConfigError(f"{root} is a file; the synthetic release needs a folder")
    marker = read_marker(root)
    if marker is None:
        if root.is_dir() and any(root.iterdir()):
            raise ConfigError(
                f"{root} is not empty and holds no {MARKER_FILE}: refusing to write a "
                "synthetic release into it (it may be a real dataset). Choose a new folder."
            )
    elif marker.get("layout") != layout or marker.get("settings") != settings:
        raise ConfigError(
            f"{root} holds a synthetic {marker.get('layout')} release made with other "
            f"settings ({marker.get('settings')}, asked {settings}); delete the folder or "
            "choose another one"
        )
    write_marker(root, layout, settings, complete=False)


def write_marker(
    root: Path, layout: str, settings: dict[str, Any], complete: bool, **extra: Any
) -> None:
    """Write the marker of a release folder."""
    payload = {"layout": layout, "settings": settings, "complete": complete, **extra}
    write_text(Path(root) / MARKER_FILE, json.dumps(payload, indent=2, sort_keys=True) + "\n")


def run_jobs(
    function: Callable[[T], object], jobs: Sequence[T], workers: int, progress: bool, desc: str
) -> None:
    """Call ``function`` on every job, in this process or in ``workers`` processes.

    Args:
        function: A module-level (picklable) function.
        jobs: Its arguments, one per call (picklable).
        workers: 0 runs in this process.
        progress: Show a progress bar.
        desc: Label of the progress bar.

    Raises:
        ConfigError: If ``workers`` is negative.
    """
    if workers < 0:
        raise ConfigError(f"workers must be >= 0, got {workers}")
    bar = tqdm(total=len(jobs), desc=desc, unit="video", disable=not progress, dynamic_ncols=True)
    try:
        if workers == 0 or len(jobs) <= 1:
            for job in jobs:
                function(job)
                bar.update(1)
            return
        methods = multiprocessing.get_all_start_methods()
        method = "forkserver" if "forkserver" in methods else "spawn"
        context = multiprocessing.get_context(method)
        if method == "forkserver":
            # The server imports only the rendering code, not the caller's main module.
            context.set_forkserver_preload([function.__module__])
        chunk = max(1, len(jobs) // (8 * workers))
        with ProcessPoolExecutor(max_workers=min(workers, len(jobs)), mp_context=context) as pool:
            for _ in pool.map(function, jobs, chunksize=chunk):
                bar.update(1)
    finally:
        bar.close()


def write_release(
    root: Path,
    layout: str,
    settings: dict[str, Any],
    planned: Sequence[tuple[T, Sequence[Path]]],
    render: Callable[[T], object],
    run: RenderRun,
    protocol_files: dict[str, str] | None = None,
) -> SyntheticRelease:
    """What every writer ends with, once its knobs are checked and its videos planned.

    If ``root`` holds a complete release of ``layout`` made with ``settings``, nothing is
    written. Else the folder is claimed (:func:`claim_folder`), the planned videos whose
    files are not all there yet are rendered (so an interrupted release resumes; in plan
    order, :func:`run_jobs`), the protocol files are written and the marker says complete.

    Args:
        root: The release folder.
        layout: Name of the layout.
        settings: The writer's settings (stored in the marker).
        planned: Every video of the release: its render job and the files the job writes.
        render: A module-level function rendering one job.
        run: Codec, processes and progress bar.
        protocol_files: Text of each protocol file, by path relative to ``root``.

    Returns:
        What was written (``protocol_files`` sorted).

    Raises:
        ConfigError: If ``root`` holds something else (see :func:`claim_folder`).
    """
    texts = protocol_files or {}
    n_videos = len(planned)
    if is_complete(root, layout, settings):
        return SyntheticRelease(
            root, layout, n_videos, 0, run.fourcc, run.lossless, settings, sorted(texts)
        )
    claim_folder(root, layout, settings)
    jobs = [job for job, files in planned if not all(Path(f).is_file() for f in files)]
    run_jobs(render, jobs, run.workers, run.progress, desc=run.desc)
    for relative, text in texts.items():
        write_text(root / relative, text)
    marker = {"fourcc": run.fourcc, "lossless": run.lossless, "n_videos": n_videos}
    write_marker(root, layout, settings, complete=True, **marker)
    return SyntheticRelease(
        root, layout, n_videos, len(jobs), run.fourcc, run.lossless, settings, sorted(texts)
    )
