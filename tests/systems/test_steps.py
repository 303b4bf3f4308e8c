"""One training step is one step, however many optimisers a system steps per batch."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import torch
from lightning.pytorch import Callback
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.loggers import CSVLogger

from mtfas import MetaTeacherSystem, TeacherStudentSystem
from tests.fakes import RandomDataModule, TinyStudent, TinyTeacher


class _Record(Callback):
    """The global step at each batch end, and whether the teacher changed in that batch."""

    def __init__(self) -> None:
        self.steps: list[int] = []
        self.teacher_changed: list[bool] = []

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        self._before = [p.detach().clone() for p in pl_module.teacher.parameters()]

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        self.steps.append(trainer.global_step)
        self.teacher_changed.append(
            any(not torch.equal(a, p) for a, p in zip(self._before, pl_module.teacher.parameters()))
        )


@pytest.mark.parametrize("precision", ["32-true", "bf16-mixed"])
def test_max_steps_trains_that_many_steps_and_warmup_counts_steps(make_trainer, precision):
    torch.manual_seed(0)
    system = MetaTeacherSystem(TinyStudent(), TinyTeacher(), inner_lr=0.05, teacher_warmup_steps=2)
    record = _Record()
    trainer = make_trainer(max_steps=5, precision=precision, callbacks=[record])
    trainer.fit(system, RandomDataModule(batch_size=4))
    assert trainer.global_step == 5
    assert record.steps == [1, 2, 3, 4, 5]  # one step per batch, two optimisers each
    # teacher_warmup_steps=2: the teacher is first updated at step 3.
    assert record.teacher_changed == [False, False, True, True, True]


class _Validations(Callback):
    """The global step at the start of each validation run during fit."""

    def __init__(self) -> None:
        self.at: list[int] = []

    def on_validation_start(self, trainer, pl_module):
        if trainer.state.fn == "fit":
            self.at.append(trainer.global_step)


def _system(kind: str):
    if kind == "mtfas":
        return MetaTeacherSystem(TinyStudent(), TinyTeacher(), inner_lr=0.05)
    return TeacherStudentSystem(TinyStudent(), TinyTeacher())


@pytest.mark.parametrize("kind", ["mtfas", "teacher_student"])
def test_logging_validation_and_checkpoint_intervals_count_training_steps(
    make_trainer, tmp_path, kind
):
    # 6 training batches a epoch (6 training subjects x 3 videos x 2 frames / 4 per batch -> 9;
    # limited to 6), two optimisers a batch: every interval below is in batches.
    torch.manual_seed(0)
    validations = _Validations()
    checkpoints = ModelCheckpoint(
        dirpath=tmp_path / "ckpt", every_n_train_steps=2, save_top_k=-1, filename="{step}"
    )
    trainer = make_trainer(
        max_epochs=1,
        limit_train_batches=6,
        limit_val_batches=1.0,
        val_check_interval=3,
        log_every_n_steps=1,
        logger=CSVLogger(tmp_path, name="log"),
        enable_checkpointing=True,
        callbacks=[validations, checkpoints],
    )
    trainer.fit(_system(kind), RandomDataModule(batch_size=4))
    assert trainer.global_step == 6
    assert validations.at == [3, 6]
    names = sorted(p.name for p in (tmp_path / "ckpt").glob("step=*.ckpt"))
    assert names == ["step=2.ckpt", "step=4.ckpt", "step=6.ckpt"]
    metrics = pd.read_csv(Path(trainer.logger.log_dir) / "metrics.csv")
    train_key = next(c for c in metrics.columns if c.startswith("train/") and "loss" in c)
    logged = metrics.dropna(subset=[train_key])["step"].tolist()
    assert logged == [0, 1, 2, 3, 4, 5]  # log_every_n_steps=1: once per step, no gaps
