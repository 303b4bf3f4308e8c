"""predict_step and the Predictor decide alike: at the threshold's level, in float64.

The frames are uniform images whose pixel value sets a float32 score exactly, so every
expected decision is computed independently with exact fractions.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
import torch
from torch import nn

import mtfas
from mtfas.errors import ConfigError
from mtfas.inference.checkpoint import INFERENCE_KEY
from tests.inference.conftest import IMAGE_SIZE

_ULP = 2.0**-24  # float32 spacing just above 0.5
# Frame k of a video scores 0.5 + k * 2**-24 (exact in float32). Video means in float64:
# 0: 0.5 + 2**-25 (exactly the video threshold below); 1: 0.5 + 2**-24 / 3 (just below it
# in float64, but float32 rounds both to 0.5); 2: 0.5; 3: 0.5 + 1.5 * 2**-24.
_VIDEOS = {0: [0, 1], 1: [0, 0, 1], 2: [0], 3: [1, 2]}


class _PixelStudent(nn.Module):
    """Map = 0.5 + k * 2**-24 (float32), k = the image's top-left pixel value."""

    def forward(self, x):
        k = torch.round((x[:, :1, :1, :1] + 1) * 127.5)
        return 0.5 + k * _ULP


def _frames(k):
    return np.full((IMAGE_SIZE, IMAGE_SIZE, 3), k, np.uint8)


def _exact_attack(ks, threshold):
    mean = Fraction(1, 2) + Fraction(sum(ks), len(ks)) * Fraction(_ULP)
    return mean >= Fraction(threshold)


def _through_predict_step(video_level, threshold):
    from lightning.pytorch import Trainer
    from torch.utils.data import DataLoader

    system = mtfas.SupervisedSystem(
        student=_PixelStudent(), pai_names=["live", "print"], video_level=video_level
    )
    system.threshold.fill_(threshold)
    items = [
        {"image": torch.from_numpy(_frames(k)).permute(2, 0, 1).contiguous(), "video": v}
        for v, ks in _VIDEOS.items()
        for k in ks
    ]
    trainer = Trainer(
        accelerator="cpu", logger=False, enable_progress_bar=False, enable_model_summary=False
    )
    outputs = trainer.predict(system, DataLoader(items, batch_size=3))  # videos span batches
    return system, outputs


def _through_predictor(video_level, threshold):
    predictor = mtfas.Predictor(
        _PixelStudent(), IMAGE_SIZE, threshold=threshold, detect=False, video_level=video_level
    )
    results = [
        predictor.predict_frames([_frames(k) for k in ks], name=str(v)) for v, ks in _VIDEOS.items()
    ]
    return predictor, results


def test_video_level_decisions_agree_and_use_float64():
    threshold = 0.5 + 2.0**-25
    assert np.float32(threshold) == np.float32(0.5)  # float32 would tie video 1 with it
    system, outputs = _through_predict_step(True, threshold)
    table = system.predict_decisions(outputs)
    _, results = _through_predictor(True, threshold)
    expected = [_exact_attack(ks, threshold) for ks in _VIDEOS.values()]
    assert expected == [True, False, False, True]  # at the threshold; just below; below
    assert table["level"].unique().tolist() == ["video"]
    assert table["video"].tolist() == list(_VIDEOS)
    assert table["attack"].tolist() == expected
    decided = [r.inputs.iloc[0]["decision"] == "attack" for r in results]
    assert decided == expected
    # The same float64 video scores, bit for bit.
    assert table["score"].tolist() == [r.inputs.iloc[0]["score"] for r in results]
    assert all(r.level == "video" for r in results)
    # Frame comparisons are labelled as such, and there is no frame "attack" at video level.
    assert all("attack" not in o and "frame_attack" in o for o in outputs)
    frame_attack = torch.cat([o["frame_attack"] for o in outputs]).tolist()
    frame_decision = [d == "attack" for r in results for d in r.frames["frame_decision"]]
    assert frame_attack == frame_decision == [k >= 1 for ks in _VIDEOS.values() for k in ks]


@pytest.mark.parametrize(
    "threshold",
    [0.5 + 2.0**-26, 0.5 + _ULP],  # just above a frame score (float32: equal); exactly one
)
def test_frame_level_decisions_agree_and_use_float64(threshold):
    system, outputs = _through_predict_step(False, threshold)
    _, results = _through_predictor(False, threshold)
    expected = [_exact_attack([k], threshold) for ks in _VIDEOS.values() for k in ks]
    assert expected == [k >= 1 for ks in _VIDEOS.values() for k in ks]
    attack = torch.cat([o["attack"] for o in outputs]).tolist()
    assert attack == expected
    table = system.predict_decisions(outputs)
    assert table["level"].unique().tolist() == ["frame"]
    assert table["attack"].tolist() == expected
    frame_decision = [d == "attack" for r in results for d in r.frames["frame_decision"]]
    assert frame_decision == expected
    # Inputs of several frames get no decision of their own at frame level; one frame does.
    inputs = [r.inputs.iloc[0]["decision"] for r in results]
    assert inputs == ["", "", "bona fide", ""]
    assert all(r.level == "frame" for r in results)
    assert "decisions per frame" in results[0].summary()


def test_predict_decisions_at_video_level_needs_video_ids():
    system = mtfas.SupervisedSystem(student=_PixelStudent(), pai_names=["live", "print"])
    outputs = [system.predict_step(torch.zeros(2, 3, IMAGE_SIZE, IMAGE_SIZE), 0)]
    with pytest.raises(ConfigError, match="video id"):
        system.predict_decisions(outputs)
    assert "frame_attack" not in outputs[0]  # no stored threshold: no decisions


def test_checkpoint_records_the_threshold_level(trained, tmp_path):
    path, system = trained
    checkpoint = torch.load(path, weights_only=False)
    assert checkpoint[INFERENCE_KEY]["video_level"] is True is system.video_level
    assert mtfas.Predictor.from_checkpoint(path, detect=False).level == "video"
    checkpoint[INFERENCE_KEY]["video_level"] = False
    frame_level = tmp_path / "frame_level.ckpt"
    torch.save(checkpoint, frame_level)
    predictor = mtfas.Predictor.from_checkpoint(frame_level, detect=False)
    assert predictor.info.video_level is False and predictor.level == "frame"
    del checkpoint[INFERENCE_KEY]["video_level"]  # older checkpoints: video level
    torch.save(checkpoint, frame_level)
    assert mtfas.Predictor.from_checkpoint(frame_level, detect=False).level == "video"
