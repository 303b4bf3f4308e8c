"""A tiny trained checkpoint, and synthetic images and videos to predict on."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from lightning.pytorch import Trainer
from lightning.pytorch.callbacks import ModelCheckpoint

from mtfas import MetaTeacherSystem
from mtfas.models import DepthNet
from mtfas.synthetic import render_capture
from tests.fakes import RandomDataModule, TinyTeacher

IMAGE_SIZE = 16


@pytest.fixture(scope="session")
def trained(tmp_path_factory):
    """(checkpoint path, system) of a DepthNet trained for 2 steps, validated once."""
    root = tmp_path_factory.mktemp("trained")
    data = RandomDataModule(eval_batch_size=64)
    system = MetaTeacherSystem(
        DepthNet(width_mult=0.1), TinyTeacher(), inner_lr=0.05, print_test_report=False
    )
    checkpoint = ModelCheckpoint(dirpath=root / "checkpoints", filename="tiny")
    trainer = Trainer(
        max_epochs=1,
        limit_train_batches=2,
        limit_val_batches=1,
        num_sanity_val_steps=0,
        accelerator="cpu",
        logger=False,
        callbacks=[checkpoint],
        enable_progress_bar=False,
        enable_model_summary=False,
        default_root_dir=root,
    )
    trainer.fit(system, data)
    return Path(checkpoint.best_model_path), system.eval()


def write_image(path: Path, rgb: np.ndarray) -> Path:
    assert cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    return path


def write_video(path: Path, frames: np.ndarray) -> Path:
    height, width = frames.shape[1:3]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 25.0, (width, height))
    assert writer.isOpened()
    for frame in frames:
        writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    writer.release()
    return path


@pytest.fixture(scope="session")
def capture():
    """A rendered live capture: 3 frames of 96 px with their true face boxes."""
    return render_capture(1, "live", device=0, session=0, n_frames=3, size=96)
