"""The ``jvp`` inner-loop backend (closed-form K = 1 hypergradient) against the others.

Every comparison runs the same step with ``higher``, ``torch.func`` and ``jvp`` on copies of
one student (float64, so that "equal" can mean 1e-6 relative with a wide margin), plus a
central finite-difference check of the teacher's gradient and a Lightning step.
"""

from __future__ import annotations

import copy
import functools

import pytest
import torch
from torch import nn

from mtfas import MetaTeacherSystem
from mtfas.errors import ConfigError
from mtfas.models import DepthNet, TeacherNet
from mtfas.systems.inner_loop import BACKENDS, JVPInnerLoop, make_inner_loop
from mtfas.systems.losses import supervision_target, validation_loss
from tests.fakes import RandomDataModule, TinyStudent, TinyTeacher

BACKEND_NAMES = ("higher", "torch.func", "jvp")
LR = 0.1


def _batch(seed: int, n: int = 6, size: int = 16):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 3, size, size, generator=g, dtype=torch.float64)
    return x, torch.tensor([0, 1] * (n // 2))


def _nets(kind: str):
    torch.manual_seed(0)
    if kind == "tiny_bn":
        student, teacher, size = TinyStudent(batchnorm=True), TinyTeacher(), 16
    else:
        student, teacher, size = DepthNet(width_mult=0.125), TeacherNet(width_mult=0.125), 32
    return student.double().train(), teacher.double().train(), size


def _step(
    backend,
    student,
    teacher,
    size,
    val_loss="map_mean_bce",
    *,
    sync=True,
    first_order=False,
    detach_target=False,
):
    """One inner loop on a copy of ``student``; returns (teacher grads, result, copy)."""
    student = copy.deepcopy(student)
    x_tr, y_tr = _batch(1, size=size)
    x_val, y_val = _batch(2, size=size)
    target = supervision_target(teacher(x_tr), y_tr)
    if detach_target:
        target = target.detach()
    loop = make_inner_loop(backend, 1, LR, first_order)
    result = loop.run(
        student,
        x_tr,
        target,
        x_val,
        lambda m: validation_loss(val_loss, m, y_val),
        sync_bn_stats=sync,
    )
    grads = None
    if not detach_target:
        grads = torch.autograd.grad(result.val_loss, list(teacher.parameters()))
    return grads, result, student


def _flat(tensors):
    return torch.cat([t.flatten() for t in tensors])


def _rel_err(a, b) -> float:
    a, b = _flat(a), _flat(b)
    return float((a - b).norm() / b.norm().clamp_min(1e-300))


@pytest.mark.parametrize("val_loss", ["map_mean_bce", "pixel_bce"])
@pytest.mark.parametrize("nets", ["tiny_bn", "depthnet"])
def test_jvp_matches_higher_and_torch_func(nets, val_loss):
    student, teacher, size = _nets(nets)
    before = copy.deepcopy(student.state_dict())
    runs = {b: _step(b, student, teacher, size, val_loss) for b in BACKEND_NAMES}
    g_jvp, r_jvp, s_jvp = runs["jvp"]
    assert _flat(g_jvp).abs().sum() > 0
    for name in ("higher", "torch.func"):
        g_ref, r_ref, s_ref = runs[name]
        assert _rel_err(g_jvp, g_ref) < 1e-6, name
        # The surrogate's value is exactly the validation loss (up to rounding).
        torch.testing.assert_close(
            r_jvp.val_loss.detach(), r_ref.val_loss.detach(), rtol=1e-12, atol=0
        )
        torch.testing.assert_close(r_jvp.teach_loss, r_ref.teach_loss, rtol=1e-12, atol=0)
        assert len(r_jvp.student_grads) == len(r_ref.student_grads)
        for a, b in zip(r_jvp.student_grads, r_ref.student_grads, strict=True):
            torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-14)
        # BatchNorm policy: same running statistics as the other backends ...
        for (n, a), b in zip(s_jvp.named_buffers(), s_ref.buffers(), strict=True):
            torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-14, msg=n)
    # ... namely those of one train-mode forward of the student on the training batch.
    expected = copy.deepcopy(student)
    with torch.no_grad():
        expected(_batch(1, size=size)[0])
    for (n, a), b in zip(s_jvp.named_buffers(), expected.buffers(), strict=True):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-14, msg=n)
    assert any("running_mean" in n for n, _ in s_jvp.named_buffers())
    # Parameters untouched, no .grad, no graph to the student.
    for n, p in s_jvp.named_parameters():
        assert torch.equal(p, before[n]), n
        assert p.grad is None, n
    assert all(g is None or not g.requires_grad for g in r_jvp.student_grads)
    assert r_jvp.val_loss.grad_fn is not None and not r_jvp.teach_loss.requires_grad


def test_without_sync_the_running_statistics_are_untouched():
    student, teacher, size = _nets("tiny_bn")
    _, _, s = _step("jvp", student, teacher, size, sync=False)
    for (n, a), b in zip(s.named_buffers(), student.buffers(), strict=True):
        assert torch.equal(a, b), n


def test_first_order_makes_no_difference_at_one_step():
    student, teacher, size = _nets("tiny_bn")
    g2, r2, _ = _step("jvp", student, teacher, size)
    g1, r1, _ = _step("jvp", student, teacher, size, first_order=True)
    assert _rel_err(g1, g2) == 0.0
    assert torch.equal(r1.val_loss.detach(), r2.val_loss.detach())


def test_detached_target_skips_the_teacher_gradient_but_keeps_the_rest():
    student, teacher, size = _nets("tiny_bn")
    _, r_jvp, s_jvp = _step("jvp", student, teacher, size, detach_target=True)
    _, r_ref, s_ref = _step("torch.func", student, teacher, size, detach_target=True)
    assert not r_jvp.val_loss.requires_grad
    torch.testing.assert_close(r_jvp.val_loss, r_ref.val_loss.detach(), rtol=1e-12, atol=0)
    for a, b in zip(r_jvp.student_grads, r_ref.student_grads, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-14)
    for a, b in zip(s_jvp.buffers(), s_ref.buffers(), strict=True):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-14)


class _PartlyFrozenStudent(TinyStudent):
    """A TinyStudent with a frozen layer and a parameter that never reaches the map."""

    def __init__(self) -> None:
        super().__init__(batchnorm=True)
        self.conv2.weight.requires_grad_(False)
        self.unused = nn.Parameter(torch.ones(3))


def test_frozen_and_unused_parameters_are_treated_like_the_other_backends():
    torch.manual_seed(0)
    student, teacher = _PartlyFrozenStudent().double(), TinyTeacher().double()
    runs = {b: _step(b, student, teacher, 16) for b in BACKEND_NAMES}
    g_jvp, r_jvp, _ = runs["jvp"]
    names = [n for n, _ in student.named_parameters()]
    for name in ("higher", "torch.func"):
        g_ref, r_ref, _ = runs[name]
        assert _rel_err(g_jvp, g_ref) < 1e-6, name
        for n, a, b in zip(names, r_jvp.student_grads, r_ref.student_grads, strict=True):
            assert (a is None) == (b is None), (name, n)
            if a is not None:
                torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-14)
    by_name = dict(zip(names, r_jvp.student_grads, strict=True))
    assert by_name["unused"] is None and by_name["conv2.weight"] is None


class _DropoutStudent(TinyStudent):
    """A TinyStudent with dropout: every forward pass draws a new mask."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = torch.tanh(self.bn(self.conv1(x)))
        h = torch.tanh(self.conv2(nn.functional.dropout(h, 0.3, self.training)))
        return torch.sigmoid(self.conv3(h))


def test_dropout_draws_are_replayed_in_the_jacobian_vector_product():
    torch.manual_seed(0)
    student, teacher = _DropoutStudent(batchnorm=True).double(), TinyTeacher().double()
    runs = {}
    for backend in ("torch.func", "jvp"):
        torch.manual_seed(5)
        runs[backend] = _step(backend, student, teacher, 16)
        runs[backend] += (torch.rand(3),)  # the RNG ends where the other backend leaves it
    g_jvp, r_jvp, _, after_jvp = runs["jvp"]
    g_ref, r_ref, _, after_ref = runs["torch.func"]
    assert _rel_err(g_jvp, g_ref) < 1e-6
    torch.testing.assert_close(r_jvp.val_loss.detach(), r_ref.val_loss.detach(), rtol=1e-12, atol=0)
    assert torch.equal(after_jvp, after_ref)


def _val_loss_at(student, teacher, lr):
    x_tr, y_tr = _batch(1)
    x_val, y_val = _batch(2)
    target = supervision_target(teacher(x_tr), y_tr).detach()
    res = JVPInnerLoop(steps=1, lr=lr).run(
        copy.deepcopy(student),
        x_tr,
        target,
        x_val,
        lambda m: validation_loss("map_mean_bce", m, y_val),
        sync_bn_stats=False,
    )
    return float(res.val_loss)


def test_teacher_gradient_matches_central_finite_differences():
    torch.manual_seed(3)
    student, teacher = TinyStudent(batchnorm=True).double(), TinyTeacher().double()
    lr = 0.5
    x_tr, y_tr = _batch(1)
    x_val, y_val = _batch(2)
    target = supervision_target(teacher(x_tr), y_tr)
    res = JVPInnerLoop(steps=1, lr=lr).run(
        copy.deepcopy(student),
        x_tr,
        target,
        x_val,
        lambda m: validation_loss("map_mean_bce", m, y_val),
        sync_bn_stats=False,
    )
    params = list(teacher.parameters())
    grads = torch.autograd.grad(res.val_loss, params)
    eps = 1e-5
    g = torch.Generator().manual_seed(7)
    for _ in range(3):
        direction = [torch.randn(p.shape, generator=g, dtype=p.dtype) for p in params]
        analytic = sum(float((gr * d).sum()) for gr, d in zip(grads, direction, strict=True))
        values = []
        for sign in (1, -1):
            with torch.no_grad():
                for p, d in zip(params, direction, strict=True):
                    p.add_(sign * eps * d)
            values.append(_val_loss_at(student, teacher, lr))
            with torch.no_grad():
                for p, d in zip(params, direction, strict=True):
                    p.sub_(sign * eps * d)
        numeric = (values[0] - values[1]) / (2 * eps)
        assert abs(analytic) > 1e-8
        assert abs(numeric - analytic) <= 1e-6 * abs(analytic)


def test_more_than_one_step_is_a_clear_error():
    with pytest.raises(ConfigError, match=r"inner_steps = 1.*'higher'.*'torch\.func'"):
        make_inner_loop("jvp", 2, LR, False)
    with pytest.raises(ConfigError, match="inner_steps"):
        MetaTeacherSystem(TinyStudent(), TinyTeacher(), inner_steps=2, backend="jvp")
    assert make_inner_loop("jvp", 1, LR, True).steps == 1
    assert BACKENDS["jvp"] is JVPInnerLoop


def test_lightning_step_gives_the_same_parameters_as_torch_func(make_trainer):
    dm = RandomDataModule(batch_size=64, meta_val_batch_size=64)
    dm.setup("fit")
    states = {}
    for backend in ("torch.func", "jvp"):
        torch.manual_seed(0)
        # SGD: the update is linear in the gradient, so float32 rounding differences of the
        # two exact backends stay tiny (Adam's first step, lr * g / |g|, would amplify them
        # for near-zero gradient entries).
        sgd = functools.partial(torch.optim.SGD, lr=0.05)
        system = MetaTeacherSystem(
            DepthNet(width_mult=0.1),
            TeacherNet(width_mult=0.1),
            inner_lr=0.05,
            backend=backend,
            student_optimizer=sgd,
            teacher_optimizer=sgd,
        )
        initial = copy.deepcopy(system.state_dict())
        torch.manual_seed(1)
        make_trainer(max_steps=1).fit(system, dm)
        assert system.nonfinite_steps == 0
        states[backend] = system.state_dict()
    changed = {"student": False, "teacher": False}
    for key, want in states["torch.func"].items():
        if not key.startswith(("student.", "teacher.")):
            continue  # evaluation state (thresholds), untouched by a training step
        got = states["jvp"][key]
        torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-6, msg=key)
        if not torch.equal(want, initial[key]):
            changed[key.split(".")[0]] = True
    assert changed == {"student": True, "teacher": True}


def test_auto_backend_is_jvp_for_one_step_and_higher_for_more():
    from mtfas.systems.inner_loop import HigherInnerLoop

    one = MetaTeacherSystem(TinyStudent(), TinyTeacher(), pai_names=["live", "print"])
    assert isinstance(one.inner_loop, JVPInnerLoop)
    two = MetaTeacherSystem(
        TinyStudent(), TinyTeacher(), inner_steps=2, pai_names=["live", "print"]
    )
    assert isinstance(two.inner_loop, HigherInnerLoop)
    with pytest.raises(ConfigError, match="auto"):
        make_inner_loop("jax", 1, 0.1, False)
