"""Synthetic SiW and Replay-Attack releases: names, box files, mapping, codec, resume."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

from mtfas.cli import main
from mtfas.errors import ConfigError
from mtfas.protocols.replay_attack import ReplayName, replay_attack_videos
from mtfas.protocols.siw import SiWName, siw_videos
from mtfas.synthetic import render_capture
from mtfas.synthetic.layouts import (
    LAYOUTS,
    MARKER_FILE,
    read_video,
    video_codec,
    write_replay_attack,
    write_siw,
)
from mtfas.synthetic.layouts.replay_attack import clients_by_split
from mtfas.synthetic.layouts.siw import subjects_by_split, synthetic_conditions


def test_both_layouts_are_registered():
    assert LAYOUTS["siw"] is write_siw and LAYOUTS["replay-attack"] is write_replay_attack


def test_ffv1_round_trips_in_a_quicktime_container():
    codec = video_codec("FFV1", ".mov")
    assert codec.fourcc == "FFV1" and codec.lossless


# ----------------------------------------------------------------- SiW
def test_full_siw_settings_give_about_the_official_size():
    subjects = subjects_by_split()
    assert [len(subjects[s]) for s in ("train", "test")] == [90, 75]
    videos = siw_videos(subjects)
    live = sum(name.type == 1 for _, name in videos)
    assert len(videos) == 5280 and live == 165 * 8


def test_siw_files_and_face_boxes(siw_release):
    videos = sorted(p.relative_to(siw_release).as_posix() for p in siw_release.rglob("*.mov"))
    assert len(videos) == 48 and not list(siw_release.rglob(".*tmp*"))
    for relative in videos:
        split, label, subject, file = relative.split("/")
        name = SiWName.parse(file[:-4])
        assert split in ("Train", "Test") and subject == f"{name.subject:03d}"
        assert label == ("live" if name.type == 1 else "spoof")
        assert (name.subject <= 90) == (split == "Train")
    name = SiWName.parse("003-1-3-4-1")
    lines = (siw_release / "Train/spoof/003/003-1-3-4-1.face").read_text().splitlines()
    conditions = synthetic_conditions(name)
    assert conditions == {
        "subject": 2003,
        "pai": "replay2",
        "device": 2,
        "session": 0,
        "segment": 0,
    }
    capture = render_capture(2003, "replay2", device=2, session=0, n_frames=4, size=64, seed=0)
    boxes = np.array([[float(v) for v in line.split(" ")] for line in lines])
    assert boxes.shape == (4, 4) and np.allclose(boxes, capture.boxes, atol=0.5)
    frames = read_video(siw_release / "Train/spoof/003/003-1-3-4-1.mov")
    assert np.array_equal(frames, capture.frames)


def test_no_two_siw_videos_are_identical(siw_release):
    digests = {
        hashlib.sha256(read_video(p).tobytes()).hexdigest() for p in siw_release.rglob("*.mov")
    }
    assert len(digests) == 48
    later = synthetic_conditions(SiWName(1, 1, 1, 1, 4))
    assert later["session"] == 0 and later["segment"] == 1


@pytest.mark.parametrize(
    "knob,value",
    [
        ("subjects_per_split", (91, 1)),
        ("sensors", [3]),
        ("replay_media", [5]),
        ("print_media", []),
        ("size", 16),
        ("n_frames", 0),
    ],
)
def test_bad_siw_knobs(tmp_path, knob, value):
    with pytest.raises(ConfigError, match=knob):
        write_siw(tmp_path / "out", **{knob: value})
    assert not (tmp_path / "out").exists()


def test_the_siw_writer_writes_the_real_name_forms(tmp_path):
    out = tmp_path / "siw"
    release = write_siw(
        out,
        subjects_per_split=(2, 1),
        sensors=[1, 2],
        live_sessions=[1, 2],
        live_media=[1, 2],
        attack_sessions=[1],
        print_media=[1],
        replay_media=[1],
        marked_subjects=[91],
        mp4_subjects=[2],
        suffixed_subjects=[1],
        n_frames=1,
        size=32,
    )
    files = {
        p.relative_to(out).as_posix() for p in out.rglob("*") if p.suffix != ".json" and p.is_file()
    }
    videos = {f for f in files if not f.endswith(".face")}
    assert release.n_videos == len(videos) == 3 * 2 * (4 + 2)
    # Every video has its .face beside it, with the same stem.
    assert files - videos == {v.rsplit(".", 1)[0] + ".face" for v in videos}
    marked = {v for v in videos if ".m." in v}
    assert marked == {f"Test/live/091/091-2-1-{m}-{n}.m.mov" for m in (1, 2) for n in (1, 2)}
    assert {v for v in videos if v.endswith(".mp4")} == {v for v in videos if "/002/" in v}
    assert {v for v in videos if "_1." in v} == {v for v in videos if "/001/" in v}
    assert all(v.rsplit("/", 1)[1].split(".")[0].endswith("_1") for v in videos if "/001/" in v)
    marker = json.loads((out / MARKER_FILE).read_text())
    assert marker["settings"]["mp4_subjects"] == [2]
    # Live MediumID 2 is another part of the capture than MediumID 1.
    one, two = (read_video(out / f"Train/live/002/002-1-1-{m}-1.mp4") for m in (1, 2))
    assert not np.array_equal(one, two)


def test_the_siw_writer_resumes(tmp_path):
    tiny = {
        "subjects_per_split": 1,
        "sensors": [2],
        "live_sessions": [1],
        "attack_sessions": [1],
        "print_media": [1],
        "replay_media": [4],
        "n_frames": 1,
        "size": 32,
    }
    out = tmp_path / "siw"
    assert write_siw(out, **tiny).n_written == 6
    assert write_siw(out, **tiny).n_written == 0
    marker = json.loads((out / MARKER_FILE).read_text())
    (out / MARKER_FILE).write_text(json.dumps({**marker, "complete": False}))
    (out / "Test/spoof/091/091-2-3-4-1.face").unlink()
    assert write_siw(out, **tiny).n_written == 1
    with pytest.raises(ConfigError, match="other settings"):
        write_siw(out, **{**tiny, "size": 48})


# ----------------------------------------------------------------- Replay-Attack
def test_full_replay_settings_give_the_official_sizes():
    videos = replay_attack_videos(clients_by_split())
    for split, (live, attacks) in {"train": (60, 300), "dev": (60, 300), "test": (80, 400)}.items():
        names = [name for s, _, name in videos if s == split]
        assert sum(n.is_live for n in names) == live
        assert sum(not n.is_live for n in names) == attacks


def test_replay_files_face_locations_and_enrolment(replay_release):
    videos = [p.relative_to(replay_release) for p in replay_release.rglob("*.mov")]
    enroll = [p for p in videos if p.parts[0] == "enroll"]
    assert len(videos) - len(enroll) == 88 and len(enroll) == 3 * 2
    for relative in videos:
        if relative.parts[0] == "enroll":
            continue
        ReplayName.parse(relative.stem)
        face = replay_release / "face-locations" / relative.with_suffix(".face")
        lines = face.read_text().splitlines()
        assert len(lines) == 4 and lines[0] == "0 0 0 0 0"
        assert [int(line.split()[0]) for line in lines] == [0, 1, 2, 3]
    video = Path("train/attack/hand/attack_mobile_client002_session01_mobile_video_adverse")
    capture = render_capture(3002, "replay1", device=5, session=1, n_frames=8, size=64, seed=0)
    frames = read_video(replay_release / video.with_suffix(".mov"))
    assert np.array_equal(frames, capture.frames[4:])
    face = (replay_release / "face-locations" / video.with_suffix(".face")).read_text()
    t, x, y, w, h = (int(v) for v in face.splitlines()[2].split())
    assert t == 2 and np.allclose([x, y, x + w, y + h], capture.boxes[6], atol=1.0)


def test_no_two_replay_videos_are_identical(replay_release):
    digests = {
        hashlib.sha256(read_video(p).tobytes()).hexdigest()
        for p in replay_release.rglob("*.mov")
        if "enroll" not in p.parts
    }
    assert len(digests) == 88


@pytest.mark.parametrize(
    "knob,value",
    [
        ("subjects_per_split", (1, 1)),
        ("lightings", ["dim"]),
        ("supports", []),
        ("devices", ["tablet"]),
        ("takes", [3]),
        ("zero_box_frames", [-1]),
        ("enroll_clients", -1),
    ],
)
def test_bad_replay_knobs(tmp_path, knob, value):
    with pytest.raises(ConfigError, match=knob):
        write_replay_attack(tmp_path / "out", **{knob: value})
    assert not (tmp_path / "out").exists()


def test_synth_command_writes_both_layouts(tmp_path, capsys):
    out = tmp_path / "siw"
    assert (
        main(
            [
                "synth",
                "--layout",
                "siw",
                "--out",
                str(out),
                "--subjects",
                "1",
                "1",
                "--frames",
                "1",
                "--size",
                "32",
            ]
        )
        == 0
    )
    assert "siw release" in capsys.readouterr().out
    assert (out / "Test/spoof/091/091-2-3-4-2.mov").is_file()
    out = tmp_path / "replay"
    assert (
        main(
            [
                "synth",
                "--layout",
                "replay-attack",
                "--out",
                str(out),
                "--subjects",
                "1",
                "--frames",
                "1",
                "--size",
                "32",
            ]
        )
        == 0
    )
    printed = capsys.readouterr().out
    assert "78 videos (78 rendered now)" in printed and "FFV1 (lossless)" in printed
    assert (
        out / "face-locations/devel/real/client016_session01_webcam_authenticate_adverse_2.face"
    ).is_file()


def test_ffv1_in_mov_is_written_exactly_and_quietly(tmp_path, capfd):
    import os

    import numpy as np

    from mtfas.synthetic.layouts.codec import Codec, read_video, write_video

    frames = np.random.default_rng(0).integers(0, 256, (3, 32, 48, 3), dtype=np.uint8)
    write_video(tmp_path / "a.mov", frames, Codec("FFV1", True))
    os.write(2, b"stderr is back\n")
    err = capfd.readouterr().err
    assert "not supported" not in err and "stderr is back" in err
    np.testing.assert_array_equal(read_video(tmp_path / "a.mov"), frames)
