"""The shared core of every data module over a benchmark's videos on disk.

A benchmark (OULU-NPU, SiW, CASIA-FASD, Replay-Attack, MSU-MFSD) subclasses
:class:`VideoDataModule` and implements two things:

* :meth:`~mtfas.datamodules.FASDataModule.video_table` reads the benchmark's own protocol
  files: one row per video of a split, with the video id (its path relative to ``root``
  without the extension, e.g. ``Train_files/1_1_01_1``), label, species and subject;
* :meth:`VideoDataModule.box_source` says where the faces of a video are (annotation
  files, a detector, or annotations with a detector as fallback).

Everything else is shared: the check of ``root``, the preprocessing of every video of
the train, dev and test splits into a crop cache (:meth:`VideoDataModule.prepare_data`,
resumable), and the :class:`CacheFrameStore` the loaders read the crops from.

Where the crops go
------------------
The dataset root may be read-only, so nothing is written there. Crops go to
``cache_dir`` when given, else to ``<cache base>/<benchmark>/<root name>-<hash>``, where
``<hash>`` is a short hash of the resolved root (two copies of a dataset never share a
cache) and ``<cache base>`` is ``$MTFAS_CACHE`` if set, else ``$XDG_CACHE_HOME/mtfas``,
else ``~/.cache/mtfas``. Inside it, each set of preprocessing settings gets its own
folder ``crops<size>_<key>`` (see :mod:`mtfas.preprocessing.cache`), so changing the crop
size or the sampling never mixes crops.

Videos without any crop
-----------------------
A video that failed to preprocess (unreadable, bad annotation) or of which no sampled
frame gave a crop is an error when the loaders are built (the message lists the videos
and the reasons). With ``allow_missing_crops=True`` such videos are excluded instead: they
keep their row in the video table but contribute no frame, and a warning gives their
number. Frames skipped inside a video (no annotation for that frame, no face) are counted
in the preprocessing summary printed by ``prepare_data``.
"""

from __future__ import annotations

import abc
import hashlib
import os
import warnings
from collections.abc import Callable, Collection
from pathlib import Path
from typing import Any, ClassVar, Literal

import numpy as np
import pandas as pd

from mtfas.datamodules.base import SPLITS, FASDataModule, Split
from mtfas.errors import (
    CacheError,
    DatasetError,
    DatasetNotFoundError,
    DatasetWarning,
    MissingVideoError,
    ProtocolError,
)
from mtfas.preprocessing import (
    BoxSource,
    CropCache,
    PreprocessResult,
    PreprocessSettings,
    VideoJob,
    preprocess,
)
from mtfas.preprocessing.cache import FAILURES_FILE, part_file, permission_error
from mtfas.preprocessing.settings import CROP_SCALE

#: Environment variable that overrides the base folder of every mtfas cache.
CACHE_ENV = "MTFAS_CACHE"

#: How many offending items an error message lists before "and N more".
_LISTED = 5


def default_cache_base() -> Path:
    """The base folder of mtfas caches.

    ``$MTFAS_CACHE`` if set, else ``$XDG_CACHE_HOME/mtfas``, else ``~/.cache/mtfas``.
    """
    env = os.environ.get(CACHE_ENV)
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg).expanduser() if xdg else Path.home() / ".cache") / "mtfas"


def default_cache_dir(benchmark: str, root: str | Path) -> Path:
    """The default crop-cache folder of a dataset copy.

    Args:
        benchmark: Short benchmark name, e.g. ``"oulu-npu"``.
        root: The dataset root.

    Returns:
        ``<cache base>/<benchmark>/<root name>-<8 hex digits of the resolved root>``.
    """
    resolved = Path(root).expanduser().resolve()
    digest = hashlib.sha256(str(resolved).encode()).hexdigest()[:8]
    return default_cache_base() / benchmark / f"{resolved.name or 'root'}-{digest}"


def listing(items: Collection[object]) -> str:
    """The first few items joined with commas, then "and N more" (for error messages)."""
    names = [str(item) for item in items]
    shown = ", ".join(names[:_LISTED])
    return shown + (f" and {len(names) - _LISTED} more" if len(names) > _LISTED else "")


class CacheFrameStore:
    """A :class:`~mtfas.datamodules.FrameStore` over a :class:`CropCache`.

    Args:
        cache: The opened crop cache.
        excluded: Videos known to have no crop; they give an empty array instead of an
            error.
    """

    def __init__(self, cache: CropCache, excluded: Collection[str] = ()) -> None:
        self.cache = cache
        self.excluded = frozenset(excluded)
        self._stored = frozenset(cache.index["video"])

    def frames(self, video: str) -> np.ndarray:
        """All crops of ``video``, ``(N, S, S, 3)`` uint8 RGB (a read-only memory map).

        Raises:
            DatasetError: If the video has no crop and is not excluded.
        """
        if video in self._stored:
            return self.cache.load(video)
        if video in self.excluded:
            size = self.cache.settings.size
            return np.empty((0, size, size, 3), dtype=np.uint8)
        raise DatasetError(
            f"video {video!r} has no crops in {self.cache.cache_dir}; run prepare_data() "
            "(Lightning's Trainer does) to preprocess it"
        )


class VideoDataModule(FASDataModule, abc.ABC):
    """Base of the data modules that read a benchmark's videos from disk.

    Args:
        root: Folder of the dataset copy, in the layout of the official release.
        crop_size: Side of the square face crops stored in the cache (the network input
            ``image_size`` may differ: the transforms resize the crops).
        crop_scale: Enlargement of the face box around its centre before cropping.
        sampling: ``"even"`` keeps ``n_frames`` frames evenly spread over each video;
            ``"every"`` keeps every ``every_n``-th frame.
        n_frames: Frames per video of ``"even"`` sampling.
        every_n: Step of ``"every"`` sampling.
        preprocess_workers: Processes that crop videos in ``prepare_data``; 0 works in
            this process. ``None`` (auto): this process when fewer than
            :attr:`POOL_MIN_VIDEOS` videos are left to crop (starting a pool costs seconds:
            each worker re-imports the caller's main module), else the CPU count, at
            most 8.
        cache_dir: Folder of the crop caches (see the module docstring for the default).
        allow_missing_crops: Exclude videos that give no crop (failed or faceless)
            instead of raising (see the module docstring).
        progress: Show a progress bar while preprocessing.
        **kwargs: :class:`~mtfas.datamodules.FASDataModule` arguments (``image_size``,
            ``batch_size``, ``meta_val_fraction``, ...).
    """

    #: Short name of the benchmark, used in cache paths and messages.
    benchmark: ClassVar[str] = "video"
    #: Display name of the benchmark in messages.
    title: ClassVar[str] = "the dataset"
    #: Entries (folders or files, relative to ``root``) that a copy must have.
    required_entries: ClassVar[tuple[str, ...]] = ()
    #: Layout expected under ``root``, shown when the root is missing.
    layout: ClassVar[str] = ""
    #: Extensions of the video files, tried in order.
    video_extensions: ClassVar[tuple[str, ...]] = (".avi",)
    #: Automatic ``preprocess_workers`` use a process pool from this many videos to crop.
    POOL_MIN_VIDEOS: ClassVar[int] = 64

    def __init__(
        self,
        root: str | Path,
        crop_size: int = 256,
        crop_scale: float = CROP_SCALE,
        sampling: Literal["even", "every"] = "even",
        n_frames: int = 25,
        every_n: int = 1,
        preprocess_workers: int | None = None,
        cache_dir: str | Path | None = None,
        allow_missing_crops: bool = False,
        progress: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.root = Path(root).expanduser()
        self._split_tables: dict[str, pd.DataFrame] = {}
        self._crop_args: dict[str, Any] = {
            "size": crop_size,
            "scale": crop_scale,
            "sampling": sampling,
            "n_frames": n_frames,
            "every_n": every_n,
        }
        PreprocessSettings(**self._crop_args)  # validates the values now
        self.preprocess_workers = preprocess_workers
        self._cache_dir = None if cache_dir is None else Path(cache_dir).expanduser()
        self.allow_missing_crops = allow_missing_crops
        self.progress = progress
        #: Result of the last preprocessing run of this object (None if the cache was
        #: complete already).
        self.last_preprocess: PreprocessResult | None = None
        self._store: CacheFrameStore | None = None

    # ------------------------------------------------------------ benchmark hooks
    @abc.abstractmethod
    def box_source(self, video: str) -> BoxSource:
        """Where the faces of ``video`` (an id of :meth:`video_table`) are."""

    def cache_tag(self) -> str:
        """Label separating the caches of different box sources (``PreprocessSettings.tag``).

        Override when the box source is configurable, so that changing it starts a new
        cache instead of mixing crops.
        """
        return self.benchmark

    def frame_limit(self, video: str) -> int | None:
        """Sample only among the first this many frames of ``video`` (None: all frames).

        Override for protocols that restrict the frames of some videos (SiW protocol 1
        trains on the first 60); include the limit in :meth:`cache_tag`.
        """
        return None

    def video_rotation(self, video: str) -> int | None:
        """Clockwise rotation of ``video``'s frames that replaces its rotation metadata.

        None (the default) follows the metadata (``PreprocessSettings.orientation``).
        Override for copies stored sideways without metadata (MSU-MFSD's ``rotate``);
        include the rotations in :meth:`cache_tag`.
        """
        return None

    def video_file(self, video: str) -> Path:
        """The file of ``video``: ``root/<video><ext>`` for the first existing extension.

        Returns the path with the first extension when none exists.

        Raises:
            mtfas.errors.DatasetPermissionError: If a folder on the way cannot be read.
        """
        candidates = [self.root / f"{video}{ext}" for ext in self.video_extensions]
        for path in candidates:
            try:
                if path.is_file():
                    return path
            except PermissionError as exc:
                raise permission_error(path.parent, exc) from exc
        return candidates[0]

    # ------------------------------------------------------------ root and files
    @property
    def settings(self) -> PreprocessSettings:
        """The preprocessing settings (crop size, scale, sampling; tag from :meth:`cache_tag`)."""
        return PreprocessSettings(**self._crop_args, tag=self.cache_tag())

    @property
    def cache_root(self) -> Path:
        """The folder holding this copy's crop caches (one sub-folder per settings)."""
        if self._cache_dir is not None:
            return self._cache_dir
        return default_cache_dir(self.benchmark, self.root)

    @property
    def crop_cache_dir(self) -> Path:
        """The crop cache of the current settings."""
        return self.settings.cache_dir(self.cache_root)

    def check_root(self) -> None:
        """Check that ``root`` exists and holds the entries of :attr:`required_entries`.

        Raises:
            DatasetNotFoundError: Naming where it looked and the layout it expected.
        """
        if not self.root.is_dir():
            problem = f"{self.root} does not exist (or is not a folder)"
        else:
            missing = [e for e in self.required_entries if not (self.root / e).exists()]
            if not missing:
                return
            problem = f"{self.root} lacks {listing(missing)}"
            lookalike = self.lookalike(self.root)
            if lookalike is not None:
                problem += (
                    f"; it looks like a copy of {lookalike.title}: use "
                    f"{lookalike.__module__.rsplit('.', 1)[0]}.{lookalike.__name__} for it"
                )
        raise DatasetNotFoundError(
            f"{self.title} not found: {problem}. Expected the layout of the official "
            f"release under root:\n{self.layout}\nPass the folder of your copy as root "
            "(--data.init_args.root on the command line)."
        )

    @classmethod
    def lookalike(cls, root: Path) -> type[VideoDataModule] | None:
        """Another benchmark whose :attr:`required_entries` ``root`` holds, if any.

        Used to say "this is an OULU-NPU root" when a root is given to the wrong module.
        """
        seen: dict[str, type[VideoDataModule]] = {}
        queue = list(VideoDataModule.__subclasses__())
        while queue:  # breadth first: a benchmark's base class before its variants
            klass = queue.pop(0)
            queue.extend(klass.__subclasses__())
            if klass.benchmark != cls.benchmark and klass.required_entries:
                seen.setdefault(klass.benchmark, klass)
        for klass in sorted(seen.values(), key=lambda k: -len(k.required_entries)):
            if all((root / entry).exists() for entry in klass.required_entries):
                return klass
        return None

    def check_videos_exist(self, table: pd.DataFrame, source: str) -> None:
        """Raise if a video of ``table`` is not on disk.

        Args:
            table: A video table.
            source: Where the videos were listed (e.g. the protocol file), for the message.

        Raises:
            MissingVideoError: Naming the missing files.
        """
        missing = [str(self.video_file(v)) for v in table["video"]]
        missing = [p for p in missing if not Path(p).is_file()]
        if missing:
            raise MissingVideoError(
                f"{len(missing)} video(s) listed in {source} are not on disk: "
                f"{listing(missing)}. Copy the complete release into {self.root}, or fix "
                "the list."
            )

    def memoized_split(self, split: Split, build: Callable[[], pd.DataFrame]) -> pd.DataFrame:
        """A copy of the table of ``split``, built by ``build()`` once (after :meth:`check_root`).

        The benchmarks' :meth:`video_table` go through it: a release is listed once per
        split however often the table is asked for.

        Raises:
            ProtocolError: If ``split`` is not ``train``, ``dev`` or ``test``.
        """
        if split not in SPLITS:
            raise ProtocolError(f"split must be one of {list(SPLITS)}, got {split!r}")
        if split not in self._split_tables:
            self.check_root()
            self._split_tables[split] = build()
        return self._split_tables[split].copy()

    def video_files(self, folder: str) -> list[Path]:
        """The video files under ``root / folder``, sorted.

        A video file is a file whose suffix (any case) is one of :attr:`video_extensions`;
        hidden files (a name starting with ``.``) are passed over.
        """
        return sorted(
            path
            for path in (self.root / folder).rglob("*")
            if path.suffix.lower() in self.video_extensions
            and not path.name.startswith(".")
            and path.is_file()
        )

    def all_videos(self) -> pd.DataFrame:
        """The videos of the train, dev and test splits, each once (in split order)."""
        tables = [self.video_table(split) for split in SPLITS]
        return pd.concat(tables, ignore_index=True).drop_duplicates("video", ignore_index=True)

    def jobs(self) -> list[VideoJob]:
        """One preprocessing job per video of :meth:`all_videos`.

        Raises:
            MissingVideoError: If a video file is missing.
        """
        videos = self.all_videos()
        self.check_videos_exist(videos, f"the {self.title} video tables")
        return [
            VideoJob(
                v,
                self.video_file(v),
                self.box_source(v),
                self.frame_limit(v),
                self.video_rotation(v),
            )
            for v in videos["video"]
        ]

    # ------------------------------------------------------------ preprocessing
    def missing_from_cache(self, videos: Collection[str]) -> list[str]:
        """Videos of ``videos`` not complete in the crop cache (all when there is no cache)."""
        cache_dir = self.crop_cache_dir
        if not cache_dir.is_dir():
            return list(videos)
        return [v for v in videos if not (cache_dir / part_file(v)).is_file()]

    def prepare_data(self) -> None:
        """Crop the faces of every video of the splits into the cache, unless done already.

        Resumable: an interrupted run continues where it stopped. Every call checks the
        cache against the files (one ``stat`` per video and annotation file, see
        :mod:`mtfas.preprocessing.cache`): videos whose files changed since they were
        cropped, or whose crop file is missing or damaged, are recomputed and named, and
        the index is rebuilt from the per-video records. Prints the counts summary
        (videos done, reused, recomputed, failed; frames sampled, written, skipped by
        reason), or one line when every video was reused.

        Raises:
            DatasetNotFoundError: If the root is missing.
            MissingVideoError: If a video listed by the protocol is not on disk.
            mtfas.errors.DatasetPermissionError: If a dataset folder cannot be read.
            mtfas.errors.CacheError: If another process is writing the same cache.
        """
        self.check_root()
        jobs = self.jobs()
        self._store = None
        result = preprocess(
            jobs,
            self.settings,
            self.cache_root,
            workers=self._workers_for,
            progress=self.progress,
        )
        counts = result.counts
        if counts.videos_reused == counts.videos_total:
            self.last_preprocess = None
            print(
                f"{self.title}: the crops of all {len(jobs)} videos are in "
                f"{self.crop_cache_dir} (reused)"
            )
            return
        self.last_preprocess = result
        print(f"{self.title}: {result.summary()}")

    def _workers_for(self, n_videos: int) -> int:
        if self.preprocess_workers is not None:
            return self.preprocess_workers
        return 0 if n_videos < self.POOL_MIN_VIDEOS else min(8, os.cpu_count() or 1)

    def frame_store(self) -> CacheFrameStore:
        """The crops of every video of the splits, from the cache ``prepare_data`` wrote.

        Raises:
            DatasetError: If the cache is missing or a video has no crop (unless
                ``allow_missing_crops``), naming the videos and why.
        """
        if self._store is None:
            try:
                cache = CropCache(self.crop_cache_dir)
            except CacheError as exc:
                raise DatasetError(
                    f"{self.title}: no finished crop cache in {self.crop_cache_dir} ({exc}); "
                    "call prepare_data() first (Lightning's Trainer does)"
                ) from exc
            wanted = self.all_videos()["video"].tolist()
            store = CacheFrameStore(cache, self._videos_without_crops(cache, wanted))
            cache.verify_videos(wanted)  # every split, files in parallel
            self._store = store
        return self._store

    def _videos_without_crops(self, cache: CropCache, wanted: list[str]) -> list[str]:
        """Videos of the splits (``wanted``) without a crop; raise about them unless allowed."""
        stored = set(cache.index["video"])
        without = [v for v in wanted if v not in stored]
        if not without:
            return []
        failed = self.missing_from_cache(without)
        reasons = self._failure_reasons(cache.cache_dir)
        described = [
            f"{v} ({reasons.get(v, 'not preprocessed') if v in failed else 'no face found'})"
            for v in without
        ]
        if not self.allow_missing_crops:
            raise DatasetError(
                f"{self.title}: {len(without)} video(s) have no crop in {cache.cache_dir}: "
                f"{listing(described)}. See {FAILURES_FILE} and skipped.csv there; fix the "
                "files and run prepare_data() again, or pass allow_missing_crops=True to "
                "exclude these videos."
            )
        warnings.warn(
            f"{self.title}: excluding {len(without)} video(s) without any crop "
            f"(allow_missing_crops=True): {listing(described)}",
            DatasetWarning,
            stacklevel=3,
        )
        return without

    @staticmethod
    def _failure_reasons(cache_dir: Path) -> dict[str, str]:
        path = cache_dir / FAILURES_FILE
        if not path.is_file():
            return {}
        try:
            table = pd.read_csv(path, dtype=str, keep_default_na=False)
        except (pd.errors.EmptyDataError, ValueError):
            return {}
        if not {"video", "reason"} <= set(table.columns):
            return {}
        return dict(zip(table["video"], table["reason"], strict=True))


__all__ = [
    "CACHE_ENV",
    "CacheFrameStore",
    "VideoDataModule",
    "default_cache_base",
    "default_cache_dir",
]
