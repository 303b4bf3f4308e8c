from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from mtfas.errors import AnnotationError, ConfigError
from mtfas.preprocessing import (
    Box,
    BoxSource,
    EyePositionFile,
    FaceBoxFile,
    Fallback,
    Mirrored,
    Miss,
    Sibling,
    eyes_to_box,
)
from mtfas.preprocessing.boxes import normalise_answers


def test_eyes_to_box_geometry_for_level_eyes() -> None:
    box = eyes_to_box((80, 100), (120, 100), width=2.2, down=0.7)
    d = 40.0
    assert box.x1 == pytest.approx(100 - 1.1 * d)
    assert box.x2 == pytest.approx(100 + 1.1 * d)
    assert box.y1 == pytest.approx(100 + 0.7 * d - 1.1 * d)  # 0.4 d above the eyes
    assert box.y2 == pytest.approx(100 + 0.7 * d + 1.1 * d)  # 1.8 d below the eyes


@pytest.mark.parametrize("eyes", [((80, 95), (120, 105)), ((30, 60), (50, 20))])
def test_eyes_to_box_does_not_depend_on_eye_order(eyes) -> None:
    first = eyes_to_box(*eyes)
    second = eyes_to_box(eyes[1], eyes[0])
    assert np.allclose(first.as_tuple(), second.as_tuple())
    # The box centre lies below (larger y than) the eye midpoint.
    assert (first.y1 + first.y2) / 2 > (eyes[0][1] + eyes[1][1]) / 2


def test_eyes_to_box_coinciding_eyes() -> None:
    assert eyes_to_box((5, 5), (5, 5)) is None


def test_eye_file_lenient_separators_and_misses(tmp_path: Path) -> None:
    video = tmp_path / "1_1_01_1.avi"
    (tmp_path / "1_1_01_1.txt").write_text(
        "0,80,100,120,100\n1 120 100 80 100\n\n2;\t0,0, 0,0\n4, 50, 50, 50, 50\n"
    )
    answers = EyePositionFile().locate(video, [0, 1, 2, 3, 4], [])
    assert isinstance(answers[0], Box) and answers[0] == answers[1]
    assert answers[2:] == [Miss.NO_FACE, Miss.NO_ANNOTATION, Miss.BAD_BOX]


def test_eye_file_frame_base(tmp_path: Path) -> None:
    (tmp_path / "v.txt").write_text("1,80,100,120,100\n")
    answers = EyePositionFile(frame_base=1).locate(tmp_path / "v.avi", [0, 1], [])
    assert isinstance(answers[0], Box) and answers[1] is Miss.NO_ANNOTATION


def test_malformed_annotation_names_file_line_and_format(tmp_path: Path) -> None:
    (tmp_path / "v.txt").write_text("0,1,2,3,4\n1,2,three,4,5\n")
    with pytest.raises(AnnotationError, match=r"v\.txt, line 2.*commas or spaces"):
        EyePositionFile().locate(tmp_path / "v.avi", [0], [])


def test_missing_annotation_file(tmp_path: Path) -> None:
    with pytest.raises(AnnotationError, match=r"v\.face does not exist"):
        FaceBoxFile().locate(tmp_path / "v.avi", [0], [])
    answers = FaceBoxFile(missing_ok=True).locate(tmp_path / "v.avi", [0, 1], [])
    assert answers == [Miss.NO_ANNOTATION, Miss.NO_ANNOTATION]


def test_siw_corners_file(tmp_path: Path) -> None:
    (tmp_path / "v.face").write_text("10 20 50 70\n0 0 0 0\n10,20,50,70\n")
    answers = FaceBoxFile("corners").locate(tmp_path / "v.avi", [0, 1, 2, 3], [])
    assert answers[0].as_tuple() == (10, 20, 50, 70) and answers[0].origin == "boxes"
    assert answers[1:] == [Miss.NO_FACE, answers[0], Miss.NO_ANNOTATION]


def test_replay_xywh_file_in_mirrored_tree(tmp_path: Path) -> None:
    videos = tmp_path / "videos"
    faces = tmp_path / "face-locations"
    (faces / "train" / "real").mkdir(parents=True)
    (faces / "train" / "real" / "client001.face").write_text("0 10 20 40 50\n1 0 0 0 0\n")
    source = FaceBoxFile("frame_xywh", annotation_path=Mirrored(videos, faces, ".face"))
    answers = source.locate(videos / "train" / "real" / "client001.mov", [0, 1, 2], [])
    assert answers[0].as_tuple() == (10, 20, 50, 70)
    assert answers[1:] == [Miss.NO_FACE, Miss.NO_ANNOTATION]
    with pytest.raises(ConfigError, match="videos_root"):
        source.locate(tmp_path / "elsewhere.mov", [0], [])


def test_sibling_path() -> None:
    assert Sibling(".txt")(Path("a/b/1_1_01_1.avi")) == Path("a/b/1_1_01_1.txt")


class _Constant(BoxSource):
    def __init__(self, answer) -> None:
        self.answer = answer

    def describe(self) -> str:
        return "const"

    def locate(self, path, frames, images):
        return [self.answer for _ in frames]


def test_fallback_asks_secondary_only_for_misses(tmp_path: Path) -> None:
    (tmp_path / "v.face").write_text("10 20 50 70\n0 0 0 0\n")
    source = Fallback(FaceBoxFile(), _Constant((1, 2, 30, 40)))
    images = [np.zeros((4, 4, 3), np.uint8)] * 3
    answers = normalise_answers(source, source.locate(tmp_path / "v.avi", [0, 1, 2], images), 3)
    assert [a.origin for a in answers] == ["boxes", "const", "const"]
    assert answers[1].as_tuple() == (1, 2, 30, 40)
    assert source.describe() == "boxes>const"
    both_miss = Fallback(FaceBoxFile(), _Constant(None))
    assert both_miss.locate(tmp_path / "v.avi", [1, 2], images[:2])[0] is Miss.NO_FACE


def test_normalise_answers_rejects_bad_answers() -> None:
    source = _Constant(None)
    with pytest.raises(ConfigError, match="answered 1 frames"):
        normalise_answers(source, [None], 2)
    with pytest.raises(ConfigError, match="expected a Box"):
        normalise_answers(source, ["face"], 1)
    assert normalise_answers(source, [(5, 5, 5, 9), (0, 0, np.inf, 3)], 2) == [Miss.BAD_BOX] * 2
