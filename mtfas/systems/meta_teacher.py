"""MT-FAS: a student detector supervised by a meta-learned teacher (Qin et al., TPAMI 2021).

One training step (manual optimisation), with a training batch ``(x_tr, y_tr)`` and a
meta-validation batch ``(x_val, y_val)`` from subject-disjoint training subjects:

1. The teacher maps ``x_tr`` to ``T_phi(x_tr)``; the target is zeros for live faces and
   ``T_phi(x_tr)`` for spoofs (ZeroMap / LearnableMap).
2. Lower level: the student takes ``inner_steps`` differentiable SGD steps (``inner_lr``)
   on ``MSE(S_theta(x_tr), target)``, giving ``theta'`` with the graph to ``phi``
   (``backend="jvp"``, ``K = 1`` only: no graph; the exact hypergradient comes from its
   closed form, see ``mtfas.systems.inner_loop.JVPInnerLoop``).
3. Higher level: the teacher takes an optimiser step on ``grad_phi L_val(S_theta'(x_val),
   y_val)`` (``val_loss``: BCE of the map mean, or pixel-wise BCE).
4. Student update (``student_update``): ``"reuse"`` hands the first inner step's gradient
   (computed anyway, at ``theta`` with the pre-update teacher) to the student's own
   optimiser, so no extra pass is needed (with ``SGD(lr=inner_lr)`` and ``K = 1`` this is
   exactly keeping ``theta'``); ``"recompute"`` recomputes the student's gradient with the
   just-updated teacher and steps on that (one more forward/backward).

During the first ``teacher_warmup_steps`` steps the teacher is not updated: the student
learns from the initial teacher while it leaves its random initial state.

BatchNorm: after each step the real student's running statistics are those of one
train-mode forward of the (pre-update) student on the training batch; forwards at adapted
weights and on meta-validation data never reach them (see ``mtfas.systems.inner_loop``).
The teacher's statistics are updated by each of its train-mode forwards.

>>> from mtfas import MetaTeacherSystem
>>> from mtfas.models import DepthNet, TeacherNet
>>> system = MetaTeacherSystem(DepthNet(width_mult=0.25), TeacherNet(width_mult=0.125),
...                            inner_lr=0.05, pai_names=["live", "print", "replay"])
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Literal

import torch
from lightning.pytorch.cli import OptimizerCallable
from lightning.pytorch.utilities import rank_zero_warn
from torch import Tensor, nn

from mtfas.errors import ConfigError
from mtfas.systems.diagnostics import InnerLossMonitor, ParameterSnapshot, vector_norm
from mtfas.systems.distributed import average_gradients, no_ddp_sync
from mtfas.systems.inner_loop import make_inner_loop
from mtfas.systems.losses import (
    ValLossName,
    supervision_target,
    teaching_loss,
    validation_loss,
)
from mtfas.systems.teaching import TeachingSystem
from mtfas.transforms import normalise_batch


def _grad_norm(params: Iterable[nn.Parameter], device: torch.device) -> Tensor:
    grads = [p.grad for p in params if p.grad is not None]
    if not grads:
        return torch.zeros((), device=device)
    norm: Tensor = torch.linalg.vector_norm(
        torch.stack([torch.linalg.vector_norm(g) for g in grads])
    )
    return norm


def split_meta_batch(batch: Any) -> tuple[dict[str, Tensor], dict[str, Tensor]]:
    """Return the ``(train, meta_val)`` parts of a training batch, with a clear error."""
    if not (isinstance(batch, dict) and "train" in batch and "meta_val" in batch):
        keys = sorted(batch) if isinstance(batch, dict) else type(batch).__name__
        raise ConfigError(
            "MetaTeacherSystem needs a meta-validation batch with every training batch: the "
            "train dataloader must be a dict {'train': ..., 'meta_val': ...} (every "
            f"mtfas FASDataModule with meta_val_fraction > 0 provides it); got {keys}."
        )
    return normalise_batch(batch["train"]), normalise_batch(batch["meta_val"])  # type: ignore[return-value]


class MetaTeacherSystem(TeachingSystem):
    """Meta-Teacher face anti-spoofing (bilevel, second order by default).

    Args:
        student: The detector, images ``(B, 3, H, W)`` -> maps ``(B, 1, h, w)``
            (default: full-width :class:`~mtfas.models.DepthNet`).
        teacher: The supervision generator, same map shape, values in [0, 1]
            (default: :class:`~mtfas.models.TeacherNet`).
        inner_steps: Differentiable inner steps ``K`` of the student.
        inner_lr: Inner SGD learning rate ``alpha``. With ``inner_steps >= 2`` a rate that
            makes the inner teaching loss rise from one inner step to the next is warned
            about, with a suggested rate
            (:class:`~mtfas.systems.diagnostics.InnerLossMonitor`; docs/diagnostics.md).
        first_order: Drop the student's Hessian across inner steps (exact for ``K = 1``).
        val_loss: Teacher objective on meta-validation data: ``"map_mean_bce"`` or
            ``"pixel_bce"``.
        student_update: ``"reuse"`` or ``"recompute"`` (see module docs).
        teacher_warmup_steps: Initial steps during which the teacher is not updated.
        backend: Inner-loop backend (all exact, same gradients, tested): ``"higher"`` or
            ``"torch.func"`` (any ``inner_steps``), or ``"jvp"``: the closed form of the
            one-step hypergradient of the MSE teaching loss (one forward-mode
            Jacobian-vector product instead of a second-order graph), the cheapest
            exact choice for ``inner_steps = 1``; it rejects ``inner_steps > 1``
            (:class:`~mtfas.systems.inner_loop.JVPInnerLoop`). ``"auto"`` (default):
            ``"jvp"`` for ``inner_steps = 1``, else ``"higher"``.
        student_optimizer: Optimiser factory of the student's actual update, on the
            teacher's supervision (default Adam, lr 1e-3); the inner steps are plain SGD
            with ``inner_lr``.
        teacher_optimizer: Optimiser factory of the teacher's meta-gradient step (default
            Adam, lr 1e-3).
        **kwargs: The evaluation settings of :class:`~mtfas.systems.FASSystem`
            (threshold choice, video level, diagnostics ...), passed to it.
    """

    def __init__(
        self,
        student: nn.Module | None = None,
        teacher: nn.Module | None = None,
        inner_steps: int = 1,
        inner_lr: float = 0.01,
        first_order: bool = False,
        val_loss: ValLossName = "map_mean_bce",
        student_update: Literal["reuse", "recompute"] = "reuse",
        teacher_warmup_steps: int = 0,
        backend: Literal["auto", "higher", "torch.func", "jvp"] = "auto",
        student_optimizer: OptimizerCallable = torch.optim.Adam,
        teacher_optimizer: OptimizerCallable = torch.optim.Adam,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if student_update not in ("reuse", "recompute"):
            raise ConfigError(
                f"student_update must be 'reuse' or 'recompute', got {student_update!r}."
            )
        if val_loss not in ("map_mean_bce", "pixel_bce"):
            raise ConfigError(f"val_loss must be 'map_mean_bce' or 'pixel_bce', got {val_loss!r}.")
        if teacher_warmup_steps < 0:
            raise ConfigError("teacher_warmup_steps must be >= 0.")
        self.save_hyperparameters(ignore=["student", "teacher"])
        self.set_networks(student, teacher, student_optimizer, teacher_optimizer)
        self.inner_loop = make_inner_loop(backend, inner_steps, inner_lr, first_order)
        self.inner_monitor = InnerLossMonitor(inner_lr)
        self.val_loss_name = val_loss
        self.student_update = student_update
        self.teacher_warmup_steps = int(teacher_warmup_steps)

    def teacher_target(self, images: Tensor, labels: Tensor) -> Tensor:
        """The student's supervision: zero maps for live, the teacher's map for spoofs."""
        return supervision_target(self.teacher(images), labels)

    def meta_step(self, train: dict[str, Tensor], meta_val: dict[str, Tensor]) -> dict[str, Tensor]:
        """One bilevel step: update the teacher (after warm-up) and the student.

        Returns:
            Detached scalars for logging: ``teach_loss``, ``meta_val_loss``,
            ``student_loss``, ``teacher_grad_norm``; empty if the step was skipped.
        """
        # With two optimizers, optimizers() returns a list.
        opt_s, opt_t = self.optimizers()  # type: ignore[attr-defined]
        x_tr, y_tr = train["image"], train["label"]
        x_val, y_val = meta_val["image"], meta_val["label"]
        update_teacher = self.global_step >= self.teacher_warmup_steps
        reuse = self.student_update == "reuse"

        teacher_maps = self.teacher(x_tr)
        target = supervision_target(teacher_maps, y_tr)
        if not update_teacher:
            target = target.detach()
        result = self.inner_loop.run(
            self.student,
            x_tr,
            target,
            x_val,
            lambda maps: validation_loss(self.val_loss_name, maps, y_val),
            sync_bn_stats=reuse,
        )

        opt_t.zero_grad(set_to_none=True)
        opt_s.zero_grad(set_to_none=True)
        if update_teacher:
            with no_ddp_sync(self):
                self.manual_backward(result.val_loss)
            average_gradients(self.teacher.parameters())
        if reuse:
            for p, g in zip(self.student.parameters(), result.student_grads, strict=True):
                p.grad = None if g is None else g.clone()
            average_gradients(self.student.parameters())
        teacher_grad_norm = _grad_norm(self.teacher.parameters(), x_tr.device)
        if not self.check_step_finite(result.teach_loss, result.val_loss, teacher_grad_norm):
            opt_t.zero_grad(set_to_none=True)
            opt_s.zero_grad(set_to_none=True)
            return {}
        if len(result.inner_losses) >= 2:
            warning = self.inner_monitor.add(result.inner_losses, vector_norm(result.student_grads))
            if warning is not None:
                rank_zero_warn(warning)
        diagnostics: dict[str, Tensor | float] = {}
        if self.diagnostics:
            diagnostics["teacher_grad_norm"] = teacher_grad_norm
            diagnostics["teacher_update_norm"] = 0.0
            if len(result.inner_losses) >= 2:
                losses = torch.stack(result.inner_losses)
                diagnostics["inner_loss_ratio"] = losses[-1] / losses[0]
                diagnostics["inner_loss_rise"] = (losses[1:] > losses[:-1]).any().double()
        if update_teacher:
            snapshot = ParameterSnapshot(self.teacher) if self.diagnostics else None
            self.step_optimizer(opt_t)
            if snapshot is not None:
                diagnostics["teacher_update_norm"] = snapshot.update_norm()

        if reuse:
            student_loss = result.teach_loss
        else:
            with torch.no_grad():
                target = self.teacher_target(x_tr, y_tr)
            student_loss = teaching_loss(self.student(x_tr), target)
            with no_ddp_sync(self):
                self.manual_backward(student_loss)
            average_gradients(self.student.parameters())
            if not self.check_step_finite(
                student_loss, _grad_norm(self.student.parameters(), x_tr.device)
            ):
                opt_s.zero_grad(set_to_none=True)
                return {}
        student = ParameterSnapshot(self.student) if self.diagnostics else None
        self.step_optimizer(opt_s)
        if student is not None:
            diagnostics["student_grad_norm"] = vector_norm(
                p.grad for p in self.student.parameters()
            )
            diagnostics["student_update_norm"] = student.update_norm()
            self.step_norms.add(**diagnostics)
        return {
            "teach_loss": result.teach_loss,
            "meta_val_loss": result.val_loss.detach(),
            "student_loss": student_loss.detach(),
            "teacher_grad_norm": teacher_grad_norm.detach(),
        }

    def training_step(self, batch: Any, batch_idx: int) -> None:  # noqa: D102
        train, meta_val = split_meta_batch(batch)
        logs = self.meta_step(train, meta_val)
        # With two optimizers, optimizers() returns a list.
        opt_s, opt_t = self.optimizers()  # type: ignore[attr-defined]
        batch_size = int(train["image"].shape[0])
        for key, value in logs.items():
            self.log(f"train/{key}", value, prog_bar=key == "meta_val_loss", batch_size=batch_size)
        self.log("train/lr_student", float(opt_s.param_groups[0]["lr"]), batch_size=batch_size)
        self.log("train/lr_teacher", float(opt_t.param_groups[0]["lr"]), batch_size=batch_size)
        self.log_nonfinite()
