"""Run 2-process DDP (gloo, CPU) training of MetaTeacherSystem; save what the test checks.

Usage: python tests/systems/ddp_run.py OUT_DIR BACKEND:STEPS [BACKEND:STEPS ...]
One fit per ``BACKEND:STEPS``, one after another in the same two processes (starting them
and the process group once is most of the cost). Each rank saves, in
``OUT_DIR/<backend>-<steps>/``, its parameters after training (``params_rank{r}.pt``) and,
for step 0, its batch and the initial parameters (``step0_rank{r}.pt``).
"""

from __future__ import annotations

import functools
import sys
from pathlib import Path

import torch
from lightning.pytorch import Callback, Trainer, seed_everything

from mtfas import MetaTeacherSystem
from tests.fakes import RandomDataModule, TinyStudent, TinyTeacher

LR = 0.1


class Recorder(Callback):
    def __init__(self, out: Path) -> None:
        self.out = out

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        if trainer.global_step == 0 and batch_idx == 0:
            torch.save(
                {
                    "batch": {k: {n: t.clone() for n, t in v.items()} for k, v in batch.items()},
                    "student": {k: v.clone() for k, v in pl_module.student.state_dict().items()},
                    "teacher": {k: v.clone() for k, v in pl_module.teacher.state_dict().items()},
                },
                self.out / f"step0_rank{trainer.global_rank}.pt",
            )

    def on_train_end(self, trainer, pl_module):
        torch.save(
            {
                "student": {k: v.clone() for k, v in pl_module.student.state_dict().items()},
                "teacher": {k: v.clone() for k, v in pl_module.teacher.state_dict().items()},
                "steps": trainer.global_step,
            },
            self.out / f"params_rank{trainer.global_rank}.pt",
        )


def main() -> None:
    import faulthandler

    faulthandler.dump_traceback_later(300, exit=True)  # fail, never hang, the test
    for spec in sys.argv[2:]:
        backend, steps = spec.split(":")
        out = Path(sys.argv[1]) / f"{backend}-{steps}"
        out.mkdir(parents=True, exist_ok=True)
        fit(out, backend, int(steps))


def fit(out: Path, backend: str, steps: int) -> None:
    """One DDP fit of ``steps`` steps with ``backend``; the ranks save into ``out``."""
    seed_everything(0)
    sgd = functools.partial(torch.optim.SGD, lr=LR)
    system = MetaTeacherSystem(
        student=TinyStudent(batchnorm=True),
        teacher=TinyTeacher(),
        inner_lr=0.05,
        backend=backend,
        student_optimizer=sgd,
        teacher_optimizer=sgd,
    )
    dm = RandomDataModule(n_subjects=10, batch_size=4, meta_val_batch_size=4)
    trainer = Trainer(
        accelerator="cpu",
        devices=2,
        strategy="ddp",
        max_steps=steps,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        num_sanity_val_steps=0,
        limit_val_batches=0,
        callbacks=[Recorder(out)],
    )
    trainer.fit(system, dm)


if __name__ == "__main__":
    main()
