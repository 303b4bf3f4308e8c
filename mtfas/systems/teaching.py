"""What the systems with a teacher network share: the two networks and their optimisers.

:class:`~mtfas.systems.MetaTeacherSystem` (meta-learned teacher) and
:class:`~mtfas.systems.TeacherStudentSystem` (teacher trained for accuracy) both hold a
student, the detector, and a teacher that generates the student's supervision maps, each
with its own optimiser (manual optimisation: the subclass steps both).
"""

from __future__ import annotations

import torch
from lightning.pytorch.cli import OptimizerCallable
from torch import nn

from mtfas.models import DepthNet, TeacherNet
from mtfas.systems.base import FASSystem


class TeachingSystem(FASSystem):
    """A :class:`FASSystem` whose student is taught by a teacher network.

    Subclasses call :meth:`set_networks` in their ``__init__``, after
    ``save_hyperparameters``; :meth:`configure_optimizers` returns the student's optimiser,
    then the teacher's.
    """

    student: nn.Module
    teacher: nn.Module

    def set_networks(
        self,
        student: nn.Module | None,
        teacher: nn.Module | None,
        student_optimizer: OptimizerCallable,
        teacher_optimizer: OptimizerCallable,
    ) -> None:
        """Keep the networks (defaults: :class:`DepthNet`, :class:`TeacherNet`) and factories."""
        self.student = student if student is not None else DepthNet()
        self.teacher = teacher if teacher is not None else TeacherNet()
        self._student_optimizer = student_optimizer
        self._teacher_optimizer = teacher_optimizer

    def configure_optimizers(self) -> list[torch.optim.Optimizer]:  # noqa: D102
        return [
            self._student_optimizer(self.student.parameters()),
            self._teacher_optimizer(self.teacher.parameters()),
        ]
