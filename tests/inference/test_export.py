"""ONNX export of the student: ONNX Runtime equals PyTorch (atol 1e-4), dynamic batch."""

from __future__ import annotations

import json

import numpy as np
import onnx
import onnxruntime
import pytest
import torch

from mtfas.cli import main
from mtfas.errors import CheckpointError
from mtfas.inference import export_onnx
from tests.inference.conftest import IMAGE_SIZE

ATOL = 1e-4


@pytest.fixture(scope="module")
def exported(trained, tmp_path_factory):
    path, system = trained
    out = tmp_path_factory.mktemp("onnx") / "model.onnx"
    assert main(["export", "--ckpt_path", str(path), "--out", str(out)]) == 0
    return out, system


@pytest.mark.slow
@pytest.mark.parametrize("batch", [1, 3])
def test_onnx_runtime_equals_pytorch(exported, batch):
    out, system = exported
    session = onnxruntime.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    image = torch.rand(batch, 3, IMAGE_SIZE, IMAGE_SIZE, generator=torch.Generator().manual_seed(1))
    image = image * 2 - 1
    maps, scores = session.run(["map", "score"], {"image": image.numpy()})
    with torch.no_grad():
        expected_maps = system.student(image).numpy()
        expected_scores = system.score(image).numpy()
    assert maps.shape == (batch, 1, IMAGE_SIZE // 8, IMAGE_SIZE // 8)
    np.testing.assert_allclose(maps, expected_maps, atol=ATOL, rtol=0)
    np.testing.assert_allclose(scores, expected_scores, atol=ATOL, rtol=0)


@pytest.mark.slow
def test_metadata_carries_threshold_and_input_size(exported):
    out, system = exported
    props = {p.key: json.loads(p.value) for p in onnx.load(str(out)).metadata_props}
    assert props["mtfas_threshold"] == pytest.approx(float(system.threshold))
    assert props["mtfas_input_size"] == IMAGE_SIZE
    assert props["mtfas_pai_names"] == ["live", "print", "replay"]
    assert props["mtfas_video_level"] is system.video_level is True  # the decision level
    assert props["mtfas_selection"] is None  # the tested model, not one chosen on validation


def test_export_of_a_non_mtfas_checkpoint_is_a_clear_error(tmp_path):
    other = tmp_path / "other.ckpt"
    torch.save({"state_dict": {"encoder.weight": torch.zeros(1)}}, other)
    with pytest.raises(CheckpointError, match="another kind of model"):
        export_onnx(other, tmp_path / "x.onnx")
