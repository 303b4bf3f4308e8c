"""MetaTeacherSystem training steps: updates, BatchNorm policy, bad steps, bad input."""

from __future__ import annotations

import copy
import functools

import pytest
import torch
import torch.nn.functional as F
from lightning.pytorch import Callback

from mtfas import MetaTeacherSystem
from mtfas.errors import ConfigError, NonFiniteLossError, ShapeError
from mtfas.models import DepthNet, TeacherNet
from tests.fakes import RandomDataModule, TinyStudent, TinyTeacher, dataset_images


def _system(**kwargs):
    torch.manual_seed(0)
    kwargs.setdefault("student", DepthNet(width_mult=0.1))
    kwargs.setdefault("teacher", TeacherNet(width_mult=0.1))
    kwargs.setdefault("inner_lr", 0.05)
    return MetaTeacherSystem(**kwargs)


def _full_batch_dm(**kwargs):
    """Every training frame in one batch (so the step's training batch is known)."""
    dm = RandomDataModule(batch_size=64, meta_val_batch_size=64, **kwargs)
    dm.setup("fit")
    return dm


def _train_images(dm, split="train"):
    return dataset_images(dm, split)


def _params(module):
    return [p.detach().clone() for p in module.parameters()]


def _changed(before, module):
    return any(not torch.equal(b, p) for b, p in zip(before, module.parameters()))


@pytest.mark.parametrize("backend", ["higher", "torch.func", "jvp"])
def test_one_step_changes_student_and_teacher(make_trainer, backend):
    system, dm = _system(backend=backend), _full_batch_dm()
    s0, t0 = _params(system.student), _params(system.teacher)
    make_trainer(max_steps=1).fit(system, dm)
    assert _changed(s0, system.student)
    assert _changed(t0, system.teacher)


def test_teacher_with_zero_lr_stays_unchanged(make_trainer):
    system = _system(teacher_optimizer=functools.partial(torch.optim.SGD, lr=0.0))
    dm = _full_batch_dm()
    s0, t0 = _params(system.student), _params(system.teacher)
    make_trainer(max_steps=2).fit(system, dm)
    assert _changed(s0, system.student)
    assert not _changed(t0, system.teacher)


def test_teacher_warmup_freezes_teacher_then_releases_it(make_trainer):
    system, dm = _system(teacher_warmup_steps=2), _full_batch_dm()
    t0 = _params(system.teacher)
    make_trainer(max_steps=2).fit(system, dm)
    assert not _changed(t0, system.teacher)
    system = _system(teacher_warmup_steps=1)
    t0 = _params(system.teacher)
    make_trainer(max_steps=2).fit(system, dm)
    assert _changed(t0, system.teacher)


@pytest.mark.parametrize("backend", ["higher", "torch.func", "jvp"])
@pytest.mark.parametrize("mode", ["reuse", "recompute"])
def test_batchnorm_running_stats_follow_the_documented_policy(make_trainer, mode, backend):
    system, dm = _system(student_update=mode, backend=backend), _full_batch_dm()
    x_tr, _ = _train_images(dm)
    x_val, _ = _train_images(dm, "meta_val")
    expected = copy.deepcopy(system.student).train()
    with torch.no_grad():
        expected(x_tr)  # one train-mode forward of the pre-step student on the batch
    polluted = copy.deepcopy(expected)
    with torch.no_grad():
        polluted(x_val)
    initial = copy.deepcopy(system.student.state_dict())
    make_trainer(max_steps=1).fit(system, dm)
    got = {k: v for k, v in system.student.named_buffers()}
    for name, want in expected.named_buffers():
        torch.testing.assert_close(got[name], want, rtol=1e-5, atol=1e-6, msg=name)
    means = [k for k in got if k.endswith("running_mean")]
    assert any(not torch.equal(got[k], initial[k]) for k in means)
    polluted_buffers = dict(polluted.named_buffers())
    assert any(not torch.allclose(got[k], polluted_buffers[k]) for k in means)


def test_reuse_with_sgd_at_inner_lr_keeps_the_adapted_student(make_trainer):
    """With SGD(lr=inner_lr) and K = 1, 'reuse' must give theta' = theta - lr * grad."""
    lr = 0.05
    system = _system(
        student=TinyStudent(),
        teacher=TinyTeacher(),
        inner_lr=lr,
        student_optimizer=functools.partial(torch.optim.SGD, lr=lr),
    )
    dm = _full_batch_dm(crop=16)
    x_tr, y_tr = _train_images(dm)
    reference = copy.deepcopy(system.student)
    with torch.no_grad():
        target = system.teacher(x_tr) * y_tr.view(-1, 1, 1, 1)
    F.mse_loss(reference(x_tr), target).backward()
    expected = [p.detach() - lr * p.grad for p in reference.parameters()]
    make_trainer(max_steps=1).fit(system, dm)
    for got, want in zip(system.student.parameters(), expected):
        torch.testing.assert_close(got.detach(), want, rtol=1e-5, atol=1e-6)


def test_recompute_uses_the_updated_teacher(make_trainer):
    results = {}
    for mode in ("reuse", "recompute"):
        system, dm = _system(student_update=mode), _full_batch_dm()
        make_trainer(max_steps=1).fit(system, dm)
        results[mode] = _params(system.student)
    assert any(not torch.allclose(a, b) for a, b in zip(results["reuse"], results["recompute"]))


def test_any_student_module_works(make_trainer):
    system = _system(student=TinyStudent(batchnorm=True), teacher=TinyTeacher())
    dm = RandomDataModule(batch_size=4)
    trainer = make_trainer(max_epochs=1, limit_val_batches=1.0)
    trainer.fit(system, dm)
    assert trainer.global_step > 0
    assert torch.isfinite(system.threshold)


class _Poison(Callback):
    """Fill the training images of the given batches (counted from 0) with NaN."""

    def __init__(self, batches):
        self.batches = set(batches)
        self.seen = 0

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        if self.seen in self.batches:
            # Batches arrive as uint8 (the systems normalise them in their steps).
            batch["train"]["image"] = torch.full_like(
                batch["train"]["image"], float("nan"), dtype=torch.float32
            )
        self.seen += 1


def test_nan_step_is_skipped_and_counted(make_trainer):
    system, dm = _system(), _full_batch_dm()
    s0, t0 = _params(system.student), _params(system.teacher)
    with pytest.warns(UserWarning, match="Non-finite"):
        make_trainer(max_epochs=1, limit_train_batches=1, callbacks=[_Poison({0})]).fit(system, dm)
    assert system.nonfinite_steps == 1
    assert not _changed(s0, system.student)
    assert not _changed(t0, system.teacher)


def test_training_goes_on_after_an_isolated_nan(make_trainer):
    system, dm = _system(), RandomDataModule(batch_size=4)
    s0 = _params(system.student)
    trainer = make_trainer(max_steps=4, callbacks=[_Poison({1})])
    trainer.fit(system, dm)
    assert system.nonfinite_steps == 1
    assert trainer.global_step == 4  # skipped batches are not optimizer steps
    assert _changed(s0, system.student)


def test_consecutive_nan_steps_stop_training_with_a_clear_error(make_trainer):
    system = _system(max_consecutive_nonfinite=3)
    dm = RandomDataModule(batch_size=4)
    with pytest.raises(NonFiniteLossError, match="3 consecutive"):
        make_trainer(max_steps=10, callbacks=[_Poison(range(10))]).fit(system, dm)
    assert system.nonfinite_steps == 3


def test_mismatched_student_and_teacher_maps_are_a_clear_error(make_trainer):
    class Stride4(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = torch.nn.Conv2d(3, 1, 3, stride=4, padding=1)

        def forward(self, x):
            return torch.sigmoid(self.conv(x))

    system = _system(student=Stride4())
    with pytest.raises(ShapeError, match="differs from the supervision map"):
        make_trainer(max_steps=1).fit(system, _full_batch_dm())


def test_wrong_input_size_is_a_clear_error():
    with pytest.raises(ShapeError, match="divisible by 8"):
        DepthNet(width_mult=0.1)(torch.zeros(1, 3, 20, 20))


def test_missing_meta_validation_batch_is_a_clear_error(make_trainer):
    system = _system()
    dm = RandomDataModule(batch_size=4, meta_val_fraction=0.0)
    with pytest.raises(ConfigError, match="meta-validation batch"):
        make_trainer(max_steps=1).fit(system, dm)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"student_update": "keep"},
        {"val_loss": "hinge"},
        {"inner_steps": 0},
        {"inner_lr": 0},
        {"backend": "jax"},
        {"teacher_warmup_steps": -1},
    ],
)
def test_invalid_knobs_are_rejected(kwargs):
    with pytest.raises(ConfigError):
        _system(**kwargs)


@pytest.mark.parametrize("backend", ["higher", "torch.func", "jvp"])
def test_bf16_autocast_meta_step_trains(make_trainer, backend):
    """bf16 mixed precision (CPU autocast) through the whole bilevel step."""
    system, dm = _system(backend=backend), _full_batch_dm()
    s0, t0 = _params(system.student), _params(system.teacher)
    make_trainer(max_steps=2, precision="bf16-mixed").fit(system, dm)
    assert system.nonfinite_steps == 0
    assert _changed(s0, system.student) and _changed(t0, system.teacher)
    assert all(torch.isfinite(p).all() for p in system.student.parameters())
    assert all(p.dtype == torch.float32 for p in system.teacher.parameters())
