"""The synthetic CASIA-FASD and MSU-MFSD writers: names, mappings, boxes, rotation, CLI."""

from __future__ import annotations

import numpy as np
import pytest

from mtfas.cli import main
from mtfas.errors import ConfigError
from mtfas.preprocessing import read_frames
from mtfas.preprocessing.video import open_video, rotation_meta
from mtfas.synthetic import render_capture
from mtfas.synthetic.layouts import LAYOUTS, read_video, write_casia_fasd, write_msu_mfsd
from mtfas.synthetic.layouts.face_boxes import FACE_BOX_FOLDER, set_display_rotation
from tests.conftest import CASIA_RELEASE, MSU_RELEASE


def test_layouts_are_registered():
    assert LAYOUTS["casia-fasd"] is write_casia_fasd
    assert LAYOUTS["msu-mfsd"] is write_msu_mfsd


def test_casia_names_mapping_and_boxes(casia_release):
    videos = sorted(p.relative_to(casia_release).as_posix() for p in casia_release.rglob("*.avi"))
    assert len(videos) == 72
    assert {v.split("/")[1] for v in videos if v.startswith("test_release")} == {"1", "2"}
    # Test subject 2 is global subject 22, synthetic subject 4022; HR_3 is a high-quality
    # (device 2) cut print (print2).
    stored = read_video(casia_release / "test_release/2/HR_3.avi")
    capture = render_capture(
        4022,
        "print2",
        device=2,
        session=0,
        n_frames=CASIA_RELEASE["n_frames"],
        size=CASIA_RELEASE["size"],
    )
    assert np.array_equal(stored, capture.frames)
    boxes = np.loadtxt(casia_release / FACE_BOX_FOLDER / "test_release/2/HR_3.face", ndmin=2)
    assert boxes[:, 0].tolist() == [0, 1, 2]
    assert np.allclose(boxes[:, 1:3], capture.boxes[:, :2], atol=0.51)
    assert np.allclose(boxes[:, 1:3] + boxes[:, 3:], capture.boxes[:, 2:], atol=1.01)


def test_msu_names_lists_codecs_and_rotation(msu_release):
    assert (msu_release / "train_sub_list.txt").read_text() == "02\n03\n05\n06\n"
    assert (msu_release / "test_sub_list.txt").read_text() == "01\n13\n"
    assert len(list((msu_release / "real").iterdir())) == 12
    assert len(list((msu_release / "attack").iterdir())) == 36
    laptop = msu_release / "attack/attack_client013_laptop_SD_iphone_video_scene01.mov"
    capture = render_capture(
        5013,
        "replay2",
        device=3,
        session=1,
        n_frames=MSU_RELEASE["n_frames"],
        size=MSU_RELEASE["size"],
    )
    assert np.array_equal(read_video(laptop), capture.frames)  # lossless PNG in .mov
    phone = msu_release / "real/real_client002_android_SD_scene01.mp4"
    upright = render_capture(
        5002,
        "live",
        device=4,
        session=1,
        n_frames=MSU_RELEASE["n_frames"],
        size=MSU_RELEASE["size"],
    ).frames
    capture = open_video(phone)
    try:
        assert rotation_meta(capture) == 90
    finally:
        capture.release()
    frames = read_frames(phone, [0, 1, 2])
    assert all(np.array_equal(image, upright[i]) for i, image in frames)
    assert np.array_equal(read_frames(phone, [0], orientation="ignore")[0][1], np.rot90(upright[0]))


def test_msu_bare_sideways_videos_have_no_metadata(msu_bare_release):
    phone = msu_bare_release / "attack/attack_client001_android_SD_printed_photo_scene01.mp4"
    capture = open_video(phone)
    try:
        assert rotation_meta(capture) == 0
    finally:
        capture.release()


def test_display_rotation_needs_a_track_header(tmp_path):
    path = tmp_path / "x.mp4"
    path.write_bytes(b"\x00\x00\x00\x08free")
    with pytest.raises(Exception, match="no track header"):
        set_display_rotation(path, 90)


@pytest.mark.parametrize(
    "writer,knobs",
    [
        (write_casia_fasd, {"subjects_per_split": [21, 1]}),
        (write_casia_fasd, {"subjects_per_split": [1, 2, 3]}),
        (write_msu_mfsd, {"subjects_per_split": [16, 1]}),
        (write_msu_mfsd, {"devices": ["tablet"]}),
        (write_msu_mfsd, {"sideways": "left"}),
        (write_casia_fasd, {"size": 16}),
    ],
)
def test_bad_knobs(tmp_path, writer, knobs):
    with pytest.raises(ConfigError):
        writer(tmp_path / "out", **knobs)


def test_the_cli_writes_and_resumes(tmp_path, capsys):
    args = [
        "synth",
        "--layout",
        "msu-mfsd",
        "--out",
        str(tmp_path / "m"),
        "--subjects",
        "1",
        "--frames",
        "1",
        "--size",
        "32",
    ]
    assert main(args) == 0
    assert "16 videos (16 rendered now)" in capsys.readouterr().out
    assert main(args) == 0
    assert "(0 rendered now)" in capsys.readouterr().out
    release = write_casia_fasd(tmp_path / "c", subjects_per_split=1, n_frames=1, size=32)
    assert release.n_videos == 24 and release.lossless
