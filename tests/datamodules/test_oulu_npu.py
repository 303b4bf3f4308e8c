"""OULU-NPU: the benchmark battery, protocol logic, errors, on a tiny synthetic release."""

from __future__ import annotations

import shutil
import warnings
from pathlib import Path

import pytest

from mtfas.datamodules import OULUNPUDataModule, SyntheticOULUNPUDataModule
from mtfas.errors import (
    ConfigError,
    DatasetError,
    DatasetNotFoundError,
    DatasetWarning,
    MissingVideoError,
    ProtocolError,
)
from tests.conftest import OULU_CROPS
from tests.datamodules.benchmark_tests import BenchmarkTests

SPECIES = {1: "live", 2: "print1", 3: "print2", 4: "replay1", 5: "replay2"}


def _make(root, cache, protocol=1, fold=None, **overrides):
    kwargs = {
        **OULU_CROPS,
        "image_size": 32,
        "batch_size": 8,
        "eval_batch_size": 64,
        "meta_val_fraction": 0.3,
        "cache_dir": cache,
        **overrides,
    }
    return OULUNPUDataModule(root, protocol=protocol, fold=fold, **kwargs)


@pytest.mark.parametrize(
    "protocol,fold", [(1, None), (4, 2)], ids=["P1", "P4-fold2"], scope="class"
)
class TestOULUNPUBenchmark(BenchmarkTests):
    extra_columns = ("phone", "session", "file")
    subject_disjoint_splits = True

    @pytest.fixture(scope="class")
    @classmethod
    def make_datamodule(cls, oulu_release, oulu_cache, protocol, fold):
        def make(**overrides):
            overrides.setdefault("root", oulu_release)
            return _make(
                cache=overrides.pop("cache_dir", oulu_cache),
                protocol=protocol,
                fold=fold,
                **overrides,
            )

        return make


# ----------------------------------------------------------------- protocol logic
@pytest.fixture(scope="module")
def tables(oulu_release, oulu_cache):
    """Video tables of every protocol (and fold 1, 2) of the tiny release."""
    out = {}
    for protocol, fold in [(1, None), (2, None), (3, 1), (3, 2), (4, 1), (4, 2)]:
        dm = _make(oulu_release, oulu_cache, protocol, fold)
        out[protocol, fold] = {s: dm.video_table(s) for s in ("train", "dev", "test")}
    return out


def test_protocol_1_tests_on_the_unseen_session(tables):
    t = tables[1, None]
    assert set(t["train"]["session"]) == set(t["dev"]["session"]) == {1, 2}
    assert set(t["test"]["session"]) == {3}
    for split in t.values():
        assert set(split["file"]) == {1, 2, 3, 4, 5} and set(split["phone"]) == {1, 2}
    # 2 users x 2 phones x 2 sessions x 5 files; test: 1 session.
    assert [len(t[s]) for s in ("train", "dev", "test")] == [40, 40, 20]


def test_protocol_2_tests_on_unseen_instruments(tables):
    t = tables[2, None]
    assert set(t["train"]["file"]) == set(t["dev"]["file"]) == {1, 2, 4}
    assert set(t["test"]["file"]) == {1, 3, 5}
    assert set(t["test"]["pai"]) == {"live", "print2", "replay2"}
    for split in t.values():
        assert set(split["session"]) == {1, 2, 3}


@pytest.mark.parametrize("fold", [1, 2])
def test_protocol_3_holds_out_phone_k(tables, fold):
    t = tables[3, fold]
    assert set(t["test"]["phone"]) == {fold}
    assert fold not in set(t["train"]["phone"]) | set(t["dev"]["phone"])
    assert set(t["train"]["session"]) == {1, 2, 3} and set(t["train"]["file"]) == set(SPECIES)


@pytest.mark.parametrize("fold", [1, 2])
def test_protocol_4_combines_all_three(tables, fold):
    t = tables[4, fold]
    for split in ("train", "dev"):
        assert set(t[split]["session"]) == {1, 2} and set(t[split]["file"]) == {1, 2, 4}
        assert fold not in set(t[split]["phone"])
    assert set(t["test"]["session"]) == {3} and set(t["test"]["file"]) == {1, 3, 5}
    assert set(t["test"]["phone"]) == {fold}


def test_species_and_ids_come_from_the_name(tables):
    for split, table in tables[1, None].items():
        folder = {"train": "Train_files", "dev": "Dev_files", "test": "Test_files"}[split]
        for row in table.itertuples():
            name = Path(row.video).name
            phone, session, user, file = (int(x) for x in name.split("_"))
            assert row.video == f"{folder}/{name}" and len(name.split("_")[2]) == 2
            assert (row.phone, row.session, row.subject, row.file) == (phone, session, user, file)
            assert row.pai == SPECIES[file]
            assert row.label == ("live" if file == 1 else "attack")


# ----------------------------------------------------------------- edited copies
def _copy(release, tmp_path, protocol_dir="Protocol_1"):
    """A root whose video folders link to the release and whose protocols are copies."""
    root = tmp_path / "copy"
    root.mkdir()
    for folder in ("Train_files", "Dev_files", "Test_files"):
        (root / folder).symlink_to(release / folder)
    shutil.copytree(release / "Protocols", root / "Protocols")
    return root, root / "Protocols" / protocol_dir


def _edit(path, old, new):
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))


def test_a_sign_contradicting_the_file_digit_warns_and_the_digit_wins(oulu_release, tmp_path):
    root, protocols = _copy(oulu_release, tmp_path)
    _edit(protocols / "Train.txt", "-1,1_1_01_2\n", "+1,1_1_01_2\n")
    _edit(protocols / "Train.txt", "+1,1_2_02_1\n", "-2,1_2_02_1\n")
    dm = _make(root, tmp_path / "cache")
    with pytest.warns(DatasetWarning, match=r"2 label\(s\) contradict the File digit"):
        table = dm.video_table("train").set_index("video")
    assert table.loc["Train_files/1_1_01_2", "pai"] == "print1"
    assert table.loc["Train_files/1_2_02_1", "label"] == "live"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _make(oulu_release, tmp_path / "cache").video_table("train")


def test_a_listed_video_missing_on_disk_is_named(oulu_release, tmp_path):
    root, protocols = _copy(oulu_release, tmp_path)
    with (protocols / "Dev.txt").open("a") as handle:
        handle.write("-2,2_1_29_5\n")
    dm = _make(root, tmp_path / "cache")
    with pytest.raises(MissingVideoError, match=r"Dev_files/2_1_29_5\.avi") as info:
        dm.video_table("dev")
    assert "Dev.txt" in str(info.value)
    with pytest.raises(MissingVideoError):
        dm.prepare_data()


def test_a_missing_protocol_file_is_named(oulu_release, tmp_path):
    root, protocols = _copy(oulu_release, tmp_path)
    (protocols / "Test.txt").unlink()
    with pytest.raises(ProtocolError, match=r"Protocols/Protocol_1/Test\.txt is missing"):
        _make(root, tmp_path / "cache").video_table("test")
    # Folds of phones that the release does not have do not exist either.
    with pytest.raises(ProtocolError, match=r"Protocol_3/Train_5\.txt"):
        _make(oulu_release, tmp_path / "cache", 3, 5).video_table("train")


@pytest.mark.parametrize(
    "line,match",
    [
        ("+1 1_1_01_1 extra", "line 42: expected 'label,video'"),
        ("+1,1_1_01", "not an OULU-NPU video name"),
        ("-1,1_1_01_7", "File digit 7"),
    ],
)
def test_malformed_protocol_lines_are_located(oulu_release, tmp_path, line, match):
    root, protocols = _copy(oulu_release, tmp_path)
    with (protocols / "Train.txt").open("a") as handle:
        handle.write(f"\n{line}\n")
    with pytest.raises(ProtocolError, match=match) as info:
        _make(root, tmp_path / "cache").video_table("train")
    assert "Train.txt" in str(info.value)


def test_a_root_without_the_layout_is_not_found(tmp_path):
    (tmp_path / "Train_files").mkdir()
    dm = _make(tmp_path, tmp_path / "cache")
    with pytest.raises(DatasetNotFoundError, match="lacks Dev_files, Test_files, Protocols"):
        dm.video_table("train")


@pytest.mark.parametrize(
    "protocol,fold,match",
    [
        (5, None, "protocols 1-4"),
        (0, None, "protocols 1-4"),
        (1, 2, "has no folds"),
        (2, 1, "has no folds"),
        (3, None, "pass fold=1..6"),
        (4, 7, "pass fold=1..6"),
        (3, 0, "pass fold=1..6"),
    ],
)
def test_unknown_protocol_or_fold(tmp_path, protocol, fold, match):
    with pytest.raises(ProtocolError, match=match):
        OULUNPUDataModule(tmp_path, protocol=protocol, fold=fold)


def test_the_eye_frame_base_separates_caches(oulu_release, tmp_path):
    base0 = _make(oulu_release, tmp_path)
    base1 = _make(oulu_release, tmp_path, eye_frame_base=1)
    assert base0.crop_cache_dir != base1.crop_cache_dir


# ----------------------------------------------------------------- videos without crops
def _one_video_per_split(root):
    """Trim Protocol_1 to one user's five videos per split (fast to preprocess)."""
    protocols = root / "Protocols" / "Protocol_1"
    for name, user in (("Train", "01"), ("Dev", "21"), ("Test", "36")):
        path = protocols / f"{name}.txt"
        lines = [
            ln
            for ln in path.read_text().splitlines()
            if ln.split(",")[1][:6] in (f"1_1_{user}", f"1_3_{user}", f"1_2_{user}")
        ]
        path.write_text("\n".join(lines) + "\n")


def test_a_video_without_crops_is_an_error_or_a_counted_exclusion(oulu_release, tmp_path):
    root = tmp_path / "copy"
    shutil.copytree(oulu_release, root)
    _one_video_per_split(root)
    eyes = root / "Dev_files" / "1_1_21_3.txt"
    eyes.write_text("".join(f"{t},0,0,0,0\n" for t in range(3)))  # no face in any frame
    dm = _make(root, tmp_path / "cache", meta_val_fraction=0.0)
    dm.prepare_data()
    assert dm.last_preprocess.counts.videos_without_crops == 1
    with pytest.raises(DatasetError, match=r"Dev_files/1_1_21_3 \(no face found\)") as info:
        dm.setup("fit")
    assert "allow_missing_crops=True" in str(info.value)

    lenient = _make(root, tmp_path / "cache", meta_val_fraction=0.0, allow_missing_crops=True)
    with pytest.warns(DatasetWarning, match="excluding 1 video"):
        lenient.setup("fit")
    dev = lenient.datasets["dev"]
    assert len(dev.table) == 10 and (dev.frames_per_video == 0).sum() == 1
    assert len(dev) == 9 * 3


def test_a_video_failing_to_preprocess_is_reported(oulu_release, tmp_path, capsys):
    root = tmp_path / "copy"
    shutil.copytree(oulu_release, root)
    _one_video_per_split(root)
    (root / "Train_files" / "1_1_01_4.txt").unlink()
    dm = _make(root, tmp_path / "cache", meta_val_fraction=0.0)
    dm.prepare_data()
    out = capsys.readouterr().out
    assert "1 failed" in out and "1_1_01_4.txt" in out
    with pytest.raises(DatasetError, match=r"Train_files/1_1_01_4 \(bad_annotation\)"):
        dm.setup("fit")


# ----------------------------------------------------------------- synthetic module
def test_the_synthetic_module_generates_its_release_on_first_use(tmp_path, capsys):
    kwargs = {
        "root": tmp_path / "synthetic",
        "phones": [2],
        "sessions": [1, 2, 3],
        "users_per_split": [2, 1, 1],
        "video_frames": 2,
        "video_size": 64,
        "crop_size": 32,
        "n_frames": 2,
        "image_size": 32,
        "batch_size": 8,
        "cache_dir": tmp_path / "cache",
        "preprocess_workers": 0,
        "progress": False,
        "meta_val_fraction": 0.5,
    }
    dm = SyntheticOULUNPUDataModule(**kwargs)
    with pytest.raises(DatasetNotFoundError, match="call prepare_data"):
        dm.video_table("train")
    dm.prepare_data()
    assert (tmp_path / "synthetic" / "Train_files" / "2_3_02_5.avi").is_file()
    dm.setup("fit")
    assert set(dm.video_table("test")["session"]) == {3}
    assert len(dm.datasets["test"]) == 5 * 2
    capsys.readouterr()
    again = SyntheticOULUNPUDataModule(**kwargs)
    again.prepare_data()
    out = capsys.readouterr().out
    assert "(reused; codec" in out and "(reused)" in out
    with pytest.raises(ConfigError, match="other settings"):
        SyntheticOULUNPUDataModule(**{**kwargs, "video_frames": 3}).prepare_data()


def test_the_synthetic_root_defaults_to_the_cache(monkeypatch, tmp_path):
    monkeypatch.setenv("MTFAS_CACHE", str(tmp_path))
    a = SyntheticOULUNPUDataModule()
    b = SyntheticOULUNPUDataModule(video_frames=7)
    assert a.root.parent == tmp_path / "synthetic" and a.root != b.root
    assert a.root == SyntheticOULUNPUDataModule().root
