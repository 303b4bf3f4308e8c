"""Atomic writes (mtfas.io): the destination is the old file or the whole new one, never a part."""

from __future__ import annotations

import os

import numpy as np
import pytest

from mtfas import io
from mtfas.io import atomic_path, atomic_write_bytes, atomic_write_text, temp_path_for


def listing(folder):
    return sorted(p.name for p in folder.iterdir())


def test_write_text_and_bytes_create_and_replace(tmp_path):
    target = tmp_path / "results.md"
    assert atomic_write_text(target, "one\n") == target
    assert target.read_text(encoding="utf-8") == "one\n"
    atomic_write_text(target, "two ± 3\n")
    assert target.read_text(encoding="utf-8") == "two ± 3\n"
    blob = tmp_path / "blob.bin"
    atomic_write_bytes(blob, bytes(range(256)))
    assert blob.read_bytes() == bytes(range(256))
    assert listing(tmp_path) == ["blob.bin", "results.md"]


def test_new_file_mode_follows_the_umask(tmp_path):
    umask = os.umask(0o022)
    os.umask(umask)
    target = atomic_write_text(tmp_path / "a.txt", "x")
    assert target.stat().st_mode & 0o777 == 0o666 & ~umask


def test_failure_inside_the_block_keeps_the_old_file_and_leaves_no_temporary(tmp_path):
    target = tmp_path / "scores.csv"
    target.write_text("old,complete\n")
    with pytest.raises(RuntimeError, match="disk on fire"), atomic_path(target) as tmp:
        tmp.write_text("new,half")
        raise RuntimeError("disk on fire")
    assert target.read_text() == "old,complete\n"
    assert listing(tmp_path) == ["scores.csv"]


def test_failure_without_an_old_file_leaves_nothing(tmp_path):
    target = tmp_path / "model.onnx"
    with pytest.raises(KeyboardInterrupt), atomic_path(target) as tmp:
        tmp.write_bytes(b"partial")
        raise KeyboardInterrupt
    assert listing(tmp_path) == []


def test_failed_rename_keeps_the_old_file(tmp_path, monkeypatch):
    target = tmp_path / "results.csv"
    target.write_text("old\n")

    def broken_replace(src, dst):
        raise OSError("rename failed")

    monkeypatch.setattr(io.os, "replace", broken_replace)
    with pytest.raises(OSError, match="rename failed"):
        atomic_write_text(target, "new\n")
    assert target.read_text() == "old\n"
    assert listing(tmp_path) == ["results.csv"]


def test_data_is_fsynced_before_the_rename(tmp_path, monkeypatch):
    events = []
    real_fsync, real_replace = os.fsync, os.replace
    monkeypatch.setattr(io.os, "fsync", lambda fd: (events.append("fsync"), real_fsync(fd)))
    monkeypatch.setattr(
        io.os, "replace", lambda a, b: (events.append("replace"), real_replace(a, b))
    )
    atomic_write_bytes(tmp_path / "x.bin", b"data")
    # The file, then (after the rename) its folder.
    assert events == ["fsync", "replace", "fsync"]


def test_temporary_path_keeps_the_suffix_for_writers_that_need_it(tmp_path):
    target = tmp_path / "crops.npy"
    tmp = temp_path_for(target)
    assert tmp.parent == tmp_path and tmp.suffix == ".npy" and tmp.name.startswith(".crops.tmp-")
    assert temp_path_for(target) != tmp
    with atomic_path(target) as tmp:
        np.save(tmp, np.arange(3))  # np.save appends .npy unless the name ends with it
    np.testing.assert_array_equal(np.load(target), np.arange(3))
    assert listing(tmp_path) == ["crops.npy"]


def test_block_that_writes_nothing_is_an_error_and_changes_nothing(tmp_path):
    target = tmp_path / "a.txt"
    target.write_text("old")
    with pytest.raises(FileNotFoundError, match="nothing was written"), atomic_path(target):
        pass
    assert target.read_text() == "old" and listing(tmp_path) == ["a.txt"]


def test_missing_folder_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        atomic_write_text(tmp_path / "nope" / "a.txt", "x")
