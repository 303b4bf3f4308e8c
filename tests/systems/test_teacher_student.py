"""The ordinary teacher-student baseline: teacher trained for accuracy, student distilled."""

from __future__ import annotations

import copy
import functools

import torch

from mtfas import TeacherStudentSystem
from mtfas.systems.losses import pixel_bce
from tests.fakes import RandomDataModule, TinyStudent, TinyTeacher, dataset_images


def _images(dm, split):
    return dataset_images(dm, split)


def test_one_step_trains_teacher_for_accuracy_and_distils_student(make_trainer):
    torch.manual_seed(0)
    lr = 0.1
    sgd = functools.partial(torch.optim.SGD, lr=lr)
    system = TeacherStudentSystem(
        student=TinyStudent(), teacher=TinyTeacher(), student_optimizer=sgd, teacher_optimizer=sgd
    )
    dm = RandomDataModule(batch_size=64, meta_val_batch_size=64)
    dm.setup("fit")
    x_tr, y_tr = _images(dm, "train")
    x_mv, y_mv = _images(dm, "meta_val")
    teacher, student = copy.deepcopy(system.teacher), copy.deepcopy(system.student)
    # Teacher: one SGD step on pixel-wise BCE to binary maps over train + meta-val.
    pixel_bce(teacher(torch.cat([x_tr, x_mv])), torch.cat([y_tr, y_mv])).backward()
    want_teacher = [p.detach() - lr * p.grad for p in teacher.parameters()]
    # Student: one SGD step on MSE to the (pre-update) teacher's map, zero for live.
    with torch.no_grad():
        target = system.teacher(x_tr) * y_tr.view(-1, 1, 1, 1)
    torch.nn.functional.mse_loss(student(x_tr), target).backward()
    want_student = [p.detach() - lr * p.grad for p in student.parameters()]
    make_trainer(max_steps=1).fit(system, dm)
    for got, want in zip(system.teacher.parameters(), want_teacher):
        torch.testing.assert_close(got.detach(), want, rtol=1e-5, atol=1e-6)
    for got, want in zip(system.student.parameters(), want_student):
        torch.testing.assert_close(got.detach(), want, rtol=1e-5, atol=1e-6)
