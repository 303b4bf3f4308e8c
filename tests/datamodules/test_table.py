"""Your own data: TableDataModule on generated tables (images and videos), the folder
convention, bad rows (each kind named, or counted skips), dev carving, face columns,
Parquet, images in the preprocessing, ``mtfas synth --layout table`` and a CLI fit."""

from __future__ import annotations

import sys
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest

from mtfas.cli import main
from mtfas.datamodules import TableDataModule
from mtfas.errors import (
    ConfigError,
    DatasetError,
    DatasetWarning,
    MissingExtraError,
    TableRowError,
)
from mtfas.preprocessing import FaceBoxFile, VideoJob, crop_face, preprocess
from mtfas.preprocessing.annotations import read_number_rows
from mtfas.protocols.subjects import draw_dev_subjects
from mtfas.synthetic.layouts import LAYOUTS, write_table_release
from mtfas.synthetic.layouts.table import SPECIES
from tests.conftest import TABLE_CROPS, TABLE_RELEASE
from tests.datamodules.benchmark_tests import BenchmarkTests

ROOT = Path(__file__).resolve().parents[2]
CONFIGS = ROOT / "configs"


def _make(table, cache, **overrides):
    kwargs = {
        **TABLE_CROPS,
        "image_size": 32,
        "batch_size": 8,
        "eval_batch_size": 64,
        "meta_val_fraction": 0.4,
        "cache_dir": cache,
        **overrides,
    }
    if "folder" in kwargs:
        return TableDataModule(**kwargs)
    return TableDataModule(table, **kwargs)


class TestTableBenchmark(BenchmarkTests):
    extra_columns = ("subject_name", "kind", "file", "row", "path", "annotation")
    subject_disjoint_splits = True

    @pytest.fixture(scope="class")
    @classmethod
    def make_datamodule(cls, table_release, table_cache):
        def make(**overrides):
            return _make(
                table_release / "table.csv",
                overrides.pop("cache_dir", table_cache),
                **overrides,
            )

        return make


@pytest.fixture(scope="module")
def prepared(table_release, table_cache):
    dm = _make(table_release / "table.csv", table_cache)
    dm.prepare_data()
    dm.setup("fit")
    return dm


# ----------------------------------------------------------------- images and videos
def test_images_and_videos_mix_and_images_are_one_frame_items(prepared, table_release):
    tables = {s: prepared.video_table(s) for s in ("train", "dev", "test")}
    for split, table in tables.items():
        assert set(table["kind"]) == {"image", "video"}, split
        assert set(table["pai"]) == set(SPECIES), split
    assert prepared.pai_names == ("live", "print1", "replay1")
    assert not prepared.dev_carved
    index = prepared.frame_store().cache.index
    frames = index.groupby("video")["frame"].apply(list)
    everything = pd.concat(tables.values())
    for video, kind, file in zip(everything["video"], everything["kind"], everything["file"]):
        assert frames[video] == ([0] if kind == "image" else [0, 1, 2]), video
        assert Path(file).suffix == (".png" if kind == "image" else ".avi")
    # Nothing was written into the data folder (no fake one-frame video on disk).
    assert not list(table_release.rglob("*.npy"))
    assert len(list((table_release / "data").rglob("*.avi"))) == len(everything) // 2


def test_an_image_crop_is_the_crop_of_the_image_file(prepared):
    row = prepared.video_table("test").query("kind == 'image'").iloc[0]
    rgb = cv2.cvtColor(cv2.imread(row["file"]), cv2.COLOR_BGR2RGB)
    box_line = read_number_rows(prepared.root / row["annotation"], 5)[0][1]
    frame, x, y, w, h = box_line
    assert frame == 0
    from mtfas.preprocessing import Box

    settings = prepared.settings
    expected = crop_face(
        rgb,
        Box(x, y, x + w, y + h),
        settings.size,
        settings.scale,
        settings.square,
        settings.border,
    )
    stored = prepared.frame_store().frames(row["video"])
    assert stored.shape == (1, 32, 32, 3)
    np.testing.assert_array_equal(stored[0], expected)


def test_preprocessing_reads_an_image_without_opening_a_video(tmp_path, monkeypatch):
    image = np.zeros((40, 50, 3), np.uint8)
    image[10:30, 20:40] = (255, 0, 0)  # RGB red
    cv2.imwrite(str(tmp_path / "face.png"), cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
    (tmp_path / "face.face").write_text("0 20 10 20 20\n")
    (tmp_path / "broken.png").write_bytes(b"not an image")
    (tmp_path / "empty.jpg").write_bytes(b"")

    def refuse(*args, **kwargs):
        raise AssertionError("an image must not be opened as a video")

    monkeypatch.setattr(cv2, "VideoCapture", refuse)
    source = FaceBoxFile("frame_xywh", missing_ok=True)
    jobs = [
        VideoJob(name, tmp_path / f"{name}{ext}", source)
        for name, ext in [("face", ".png"), ("broken", ".png"), ("empty", ".jpg")]
    ]
    from mtfas.preprocessing import PreprocessSettings

    settings = PreprocessSettings(size=16, scale=1.0, n_frames=5)
    result = preprocess(jobs, settings, tmp_path / "cache", progress=False)
    assert result.index[["video", "frame", "status"]].values.tolist() == [["face", 0, "ok"]]
    crop = result.open().load("face")
    assert crop.shape == (1, 16, 16, 3)
    assert (crop[0].reshape(-1, 3) == (255, 0, 0)).all()  # the red square, in RGB order
    reasons = {f.video: (f.reason, f.message) for f in result.counts.failures}
    assert (
        reasons["broken"][0] == "unreadable_video" and "cannot decode image" in reasons["broken"][1]
    )
    assert reasons["empty"][0] == "empty_video" and "image" in reasons["empty"][1]


def test_read_image_applies_the_exif_orientation_unless_ignored(tmp_path):
    from PIL import Image

    from mtfas.preprocessing import read_image

    stored = np.zeros((20, 40, 3), np.uint8)
    stored[:, :10] = 255  # a white band on the left of the stored pixels
    picture = Image.fromarray(stored)
    exif = picture.getexif()
    exif[0x0112] = 6  # "rotate 90 degrees clockwise to display"
    picture.save(tmp_path / "phone.jpg", exif=exif.tobytes(), quality=95)
    upright = read_image(tmp_path / "phone.jpg")
    assert upright.shape == (40, 20, 3)
    assert upright[:10].mean() > 200 and upright[-10:].mean() < 50  # the band is on top
    assert read_image(tmp_path / "phone.jpg", orientation="ignore").shape == (20, 40, 3)


# ----------------------------------------------------------------- folder convention
def test_the_folder_convention_gives_the_same_items(table_release, table_cache):
    from_table = _make(table_release / "table.csv", table_cache)
    from_folder = _make(None, table_cache, folder=table_release / "data")
    assert from_folder.root == table_release / "data"
    for split in ("train", "dev", "test"):
        a = from_table.video_table(split).sort_values("video", ignore_index=True)
        b = from_folder.video_table(split).sort_values("video", ignore_index=True)
        assert ("data/" + b["video"]).tolist() == a["video"].tolist(), split
        for column in ("label", "pai", "subject", "kind", "file"):
            assert b[column].tolist() == a[column].tolist(), (split, column)


def test_folder_subjects_from_a_pattern_and_ignored_files_are_counted(tmp_path):
    for name in ("train/live/12_a.jpg", "train/print/12_b.jpg", "test/live/7_a.mp4"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(b"x")
    (tmp_path / "train/live/notes.txt").write_text("x")
    (tmp_path / "README.md").write_text("x")
    with pytest.warns(DatasetWarning, match=r"ignoring 2 file\(s\)") as caught:
        table = TableDataModule.table_from_folder(tmp_path, subject_pattern=r"^(\d+)_")
    assert "notes.txt" in str(caught[0].message)
    assert table.to_dict("records") == [
        {"path": "test/live/7_a.mp4", "split": "test", "species": "live", "subject": "7"},
        {"path": "train/live/12_a.jpg", "split": "train", "species": "live", "subject": "12"},
        {"path": "train/print/12_b.jpg", "split": "train", "species": "print", "subject": "12"},
    ]
    # Without the pattern the files have no subject folder: bad rows, named by path.
    with pytest.warns(DatasetWarning), pytest.raises(TableRowError, match=r"train/live/12_a\.jpg"):
        TableDataModule(folder=tmp_path).rows()


# ----------------------------------------------------------------- bad rows
def _files(folder: Path, *names: str) -> None:
    for name in names:
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(b"x")  # tables are checked without decoding a file


GOOD = [
    "path,label,species,subject,split",
    "img/s1_live.png,0,live,s1,train",
    "img/s1_print.png,1,print,s1,train",
    "img/s2_live.png,0,bona fide,s2,dev",
    "img/s3_live.png,0,live,s3,test",
]
BAD = {
    "missing_file": ("img/absent.png,0,live,s1,train", "does not exist"),
    "unknown_split": ("img/x.png,0,live,s1,val", "split 'val' is not train, dev or test"),
    "label_species_disagree": (
        "img/x.png,0,print,s1,train",
        "label '0' (live) but species 'print'",
    ),
    "subject_in_two_splits": (
        "img/x.png,0,live,s1,test",
        "subject 's1' is in test here but in train",
    ),
    "unknown_species": ("img/x.png,1,mask,s1,train", "species 'mask' is not one of ['print']"),
    "unknown_label": ("img/x.png,2,,s1,train", "label '2' is not 0/1"),
    "missing_value": ("img/x.png,0,live,,train", "no subject"),
    "duplicate": ("img/s1_live.jpg,0,live,s1,train", "same id 'img/s1_live' as line 2"),
    "not_media": ("img/notes.txt,0,live,s1,train", "neither an image nor a video"),
    "outside_root": ("../elsewhere.png,0,live,s1,train", "is not under root"),
}


@pytest.mark.parametrize("kind", list(BAD))
def test_each_kind_of_bad_row_is_an_error_naming_the_row(tmp_path, kind):
    _files(tmp_path, "img/s1_live.png", "img/s1_print.png", "img/s2_live.png", "img/s3_live.png")
    _files(tmp_path, "img/x.png", "img/s1_live.jpg", "img/notes.txt")
    line, reason = BAD[kind]
    table = tmp_path / "table.csv"  # relative paths resolve against its folder
    table.write_text("\n".join([*GOOD[:3], line, *GOOD[3:]]) + "\n")
    dm = TableDataModule(table, species=["print"])
    with pytest.raises(TableRowError) as info:
        dm.rows()
    message = str(info.value)
    assert "1 bad row(s)" in message
    assert f"line 4 ({line.split(',')[0]})" in message, message
    assert reason in message, message
    assert "on_bad_row='skip'" in message
    # Skipped instead: counted by reason, reported, and the good rows stay.
    skipping = TableDataModule(table, species=["print"], on_bad_row="skip")
    assert len(skipping.rows()) == 4
    assert skipping.bad_rows["reason"].tolist() == [kind]
    assert skipping.bad_rows["row"].tolist() == ["line 4"]


def test_bad_face_columns_and_annotation_files_are_bad_rows(tmp_path):
    _files(tmp_path, "a.png", "b.png", "c.png", "d.png", "e.png")
    (tmp_path / "e.face").write_text("0 1 1 5 5\n")
    (tmp_path / "table.csv").write_text(
        "path,label,subject,split,x1,y1,x2,y2,annotation\n"
        "a.png,0,1,train,1,2,3,4,\n"
        "b.png,1,1,train,5,5,1,1,\n"  # x2 < x1
        "c.png,0,2,test,1,2,x,4,\n"  # not a number
        "d.png,1,2,test,,,,,missing.face\n"
        "e.png,1,3,dev,,,,,e.face\n"
    )
    dm = TableDataModule(tmp_path / "table.csv", on_bad_row="skip")
    rows = dm.rows()
    assert rows["video"].tolist() == ["a", "e"]
    assert rows["face"].tolist() == ["box", "file"]
    assert dm.bad_rows[["row", "reason"]].values.tolist() == [
        ["line 3", "bad_face"],
        ["line 4", "bad_face"],
        ["line 5", "missing_annotation"],
    ]
    assert dm.pai_names == ("live", "attack")  # labels without species


def test_skipped_rows_are_counted_and_printed(tmp_path, capsys):
    _files(tmp_path, "img/s1_live.png", "img/s1_print.png", "img/s2_live.png", "img/s3_live.png")
    lines = [
        *GOOD,
        "img/gone.png,0,live,s1,train",
        "img/gone2.png,1,print,s3,test",
        "img/s2_live.png,1,replay,s4,val",
    ]
    (tmp_path / "table.csv").write_text("\n".join(lines) + "\n")
    dm = TableDataModule(tmp_path / "table.csv", on_bad_row="skip")
    assert len(dm.rows()) == 4
    out = capsys.readouterr().out
    assert "skipped 3 bad row(s)" in out
    assert "missing file: 2, unknown split: 1" in out
    assert "first: line 6 (img/gone.png)" in out
    assert dm.bad_row_summary() in out
    assert dm.pai_names == ("live", "print")  # the skipped row's species is not one


def test_subject_ids_are_the_numbers_or_the_sorted_names(tmp_path):
    _files(tmp_path, "a.png", "b.png", "c.png")
    text = "path,label,subject,split\na.png,0,{},train\nb.png,1,{},dev\nc.png,0,{},test\n"
    (tmp_path / "numbers.csv").write_text(text.format(12, 3, 40))
    rows = TableDataModule(tmp_path / "numbers.csv").rows()
    assert rows["subject"].tolist() == [12, 3, 40]
    (tmp_path / "names.csv").write_text(text.format("007", "7", "bob"))
    rows = TableDataModule(tmp_path / "names.csv").rows()
    assert rows["subject"].tolist() == [0, 1, 2]  # sorted: "007" < "7" < "bob"
    assert rows["subject_name"].tolist() == ["007", "7", "bob"]


def test_missing_columns_and_bad_arguments_are_clear_errors(tmp_path):
    (tmp_path / "table.csv").write_text("file,label,subject\na.png,0,1\n")
    with pytest.raises(DatasetError, match=r"lacks the column\(s\) \['path', 'split'\]"):
        TableDataModule(tmp_path / "table.csv").rows()
    (tmp_path / "boxes.csv").write_text("path,label,subject,split,x1,y1\n")
    with pytest.raises(DatasetError, match="give all of"):
        TableDataModule(tmp_path / "boxes.csv").rows()
    with pytest.raises(ConfigError, match="exactly one of table"):
        TableDataModule()
    with pytest.raises(ConfigError, match="exactly one of table"):
        TableDataModule(tmp_path / "table.csv", folder=tmp_path)
    with pytest.raises(ConfigError, match=r"\.csv or \.parquet"):
        TableDataModule(tmp_path / "table.xlsx")
    with pytest.raises(ConfigError, match="on_bad_row"):
        TableDataModule(tmp_path / "table.csv", on_bad_row="ignore")
    with pytest.raises(ConfigError, match="one group"):
        TableDataModule(folder=tmp_path, subject_pattern=r"\d+")
    with pytest.raises(ConfigError, match="attack species"):
        TableDataModule(tmp_path / "table.csv", species=["live", "print"])


# ----------------------------------------------------------------- dev carving
def test_without_dev_rows_dev_is_carved_from_train_by_subject(table_release, tmp_path):
    table = pd.read_csv(table_release / "table.csv")
    table["split"] = table["split"].replace({"dev": "train"})
    table["path"] = [str(table_release / p) for p in table["path"]]
    table["annotation"] = [str(table_release / p) for p in table["annotation"]]
    table.to_csv(tmp_path / "no_dev.csv", index=False)
    dm = _make(tmp_path / "no_dev.csv", tmp_path / "cache", root=table_release, dev_seed=3)
    dm.meta_val_fraction = 0.25
    assert dm.dev_carved is False
    train_subjects = sorted(set(table.loc[table["split"] == "train", "subject"]))
    expected_dev = draw_dev_subjects(train_subjects, 0.2, 3)
    tables = dm.split_tables()
    assert dm.dev_carved is True
    assert sorted(set(tables["dev"]["subject"])) == expected_dev
    subjects = {s: set(tables[s]["subject"]) for s in ("train", "meta_val", "dev", "test")}
    for a in subjects:
        for b in subjects:
            if a < b:
                assert subjects[a].isdisjoint(subjects[b]), (a, b)
    assert subjects["train"] | subjects["meta_val"] | subjects["dev"] == set(train_subjects)
    # Too few training subjects to carve from: the numbers are in the message.
    table[table["subject"].isin([train_subjects[0]]) | (table["split"] == "test")].to_csv(
        tmp_path / "one.csv", index=False
    )
    with pytest.raises(ConfigError, match=r"no dev rows.*from 1 training subject"):
        _make(tmp_path / "one.csv", tmp_path / "cache", root=table_release).rows()


# ----------------------------------------------------------------- face columns
def test_box_and_eye_columns_crop_like_the_annotation_and_edits_recompute_one_item(
    table_release, tmp_path
):
    table = pd.read_csv(table_release / "table.csv")
    table = table[table["path"].str.endswith(".png")].reset_index(drop=True)
    boxes = []
    for annotation in table["annotation"]:
        _frame, x, y, w, h = read_number_rows(table_release / annotation, 5)[0][1]
        boxes.append((x, y, x + w, y + h))
    boxed = table.drop(columns="annotation")
    boxed[["x1", "y1", "x2", "y2"]] = boxes
    boxed["path"] = [str(table_release / p) for p in boxed["path"]]
    boxed.to_csv(tmp_path / "boxes.csv", index=False)
    by_file = _make(table_release / "table.csv", tmp_path / "cache_files")
    by_file.prepare_data()
    by_box = _make(tmp_path / "boxes.csv", tmp_path / "cache_boxes", root=table_release)
    by_box.prepare_data()
    store_file, store_box = by_file.frame_store(), by_box.frame_store()
    for video in by_box.rows()["video"]:
        np.testing.assert_array_equal(store_box.frames(video), store_file.frames(video))
    sources = set(store_box.cache.index["source"])
    assert sources == {"table-box"}
    # Edit one box: only that image is cropped again.
    boxed.loc[0, "x1"] -= 2
    boxed.to_csv(tmp_path / "boxes.csv", index=False)
    again = _make(tmp_path / "boxes.csv", tmp_path / "cache_boxes", root=table_release)
    again.prepare_data()
    counts = again.last_preprocess.counts
    assert counts.videos_recomputed == 1
    assert list(counts.recomputed) == [again.rows()["video"].iloc[0]]
    # Eye centres (landmarks) give a box too.
    eyes = table.drop(columns="annotation").assign(
        left_eye_x=20.0, left_eye_y=25.0, right_eye_x=40.0, right_eye_y=25.0
    )
    eyes["path"] = [str(table_release / p) for p in eyes["path"]]
    eyes.to_csv(tmp_path / "eyes.csv", index=False)
    by_eyes = _make(tmp_path / "eyes.csv", tmp_path / "cache_boxes", root=table_release)
    rows = by_eyes.rows()
    assert set(rows["face"]) == {"eyes"}
    assert rows[["x1", "x2"]].iloc[0].tolist() == pytest.approx([8.0, 52.0])  # 2.2 x 20 px


# ----------------------------------------------------------------- parquet
def test_parquet_without_pyarrow_names_the_extra(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    (tmp_path / "table.parquet").write_bytes(b"PAR1")
    dm = TableDataModule(tmp_path / "table.parquet")
    with pytest.raises(MissingExtraError, match=r'pip install "mtfas\[parquet\]"'):
        dm.rows()


def test_a_parquet_table_reads_like_the_csv(table_release, tmp_path):
    pytest.importorskip("pyarrow")
    table = pd.read_csv(table_release / "table.csv")
    table["path"] = [str(table_release / p) for p in table["path"]]
    table["annotation"] = [str(table_release / p) for p in table["annotation"]]
    table.to_parquet(tmp_path / "table.parquet")
    dm = TableDataModule(tmp_path / "table.parquet", root=table_release)
    csv = TableDataModule(table_release / "table.csv")
    assert dm.video_table("test")["video"].tolist() == csv.video_table("test")["video"].tolist()
    assert dm.video_table("train")["row"].iloc[0] == "row 1"


# ----------------------------------------------------------------- synth and the CLI
def test_mtfas_synth_writes_a_table_release(tmp_path, capsys):
    assert LAYOUTS["table"] is write_table_release
    out = tmp_path / "own"
    code = main(
        [
            *["synth", "--layout", "table", "--out", str(out)],
            *["--subjects", "1", "2", "1", "--frames", "1", "--size", "32"],
        ]
    )
    assert code == 0
    assert "Wrote a synthetic table release" in capsys.readouterr().out
    table = pd.read_csv(out / "table.csv")
    assert len(table) == (1 + 2 + 1) * len(SPECIES) * 2
    assert table.groupby("split")["subject"].nunique().to_dict() == {
        "dev": 2,
        "test": 1,
        "train": 1,
    }
    assert all((out / p).is_file() for p in [*table["path"], *table["annotation"]])
    assert set(table["label"]) == {0, 1}
    assert ((table["label"] == 0) == (table["species"] == "live")).all()


@pytest.mark.slow
def test_a_cli_fit_on_a_table_writes_scores(table_release, table_cache, tmp_path, capsys):
    args = [
        "fit",
        "--config",
        str(CONFIGS / "trainer" / "gpu.yaml"),
        "--config",
        str(CONFIGS / "model" / "binary_map.yaml"),
        "--config",
        str(CONFIGS / "data" / "table" / "example.yaml"),
        "--config",
        str(CONFIGS / "smoke.yaml"),
        "--data.init_args.table",
        str(table_release / "table.csv"),
        "--data.init_args.cache_dir",
        str(table_cache),
        "--trainer.default_root_dir",
        str(tmp_path),
        "--trainer.enable_progress_bar",
        "false",
        *[f"--data.init_args.{k}={v}" for k, v in TABLE_CROPS.items()],
    ]
    code = main(args)
    out = capsys.readouterr().out
    assert code == 0, out[-2000:]
    assert "dev-chosen threshold" in out
    scores = pd.read_csv(next(tmp_path.rglob("scores.csv")))
    expected = _make(table_release / "table.csv", table_cache)
    for split in ("dev", "test"):
        listed = scores.loc[scores["split"] == split, "video"]
        assert sorted(listed) == sorted(expected.video_table(split)["video"]), split
    images = scores["video"].str.endswith("/image")
    assert (scores.loc[images, "n_frames"] == 1).all()
    assert (scores.loc[~images, "n_frames"] == TABLE_RELEASE["n_frames"]).all()
