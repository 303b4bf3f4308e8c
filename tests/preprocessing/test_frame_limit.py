"""``VideoJob.max_frames``: sampling restricted to the first frames of a video (SiW P1)."""

from __future__ import annotations

from pathlib import Path

import pytest

from mtfas.errors import ConfigError
from mtfas.preprocessing import FaceBoxFile, PreprocessSettings, VideoJob, preprocess


@pytest.mark.parametrize(
    "sampling,n_frames,limit,expected",
    [
        ("every", 1, 4, [0, 2]),
        ("every", 1, None, [0, 2, 4, 6, 8]),
        ("even", 4, 4, [0, 1, 2, 3]),
        ("even", 3, 6, [1, 3, 5]),
        ("even", 3, 50, [1, 5, 8]),
    ],
)
def test_max_frames_restricts_the_sampled_frames(
    synth, tmp_path: Path, sampling, n_frames, limit, expected
) -> None:
    path = synth.write_video(tmp_path / "data" / "v.avi", [synth.draw_frame(f) for f in range(10)])
    synth.write_face_file(path.with_suffix(".face"), 10)
    settings = PreprocessSettings(size=16, sampling=sampling, every_n=2, n_frames=n_frames)
    job = VideoJob("v", path, FaceBoxFile(), max_frames=limit)
    result = preprocess([job], settings, tmp_path / "cache", progress=False)
    assert list(result.index["frame"]) == expected
    assert result.counts.frames_sampled == len(expected)


@pytest.mark.parametrize("limit", [0, -3, 2.5, True])
def test_max_frames_must_be_a_positive_integer(tmp_path: Path, limit) -> None:
    with pytest.raises(ConfigError, match="max_frames"):
        VideoJob("v", tmp_path / "v.avi", FaceBoxFile(), max_frames=limit)
