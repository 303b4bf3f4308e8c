"""Synthetic releases in real layouts: OULU-NPU names, eye files, protocols, codec."""

from __future__ import annotations

import inspect
import json
import re
from collections import Counter

import numpy as np
import pytest

from mtfas.cli import main
from mtfas.errors import ConfigError, DatasetWarning
from mtfas.protocols.oulu_npu import OULUName, read_protocol_file
from mtfas.synthetic import render_capture
from mtfas.synthetic.layouts import (
    LAYOUTS,
    MARKER_FILE,
    oulu_npu_protocols,
    read_video,
    users_by_split,
    video_codec,
    write_oulu_npu,
)
from mtfas.synthetic.layouts import codec as codec_module
from mtfas.synthetic.layouts.knobs import RenderKnobs, RenderOptions
from tests.conftest import OULU_RELEASE

LINE = re.compile(r"^([+-][12]),(\d)_(\d)_(\d\d)_(\d)$")


def _names(lines):
    return [OULUName.parse(line.split(",")[1]) for line in lines]


def _sizes(lists, protocol, fold=None):
    suffix = "" if fold is None else f"_{fold}"
    return [
        len(lists[f"Protocols/Protocol_{protocol}/{s}{suffix}.txt"])
        for s in ("Train", "Dev", "Test")
    ]


# ----------------------------------------------------------------- protocols (pure)
def test_full_ranges_give_the_official_sizes():
    lists = oulu_npu_protocols()
    assert len(lists) == 2 * 3 + 2 * 6 * 3
    assert _sizes(lists, 1) == [1200, 900, 600]
    assert _sizes(lists, 2) == [1080, 810, 1080]
    for fold in range(1, 7):
        assert _sizes(lists, 3, fold) == [1500, 1125, 300]
        assert _sizes(lists, 4, fold) == [600, 450, 60]


def test_protocol_lines_have_the_official_format():
    lists = oulu_npu_protocols()
    for path, lines in lists.items():
        assert re.fullmatch(r"Protocols/Protocol_[1-4]/(Train|Dev|Test)(_[1-6])?\.txt", path)
        assert len(set(lines)) == len(lines)
        for line in lines:
            match = LINE.match(line)
            assert match, line
            sign, file = match.group(1), int(match.group(5))
            assert sign == {1: "+1", 2: "-1", 3: "-1", 4: "-2", 5: "-2"}[file]


def test_protocol_rules():
    lists = oulu_npu_protocols()
    users = {"Train": set(range(1, 21)), "Dev": set(range(21, 36)), "Test": set(range(36, 56))}
    for path, lines in lists.items():
        split = path.split("/")[-1].split("_")[0].removesuffix(".txt")
        assert {n.user for n in _names(lines)} == users[split], path
    p1 = {s: _names(lists[f"Protocols/Protocol_1/{s}.txt"]) for s in users}
    assert {n.session for n in p1["Train"] + p1["Dev"]} == {1, 2}
    assert {n.session for n in p1["Test"]} == {3}
    p2 = {s: _names(lists[f"Protocols/Protocol_2/{s}.txt"]) for s in users}
    assert {n.file for n in p2["Train"] + p2["Dev"]} == {1, 2, 4}
    assert {n.file for n in p2["Test"]} == {1, 3, 5}
    test_p3 = Counter()
    for k in range(1, 7):
        p3 = {s: _names(lists[f"Protocols/Protocol_3/{s}_{k}.txt"]) for s in users}
        assert {n.phone for n in p3["Test"]} == {k}
        assert {n.phone for n in p3["Train"] + p3["Dev"]} == set(range(1, 7)) - {k}
        test_p3.update(str(n) for n in p3["Test"])
        p4 = {s: _names(lists[f"Protocols/Protocol_4/{s}_{k}.txt"]) for s in users}
        assert {(n.phone, n.session, n.file) for n in p4["Test"]} == {(k, 3, f) for f in (1, 3, 5)}
        train_dev = p4["Train"] + p4["Dev"]
        assert k not in {n.phone for n in train_dev}
        assert {n.session for n in train_dev} == {1, 2}
        assert {n.file for n in train_dev} == {1, 2, 4}
    # The six P3 test folds partition the test videos.
    assert len(test_p3) == 20 * 6 * 3 * 5 and set(test_p3.values()) == {1}


def test_subsets_give_the_folds_of_their_phones():
    users = users_by_split(2)
    assert users == {"train": [1, 2], "dev": [21, 22], "test": [36, 37]}
    lists = oulu_npu_protocols(phones=[2, 5], sessions=[1, 3], users=users)
    folds = {p for p in lists if "Protocol_3" in p}
    assert folds == {
        f"Protocols/Protocol_3/{s}_{k}.txt" for s in ("Train", "Dev", "Test") for k in (2, 5)
    }
    assert _sizes(lists, 1) == [2 * 2 * 1 * 5] * 2 + [2 * 2 * 1 * 5]
    assert _sizes(lists, 3, 5) == [2 * 1 * 2 * 5] * 3


@pytest.mark.parametrize("value", [0, 21, (2, 2), (1, 16, 1), 1.5])
def test_bad_user_counts(value):
    with pytest.raises(ConfigError, match="users_per_split"):
        users_by_split(value)


@pytest.mark.parametrize(
    "knob,value",
    [
        ("phones", [0]),
        ("phones", [1, 1]),
        ("sessions", [4]),
        ("sessions", []),
        ("size", 16),
        ("n_frames", 0),
    ],
)
def test_bad_writer_knobs(tmp_path, knob, value):
    with pytest.raises(ConfigError, match=knob):
        write_oulu_npu(tmp_path / "out", **{knob: value})
    assert not (tmp_path / "out").exists()


# ----------------------------------------------------------------- the written release
def test_video_names_and_folders(oulu_release):
    expected = {"Train_files": (1, 2), "Dev_files": (21, 22), "Test_files": (36, 37)}
    for folder, users in expected.items():
        videos = sorted(p.name for p in (oulu_release / folder).glob("*.avi"))
        wanted = sorted(
            f"{phone}_{session}_{user:02d}_{file}.avi"
            for phone in (1, 2)
            for session in (1, 2, 3)
            for user in users
            for file in range(1, 6)
        )
        assert videos == wanted
        assert len(list((oulu_release / folder).glob("*.txt"))) == len(wanted)
    assert not list(oulu_release.rglob(".*tmp*"))
    assert LAYOUTS["oulu-npu"] is write_oulu_npu


def test_eye_files_give_one_line_per_frame_from_zero(oulu_release):
    for name, (user, pai, phone, session) in {
        "Train_files/2_3_01_4": (1, 3, 2, 3),
        "Test_files/1_1_37_1": (37, 0, 1, 1),
    }.items():
        lines = (oulu_release / f"{name}.txt").read_text().splitlines()
        capture = render_capture(
            user, pai, device=phone - 1, session=session - 1, n_frames=3, size=64, seed=0
        )
        assert len(lines) == 3
        for t, line in enumerate(lines):
            values = [float(v) for v in line.split(",")]
            assert values[0] == t
            assert np.allclose(values[1:], capture.eyes[t], atol=0.5)
            assert values[1] < values[3]  # image-left eye first


def test_videos_round_trip_losslessly(oulu_release):
    assert video_codec().fourcc == "FFV1" and video_codec().lossless
    frames = read_video(oulu_release / "Dev_files" / "1_2_22_5.avi")
    capture = render_capture(22, "replay2", device=0, session=1, n_frames=3, size=64, seed=0)
    assert frames.shape == (3, 64, 64, 3)
    assert np.array_equal(frames, capture.frames)


def test_protocol_files_on_disk_match_the_pure_function(oulu_release):
    users = users_by_split(OULU_RELEASE["users_per_split"])
    lists = oulu_npu_protocols(OULU_RELEASE["phones"], OULU_RELEASE["sessions"], users)
    on_disk = {
        p.relative_to(oulu_release).as_posix() for p in (oulu_release / "Protocols").rglob("*.txt")
    }
    assert on_disk == set(lists)
    for relative, lines in lists.items():
        text = (oulu_release / relative).read_text()
        assert text == "".join(f"{line}\n" for line in lines)
        rows = read_protocol_file(oulu_release / relative)
        assert [f"{sign:+d},{name}" for sign, name, _ in rows] == lines
    marker = json.loads((oulu_release / MARKER_FILE).read_text())
    assert marker["complete"] and marker["fourcc"] == "FFV1" and marker["n_videos"] == 180


def test_the_writer_resumes_and_protects_other_folders(tmp_path):
    tiny = {"phones": [3], "sessions": [2], "users_per_split": 1, "n_frames": 1, "size": 32}
    out = tmp_path / "release"
    first = write_oulu_npu(out, **tiny)
    assert first.n_videos == first.n_written == 15
    assert write_oulu_npu(out, **tiny).n_written == 0
    # An interrupted run: marker not complete, one video lacks its eye file.
    marker = json.loads((out / MARKER_FILE).read_text())
    (out / MARKER_FILE).write_text(json.dumps({**marker, "complete": False}))
    (out / "Dev_files" / "3_2_21_2.txt").unlink()
    assert write_oulu_npu(out, **tiny).n_written == 1
    with pytest.raises(ConfigError, match="other settings"):
        write_oulu_npu(out, **{**tiny, "n_frames": 2})
    foreign = tmp_path / "real_dataset"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    with pytest.raises(ConfigError, match="not empty"):
        write_oulu_npu(foreign, **tiny)


def test_an_unavailable_codec_falls_back_to_mjpg_with_a_warning(monkeypatch):
    real = codec_module.round_trips
    monkeypatch.setattr(
        codec_module,
        "round_trips",
        lambda fourcc, suffix=".avi": None if fourcc == "FFV1" else real(fourcc, suffix),
    )
    with pytest.warns(DatasetWarning, match="not available"):
        codec = video_codec("FFV1")
    assert codec.fourcc == "MJPG" and not codec.lossless


def test_synth_command_writes_a_release(tmp_path, capsys):
    out = tmp_path / "oulu"
    assert (
        main(
            [
                "synth",
                "--layout",
                "oulu-npu",
                "--out",
                str(out),
                "--phones",
                "4",
                "--sessions",
                "1",
                "--users",
                "1",
                "1",
                "2",
                "--frames",
                "1",
                "--size",
                "32",
            ]
        )
        == 0
    )
    printed = capsys.readouterr().out
    assert "20 videos" in printed and "FFV1 (lossless)" in printed
    assert (out / "Test_files" / "4_1_37_5.avi").is_file()
    assert (out / "Protocols" / "Protocol_4" / "Test_4.txt").is_file()


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_every_writer_documents_every_argument(layout):
    # The render knobs are written into the docstrings by @documents_render_knobs; ruff's
    # D417 cannot see that, so this checks the result.
    writer = LAYOUTS[layout]
    doc = inspect.getdoc(writer) or ""
    assert "{render_knobs" not in doc and "{release_out}" not in doc
    args = doc.split("Args:", 1)[1].split("\n\n", 1)[0]
    documented = set(re.findall(r"^    (?:\*\*)?(\w+):", args, flags=re.M))
    assert documented == set(inspect.signature(writer).parameters), layout
    # and every keyword of **render is named in its entry
    for key in RenderOptions.__annotations__:
        assert f"``{key}``" in args, (layout, key)
    assert ("``fourcc``" in args) == (layout != "msu-mfsd"), layout


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_writers_refuse_an_unknown_render_keyword(layout, tmp_path):
    with pytest.raises(TypeError, match="unexpected keyword argument 'sed'"):
        LAYOUTS[layout](tmp_path / "out", sed=1)
    assert not (tmp_path / "out").exists()


def test_msu_mfsd_takes_no_fourcc(tmp_path):
    with pytest.raises(TypeError, match=r"write_msu_mfsd.*'fourcc'"):
        LAYOUTS["msu-mfsd"](tmp_path / "out", fourcc="MJPG")


def test_render_knobs_defaults_and_checks():
    knobs = RenderKnobs.of("w", 3, 64, {"seed": 2.0, "workers": 1}, fps=30.0)
    assert knobs.settings() == {"n_frames": 3, "size": 64, "seed": 2, "fps": 30.0}
    assert (knobs.fourcc, knobs.workers, knobs.progress) == ("FFV1", 1, False)
    with pytest.raises(ConfigError, match=r"size must be an integer in 32\.\.1024"):
        RenderKnobs.of("w", 3, 16, {})
