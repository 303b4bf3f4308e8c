"""One training step is one step, however many optimisers a system steps per batch."""

from __future__ import annotations

import pytest
import torch
from lightning.pytorch import Callback

from mtfas import MetaTeacherSystem
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
