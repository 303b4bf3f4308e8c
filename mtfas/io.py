"""Atomic file writes: a file the library writes is either the old one or the whole new one.

Each writer writes a temporary file in the destination's folder, flushes it to disk
(``fsync``), renames it over the destination (``os.replace``, atomic on POSIX and Windows
for a path on one file system) and then flushes the folder entry. A crash or an exception
at any point leaves the previous file untouched and no partial destination file; an
exception also removes the temporary file (a kill can leave one behind: it is named
``.<name>.tmp-<random><suffix>``, next to the destination).

>>> atomic_write_text("results.md", table)  # doctest: +SKIP
>>> with atomic_path("model.onnx") as tmp:  # doctest: +SKIP
...     onnx.save(proto, str(tmp))

No torch or Lightning imports: usable from worker processes.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator
from pathlib import Path

__all__ = ["atomic_path", "atomic_write_bytes", "atomic_write_text", "temp_path_for"]

#: Marker in the names of temporary files.
TMP_MARK = ".tmp-"


def temp_path_for(path: str | Path) -> Path:
    """A fresh temporary path next to ``path``, with the same suffix (writers pick formats by it).

    ``results.csv`` -> ``.results.tmp-<16 hex digits>.csv`` in the same folder.
    """
    path = Path(path)
    return path.with_name(f".{path.stem}{TMP_MARK}{secrets.token_hex(8)}{path.suffix}")


def _fsync_file(path: Path) -> None:
    flags = os.O_RDWR if os.name == "nt" else os.O_RDONLY
    fd = os.open(path, flags)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(folder: Path) -> None:
    """Flush a folder's entries (the rename); not possible on Windows, where it is skipped."""
    if os.name == "nt":  # pragma: no cover - no directory handles to fsync on Windows
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path to write instead of ``path``; on success it becomes ``path``.

    The yielded path is in ``path``'s folder, has the same suffix and does not exist yet;
    write it (any writer: ``to_csv``, ``onnx.save``, ``np.save``, ...). When the ``with``
    block ends without an exception the file is fsynced and renamed over ``path``
    (``os.replace``) and the folder is fsynced. If the block raises, the temporary file is
    removed and ``path`` is left as it was (absent or the old file).

    Args:
        path: The destination. Its folder must exist.

    Raises:
        FileNotFoundError: If the folder of ``path`` does not exist, or the block did not
            write the temporary file.
    """
    path = Path(path)
    folder = path.parent
    if not folder.is_dir():
        raise FileNotFoundError(f"cannot write {path}: its folder {folder} does not exist.")
    tmp = temp_path_for(path)
    try:
        yield tmp
        if not tmp.is_file():
            raise FileNotFoundError(
                f"nothing was written to the temporary file {tmp} for {path} (or it is not a "
                "plain file); the writer inside atomic_path() must write the yielded path."
            )
        _fsync_file(tmp)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise
    _fsync_dir(folder)


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically (see :func:`atomic_path`); return ``path``."""
    path = Path(path)
    with atomic_path(path) as tmp, open(tmp, "xb") as handle:
        handle.write(data)
    return path


def atomic_write_text(
    path: str | Path, text: str, encoding: str = "utf-8", newline: str | None = None
) -> Path:
    r"""Write ``text`` to ``path`` atomically (see :func:`atomic_path`); return ``path``.

    Args:
        path: The destination. Its folder must exist.
        text: The content.
        encoding: Text encoding (default UTF-8).
        newline: As for :func:`open`: ``None`` translates ``\n`` to the platform's line
            ending, ``""`` or ``"\n"`` writes it unchanged.
    """
    path = Path(path)
    with atomic_path(path) as tmp, open(tmp, "x", encoding=encoding, newline=newline) as handle:
        handle.write(text)
    return path
