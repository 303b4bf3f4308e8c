"""On-disk layout of a crop cache, atomic writes, and :class:`CropCache` to read one.

Layout of a cache folder ``<cache_root>/crops{size}_{key}/`` (``key`` = short hash of the
settings, see :meth:`PreprocessSettings.key`)::

    settings.json          the settings the crops were made with (checked on every use)
    crops/<video>.npy      uint8 array (N, size, size, 3), RGB, the N crops of one video
    parts/<video>.json     the record of one video (see below); written after the array,
                           so a video is complete iff its part exists
    index.csv              all crops of all complete videos (merged parts, status "ok")
    skipped.csv            all skipped frames, with the reason in ``status``
    failures.csv           videos that failed in the latest run, with the reason
    .lock                  held while a run writes to the cache

``<video>`` is the video id (e.g. ``Train_files/1_1_01_1``), so sub-folders mirror the
dataset. Every file is written to a temporary file in the same folder, fsynced and moved
into place with :func:`os.replace`, so an interrupted run leaves no partial file behind.

The part of a video is the single source of truth about it. It records

* what the crops were made from: the settings key, the box source, the job's
  ``max_frames`` and ``rotation``, and for the video file and every annotation file the
  box source reads (:meth:`BoxSource.source_files`) its path, size, ``mtime_ns`` and a
  SHA-256 of its content (or that it did not exist);
* the crop file: its size, ``mtime_ns`` and CRC-32 (of the whole ``.npy`` file);
* one row per sampled frame (the columns of :data:`PART_COLUMNS`).

Checks and their cost (the choice asked by issue 11):

* **Sources, on every run** (:func:`stale_reason`): size and ``mtime_ns`` are the fast
  key, read with one ``stat`` per file. When either differs from the record, the content
  hash decides: the same hash means the file was only touched or copied (the record is
  refreshed, the crops are kept), another hash means the source changed and the video is
  recomputed. The hash is computed once, when the part is written (the file was just
  read for decoding, so it is in the page cache), and again only when the stat differs;
  ``verify="full"`` rehashes every source. SHA-256 is used because it runs with the
  CPU's SHA extensions on current x86 and ARM machines (faster there than BLAKE2b).
  What stat cannot see: an edit that keeps size and ``mtime_ns`` (``touch -r``); use
  ``verify="full"`` after such an edit.
* **Crop files, on every run**: one ``stat``; a missing or resized file is recomputed, a
  changed ``mtime_ns`` triggers the CRC check.
* **Crop files, when read** (:class:`CropCache`): the size and the CRC-32 of a video's
  crop file are verified when that video's crops are first read in a process (lazily,
  once per process, so an epoch over a verified cache costs nothing extra; the data
  modules check all the files of their splits up front, several at a time, with
  :meth:`CropCache.verify_videos`). CRC-32 (zlib)
  is a checksum against accidental damage (bit rot, truncation, an overwritten file),
  not against an adversary; it is the fastest full-content check of the standard
  library.

The index is derived data: :func:`rebuild_index` rewrites ``index.csv`` and
``skipped.csv`` from the parts at any time, every :func:`~mtfas.preprocessing.preprocess`
call does it at its end, and :class:`CropCache` builds its index from the parts (never
from ``index.csv``), so a run killed between writing parts and rewriting the index
cannot make the cache serve an outdated index.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import mmap
import os
import tempfile
import zlib
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path, PurePosixPath
from typing import IO, Any

import numpy as np
import pandas as pd

from mtfas.errors import CacheError, ConfigError, DatasetPermissionError
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
_DTYPES: dict[str, type[str] | str] = {
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

#: Version of the part records.
PART_FORMAT = 2
#: Content hash of the source files (see the module docstring).
SOURCE_HASH = "sha256"
#: Bytes per read when hashing a file.
_READ_SIZE = 1 << 20


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
    return f"{PARTS_DIR}/{check_video_id(video)}.json"


def atomic_write(path: Path, write: Callable[[IO[bytes]], object]) -> None:
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


def write_array(path: Path, array: np.ndarray) -> dict[str, int]:
    """Save an array as ``.npy`` atomically.

    NumPy writes the data straight from the array's memory (no copy); the CRC-32 of the
    file is the CRC of the header read back (a few hundred bytes) continued over that
    same memory, so checksumming adds one pass over the data and no copy.

    Returns:
        The record of the file: ``{"size", "mtime_ns", "crc32"}`` (the CRC of the whole
        file, as :func:`file_crc32` computes it).
    """
    data = np.ascontiguousarray(array)
    atomic_write(path, lambda handle: np.save(handle, data, allow_pickle=False))
    with open(path, "rb") as handle:
        stat = os.fstat(handle.fileno())
        header = handle.read(stat.st_size - data.nbytes)
    crc = zlib.crc32(data.data.cast("B") if data.nbytes else b"", zlib.crc32(header))
    return {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "crc32": crc}


def file_crc32(path: Path) -> int:
    """CRC-32 of a whole file, read through a memory map (no copy)."""
    with open(path, "rb") as handle:
        size = os.fstat(handle.fileno()).st_size
        if size == 0:
            return 0
        with mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as view:
            return zlib.crc32(view)


def file_digest(path: Path) -> str:
    """Hex content hash (:data:`SOURCE_HASH`) of a file, read in 1 MiB blocks.

    Raises:
        DatasetPermissionError: If the file cannot be read for lack of permission.
        FileNotFoundError: If it does not exist.
    """
    digest = hashlib.new(SOURCE_HASH)
    buffer = bytearray(_READ_SIZE)
    view = memoryview(buffer)
    try:
        with open(path, "rb", buffering=0) as handle:
            while n := handle.readinto(buffer):
                digest.update(view[:n])
    except PermissionError as exc:
        raise permission_error(path, exc) from exc
    return digest.hexdigest()


def permission_error(path: Path | str, exc: OSError) -> DatasetPermissionError:
    """The error for a dataset file or folder that exists but cannot be read."""
    return DatasetPermissionError(
        f"permission denied reading {path} ({exc.strerror or exc}); make the dataset "
        "readable by the user running mtfas (e.g. chmod -R a+rX on the dataset folder) "
        "and run again"
    )


def source_record(path: Path, role: str, digest: bool = True) -> dict[str, Any]:
    """What a source file is now: path, size, ``mtime_ns`` and content hash.

    Args:
        path: The file.
        role: ``"video"`` or ``"annotation"``.
        digest: Compute the content hash (else ``None``).

    Returns:
        ``{"role", "path", "exists", "size", "mtime_ns", SOURCE_HASH}``; for a missing
        file ``exists`` is False and the rest None.

    Raises:
        DatasetPermissionError: If the file or a folder above it cannot be read.
    """
    record: dict[str, Any] = {"role": role, "path": str(path)}
    try:
        stat = os.stat(path)
    except FileNotFoundError:
        return {**record, "exists": False, "size": None, "mtime_ns": None, SOURCE_HASH: None}
    except PermissionError as exc:
        raise permission_error(path, exc) from exc
    return {
        **record,
        "exists": True,
        "size": stat.st_size,
        "mtime_ns": stat.st_mtime_ns,
        SOURCE_HASH: file_digest(path) if digest else None,
    }


def write_part(
    cache_dir: Path,
    video: str,
    table: pd.DataFrame,
    meta: dict[str, Any],
    crops: dict[str, int],
) -> None:
    """Write the part (the record) of a video atomically; it completes the video.

    Args:
        cache_dir: The cache folder.
        video: Video id.
        table: Its rows (:data:`PART_COLUMNS`).
        meta: ``settings_key``, ``box_source``, ``max_frames``, ``rotation``, ``sources``.
        crops: Record of its crop file (from :func:`write_array`).
    """
    rows = [
        [None if isinstance(v, float) and math.isnan(v) else v for v in row]
        for row in table[PART_COLUMNS].itertuples(index=False, name=None)
    ]
    payload = {
        "format": PART_FORMAT,
        "video": video,
        **meta,
        "crops": {"file": crop_file(video), **crops},
        "columns": PART_COLUMNS,
        "rows": rows,
    }
    data = (json.dumps(payload, default=_json_scalar, separators=(",", ":")) + "\n").encode()
    atomic_write(Path(cache_dir) / part_file(video), lambda handle: handle.write(data))


def _json_scalar(value: object) -> object:
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return None if math.isnan(value) else float(value)
    raise TypeError(f"cannot store {type(value).__name__} in a part")


def read_part(path: Path) -> dict[str, Any]:
    """Read a part written by :func:`write_part`.

    Raises:
        CacheError: If the file is not a part of this format (naming it).
    """
    try:
        payload: dict[str, Any] = json.loads(Path(path).read_bytes())
        if payload.get("format") != PART_FORMAT or payload.get("columns") != PART_COLUMNS:
            raise ValueError(f"not a part of format {PART_FORMAT}")
        for key in ("crc32", "size", "mtime_ns", "file"):
            if key not in payload["crops"]:
                raise ValueError(f"no crops.{key}")
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise CacheError(f"{path} is not a readable cache part ({exc})") from exc
    return payload


def part_table(part: dict[str, Any]) -> pd.DataFrame:
    """The rows of a part (its ``"rows"``) as a DataFrame with the :data:`PART_COLUMNS` dtypes."""
    table = pd.DataFrame(part["rows"], columns=PART_COLUMNS)
    if not len(table):
        return empty_table()
    return table.astype({c: _dtype(c) for c in PART_COLUMNS})


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
    for path in sorted(root.rglob("*.json")):
        relative = path.relative_to(root).as_posix()
        if any(s.startswith(".") for s in relative.split("/")):
            continue
        yield relative[: -len(".json")], path


def merge_parts(parts: dict[str, dict[str, Any]]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Merge parts into (crops, skipped frames), each sorted by video and frame."""
    # One frame built from every part's rows, converted once (a frame per part costs ~8 ms
    # each: most of a reused cache's start-up time).
    rows = [row for part in parts.values() for row in part["rows"]]
    return split_status(part_table({"rows": rows}))


def write_if_changed(path: Path, table: pd.DataFrame) -> bool:
    """Write a table atomically unless the file already holds exactly that; True if written."""
    data = table.to_csv(index=False).encode()
    with contextlib.suppress(OSError):
        if path.read_bytes() == data:
            return False
    atomic_write(path, lambda handle: handle.write(data))
    return True


def rebuild_index(cache_dir: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Rewrite ``index.csv`` and ``skipped.csv`` from the parts; return both tables.

    Safe at any time while no run writes to the cache (hold :func:`cache_lock`).
    Unreadable parts are skipped here (``preprocess`` recomputes their videos).
    """
    parts = {}
    for video, path in iter_parts(cache_dir):
        with contextlib.suppress(CacheError):
            parts[video] = read_part(path)
    index, skipped = merge_parts(parts)
    write_if_changed(Path(cache_dir) / INDEX_FILE, index)
    write_if_changed(Path(cache_dir) / SKIPPED_FILE, skipped)
    return index, skipped


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


def stale_reason(
    cache_dir: Path,
    part: dict[str, Any],
    expected: dict[str, Any],
    sources: list[tuple[str, Path]],
    full: bool = False,
) -> tuple[str | None, dict[str, Any] | None]:
    """Say whether a complete video's crops still match what they would be made from now.

    Args:
        cache_dir: The cache folder.
        part: The video's part (:func:`read_part`).
        expected: ``settings_key``, ``box_source``, ``max_frames`` and ``rotation`` of the
            job now.
        sources: ``(role, path)`` of the video file and its annotation files now.
        full: Hash every source and checksum the crop file even when the stat agrees.

    Returns:
        ``(reason, refreshed)``: ``reason`` is None when the crops are valid, else why
        they are not (e.g. ``"video file changed (content)"``, ``"crop file truncated"``);
        ``refreshed`` is the part with updated stats when a file was only touched (the
        caller rewrites it so the next check is a stat again), else None.

    Raises:
        DatasetPermissionError: If a source cannot be read for lack of permission.
    """
    for key, value in expected.items():
        if part.get(key) != value:
            return f"{key} changed ({part.get(key)!r} -> {value!r})", None
    recorded = part.get("sources", [])
    if [(r["role"], r["path"]) for r in recorded] != [(role, str(p)) for role, p in sources]:
        return "source files changed (other paths)", None
    refreshed = False
    new_sources = []
    for record, (role, path) in zip(recorded, sources, strict=True):
        now = source_record(path, role, digest=False)
        if not now["exists"] or not record["exists"]:
            if now["exists"] != record["exists"]:
                change = "appeared" if now["exists"] else "disappeared"
                return f"{role} file {path} {change}", None
            new_sources.append(record)
            continue
        if now["size"] != record["size"]:
            return f"{role} file {path} changed (size {record['size']} -> {now['size']})", None
        if full or now["mtime_ns"] != record["mtime_ns"]:
            now[SOURCE_HASH] = file_digest(path)
            if now[SOURCE_HASH] != record[SOURCE_HASH]:
                return f"{role} file {path} changed (content)", None
            refreshed = refreshed or now["mtime_ns"] != record["mtime_ns"]
            new_sources.append(now)
        else:
            new_sources.append(record)
    crops = part["crops"]
    path = Path(cache_dir) / crops["file"]
    try:
        stat = path.stat()
    except FileNotFoundError:
        return f"crop file {path} missing", None
    if stat.st_size != crops["size"]:
        return (
            f"crop file {path} truncated or resized ({stat.st_size} bytes, "
            f"{crops['size']} expected)",
            None,
        )
    if full or stat.st_mtime_ns != crops["mtime_ns"]:
        if file_crc32(path) != crops["crc32"]:
            return f"crop file {path} damaged (checksum mismatch)", None
        if stat.st_mtime_ns != crops["mtime_ns"]:
            refreshed = True
            crops = {**crops, "mtime_ns": stat.st_mtime_ns}
    if not refreshed:
        return None, None
    return None, {**part, "sources": new_sources, "crops": crops}


def write_part_record(cache_dir: Path, part: dict[str, Any]) -> None:
    """Rewrite a part as it is (e.g. with refreshed stats), atomically."""
    data = (json.dumps(part, separators=(",", ":")) + "\n").encode()
    atomic_write(Path(cache_dir) / part_file(part["video"]), lambda handle: handle.write(data))


class CropCache:
    """A crop cache, opened for reading.

    The index is built from the parts (see the module docstring), so it covers every
    complete video. Crop arrays are memory-mapped on first use and kept open, so reading
    a crop is a slice of the page cache. The first time a video's crops are read, the
    size and CRC-32 of its crop file are checked against its part (a data set built on
    the cache reads every video once when it counts their frames, so the check runs once,
    in the main process, before any loader starts, and a damaged file is reported there).
    Picklable (for DataLoader workers): the maps are reopened in the new process, which
    checks sizes and shapes again but not the checksums already verified.

    Args:
        cache_dir: The cache folder (``settings.cache_dir(cache_root)``).
        verify: Check each crop file's checksum on its first read (True), or only its
            size and shape (False).

    Attributes:
        cache_dir: The folder.
        settings: The settings the crops were made with.
        index: One row per crop: ``video, frame, status, x1, y1, x2, y2, source,
            rotation, file, offset, box_source`` (``x1..y2``: face box in frame pixels;
            ``file``: array relative to ``cache_dir``; ``offset``: row in that array).

    Raises:
        CacheError: If the folder is not a cache, no video is complete in it, or a part
            cannot be read (naming it).
    """

    def __init__(self, cache_dir: str | Path, verify: bool = True) -> None:
        self.cache_dir = Path(cache_dir)
        self.settings = load_settings(self.cache_dir)
        self.verify = verify
        parts = {video: read_part(path) for video, path in iter_parts(self.cache_dir)}
        if not parts:
            raise CacheError(
                f"{self.cache_dir} has no complete video: preprocessing did not finish; run "
                "preprocess() again with the same settings to complete it"
            )
        self.index, self._skipped = merge_parts(parts)
        self._crops = {part["crops"]["file"]: part["crops"] for part in parts.values()}
        self._files = self.index["file"].to_numpy()
        self._offsets = self.index["offset"].to_numpy()
        self._rows_per_file = self.index["file"].value_counts().to_dict()
        self._arrays: dict[str, np.ndarray] = {}
        self._verified: set[str] = set()

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
        return self._skipped

    def _damaged(self, path: Path, problem: str) -> CacheError:
        return CacheError(
            f"crop file {path} {problem}; run preprocess() (or the data module's "
            "prepare_data()) again: it recomputes this video (delete the file first if "
            "its size and modification time were kept)"
        )

    def _check_file(self, file: str) -> None:
        """Size, then (with ``verify``, once per process) CRC-32 of a crop file.

        Safe to run in threads (a ``stat`` and zlib, which releases the GIL); reading the
        ``.npy`` header is not (NumPy parses it with :func:`ast.literal_eval`, whose
        compiler is not thread-safe in CPython 3.11), so :meth:`_open` does that.
        """
        path = self.cache_dir / file
        record = self._crops[file]
        try:
            size = path.stat().st_size
        except FileNotFoundError:
            raise self._damaged(path, "is missing") from None
        if size != record["size"]:
            raise self._damaged(
                path, f"is truncated or resized ({size} bytes, {record['size']} expected)"
            )
        if self.verify and file not in self._verified:
            if file_crc32(path) != record["crc32"]:
                raise self._damaged(path, "is damaged (its CRC-32 differs from its part)")
            self._verified.add(file)

    def _array(self, file: str) -> np.ndarray:
        array = self._arrays.get(file)
        if array is None:
            self._check_file(file)
            array = self._open(file)
        return array

    def _open(self, file: str) -> np.ndarray:
        """Memory-map a checked crop file and check its shape (in the calling thread)."""
        path = self.cache_dir / file
        try:
            array: np.ndarray = np.load(path, mmap_mode="r", allow_pickle=False)
        except (OSError, ValueError) as exc:
            raise self._damaged(path, f"cannot be read ({exc})") from exc
        side = self.settings.size
        expected = (self._rows_per_file.get(file, 0), side, side, 3)
        if array.shape != expected or array.dtype != np.uint8:
            raise self._damaged(
                path, f"holds {array.dtype} {array.shape}, the index expects uint8 {expected}"
            )
        self._arrays[file] = array
        return array

    def verify_videos(self, videos: Iterable[str], threads: int | None = None) -> None:
        """Open and check the crop files of ``videos`` now, several files at a time.

        Each file gets the checks of its first read (size, CRC-32 with ``verify``, shape);
        sizes and CRC-32s run in ``threads`` threads (zlib releases the GIL while it sums;
        the headers are read after, in the calling thread), so on ``n`` cores the
        checks of a whole data set take about ``1/n`` of the time of checking the files
        one by one on first read. The data modules call it for every video of their splits
        before a loader starts. Videos without crops in this cache, and files already
        opened in this process, are passed over.

        Args:
            videos: Video ids.
            threads: Threads to use (default: the CPU count, at most 8).

        Raises:
            CacheError: If a file is missing, truncated or damaged, naming the first such
                file in sorted order (the others are checked too).
        """
        wanted = {crop_file(video) for video in videos}
        files = sorted(wanted & self._rows_per_file.keys() - self._arrays.keys())
        n_threads = threads if threads is not None else min(8, os.cpu_count() or 1)
        if n_threads <= 1 or len(files) <= 1:
            for file in files:
                self._array(file)
            return
        with ThreadPoolExecutor(n_threads, thread_name_prefix="mtfas-crc") as pool:
            results = [pool.submit(self._check_file, file) for file in files]
        for file, result in zip(files, results, strict=True):
            result.result()  # raises the first failure, in sorted order
            self._open(file)  # the header and shape, in this thread (see _check_file)

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
        crop: np.ndarray = self._array(self._files[row_idx])[self._offsets[row_idx]]
        return crop

    def rows(self, video: str) -> pd.DataFrame:
        """Index rows of one video."""
        return self.index[self.index["video"] == video]
