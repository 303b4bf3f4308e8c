"""Training diagnostics: what the teacher's and the student's maps look like, and the steps.

Two accumulators, both read at the end of each validation epoch
(:meth:`mtfas.systems.base.FASSystem.on_validation_epoch_end`) and logged under
``diag/`` (so every Lightning logger gets them: CSV, W&B), with one compact console line:

* :class:`MapStats` (a :class:`torchmetrics.Metric`, summed / concatenated across
  processes) over the dev (validation) set, for one network's maps ``(B, 1, h, w)``:

  - ``mean_<species>``: the mean over the species' frames of each frame's map mean;
  - ``std_<species>`` and ``std`` (all frames): the *spatial* standard deviation, i.e.
    the mean over frames of each frame's pixel standard deviation (population std,
    ``ddof = 0``); a constant map has 0;
  - with cue masks (batch key ``cue_mask``, float ``(B, 1, H, W)`` in [0, 1] at image
    resolution, 1 where the attack instrument is seen; synthetic data only): the mask is
    pooled to map resolution by area averaging (``F.interpolate(mode="area")``) and a map
    pixel is a *cue* pixel iff its pooled mask is ``>= 0.5``, else a *live* pixel. Only
    attack frames holding both kinds (partial attacks) count. ``cue_contrast`` = mean map
    value over their cue pixels minus the mean over their live pixels (pixels pooled over
    all such frames); ``cue_auc`` = the rank-based AUC
    (:func:`mtfas.metrics.functional.auc`, ties one half) of map values with cue pixels as
    the positive class; ``cue_frames`` = how many frames counted. Without such frames the
    three are NaN (logged as NaN, left out of the console line).

  For the teacher the map is ``T_phi(x)`` itself, before the live mask: on attack frames
  that is exactly the student's target, on live frames it shows what the teacher would
  say (the target there is zero whatever it says).

* :class:`StepNorms` over the training steps since the previous validation (plain sums of
  detached tensors, read once per validation; no device sync per step): the mean norm of
  the teacher's hypergradient (``teacher_grad_norm``, after the DDP average, so equal on
  every process), of its update (``teacher_update_norm``: the parameter change made by its
  optimiser step), of the student's gradient and update, the fraction of steps whose
  inner teaching loss rose from one inner step to the next (``inner_loss_rise``,
  ``inner_steps >= 2`` only) and the mean of ``L_K-1 / L_0`` (``inner_loss_ratio``).

Diagnostics never change training: the dev-set statistics come from eval-mode forwards
under the validation loop's no-grad mode (the student's maps are the ones scored anyway;
the teacher gets one extra eval-mode forward per dev batch, which draws no random numbers
and updates no BatchNorm statistics), and the training-side norms are read from gradients
and parameters after they are used, with no extra forward or random draw. Tested: the
weights after a few steps are bit-identical with ``diagnostics=True`` and ``False``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torchmetrics import Metric

from mtfas.metrics.functional import auc

#: A map pixel is a cue pixel iff its area-pooled cue mask is at least this.
CUE_THRESHOLD = 0.5


def pool_cue_mask(cue_mask: Tensor, size: Sequence[int]) -> Tensor:
    """Boolean cue pixels ``(B, 1, h, w)`` of image-resolution masks at map resolution.

    Args:
        cue_mask: ``(B, 1, H, W)`` (or ``(B, H, W)``) in [0, 1], 1 = attack instrument.
        size: The map's ``(h, w)``.
    """
    mask = cue_mask.to(torch.float32)
    if mask.dim() == 3:
        mask = mask.unsqueeze(1)
    pooled = F.interpolate(mask, size=(int(size[0]), int(size[1])), mode="area")
    return pooled >= CUE_THRESHOLD


class MapStats(Metric):
    """Per-species mean and spatial std of maps, and cue contrast / AUC where masks exist.

    See the module docs for the definitions.

    Args:
        pai_names: Species names by id (index 0 = ``"live"``).
        **kwargs: Passed to :class:`torchmetrics.Metric`.
    """

    full_state_update = False
    higher_is_better = None
    is_differentiable = False
    mean_sum: Tensor
    std_sum: Tensor
    count: Tensor
    cue_frames: Tensor
    cue_values: list[Tensor]
    live_values: list[Tensor]

    def __init__(self, pai_names: Sequence[str], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.pai_names = list(pai_names)
        n = len(self.pai_names)
        for name in ("mean_sum", "std_sum", "count"):
            self.add_state(name, default=torch.zeros(n, dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state(
            "cue_frames", default=torch.zeros((), dtype=torch.float64), dist_reduce_fx="sum"
        )
        self.add_state("cue_values", default=[], dist_reduce_fx="cat")
        self.add_state("live_values", default=[], dist_reduce_fx="cat")

    def update(self, maps: Tensor, pai: Tensor, cue_mask: Tensor | None = None) -> None:
        """Add a batch of maps.

        Args:
            maps: ``(B, 1, h, w)`` maps.
            pai: ``(B,)`` species ids (0 = live; attacks are the others).
            cue_mask: Optional ``(B, 1, H, W)`` cue masks at image resolution.
        """
        flat = maps.detach().flatten(1).to(torch.float64)
        pai = pai.to(device=flat.device, dtype=torch.int64)
        self.mean_sum.index_add_(0, pai, flat.mean(dim=1))
        self.std_sum.index_add_(0, pai, flat.std(dim=1, correction=0))
        self.count.index_add_(0, pai, torch.ones_like(flat[:, 0]))
        if cue_mask is None:
            return
        cue = pool_cue_mask(cue_mask.to(flat.device), maps.shape[-2:]).flatten(1)
        n_cue = cue.sum(dim=1)
        partial = (pai > 0) & (n_cue > 0) & (n_cue < cue.shape[1])
        if not bool(partial.any()):
            return
        values, cue = flat[partial], cue[partial]
        self.cue_frames += partial.sum()
        self.cue_values.append(values[cue])
        self.live_values.append(values[~cue])

    def compute(self) -> dict[str, float]:
        """The statistics by key (``mean_<species>``, ``std_<species>``, ``std``, ``cue_*``).

        Species with no frame get NaN.
        """
        count = self.count
        out: dict[str, float] = {}
        for i, name in enumerate(self.pai_names):
            n = float(count[i])
            out[f"mean_{name}"] = float(self.mean_sum[i]) / n if n else math.nan
            out[f"std_{name}"] = float(self.std_sum[i]) / n if n else math.nan
        total = float(count.sum())
        out["std"] = float(self.std_sum.sum()) / total if total else math.nan
        out.update(cue_statistics(_cat(self.cue_values), _cat(self.live_values)))
        out["cue_frames"] = float(self.cue_frames)
        return out


def _cat(values: list[Tensor] | Tensor) -> Tensor:
    # torchmetrics leaves a list state as a list locally and as one tensor after a sync.
    if isinstance(values, Tensor):
        return values
    return torch.cat(values) if values else torch.zeros(0, dtype=torch.float64)


def cue_statistics(cue_values: Tensor, live_values: Tensor) -> dict[str, float]:
    """``cue_contrast`` (mean cue minus mean live value) and ``cue_auc`` (NaN if one is empty)."""
    if cue_values.numel() == 0 or live_values.numel() == 0:
        return {"cue_contrast": math.nan, "cue_auc": math.nan}
    scores = torch.cat([live_values, cue_values])
    labels = torch.cat(
        [
            torch.zeros(live_values.numel(), dtype=torch.int64),
            torch.ones(cue_values.numel(), dtype=torch.int64),
        ]
    ).to(scores.device)
    return {
        "cue_contrast": float(cue_values.mean() - live_values.mean()),
        "cue_auc": auc(scores, labels),
    }


def vector_norm(tensors: Iterable[Tensor | None]) -> Tensor:
    """The 2-norm of a list of tensors taken as one vector (``None`` entries skipped; 0 if none)."""
    parts = [torch.linalg.vector_norm(t.detach()) for t in tensors if t is not None]
    if not parts:
        return torch.zeros(())
    norm: Tensor = torch.linalg.vector_norm(torch.stack(parts))
    return norm


class ParameterSnapshot:
    """The parameters of a module before an optimiser step, to measure the update's norm.

    Args:
        module: The network whose trainable parameters are copied (detached clones).
    """

    def __init__(self, module: nn.Module) -> None:
        self.params = [p for p in module.parameters() if p.requires_grad]
        self.before = [p.detach().clone() for p in self.params]

    def update_norm(self) -> Tensor:
        """Norm of the change of the parameters since the snapshot."""
        return vector_norm(p.detach() - b for p, b in zip(self.params, self.before, strict=True))


class StepNorms:
    """Running sums of per-step training scalars between validations (detached tensors)."""

    def __init__(self) -> None:
        self.sums: dict[str, Tensor] = {}
        self.counts: dict[str, int] = {}

    def add(self, **values: Tensor | float) -> None:
        """Add one step's values (tensors stay on their device; no sync)."""
        for key, value in values.items():
            v = (
                value.detach().to(torch.float64)
                if isinstance(value, Tensor)
                else torch.tensor(float(value), dtype=torch.float64)
            )
            self.sums[key] = self.sums[key] + v.to(self.sums[key].device) if key in self.sums else v
            self.counts[key] = self.counts.get(key, 0) + 1

    def means(self) -> dict[str, float]:
        """The mean of each scalar since the last :meth:`reset`."""
        return {key: float(self.sums[key]) / self.counts[key] for key in self.sums}

    def reset(self) -> None:
        """Forget every value."""
        self.sums.clear()
        self.counts.clear()


def format_map_stats(net: str, stats: dict[str, float], pai_names: Sequence[str]) -> str:
    """``"teacher live .910±.009 print .905±.010 cue +0.012 AUC 51.2%"`` (compact)."""
    parts = [net]
    for name in pai_names:
        mean, std = stats.get(f"mean_{name}", math.nan), stats.get(f"std_{name}", math.nan)
        if not math.isnan(mean):
            parts.append(f"{name} {mean:.3f}±{std:.3f}")
    contrast, area = stats.get("cue_contrast", math.nan), stats.get("cue_auc", math.nan)
    if not math.isnan(contrast):
        parts.append(f"cue {contrast:+.3f} AUC {100 * area:.1f}%")
    return " ".join(parts)


def format_step_norms(norms: dict[str, float]) -> str:
    """``"|grad_T| 1.2e-03 |dT| 3.4e-04 ..."`` of the training-step means (compact)."""
    labels = {
        "teacher_grad_norm": "|grad T|",
        "teacher_update_norm": "|dT|",
        "student_grad_norm": "|grad S|",
        "student_update_norm": "|dS|",
        "inner_loss_ratio": "inner L_K-1/L_0",
        "inner_loss_rise": "rise",
    }
    return " ".join(f"{label} {norms[key]:.3g}" for key, label in labels.items() if key in norms)


class InnerLossMonitor:
    """Detects an inner learning rate too large for ``K >= 2`` inner steps.

    The inner loop computes the teaching loss ``L_k`` at the start of every inner step on
    the same training batch; with a stable ``inner_lr`` it falls (``L_1 < L_0``). When it
    rises in at least ``min_fraction`` of ``window`` consecutive training steps, the monitor
    returns one warning text (once per fit), with a suggested ``inner_lr`` from the measured
    curvature along the first inner gradient ``g``: the quadratic model
    ``L(theta - a g) = L_0 - a |g|^2 + a^2 c / 2`` through ``L_0``, ``L_1`` (at ``a =
    inner_lr``) gives ``c`` and the step ``|g|^2 / c`` that minimises it (median over the
    window); steps longer than twice that raise the loss.

    Args:
        lr: The inner learning rate.
        window: Training steps per check.
        min_fraction: Fraction of rising steps that triggers the warning.
    """

    def __init__(self, lr: float, window: int = 10, min_fraction: float = 0.5) -> None:
        self.lr = float(lr)
        self.window = int(window)
        self.min_fraction = float(min_fraction)
        self.warned = False
        self._rises: list[Tensor] = []
        self._best_lr: list[Tensor] = []

    def add(self, inner_losses: Sequence[Tensor], grad_norm: Tensor) -> str | None:
        """Record one training step; return the warning text when it is due (else ``None``).

        Args:
            inner_losses: ``L_0 .. L_K-1`` of the step (fewer than two: nothing to check).
            grad_norm: Norm of the first inner gradient ``g`` (the student's gradient).
        """
        if len(inner_losses) < 2 or self.warned:
            return None
        l0, l1 = inner_losses[0].detach().double(), inner_losses[1].detach().double()
        losses = torch.stack([v.detach().double() for v in inner_losses])
        self._rises.append((losses[1:] > losses[:-1]).any())
        g2 = grad_norm.detach().double().to(l0.device) ** 2
        curvature = 2.0 * (l1 - l0 + self.lr * g2) / self.lr**2
        self._best_lr.append(torch.where(curvature > 0, g2 / curvature, torch.nan))
        if len(self._rises) < self.window:
            return None
        fraction = float(torch.stack(self._rises).double().mean())
        best = torch.stack(self._best_lr)
        best = best[~torch.isnan(best)]
        self._rises.clear()
        self._best_lr.clear()
        if fraction < self.min_fraction:
            return None
        self.warned = True
        advice = (
            f"inner_lr <= {float(best.median()):.3g} (the measured curvature along the inner "
            "gradient puts the best step there; the loss rises beyond twice that)"
            if best.numel()
            else f"a smaller inner_lr (e.g. {self.lr / 4:.3g})"
        )
        return (
            f"The inner teaching loss rose from one inner step to the next in "
            f"{100 * fraction:.0f}% of the last {self.window} training steps: inner_lr = "
            f"{self.lr:g} overshoots on this data, so the adapted student the teacher is "
            "judged by has stepped past its own teaching optimum, and the exact K-step "
            "hypergradient is amplified by the factors (I - inner_lr * Hessian). Use "
            f"{advice}, first_order: true, or inner_steps = 1 (docs/diagnostics.md)."
        )
