"""The teacher's meta-gradient against independent computations.

Reference 1: ``torch.func.functional_call`` + ``autograd.grad(create_graph=True)``, an
unrolled inner loop written from scratch (no ``higher``).
Reference 2: central finite differences of the meta-validation loss w.r.t. the teacher's
parameters, on tiny smooth float64 networks.
"""

from __future__ import annotations

import copy

import pytest
import torch
import torch.nn.functional as F
from torch.func import functional_call

from mtfas.models import DepthNet, TeacherNet
from mtfas.systems.inner_loop import HigherInnerLoop, TorchFuncInnerLoop
from mtfas.systems.losses import supervision_target, validation_loss
from tests.fakes import TinyStudent, TinyTeacher

torch.set_default_dtype(torch.float32)


def _batch(seed: int, n: int = 6, size: int = 16):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 3, size, size, generator=g, dtype=torch.float64)
    y = torch.tensor([0, 1] * (n // 2))
    return x, y


def higher_teacher_grad(student, teacher, steps, lr, first_order, val_loss="map_mean_bce"):
    x_tr, y_tr = _batch(1)
    x_val, y_val = _batch(2)
    target = supervision_target(teacher(x_tr), y_tr)
    loop = HigherInnerLoop(steps=steps, lr=lr, first_order=first_order)
    result = loop.run(
        student,
        x_tr,
        target,
        x_val,
        lambda m: validation_loss(val_loss, m, y_val),
        sync_bn_stats=False,
    )
    return torch.autograd.grad(result.val_loss, list(teacher.parameters())), result


def reference_teacher_grad(student, teacher, steps, lr, first_order, val_loss="map_mean_bce"):
    """Unrolled inner loop with torch.func, written independently of the library."""
    x_tr, y_tr = _batch(1)
    x_val, y_val = _batch(2)
    t_params = dict(teacher.named_parameters())
    t_buffers = {k: v.clone() for k, v in teacher.named_buffers()}
    t_map = functional_call(teacher, (t_params, t_buffers), (x_tr,))
    target = t_map * y_tr.view(-1, 1, 1, 1).to(t_map.dtype)
    theta = {k: v.detach().clone().requires_grad_() for k, v in student.named_parameters()}
    buffers = {k: v.clone() for k, v in student.named_buffers()}
    for _ in range(steps):
        at = {k: v.detach().requires_grad_() for k, v in theta.items()} if first_order else theta
        pred = functional_call(student, (at, buffers), (x_tr,))
        loss = ((pred - target) ** 2).mean()
        grads = torch.autograd.grad(loss, list(at.values()), create_graph=True)
        theta = {k: v - lr * g for (k, v), g in zip(theta.items(), grads)}
    maps = functional_call(student, (theta, buffers), (x_val,))
    if val_loss == "map_mean_bce":
        p = maps.mean(dim=(1, 2, 3)).clamp(1e-4, 1 - 1e-4)
        loss = F.binary_cross_entropy(p, y_val.to(p.dtype))
    else:
        p = maps.clamp(1e-4, 1 - 1e-4)
        loss = F.binary_cross_entropy(p, y_val.to(p.dtype).view(-1, 1, 1, 1).expand_as(p))
    return torch.autograd.grad(loss, list(t_params.values()))


def _rel_err(a, b):
    a = torch.cat([t.flatten() for t in a])
    b = torch.cat([t.flatten() for t in b])
    return float((a - b).norm() / b.norm().clamp_min(1e-300))


def _depthnets():
    torch.manual_seed(0)
    return DepthNet(width_mult=0.05).double().train(), TeacherNet(width_mult=0.05).double().train()


@pytest.mark.parametrize("steps", [1, 2])
@pytest.mark.parametrize("val_loss", ["map_mean_bce", "pixel_bce"])
def test_second_order_matches_functional_reference(steps, val_loss):
    student, teacher = _depthnets()
    got, _ = higher_teacher_grad(student, teacher, steps, 0.1, False, val_loss)
    want = reference_teacher_grad(student, teacher, steps, 0.1, False, val_loss)
    assert _rel_err(got, want) < 1e-6
    assert torch.cat([g.flatten() for g in want]).abs().sum() > 0


@pytest.mark.parametrize("steps", [1, 2])
def test_first_order_matches_functional_reference(steps):
    student, teacher = _depthnets()
    got, _ = higher_teacher_grad(student, teacher, steps, 0.1, True)
    want = reference_teacher_grad(student, teacher, steps, 0.1, True)
    assert _rel_err(got, want) < 1e-6


def test_first_order_is_exact_for_one_step_and_approximate_for_two():
    student, teacher = _depthnets()
    one_fo, _ = higher_teacher_grad(student, teacher, 1, 0.1, True)
    one_so, _ = higher_teacher_grad(student, teacher, 1, 0.1, False)
    assert _rel_err(one_fo, one_so) < 1e-10
    two_fo, _ = higher_teacher_grad(student, teacher, 2, 0.1, True)
    two_so, _ = higher_teacher_grad(student, teacher, 2, 0.1, False)
    assert _rel_err(two_fo, two_so) > 1e-8  # the student's Hessian term is really dropped


def _meta_val_loss_at(student, teacher, steps, lr):
    """Scalar L_val(phi) through the whole inner loop (no gradient to phi needed)."""
    x_tr, y_tr = _batch(1)
    x_val, y_val = _batch(2)
    target = supervision_target(teacher(x_tr), y_tr).detach()
    loop = HigherInnerLoop(steps=steps, lr=lr)
    res = loop.run(
        student,
        x_tr,
        target,
        x_val,
        lambda m: validation_loss("map_mean_bce", m, y_val),
        sync_bn_stats=False,
    )
    return float(res.val_loss.detach())


@pytest.mark.parametrize("steps", [1, 2])
def test_meta_gradient_matches_central_finite_differences(steps):
    torch.manual_seed(3)
    student = TinyStudent().double()
    teacher = TinyTeacher().double()
    lr = 0.5
    grads, _ = higher_teacher_grad(student, teacher, steps, lr, False)
    eps = 1e-5
    params = list(teacher.parameters())
    g = torch.Generator().manual_seed(7)
    for _ in range(3):
        direction = [torch.randn(p.shape, generator=g, dtype=p.dtype) for p in params]
        analytic = sum(float((gr * d).sum()) for gr, d in zip(grads, direction))
        with torch.no_grad():
            for p, d in zip(params, direction):
                p.add_(eps * d)
        plus = _meta_val_loss_at(student, teacher, steps, lr)
        with torch.no_grad():
            for p, d in zip(params, direction):
                p.sub_(2 * eps * d)
        minus = _meta_val_loss_at(student, teacher, steps, lr)
        with torch.no_grad():
            for p, d in zip(params, direction):
                p.add_(eps * d)
        numeric = (plus - minus) / (2 * eps)
        assert abs(analytic) > 1e-8
        assert abs(numeric - analytic) <= 1e-6 * abs(analytic)


def test_first_step_student_gradient_is_plain_teaching_gradient():
    student, teacher = _depthnets()
    _, result = higher_teacher_grad(student, teacher, 1, 0.1, False)
    x_tr, y_tr = _batch(1)
    clone = copy.deepcopy(student)
    target = supervision_target(teacher(x_tr), y_tr).detach()
    F.mse_loss(clone(x_tr), target).backward()
    for p, g in zip(clone.parameters(), result.student_grads):
        torch.testing.assert_close(g, p.grad, rtol=1e-10, atol=1e-12)


def test_inner_loop_leaves_real_student_untouched():
    student, teacher = _depthnets()
    before = copy.deepcopy(student.state_dict())
    higher_teacher_grad(student, teacher, 2, 0.1, False)
    for k, v in student.state_dict().items():
        assert torch.equal(v, before[k]), k
    assert all(p.grad is None for p in student.parameters())


@pytest.mark.parametrize("steps", [1, 2])
@pytest.mark.parametrize("first_order", [False, True])
def test_torch_func_backend_gives_the_same_teacher_gradient_as_higher(steps, first_order):
    student, teacher = _depthnets()
    x_tr, y_tr = _batch(1)
    x_val, y_val = _batch(2)
    results = []
    for loop_cls in (HigherInnerLoop, TorchFuncInnerLoop):
        target = supervision_target(teacher(x_tr), y_tr)
        loop = loop_cls(steps=steps, lr=0.1, first_order=first_order)
        res = loop.run(
            student,
            x_tr,
            target,
            x_val,
            lambda m: validation_loss("map_mean_bce", m, y_val),
            sync_bn_stats=False,
        )
        grads = torch.autograd.grad(res.val_loss, list(teacher.parameters()))
        results.append((grads, res))
    (g_higher, r_higher), (g_func, r_func) = results
    assert _rel_err(g_func, g_higher) < 1e-10
    torch.testing.assert_close(r_func.teach_loss, r_higher.teach_loss)
    for a, b in zip(r_func.student_grads, r_higher.student_grads):
        torch.testing.assert_close(a, b)
