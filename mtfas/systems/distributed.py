"""Exact gradient averaging for the bilevel step under data-parallel training.

Lightning's DDP all-reduces gradients inside ``manual_backward`` through DDP's reducer,
which expects one backward per forward over a fixed set of parameters. The meta step
breaks both assumptions (the student's update reuses a gradient taken inside the inner
loop; the teacher's gradient flows through fast weights, not the student's parameters).
So the meta step runs its backward passes with DDP's own synchronisation off
(:func:`no_ddp_sync`) and averages every gradient itself (:func:`average_gradients`):
each update is then exactly the mean of the per-process gradients, and student and
teacher stay identical on every process. Bad-step decisions are agreed by all processes
(:func:`any_rank`), so no process skips a step the others take.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager, nullcontext

import torch
import torch.distributed as dist
from lightning.pytorch import LightningModule
from torch import nn
from torch.nn.parallel import DistributedDataParallel


def world_size() -> int:
    """Number of processes in the default group (1 when not distributed)."""
    return dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1


@contextmanager
def no_ddp_sync(module: LightningModule) -> Iterator[None]:
    """Disable DDP's gradient all-reduce for backward passes inside the block."""
    trainer = module._trainer
    wrapped = trainer.strategy.model if trainer is not None else None
    context = wrapped.no_sync() if isinstance(wrapped, DistributedDataParallel) else nullcontext()
    with context:
        yield


def average_gradients(params: Iterable[nn.Parameter]) -> None:
    """Replace each ``.grad`` by its mean over processes (one all-reduce; no-op alone).

    Every process must hold gradients for the same parameters (true for the meta step,
    whose graph does not depend on the data).
    """
    n = world_size()
    if n == 1:
        return
    grads = [p.grad for p in params if p.grad is not None]
    if not grads:
        return
    flat = torch.cat([g.reshape(-1) for g in grads])
    dist.all_reduce(flat, op=dist.ReduceOp.SUM)
    flat.div_(n)
    offset = 0
    for g in grads:
        g.copy_(flat[offset : offset + g.numel()].view_as(g))
        offset += g.numel()


def any_rank(flag: bool, device: torch.device) -> bool:
    """True if ``flag`` is true on any process."""
    if world_size() == 1:
        return flag
    value = torch.tensor(float(flag), device=device)
    dist.all_reduce(value, op=dist.ReduceOp.MAX)
    return bool(value.item())
