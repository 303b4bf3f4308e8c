"""On-disk layout of a crop cache, atomic writes, and :class:`CropCache` to read one.

Layout of a cache folder ``<cache_root>/crops{size}_{key}/`` (``key`` = short hash of the
settings, see :meth:`PreprocessSettings.key`)::

    settings.json          the settings the crops were made with (checked on every use)
    crops/<video>.npy      uint8 array (N, size, size, 3), RGB, the N crops of one video
    parts/<video>.csv      one row per sampled frame of the video (crops and skipped
                           frames); written after the array, so a video is complete
                           iff its part exists
    index.csv              all crops of all complete videos (merged parts, status "ok")
    skipped.csv            all skipped frames, with the reason in ``status``
    failures.csv           videos that failed in the latest run, with the reason
    .lock                  held while a run writes to the cache

``<video>`` is the video id (e.g. ``Train_files/1_1_01_1``), so sub-folders mirror the
dataset. Every file is written to a temporary file in the same folder and moved into
place with :func:`os.replace`, so an interrupted run leaves no partial file behind.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path, PurePosixPath
from typing import IO

import numpy as np
import pandas as pd

from mtfas.errors import CacheError, ConfigError
from mtfas.preprocessing.settings import PreprocessSettings

SETTINGS_FILE = "settings.json"
INDEX_FILE = "index.csv"
SKIPPED_FILE = "skipped.csv"
FAILURES_FILE = "failures.csv"
LOCK_FILE = ".lock"
CROPS_DIR = "crops"
PARTS_DIR = "parts"
TMP_SUFFIX = ".tmp"

#: Columns of a part (and of index.csv / skipped.csv), in order.
PART_COLUMNS = [
    "video",
    "frame",
    "status",
    "x1",
    "y1",
    "x2",
    "y2",
    "source",
    "rotation",
    "file",
    "offset",
    "box_source",
]
_DTYPES = {
    "video": str,
    "frame": "int64",
    "status": str,
    "x1": "float64",
    "y1": "float64",
    "x2": "float64",
    "y2": "float64",
    "source": str,
    "rotation": "int64",
    "file": str,
    "offset": "int64",
    "box_source": str,
}
STATUS_OK = "ok"


def check_video_id(video: str) -> PurePosixPath:
    """Validate a video id and return it as a relative path.

    Ids are ``/``-separated relative paths such as ``Train_files/1_1_01_1``; no segment
    may be empty, ``.``, ``..`` or start with a dot (dot-names are reserved for
    temporary files).

    Raises:
        ConfigError: If the id is not usable as a relative path.
    """
    if not isinstance(video, str) or not video or "\\" in video or "\0" in video:
        raise ConfigError(f"video id must be a non-empty string without '\\', got {video!r}")
    segments = video.split("/")
    if video.startswith("/") or any(not s or s.startswith(".") for s in segments):
        raise ConfigError(
            f"video id {video!r} must be a relative path like 'Train_files/1_1_01_1' with "
            "no empty segment and no segment starting with '.'"
        )
    return PurePosixPath(video)


def crop_file(video: str) -> str:
    """Path of a video's crop array, relative to the cache folder."""
    return f"{CROPS_DIR}/{check_video_id(video)}.npy"


def part_file(video: str) -> str:
    """Path of a video's index part, relative to the cache folder."""
    return f"{PARTS_DIR}/{check_video_id(video)}.csv"


def atomic_write(path: Path, write: Callable[[IO[bytes]], None]) -> None:
    """Write a file atomically: temporary file in the same folder, fsync, rename.

    Args:
        path: Final location.
        write: Called with the open binary temporary file.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=TMP_SUFFIX)
    try:
        with os.fdopen(fd, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def write_array(path: Path, array: np.ndarray) -> None:
    """Save an array as ``.npy`` atomically."""
    atomic_write(path, lambda handle: np.save(handle, array, allow_pickle=False))


def write_table(path: Path, table: pd.DataFrame) -> None:
    """Save a DataFrame as CSV atomically."""
    data = table.to_csv(index=False).encode()
    atomic_write(path, lambda handle: handle.write(data))


def read_table(path: Path) -> pd.DataFrame:
    """Read a part, index or skipped table written by :func:`write_table`."""
    table = pd.read_csv(
        path,
        dtype=_DTYPES,
        keep_default_na=False,
        na_values={c: [""] for c in ("x1", "y1", "x2", "y2")},
    )
    missing = [c for c in PART_COLUMNS if c not in table.columns]
    if missing:
        raise CacheError(f"{path} lacks columns {missing}; delete it and preprocess again")
    return table[PART_COLUMNS]


def empty_table() -> pd.DataFrame:
    """An empty table with the part columns and dtypes."""
    return pd.DataFrame({c: pd.Series(dtype=_dtype(c)) for c in PART_COLUMNS})


def _dtype(column: str) -> str:
    kind = _DTYPES[column]
    return "object" if kind is str else str(kind)


def sort_rows(table: pd.DataFrame) -> pd.DataFrame:
    """Sort rows by video id, then frame, and renumber them from 0."""
    return table.sort_values(["video", "frame"], kind="mergesort").reset_index(drop=True)


def split_status(table: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split rows into (crops, skipped frames), each sorted and renumbered."""
    ok = table["status"] == STATUS_OK
    return sort_rows(table[ok]), sort_rows(table[~ok])


def iter_parts(cache_dir: Path) -> Iterator[tuple[str, Path]]:
    """Yield ``(video_id, part_path)`` for every complete video in a cache."""
    root = Path(cache_dir) / PARTS_DIR
    if not root.is_dir():
        return
    for path in sorted(root.rglob("*.csv")):
        relative = path.relative_to(root).as_posix()
        if any(s.startswith(".") for s in relative.split("/")):
            continue
        yield relative[: -len(".csv")], path


def remove_temporaries(cache_dir: Path) -> int:
    """Delete temporary files left by an interrupted run; return how many."""
    removed = 0
    for path in Path(cache_dir).rglob(f".*{TMP_SUFFIX}"):
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
            removed += 1
    return removed


def prepare_cache_dir(cache_root: Path, settings: PreprocessSettings) -> Path:
    """Create (or check) the cache folder of ``settings`` and its ``settings.json``.

    Raises:
        CacheError: If the folder holds a ``settings.json`` of other settings.
    """
    cache_dir = settings.cache_dir(cache_root)
    cache_dir.mkdir(parents=True, exist_ok=True)
    settings_path = cache_dir / SETTINGS_FILE
    if settings_path.exists():
        stored = load_settings(cache_dir)
        if stored.canonical() != settings.canonical():
            raise CacheError(
                f"{settings_path} holds other settings ({stored.canonical()}) than "
                f"requested ({settings.canonical()}); the folder was renamed or edited, "
                "delete it"
            )
    else:
        text = settings.to_json().encode()
        atomic_write(settings_path, lambda handle: handle.write(text))
    return cache_dir


def load_settings(cache_dir: Path) -> PreprocessSettings:
    """Read the settings of a cache folder.

    Raises:
        CacheError: If the folder has no readable ``settings.json``.
    """
    path = Path(cache_dir) / SETTINGS_FILE
    try:
        return PreprocessSettings.from_json(path.read_text())
    except FileNotFoundError as exc:
        raise CacheError(
            f"{cache_dir} is not a preprocessing cache (no {SETTINGS_FILE}); pass the "
            "folder that preprocess() created, e.g. settings.cache_dir(cache_root)"
        ) from exc
    except ConfigError as exc:
        raise CacheError(f"{path} is not valid: {exc}") from exc


@contextlib.contextmanager
def cache_lock(cache_dir: Path) -> Iterator[None]:
    """Hold an exclusive lock on a cache folder for the duration of a run.

    Raises:
        CacheError: If another process holds the lock.
    """
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX: no locking
        yield
        return
    with open(Path(cache_dir) / LOCK_FILE, "a+b") as handle:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            raise CacheError(
                f"another process is preprocessing into {cache_dir}; wait for it to end"
            ) from exc
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


class CropCache:
    """A finished crop cache, opened for reading.

    Crop arrays are memory-mapped on first use and kept open, so reading a crop is a
    slice of the page cache. Picklable (for DataLoader workers): the maps are reopened in
    the new process.

    Args:
        cache_dir: The cache folder (``settings.cache_dir(cache_root)``).

    Attributes:
        cache_dir: The folder.
        settings: The settings the crops were made with.
        index: One row per crop: ``video, frame, status, x1, y1, x2, y2, source,
            rotation, file, offset, box_source`` (``x1..y2``: face box in frame pixels;
            ``file``: array relative to ``cache_dir``; ``offset``: row in that array).

    Raises:
        CacheError: If the folder is not a cache or no run has finished writing it.
    """

    def __init__(self, cache_dir: str | Path) -> None:
        self.cache_dir = Path(cache_dir)
        self.settings = load_settings(self.cache_dir)
        index_path = self.cache_dir / INDEX_FILE
        if not index_path.exists():
            raise CacheError(
                f"{self.cache_dir} has no {INDEX_FILE}: preprocessing did not finish; run "
                "preprocess() again with the same settings to complete it"
            )
        self.index = read_table(index_path)
        self._files = self.index["file"].to_numpy()
        self._offsets = self.index["offset"].to_numpy()
        self._rows_per_file = self.index["file"].value_counts().to_dict()
        self._arrays: dict[str, np.ndarray] = {}

    @classmethod
    def for_settings(cls, cache_root: str | Path, settings: PreprocessSettings) -> CropCache:
        """Open the cache of ``settings`` under ``cache_root``."""
        return cls(settings.cache_dir(cache_root))

    def __getstate__(self) -> dict[str, object]:
        state = dict(self.__dict__)
        state["_arrays"] = {}
        return state

    def __len__(self) -> int:
        """Number of crops."""
        return len(self.index)

    @property
    def videos(self) -> list[str]:
        """Ids of the videos with at least one crop, sorted."""
        return sorted(self.index["video"].unique())

    @property
    def skipped(self) -> pd.DataFrame:
        """Frames that were sampled but not cropped, with the reason in ``status``."""
        path = self.cache_dir / SKIPPED_FILE
        return read_table(path) if path.exists() else empty_table()

    def _array(self, file: str) -> np.ndarray:
        array = self._arrays.get(file)
        if array is None:
            path = self.cache_dir / file
            try:
                array = np.load(path, mmap_mode="r", allow_pickle=False)
            except FileNotFoundError as exc:
                raise CacheError(
                    f"{path} is listed in {INDEX_FILE} but missing; preprocess again"
                ) from exc
            size = self.settings.size
            expected = (self._rows_per_file.get(file, 0), size, size, 3)
            if array.shape != expected or array.dtype != np.uint8:
                raise CacheError(
                    f"{path} holds {array.dtype} {array.shape}, the index expects uint8 "
                    f"{expected}; delete the cache folder and preprocess again"
                )
            self._arrays[file] = array
        return array

    def load(self, video: str) -> np.ndarray:
        """Return all crops of a video as a read-only memory map ``(N, S, S, 3)`` RGB.

        Row ``i`` is the crop of the index row of that video with ``offset == i``.

        Raises:
            CacheError: If the video has no crops in this cache.
        """
        file = crop_file(video)
        if file not in self._rows_per_file:
            raise CacheError(f"video {video!r} has no crops in {self.cache_dir}")
        return self._array(file)

    def crop(self, row_idx: int) -> np.ndarray:
        """Return the crop of index row ``row_idx`` (positional), ``(S, S, 3)`` RGB view."""
        return self._array(self._files[row_idx])[self._offsets[row_idx]]

    def rows(self, video: str) -> pd.DataFrame:
        """Index rows of one video."""
        return self.index[self.index["video"] == video]
