"""The differentiable inner loop of the meta-teacher, behind one small seam.

The inner loop takes ``K`` SGD steps of the student on the teacher's supervision,
keeping the graph to the teacher, and returns the adapted student's validation loss.
A backend subclasses :class:`InnerLoop` (implementing ``_run``):
:class:`HigherInnerLoop` (``backend="higher"``, the default) uses the ``higher`` library
(``innerloop_ctx`` and its differentiable optimiser); :class:`TorchFuncInnerLoop`
(``backend="torch.func"``) uses ``torch.func.functional_call``. Both give the same
gradients (tested) for any ``K``. :class:`JVPInnerLoop` (``backend="jvp"``) is the
cheapest exact backend for ``K = 1``: it uses the closed form of the one-step
hypergradient of the MSE teaching loss (no second-order graph; one forward-mode
Jacobian-vector product instead) and gives the same gradients as the other two (tested);
it refuses ``K > 1``.

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
batch never reach it. The ``jvp`` backend follows the same policy (its extra forward pass,
the Jacobian-vector product on the training batch, runs on another set of clones).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

import higher
import torch
import torch.autograd.forward_ad as fwAD
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
        inner_losses: The teaching loss at the start of each inner step (``K`` detached
            scalars, the first equal to ``teach_loss``): computed anyway, kept to diagnose
            an inner learning rate too large for ``K`` steps (the loss rises across steps).
    """

    val_loss: Tensor
    teach_loss: Tensor
    student_grads: list[Tensor | None]
    inner_losses: list[Tensor] = field(default_factory=list)


@dataclass(frozen=True)
class InnerTask:
    """The arguments of one :meth:`InnerLoop.run` call (documented there)."""

    student: nn.Module
    x_train: Tensor
    target: Tensor
    x_val: Tensor
    val_loss_fn: Callable[[Tensor], Tensor]
    sync_bn_stats: bool


class InnerLoop(ABC):
    """K differentiable SGD steps of the student on the teacher's supervision.

    Args:
        steps: Number of inner steps ``K`` (>= 1).
        lr: Inner learning rate ``alpha`` (> 0).
        first_order: Drop the student's Hessian across inner steps (see module docs).

    Raises:
        ConfigError: For ``steps < 1``, ``lr <= 0``, or more steps than the backend
            supports (:attr:`max_steps`).
    """

    #: Most inner steps the backend supports (``None``: any number).
    max_steps: int | None = None

    def __init__(self, steps: int = 1, lr: float = 0.01, first_order: bool = False) -> None:
        if steps < 1:
            raise ConfigError(f"inner_steps must be >= 1, got {steps}.")
        if self.max_steps is not None and steps > self.max_steps:
            name = next((n for n, c in BACKENDS.items() if c is type(self)), type(self).__name__)
            multi = ", ".join(repr(n) for n, c in BACKENDS.items() if c.max_steps is None)
            raise ConfigError(
                f"The {name!r} inner-loop backend supports at most inner_steps = "
                f"{self.max_steps}, got {steps}; for more inner steps use one of the "
                f"backends {multi}."
            )
        if lr <= 0:
            raise ConfigError(f"inner_lr must be positive, got {lr}.")
        self.steps = int(steps)
        self.lr = float(lr)
        self.first_order = bool(first_order)

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
        return self._run(InnerTask(student, x_train, target, x_val, val_loss_fn, sync_bn_stats))

    @abstractmethod
    def _run(self, task: InnerTask) -> InnerLoopResult:
        """The backend's inner loop on ``task`` (the arguments of :meth:`run`)."""


def _fast_weights(
    student: nn.Module,
) -> tuple[dict[str, Tensor], list[str], dict[str, Tensor], dict[str, Tensor]]:
    """What a ``functional_call`` inner loop starts from.

    Returns:
        The student's parameters by name, the names of the trainable ones, fast weights
        (leaves sharing the parameters' storage, never written) and clones of the buffers
        (so that no inner forward touches the real running statistics).
    """
    named: dict[str, Tensor] = dict(student.named_parameters())
    trainable = [n for n, p in named.items() if p.requires_grad]
    theta = {n: p.detach().requires_grad_(p.requires_grad) for n, p in named.items()}
    buffers = {n: b.clone() for n, b in student.named_buffers()}
    return named, trainable, theta, buffers


def _copy_buffers(src: Sequence[Tensor], dst: Sequence[Tensor]) -> None:
    with torch.no_grad():
        for s, d in zip(src, dst, strict=True):
            d.copy_(s)


class HigherInnerLoop(InnerLoop):
    """Inner loop with ``higher.innerloop_ctx`` and its differentiable SGD."""

    def _run(self, task: InnerTask) -> InnerLoopResult:
        inner_opt = torch.optim.SGD(task.student.parameters(), lr=self.lr)
        captured: dict[str, object] = {}
        inner_losses: list[Tensor] = []

        def capture(grads: Sequence[Tensor | None]) -> Sequence[Tensor | None]:
            captured["grads"] = [None if g is None else g.detach() for g in grads]
            return grads

        with higher.innerloop_ctx(
            task.student, inner_opt, copy_initial_weights=True, track_higher_grads=True
        ) as (fmodel, diffopt):
            for k in range(self.steps):
                fast = list(fmodel.parameters())
                at = [p.detach().requires_grad_() for p in fast] if self.first_order else fast
                loss = teaching_loss(fmodel(task.x_train, params=at), task.target)
                inner_losses.append(loss.detach())
                if k == 0:
                    captured["loss"] = loss.detach()
                    if task.sync_bn_stats:
                        _copy_buffers(list(fmodel.buffers()), list(task.student.buffers()))
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
            val_loss = task.val_loss_fn(fmodel(task.x_val))
        return InnerLoopResult(
            val_loss=val_loss,
            teach_loss=captured["loss"],  # type: ignore[arg-type]
            student_grads=captured["grads"],  # type: ignore[arg-type]
            inner_losses=inner_losses,
        )


class TorchFuncInnerLoop(InnerLoop):
    """Inner loop with ``torch.func.functional_call`` and ``torch.autograd.grad``.

    Same mathematics and BatchNorm policy as :class:`HigherInnerLoop` (the fast weights are
    a dict of tensors, the buffers a dict of clones), without ``higher``'s module patching.
    """

    def _run(self, task: InnerTask) -> InnerLoopResult:
        student = task.student
        named, trainable, theta, buffers = _fast_weights(student)
        teach_loss: Tensor | None = None
        student_grads: list[Tensor | None] = []
        inner_losses: list[Tensor] = []
        for k in range(self.steps):
            at = dict(theta)
            if self.first_order:
                at.update({n: theta[n].detach().requires_grad_() for n in trainable})
            maps = functional_call(student, (at, buffers), (task.x_train,))
            loss = teaching_loss(maps, task.target)
            inner_losses.append(loss.detach())
            grads = torch.autograd.grad(
                loss, [at[n] for n in trainable], create_graph=True, allow_unused=True
            )
            if k == 0:
                teach_loss = loss.detach()
                if task.sync_bn_stats:
                    _copy_buffers(list(buffers.values()), list(student.buffers()))
                by_name = dict(zip(trainable, grads, strict=True))
                student_grads = [
                    None if by_name.get(n) is None else by_name[n].detach() for n in named
                ]
            for n, g in zip(trainable, grads, strict=True):
                if g is not None:
                    theta[n] = theta[n] - self.lr * g
        val_loss = task.val_loss_fn(functional_call(student, (theta, buffers), (task.x_val,)))
        assert teach_loss is not None
        return InnerLoopResult(val_loss, teach_loss, student_grads, inner_losses)


class JVPInnerLoop(InnerLoop):
    """Exact one-step inner loop from the closed form of the MSE hypergradient.

    For ``K = 1`` the adapted weights are ``theta' = theta - alpha * grad L(theta, T)``
    with ``L = (1/N) sum (f(x_train; theta) - T)^2`` over the ``N`` map elements, so
    ``d theta' / d T = (2 alpha / N) J^T``, ``J`` the Jacobian of the student's (train-mode,
    BatchNorm batch statistics included) map function ``theta -> f(x_train; theta)`` at the
    current weights. With ``v = grad_theta' L_val(theta')``::

        dL_val / dT = (2 alpha / N) * J v

    One step therefore costs: a plain forward + backward of the student on the training
    batch (which also gives the student's gradient and the teaching loss), the SGD step
    without a graph, a forward + backward of the adapted student on the meta-validation
    batch w.r.t. ``theta'``, and one forward-mode Jacobian-vector product
    (``torch.autograd.forward_ad``) on the training batch -- no second-order graph.

    The returned ``val_loss`` is a surrogate: its value is exactly ``L_val`` and its
    gradient w.r.t. ``target`` is exactly ``(2 alpha / N) J v``, so
    ``val_loss.backward()`` gives the teacher the exact hypergradient; it carries no graph
    to the student. When ``target`` does not require grad (e.g. teacher warm-up) the
    Jacobian-vector product is skipped and ``val_loss`` is a detached constant.

    Only valid for the MSE teaching loss (:func:`~mtfas.systems.losses.teaching_loss`)
    and ``K = 1`` (``steps > 1`` raises :class:`ConfigError`); ``first_order`` makes no
    difference at ``K = 1`` (the first-order approximation is exact there) and is
    ignored. Parameters with ``requires_grad=False`` and parameters that do not influence
    the map stay fixed, as in the other backends. Stochastic layers (dropout) see the same
    random draws in the Jacobian-vector product as in the first forward pass (the RNG
    state is replayed and restored afterwards).
    """

    max_steps = 1

    def _run(self, task: InnerTask) -> InnerLoopResult:
        student, target = task.student, task.target
        named, trainable, theta, buffers = _fast_weights(student)
        jvp_buffers = {n: b.clone() for n, b in student.named_buffers()}
        rng = _RngState(task.x_train.device)

        # 1. Plain forward + backward at theta (no create_graph): student grads, BN stats.
        maps = functional_call(student, (theta, buffers), (task.x_train,))
        loss = teaching_loss(maps, target.detach())
        grads: Sequence[Tensor | None] = [None] * len(trainable)
        if loss.requires_grad:
            grads = torch.autograd.grad(loss, [theta[n] for n in trainable], allow_unused=True)
        g_by_name = {n: g for n, g in zip(trainable, grads, strict=True) if g is not None}
        if task.sync_bn_stats:
            _copy_buffers(list(buffers.values()), list(student.buffers()))

        # 2. The SGD step, without a graph; theta' as fresh leaves.
        adapted = {n: p.detach() for n, p in named.items()}
        for n, g in g_by_name.items():
            adapted[n] = (adapted[n] - self.lr * g).requires_grad_()
        moved = list(g_by_name)

        # 3. Validation loss of the adapted student and v = its gradient w.r.t. theta'.
        val_loss = task.val_loss_fn(functional_call(student, (adapted, buffers), (task.x_val,)))
        if target.requires_grad and val_loss.requires_grad:
            v = torch.autograd.grad(val_loss, [adapted[n] for n in moved], allow_unused=True)
            tangents = {n: t for n, t in zip(moved, v, strict=True) if t is not None}
            # 4. c = (2 alpha / N) J v, with a forward-mode JVP at theta on x_train.
            with rng.replay(), torch.no_grad(), fwAD.dual_level():
                primals = {n: p.detach() for n, p in named.items()}
                for n, t in tangents.items():
                    primals[n] = fwAD.make_dual(primals[n], t)  # type: ignore[no-untyped-call]
                maps = functional_call(student, (primals, jvp_buffers), (task.x_train,))
                jv = fwAD.unpack_dual(maps).tangent  # type: ignore[no-untyped-call]
            if jv is None:
                jv = torch.zeros_like(maps)
            c = (jv * (2.0 * self.lr / target.numel())).to(target.dtype)
            surrogate = val_loss.detach() + ((target - target.detach()) * c).sum()
        else:
            surrogate = val_loss.detach()
        return InnerLoopResult(
            val_loss=surrogate,
            teach_loss=loss.detach(),
            student_grads=[g_by_name.get(n) for n in named],
            inner_losses=[loss.detach()],
        )


class _RngState:
    """The CPU (and CUDA) RNG state, to replay one forward pass's random draws."""

    def __init__(self, device: torch.device) -> None:
        self.cpu = torch.get_rng_state()
        self.cuda: dict[int, Tensor] = {}
        if device.type == "cuda":
            index = device.index if device.index is not None else torch.cuda.current_device()
            self.cuda[index] = torch.cuda.get_rng_state(index)

    @contextmanager
    def replay(self) -> Iterator[None]:
        """Run the block from the captured state; the state before it is restored after."""
        with torch.random.fork_rng(devices=list(self.cuda)):
            torch.set_rng_state(self.cpu)
            for index, state in self.cuda.items():
                torch.cuda.set_rng_state(state, index)
            yield


BACKENDS: dict[str, type[InnerLoop]] = {
    "higher": HigherInnerLoop,
    "torch.func": TorchFuncInnerLoop,
    "jvp": JVPInnerLoop,
}


#: Backend name that picks the cheapest exact backend for the number of inner steps.
AUTO = "auto"


def resolve_backend(backend: str, steps: int) -> str:
    """The backend ``"auto"`` stands for: ``"jvp"`` for one inner step, else ``"higher"``."""
    if backend != AUTO:
        return backend
    return "jvp" if steps == 1 else "higher"


def make_inner_loop(backend: str, steps: int, lr: float, first_order: bool) -> InnerLoop:
    """Build the inner loop of the named backend (``"auto"``: see :func:`resolve_backend`).

    Raises:
        ConfigError: For an unknown backend name.
    """
    backend = resolve_backend(backend, steps)
    if backend not in BACKENDS:
        raise ConfigError(
            f"Unknown inner-loop backend {backend!r}; available: {[AUTO, *sorted(BACKENDS)]}."
        )
    return BACKENDS[backend](steps=steps, lr=lr, first_order=first_order)
