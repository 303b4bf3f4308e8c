"""Ordinary teacher-student baseline: a teacher trained for accuracy, distilled into the student.

The comparison point for MT-FAS's claim that *meta-learned* supervision beats an ordinary
teacher. Same student, same data, same supervision form (ZeroMap for live, the teacher's
map for spoofs, MSE), but the teacher is trained to be accurate itself: pixel-wise binary
cross-entropy against all-0 (live) / all-1 (spoof) maps, on the same training batch, with
no meta-gradient. Both networks are updated at every step; the student learns from the
teacher's map as it was before the teacher's update (detached).

The teacher trains on the training batch and, with ``use_meta_val=True`` (default), on the
meta-validation slice too, so it sees the same labelled images as MT-FAS's teacher.
"""

from __future__ import annotations

from typing import Any

import torch
from lightning.pytorch.cli import OptimizerCallable
from torch import nn

from mtfas.systems.losses import pixel_bce, supervision_target, teaching_loss
from mtfas.systems.supervised import training_images
from mtfas.systems.teaching import TeachingSystem
from mtfas.transforms import normalise_batch


class TeacherStudentSystem(TeachingSystem):
    """A student distilled from a teacher that is trained for accuracy (no meta-learning).

    Args:
        student: The detector (default: full-width :class:`~mtfas.models.DepthNet`).
        teacher: Map generator with values in [0, 1] (default: :class:`TeacherNet`).
        use_meta_val: Also train the teacher on the meta-validation slice.
        student_optimizer: Optimiser factory for the student (default Adam, lr 1e-3).
        teacher_optimizer: Optimiser factory for the teacher (default Adam, lr 1e-3).
        **kwargs: The evaluation settings, passed to :class:`FASSystem` (see its
            arguments: threshold choice, video level, diagnostics ...).
    """

    def __init__(
        self,
        student: nn.Module | None = None,
        teacher: nn.Module | None = None,
        use_meta_val: bool = True,
        student_optimizer: OptimizerCallable = torch.optim.Adam,
        teacher_optimizer: OptimizerCallable = torch.optim.Adam,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.save_hyperparameters(ignore=["student", "teacher"])
        self.set_networks(student, teacher, student_optimizer, teacher_optimizer)
        self.use_meta_val = use_meta_val

    def training_step(self, batch: Any, batch_idx: int) -> None:  # noqa: D102
        # With two optimizers, optimizers() returns a list.
        opt_s, opt_t = self.optimizers()  # type: ignore[attr-defined]
        batch = normalise_batch(batch)  # once; training_images passes float images through
        x_tr, y_tr = training_images(batch, use_meta_val=False)
        x_all, y_all = training_images(batch, self.use_meta_val)
        teacher_maps = self.teacher(x_all)
        teacher_loss = pixel_bce(teacher_maps, y_all)
        target = supervision_target(teacher_maps[: len(x_tr)].detach(), y_tr)
        student_loss = teaching_loss(self.student(x_tr), target)
        opt_t.zero_grad(set_to_none=True)
        opt_s.zero_grad(set_to_none=True)
        self.manual_backward(teacher_loss + student_loss)  # disjoint parameter sets
        if not self.check_step_finite(teacher_loss, student_loss):
            opt_t.zero_grad(set_to_none=True)
            opt_s.zero_grad(set_to_none=True)
            self.log_nonfinite()
            return
        self.step_optimizer(opt_t)
        self.step_optimizer(opt_s)
        n = len(y_tr)
        self.log("train/teacher_loss", teacher_loss.detach(), batch_size=n)
        self.log("train/student_loss", student_loss.detach(), prog_bar=True, batch_size=n)
        self.log_nonfinite()
