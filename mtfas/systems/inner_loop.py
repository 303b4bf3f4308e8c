"""The differentiable inner loop of the meta-teacher, behind one small seam.

The inner loop takes ``K`` SGD steps of the student on the teacher's supervision,
keeping the graph to the teacher, and returns the adapted student's validation loss.
A backend implements :class:`InnerLoop`: :class:`HigherInnerLoop` (``backend="higher"``,
the default) uses the ``higher`` library (``innerloop_ctx`` and its differentiable
optimiser); :class:`TorchFuncInnerLoop` (``backend="torch.func"``) uses
``torch.func.functional_call``. Both give the same gradients (tested).

Gradient order:

* ``first_order=False`` (default): exact hypergradient; the graph runs through every
  inner step, student Hessian terms included.
* ``first_order=True``: every inner gradient is taken at *detached* fast weights, i.e.
  ``d theta_{k+1} / d theta_k`` is approximated by the identity, while the dependence of
  each step on the teacher (the mixed second derivative, without which the teacher would
  get no gradient at all) is kept. For ``K = 1`` this equals the exact gradient; for
  ``K > 1`` it saves the memory of the nested graph.

BatchNorm policy: ``higher`` runs the inner loop on a patched copy whose buffers are
clones, so no inner forward pass touches the real student's running statistics. When
``sync_bn_stats`` is set, the running statistics reached after the *first* inner forward
(the student at its current weights on the training batch) are copied back, so that after
a step the real student holds exactly what one train-mode forward of that student on the
training batch would give; forward passes at adapted weights and on the meta-validation
batch never reach it.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import higher
import torch
from torch import Tensor, nn
from torch.func import functional_call

from mtfas.errors import ConfigError
from mtfas.systems.losses import teaching_loss


@dataclass
class InnerLoopResult:
    """What one inner loop returns.

    Attributes:
        val_loss: Validation loss of the adapted student, differentiable w.r.t. the
            teacher (through the target).
        teach_loss: Teaching loss of the first inner step (at the current weights), detached.
        student_grads: Gradient of that first teaching loss w.r.t. each student
            parameter (detached), in ``student.parameters()`` order; ``None`` entries for
            parameters that do not influence the map.
    """

    val_loss: Tensor
    teach_loss: Tensor
    student_grads: list[Tensor | None]


class InnerLoop(ABC):
    """K differentiable SGD steps of the student on the teacher's supervision.

    Args:
        steps: Number of inner steps ``K`` (>= 1).
        lr: Inner learning rate ``alpha`` (> 0).
        first_order: Drop the student's Hessian across inner steps (see module docs).
    """

    def __init__(self, steps: int = 1, lr: float = 0.01, first_order: bool = False) -> None:
        if steps < 1:
            raise ConfigError(f"inner_steps must be >= 1, got {steps}.")
        if lr <= 0:
            raise ConfigError(f"inner_lr must be positive, got {lr}.")
        self.steps = int(steps)
        self.lr = float(lr)
        self.first_order = bool(first_order)

    @abstractmethod
    def run(
        self,
        student: nn.Module,
        x_train: Tensor,
        target: Tensor,
        x_val: Tensor,
        val_loss_fn: Callable[[Tensor], Tensor],
        sync_bn_stats: bool = True,
    ) -> InnerLoopResult:
        """Adapt the student on ``(x_train, target)`` and return its validation loss.

        Args:
            student: The real student; its parameters and ``.grad`` are left untouched
                (running statistics follow the BatchNorm policy in the module docs).
            x_train: Training images.
            target: Supervision maps for ``x_train``, carrying the graph to the teacher.
            x_val: Meta-validation images.
            val_loss_fn: Maps the adapted student's maps on ``x_val`` to a scalar loss.
            sync_bn_stats: Copy back the running statistics of the first inner forward.
        """


def _copy_buffers(src: Sequence[Tensor], dst: Sequence[Tensor]) -> None:
    with torch.no_grad():
        for s, d in zip(src, dst, strict=True):
            d.copy_(s)


class HigherInnerLoop(InnerLoop):
    """Inner loop with ``higher.innerloop_ctx`` and its differentiable SGD."""

    def run(  # noqa: D102
        self,
        student: nn.Module,
        x_train: Tensor,
        target: Tensor,
        x_val: Tensor,
        val_loss_fn: Callable[[Tensor], Tensor],
        sync_bn_stats: bool = True,
    ) -> InnerLoopResult:
        inner_opt = torch.optim.SGD(student.parameters(), lr=self.lr)
        captured: dict[str, object] = {}

        def capture(grads: Sequence[Tensor | None]) -> Sequence[Tensor | None]:
            captured["grads"] = [None if g is None else g.detach() for g in grads]
            return grads

        with higher.innerloop_ctx(
            student, inner_opt, copy_initial_weights=True, track_higher_grads=True
        ) as (fmodel, diffopt):
            for k in range(self.steps):
                fast = list(fmodel.parameters())
                at = [p.detach().requires_grad_() for p in fast] if self.first_order else fast
                loss = teaching_loss(fmodel(x_train, params=at), target)
                if k == 0:
                    captured["loss"] = loss.detach()
                    if sync_bn_stats:
                        _copy_buffers(list(fmodel.buffers()), list(student.buffers()))
                callback = capture if k == 0 else None
                if self.first_order:
                    # Step from the detached point, then re-attach the history of the fast
                    # weights: theta_{k+1} = theta_k - lr * g(theta_k.detach(), phi).
                    stepped = diffopt.step(loss, params=at, grad_callback=callback)
                    fmodel.update_params(
                        [f + (s - a) for f, s, a in zip(fast, stepped, at, strict=True)]
                    )
                else:
                    diffopt.step(loss, grad_callback=callback)
            val_loss = val_loss_fn(fmodel(x_val))
        return InnerLoopResult(
            val_loss=val_loss,
            teach_loss=captured["loss"],  # type: ignore[arg-type]
            student_grads=captured["grads"],  # type: ignore[arg-type]
        )


class TorchFuncInnerLoop(InnerLoop):
    """Inner loop with ``torch.func.functional_call`` and ``torch.autograd.grad``.

    Same mathematics and BatchNorm policy as :class:`HigherInnerLoop` (the fast weights are
    a dict of tensors, the buffers a dict of clones), without ``higher``'s module patching.
    """

    def run(  # noqa: D102
        self,
        student: nn.Module,
        x_train: Tensor,
        target: Tensor,
        x_val: Tensor,
        val_loss_fn: Callable[[Tensor], Tensor],
        sync_bn_stats: bool = True,
    ) -> InnerLoopResult:
        named = dict(student.named_parameters())
        trainable = [n for n, p in named.items() if p.requires_grad]
        # Fast weights start as leaves sharing the real weights' storage (never written).
        theta = {n: p.detach().requires_grad_(p.requires_grad) for n, p in named.items()}
        buffers = {n: b.clone() for n, b in student.named_buffers()}
        teach_loss: Tensor | None = None
        student_grads: list[Tensor | None] = []
        for k in range(self.steps):
            at = dict(theta)
            if self.first_order:
                at.update({n: theta[n].detach().requires_grad_() for n in trainable})
            loss = teaching_loss(functional_call(student, (at, buffers), (x_train,)), target)
            grads = torch.autograd.grad(
                loss, [at[n] for n in trainable], create_graph=True, allow_unused=True
            )
            if k == 0:
                teach_loss = loss.detach()
                if sync_bn_stats:
                    _copy_buffers(list(buffers.values()), list(student.buffers()))
                by_name = dict(zip(trainable, grads, strict=True))
                student_grads = [
                    None if by_name.get(n) is None else by_name[n].detach() for n in named
                ]
            for n, g in zip(trainable, grads, strict=True):
                if g is not None:
                    theta[n] = theta[n] - self.lr * g
        val_loss = val_loss_fn(functional_call(student, (theta, buffers), (x_val,)))
        assert teach_loss is not None
        return InnerLoopResult(val_loss, teach_loss, student_grads)


BACKENDS: dict[str, type[InnerLoop]] = {"higher": HigherInnerLoop, "torch.func": TorchFuncInnerLoop}


def make_inner_loop(backend: str, steps: int, lr: float, first_order: bool) -> InnerLoop:
    """Build the inner loop of the named backend.

    Raises:
        ConfigError: For an unknown backend name.
    """
    if backend not in BACKENDS:
        raise ConfigError(
            f"Unknown inner-loop backend {backend!r}; available: {sorted(BACKENDS)}."
        )
    return BACKENDS[backend](steps=steps, lr=lr, first_order=first_order)
