"""mtfas.Predictor and `mtfas predict`: checkpoint metadata, cropping, skips, errors."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

import mtfas
from mtfas.cli import main
from mtfas.errors import CheckpointError
from mtfas.inference.checkpoint import INFERENCE_KEY, module_spec
from mtfas.models import DepthNet
from mtfas.preprocessing import crop_face
from mtfas.transforms import to_tensor
from tests.fakes import TinyStudent
from tests.inference.conftest import IMAGE_SIZE, write_image, write_video


def reference_score(system, crop: np.ndarray) -> float:
    with torch.no_grad():
        return float(system.score(to_tensor(crop)[None]))


def test_checkpoint_records_what_prediction_needs(trained):
    path, system = trained
    meta = torch.load(path, weights_only=True)[INFERENCE_KEY]
    assert meta["student"] == {
        "class_path": "mtfas.models.depthnet.DepthNet",
        "init_args": {"width_mult": 0.1, "theta": 0.0, "output_activation": "relu"},
    }
    assert meta["input_size"] == IMAGE_SIZE and meta["crop_scale"] == 1.3
    assert math.isfinite(meta["threshold"]) and meta["threshold"] == float(system.threshold)
    assert meta["pai_names"] == ["live", "print", "replay"]


def test_module_spec_rebuilds_or_refuses():
    assert module_spec(DepthNet(width_mult=0.2, theta=0.7))["init_args"]["theta"] == 0.7
    # TinyStudent does not store `channels`: a non-default value cannot be described.
    assert module_spec(TinyStudent(channels=5)) is None
    assert module_spec(TinyStudent())["init_args"] == {}


def test_no_detect_scores_a_face_crop_as_in_training(trained, capture, tmp_path):
    path, system = trained
    crop = crop_face(capture.frames[0], capture.boxes[0], IMAGE_SIZE, 1.3)
    image = write_image(tmp_path / "face.png", crop)
    predictor = mtfas.Predictor.from_checkpoint(path, detect=False)
    result = predictor.predict(image)
    row = result.inputs.iloc[0]
    assert row["n_scored"] == 1 and row["kind"] == "image"
    assert row["score"] == pytest.approx(reference_score(system, crop), abs=1e-6)
    expected = "attack" if row["score"] >= float(system.threshold) else "bona fide"
    assert row["decision"] == expected and result.threshold == float(system.threshold)


def test_given_box_crops_at_scale_1_3(trained, capture, tmp_path):
    path, system = trained
    frame, box = capture.frames[0], capture.boxes[0]
    image = write_image(tmp_path / "frame.png", frame)
    result = mtfas.Predictor.from_checkpoint(path, box=tuple(box)).predict(image)
    crop = crop_face(frame, box, IMAGE_SIZE, 1.3)
    assert result.frames.iloc[0]["score"] == pytest.approx(reference_score(system, crop), abs=1e-6)


def test_video_gives_frame_and_video_scores(trained, capture, tmp_path):
    path, _ = trained
    video = write_video(tmp_path / "clip.avi", capture.frames)
    predictor = mtfas.Predictor.from_checkpoint(path, detect=False)
    result = predictor.predict(video)
    frames = result.frames
    assert frames["frame"].tolist() == [0, 1, 2] and (frames["status"] == "scored").all()
    assert result.inputs.iloc[0]["score"] == pytest.approx(frames["score"].mean())
    assert result.inputs.iloc[0]["kind"] == "video"
    fewer = mtfas.Predictor.from_checkpoint(path, detect=False, max_frames=2).predict(video)
    assert len(fewer.frames) == 2


def test_detector_path_scores_a_detection_or_counts_a_skip(trained, capture, tmp_path):
    path, _ = trained
    face = write_image(tmp_path / "face.png", capture.frames[0])
    blank = write_image(tmp_path / "blank.png", np.full((96, 96, 3), 128, np.uint8))
    result = mtfas.Predictor.from_checkpoint(path).predict([face, blank])
    rows = result.frames.set_index("input")
    face_row = rows.loc[str(face)]
    if face_row["status"] == "scored":  # dlib found the synthetic face: near the true box
        x1, y1, x2, y2 = capture.boxes[0]
        centre = ((face_row["x1"] + face_row["x2"]) / 2, (face_row["y1"] + face_row["y2"]) / 2)
        assert x1 < centre[0] < x2 and y1 < centre[1] < y2
    else:
        assert face_row["reason"] == "no_face"
    # A flat image never holds a face: a counted skip with a clear message.
    assert rows.loc[str(blank)]["status"] == "skipped"
    assert rows.loc[str(blank)]["reason"] == "no_face"
    assert result.skipped.get("no_face", 0) >= 1
    blank_input = result.inputs.set_index("input").loc[str(blank)]
    assert blank_input["n_scored"] == 0 and blank_input["reason"] == "no_face"
    assert "no face found by the dlib HOG" in result.summary()


def test_unreadable_and_unsupported_files_are_counted(trained, capture, tmp_path):
    path, _ = trained
    folder = tmp_path / "inputs"
    folder.mkdir()
    write_image(folder / "good.png", capture.frames[0])
    (folder / "broken.jpg").write_bytes(b"not a jpeg")
    (folder / "broken.avi").write_bytes(b"not a video")
    (folder / "notes.txt").write_text("hello")
    result = mtfas.Predictor.from_checkpoint(path, detect=False).predict(folder)
    assert result.n_scored_inputs == 1 and len(result.inputs) == 4
    assert result.skipped == {"unreadable_file": 2, "unsupported_file": 1}
    assert any("broken.avi" in note for note in result.notes)


def test_checkpoint_errors_are_clear(trained, tmp_path):
    path, _ = trained
    with pytest.raises(CheckpointError, match="does not exist"):
        mtfas.Predictor.from_checkpoint(tmp_path / "missing.ckpt")
    garbage = tmp_path / "garbage.ckpt"
    garbage.write_bytes(b"\x00garbage")
    with pytest.raises(CheckpointError, match="cannot read checkpoint"):
        mtfas.Predictor.from_checkpoint(garbage)
    other = tmp_path / "other.ckpt"
    torch.save({"state_dict": {"backbone.weight": torch.zeros(2)}}, other)
    with pytest.raises(CheckpointError, match="another kind of model"):
        mtfas.Predictor.from_checkpoint(other)
    bare = tmp_path / "bare.ckpt"
    checkpoint = torch.load(path, weights_only=True)
    del checkpoint[INFERENCE_KEY]
    torch.save(checkpoint, bare)
    with pytest.raises(CheckpointError, match="student=net"):
        mtfas.Predictor.from_checkpoint(bare)
    # The network and input size given by hand: works, with the stored threshold.
    predictor = mtfas.Predictor.from_checkpoint(
        bare, student=DepthNet(width_mult=0.1), input_size=IMAGE_SIZE
    )
    assert predictor.threshold == checkpoint["state_dict"]["threshold"].item()
    with pytest.raises(CheckpointError, match="do not fit"):
        mtfas.Predictor.from_checkpoint(path, student=DepthNet(width_mult=0.2))


def test_predict_without_input_or_model_says_what_to_give(capsys):
    assert main(["predict", "--ckpt_path", "a.ckpt"]) == 2
    err = capsys.readouterr().err
    assert "needs --input" in err and "--config" in err and "Traceback" not in err


def test_cli_writes_json_and_csv(trained, capture, tmp_path, capsys):
    path, _ = trained
    crop = crop_face(capture.frames[0], capture.boxes[0], IMAGE_SIZE, 1.3)
    image = write_image(tmp_path / "face.png", crop)
    out = tmp_path / "scores.json"
    args = ["predict", "--ckpt_path", str(path), "--input", str(image), "--no-detect"]
    assert main([*args, "--out", str(out)]) == 0
    payload = json.loads(out.read_text())
    assert payload["threshold"] is not None and payload["skipped"] == {}
    assert payload["inputs"][0]["frames"][0]["status"] == "scored"
    assert main([*args, "--out", str(tmp_path / "scores.csv")]) == 0
    assert (tmp_path / "scores.frames.csv").is_file()
    assert "1 of 1 input(s) scored" in capsys.readouterr().out


def test_checkpoint_predictor_runs_the_same_with_or_without_mtfascli(trained, capture, tmp_path):
    # main() runs `predict --ckpt_path X --input ...` without Lightning's parser; MTFASCLI's
    # predict (the one `--help` shows) must give the same result for the same arguments.
    from mtfas.cli.cli import MTFASCLI
    from mtfas.cli.commands import is_checkpoint_predict

    path, _ = trained
    crop = crop_face(capture.frames[0], capture.boxes[0], IMAGE_SIZE, 1.3)
    image = write_image(tmp_path / "face.png", crop)
    args = ["predict", "--ckpt_path", str(path), "--input", str(image), "--no-detect"]
    assert is_checkpoint_predict(args)
    assert is_checkpoint_predict([*args, "--box", "-1", "0", "5", "5"])  # numbers, not options
    assert not is_checkpoint_predict([*args, "--trainer.accelerator", "cpu"])
    assert not is_checkpoint_predict([*args, "--help"])
    assert main([*args, "--out", str(tmp_path / "fast.json")]) == 0
    assert MTFASCLI(args=[*args, "--out", str(tmp_path / "full.json")]).exit_code == 0
    fast = json.loads((tmp_path / "fast.json").read_text())
    full = json.loads((tmp_path / "full.json").read_text())
    assert fast == full and fast["inputs"][0]["frames"][0]["status"] == "scored"


def test_cli_exits_1_when_nothing_is_scored(trained, tmp_path, capsys):
    path, _ = trained
    blank = write_image(tmp_path / "blank.png", np.full((64, 64, 3), 128, np.uint8))
    assert main(["predict", "--ckpt_path", str(path), "--input", str(blank)]) == 1
    out = capsys.readouterr().out
    assert "skipped 1 x no_face" in out and "no input could be scored" in out


def test_cli_reports_a_bad_checkpoint(tmp_path, capsys):
    bad = tmp_path / "bad.ckpt"
    bad.write_bytes(b"nope")
    assert main(["predict", "--ckpt_path", str(bad), "--input", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "cannot read checkpoint" in err and "Traceback" not in err


def test_mtfas_predict_with_a_config_is_lightnings_predict(tmp_path):
    from tests.cli.test_cli import TINY

    # No --input: Lightning's predict loop over the config's data module.
    assert (
        main(
            [
                "predict",
                "--config",
                TINY,
                "--trainer.fast_dev_run",
                "1",
                "--trainer.default_root_dir",
                str(tmp_path),
            ]
        )
        == 0
    )
