from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np

from mtfas.preprocessing import (
    Box,
    DlibDetector,
    FaceBoxFile,
    Fallback,
    Miss,
    PreprocessSettings,
    VideoJob,
    preprocess,
)


def test_detector_finds_no_face_on_a_blank_frame() -> None:
    detector = DlibDetector()
    blank = np.full((120, 160, 3), 128, dtype=np.uint8)
    large = np.zeros((720, 1280, 3), dtype=np.uint8)  # shrunk to max_side first
    assert detector.locate(Path("x.avi"), [0, 1], [blank, large]) == [Miss.NO_FACE] * 2
    copy = pickle.loads(pickle.dumps(detector))
    assert copy.detect(blank) is Miss.NO_FACE


def test_detector_answer_is_a_box_or_a_miss(synth) -> None:
    # Whether HOG sees a face in the drawing is not the point: the plumbing is.
    answer = DlibDetector(upsample=1).detect(synth.draw_frame(0))
    assert answer is Miss.NO_FACE or (isinstance(answer, Box) and answer.origin == "dlib")


def test_detector_in_the_pipeline_counts_no_face(synth, tmp_path: Path) -> None:
    blank = [np.full((120, 160, 3), 128, dtype=np.uint8)] * 4
    path = synth.write_video(tmp_path / "blank.avi", blank)
    settings = PreprocessSettings(size=16, sampling="every", tag="dlib")
    result = preprocess([VideoJob("blank", path, DlibDetector())], settings, tmp_path, False)
    assert result.counts.frames_skipped["no_face"] == 4
    assert result.counts.videos_without_crops == 1
    assert "videos without any crop: 1" in result.summary()


def test_fallback_uses_detector_where_annotation_misses(synth, tmp_path: Path) -> None:
    path = synth.write_video(tmp_path / "v.avi", [synth.draw_frame(f) for f in range(4)])
    synth.write_face_file(path.with_suffix(".face"), 2)  # frames 2, 3 not annotated
    source = Fallback(FaceBoxFile(missing_ok=True), DlibDetector())
    settings = PreprocessSettings(size=16, sampling="every", tag="fallback")
    result = preprocess([VideoJob("v", path, source)], settings, tmp_path, False)
    assert list(result.index.frame[:2]) == [0, 1]
    assert set(result.index.source[:2]) == {"boxes"}
    assert set(result.index.box_source) <= {"boxes>dlib"}
    # Frames 2 and 3 went to the detector: a dlib box or a counted "no face".
    detected = result.index.frame.isin([2, 3]).sum()
    assert detected + result.counts.frames_skipped["no_face"] == 2
    assert result.counts.frames_skipped["no_annotation"] == 0
