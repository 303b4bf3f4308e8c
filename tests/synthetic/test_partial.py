"""Partial attacks and cue masks of the synthetic generator, and the partial-attack layout."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import numpy as np
import pytest

from mtfas.errors import ConfigError, ProtocolError
from mtfas.synthetic import PAI_NAMES, render_capture
from mtfas.synthetic.conditions import ALL_PAI_NAMES, PARTIALS, REPLAY_IDS
from mtfas.synthetic.identity import sample_identity
from mtfas.synthetic.layouts import LAYOUTS, read_video, write_partial
from mtfas.synthetic.layouts.partial import (
    CUE_MASK_FOLDER,
    PartialName,
    check_species,
    protocol_path,
)

ROOT = Path(__file__).resolve().parents[2]
#: Captures whose bytes must not depend on this change: (subject, species, device, session).
EXISTING = [(3, name, 1, 2) for name in PAI_NAMES] + [(11, "print2", 4, 0), (5, "replay1", 0, 1)]

_HASH_SCRIPT = """
import hashlib, json, sys
from mtfas.synthetic import render_capture
out = []
for subject, pai, device, session in json.loads(sys.argv[1]):
    c = render_capture(subject, pai, device=device, session=session, n_frames=2, size=48)
    data = c.frames.tobytes() + c.eyes.tobytes() + c.boxes.tobytes()
    out.append(hashlib.sha256(data).hexdigest())
print(json.dumps(out))
"""


def _hashes(captures: list[tuple[int, str, int, int]]) -> list[str]:
    out = []
    for subject, pai, device, session in captures:
        c = render_capture(subject, pai, device=device, session=session, n_frames=2, size=48)
        out.append(
            hashlib.sha256(c.frames.tobytes() + c.eyes.tobytes() + c.boxes.tobytes()).hexdigest()
        )
    return out


#: The last commit before the partial attacks were added: its renderer is the reference of
#: the existing species. HEAD guards every later change as well.
BEFORE_PARTIALS = "8a2a96c"


@pytest.mark.parametrize("revision", [BEFORE_PARTIALS, "HEAD"])
def test_existing_species_render_the_same_bytes_as_committed_code(revision, tmp_path):
    # The reference is rendered by the code of that commit (git archive, imported in a
    # subprocess), not by hard-coded hashes.
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("needs the git checkout of the project (git archive)")
    archive = tmp_path / "head.tar"
    done = subprocess.run(
        ["git", "-C", str(ROOT), "archive", "-o", str(archive), revision, "mtfas"],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        pytest.skip(f"git archive {revision} failed (shallow clone?): {done.stderr.strip()}")
    with tarfile.open(archive) as tar:
        tar.extractall(tmp_path / "head", filter="data")
    reference = subprocess.run(
        [sys.executable, "-c", _HASH_SCRIPT, json.dumps(EXISTING)],
        capture_output=True,
        text=True,
        cwd=tmp_path / "head",
        env={"PYTHONPATH": str(tmp_path / "head"), "PATH": "/usr/bin:/bin"},
        check=True,
    )
    assert json.loads(reference.stdout) == _hashes(EXISTING)


def test_species_tables_extend_the_existing_ones():
    assert (
        ALL_PAI_NAMES[: len(PAI_NAMES)]
        == PAI_NAMES
        == ("live", "print1", "print2", "replay1", "replay2")
    )
    assert sorted(PARTIALS) == list(range(len(PAI_NAMES), len(ALL_PAI_NAMES)))
    assert render_capture(0, "cut_eyes1", n_frames=1, size=32).pai == ALL_PAI_NAMES.index(
        "cut_eyes1"
    )
    with pytest.raises(ConfigError, match="species"):
        render_capture(0, len(ALL_PAI_NAMES), n_frames=1, size=32)


@pytest.mark.parametrize("pai", ["live", "print1", "print2", "replay1", "replay2"])
def test_cue_masks_of_full_species(pai):
    cap = render_capture(4, pai, device=2, session=1, n_frames=2, size=64)
    masks = cap.cue_masks
    assert masks is not None and masks.shape == (2, 64, 64) and masks.dtype == np.float32
    if pai == "live":
        assert masks.max() == 0.0
    elif ALL_PAI_NAMES.index(pai) in REPLAY_IDS:
        assert masks.min() == 1.0  # the display fills the frame
    else:  # the paper, larger than the frame, covers the face box entirely
        x1, y1, x2, y2 = cap.boxes[0].astype(int)
        assert masks[0, y1:y2, x1:x2].min() > 0.99 and masks.mean() > 0.95


def _face_points(cap, subject: int, seed: int = 0) -> dict[str, np.ndarray]:
    """Eye centres, mouth, forehead and cheek of frame 0 in output pixels, computed from
    the capture's eye centres and the identity's proportions (not from the renderer)."""
    ident = sample_identity(seed, subject)
    e = cap.eyes[0].reshape(2, 2).astype(np.float64)
    d = float(np.hypot(*(e[1] - e[0])))
    along = (e[1] - e[0]) / d
    down = np.array([-along[1], along[0]]) * (1 if along[0] > 0 else -1)
    a = d / (2 * ident.eye_sep)  # face half-width
    b = a * ident.face_ratio
    mid = e.mean(axis=0)
    return {
        "eye0": e[0],
        "eye1": e[1],
        "mouth": mid + down * (ident.mouth_y - ident.eye_y) * b,
        "forehead": mid - down * 0.45 * b,
        "cheek": mid + along * 0.55 * a + down * 0.25 * b,
    }


def _at(mask: np.ndarray, point: np.ndarray, radius: int = 1) -> np.ndarray:
    x, y = np.round(point).astype(int)
    return mask[y - radius : y + radius + 1, x - radius : x + radius + 1]


@pytest.mark.parametrize("subject", [2, 9])
def test_cut_print_masks_are_zero_in_the_holes_and_one_on_the_paper(subject):
    cap = render_capture(subject, "cut_eyes_mouth2", device=1, session=0, n_frames=2, size=128)
    mask = cap.cue_masks[0]
    points = _face_points(cap, subject)
    for hole in ("eye0", "eye1", "mouth"):
        assert _at(mask, points[hole]).max() < 0.05, hole
    for paper in ("forehead", "cheek"):
        assert _at(mask, points[paper]).min() > 0.95, paper
    eyes_only = render_capture(subject, "cut_eyes2", device=1, session=0, n_frames=1, size=128)
    assert _at(eyes_only.cue_masks[0], points["mouth"]).min() > 0.95  # no mouth hole
    assert _at(eyes_only.cue_masks[0], _face_points(eyes_only, subject)["eye0"]).max() < 0.05


def test_patch_masks_cover_only_their_region():
    subject = 6
    glasses = render_capture(subject, "glasses1", device=0, session=1, n_frames=1, size=128)
    mouth = render_capture(subject, "mouth_patch2", device=0, session=1, n_frames=1, size=128)
    g, m = glasses.cue_masks[0], mouth.cue_masks[0]
    pg, pm = _face_points(glasses, subject), _face_points(mouth, subject)
    assert _at(g, pg["eye0"]).min() > 0.95 and _at(g, pg["eye1"]).min() > 0.95
    assert _at(g, pg["mouth"]).max() == 0.0 and _at(g, pg["cheek"]).max() == 0.0
    assert _at(m, pm["mouth"]).min() > 0.95
    assert _at(m, pm["eye0"]).max() == 0.0 and _at(m, pm["forehead"]).max() == 0.0
    assert 0.01 < g.mean() < 0.2 and 0.01 < m.mean() < 0.2


def test_partial_rendering_is_deterministic_and_frame_wise():
    a = render_capture(1, "glasses2", device=3, session=2, n_frames=3, size=48)
    b = render_capture(1, "glasses2", device=3, session=2, n_frames=1, size=48)
    np.testing.assert_array_equal(a.frames[:1], b.frames)
    np.testing.assert_array_equal(a.cue_masks[:1], b.cue_masks)
    assert not np.array_equal(a.cue_masks[0], a.cue_masks[1])  # the patch moves with the face


# ----------------------------------------------------------------- the layout
def test_names_and_species_are_checked():
    name = PartialName.parse("2_3_07_09")
    assert (name.phone, name.session, name.user, name.pai) == (2, 3, 7, "cut_eyes_mouth2")
    assert str(name) == "2_3_07_09" and name.protocol_line() == "-1,2_3_07_09"
    assert PartialName.parse("1_1_01_04").protocol_line() == "-2,1_1_01_04"  # replay1
    assert PartialName.parse("1_1_01_01").protocol_line() == "+1,1_1_01_01"
    with pytest.raises(ProtocolError, match="File 13"):
        PartialName.parse("1_1_01_13")
    species = {
        "train": ["glasses1", "live"],
        "dev": ["live", "print1"],
        "test": ["live", "cut_eyes2"],
    }
    assert check_species(species)["train"] == ["live", "glasses1"]
    with pytest.raises(ConfigError, match="live"):
        check_species({**species, "test": ["cut_eyes2"]})
    with pytest.raises(ConfigError, match="unknown"):
        check_species({**species, "dev": ["live", "print3"]})


def test_the_release_holds_videos_eyes_masks_and_protocols(tmp_path):
    assert LAYOUTS["oulu-npu-partial"] is write_partial
    species = {
        "train": ["live", "cut_eyes1"],
        "dev": ["live", "print1"],
        "test": ["live", "glasses2"],
    }
    release = write_partial(
        tmp_path / "rel",
        phones=[2],
        sessions=[3],
        users_per_split=1,
        species=species,
        n_frames=2,
        size=48,
    )
    assert release.n_videos == 6 and release.lossless
    lines = (release.root / protocol_path("test")).read_text().split()
    assert lines == ["+1,2_3_36_01", "-1,2_3_36_11"]
    video = release.root / "Test_files" / "2_3_36_11.avi"
    cap = render_capture(36, "glasses2", device=1, session=2, n_frames=2, size=48)
    np.testing.assert_array_equal(read_video(video), cap.frames)
    mask = read_video(release.root / CUE_MASK_FOLDER / "Test_files" / "2_3_36_11.avi")
    np.testing.assert_array_equal(mask[..., 0], np.round(cap.cue_masks * 255).astype(np.uint8))
    assert (mask[..., 0] == mask[..., 2]).all()
    eyes = video.with_suffix(".txt").read_text().splitlines()
    assert eyes[0].split(",")[0] == "0" and len(eyes) == 2
    again = write_partial(
        tmp_path / "rel",
        phones=[2],
        sessions=[3],
        users_per_split=1,
        species=species,
        n_frames=2,
        size=48,
    )
    assert again.n_written == 0
