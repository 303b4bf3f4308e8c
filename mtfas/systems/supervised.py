"""Handcrafted-supervision baselines: the same student, data and metrics as MT-FAS.

* ``loss="binary_map"``: pixel-wise binary supervision, MSE to an all-0 map for live and
  an all-1 map for spoof (ZeroMap / OneMap), the MT-FAS teaching loss with a constant
  teacher.
* ``loss="map_mean_bce"``: binary cross-entropy on the map mean (the score).

The meta-validation slice is part of the training data; with ``use_meta_val=True``
(default) the baseline trains on it too, so that it sees every labelled training image
MT-FAS sees (MT-FAS uses those labels through its teacher).
"""

from __future__ import annotations

import warnings
from typing import Any, Literal

import torch
from lightning.pytorch.cli import OptimizerCallable
from torch import Tensor, nn

from mtfas.errors import ConfigError
from mtfas.models import DepthNet
from mtfas.systems.base import FASSystem
from mtfas.systems.losses import binary_map_target, map_mean_bce, teaching_loss
from mtfas.transforms import normalise_batch

SupervisedLoss = Literal["binary_map", "map_mean_bce"]


def training_images(batch: Any, use_meta_val: bool) -> tuple[Tensor, Tensor]:
    """Images and labels of a training batch (plain, or ``{'train', 'meta_val'}`` dict).

    uint8 images (as the data modules deliver them) are normalised here, on the device.
    """
    batch = normalise_batch(batch)
    if isinstance(batch, dict) and "train" in batch:
        parts = [batch["train"]]
        if use_meta_val and "meta_val" in batch:
            parts.append(batch["meta_val"])
        return (
            torch.cat([p["image"] for p in parts]),
            torch.cat([p["label"] for p in parts]),
        )
    return batch["image"], batch["label"]


class SupervisedSystem(FASSystem):
    """A student trained on handcrafted labels (the baselines of method.md).

    Args:
        student: The detector (default: full-width :class:`~mtfas.models.DepthNet`).
        loss: ``"binary_map"`` (ZeroMap/OneMap, MSE) or ``"map_mean_bce"``.
        use_meta_val: Also train on the meta-validation slice of the training data.
        student_optimizer: Optimiser factory (default Adam, lr 1e-3). Named as in
            :class:`~mtfas.MetaTeacherSystem` and :class:`~mtfas.TeacherStudentSystem`,
            so that a method file swapping the system keeps the student's optimiser
            (``mtfas compare``: same student, data and optimiser).
        optimizer: Deprecated name of ``student_optimizer`` (give one of the two).
        **kwargs: The evaluation settings, passed to :class:`FASSystem` (see its
            arguments: threshold choice, video level, diagnostics ...).
    """

    def __init__(
        self,
        student: nn.Module | None = None,
        loss: SupervisedLoss = "binary_map",
        use_meta_val: bool = True,
        student_optimizer: OptimizerCallable = torch.optim.Adam,
        optimizer: OptimizerCallable | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if optimizer is not None:
            if student_optimizer is not torch.optim.Adam:
                raise ConfigError(
                    "SupervisedSystem got both student_optimizer and optimizer (its old "
                    "name); give student_optimizer only."
                )
            warnings.warn(
                "SupervisedSystem(optimizer=...) is deprecated: call it student_optimizer "
                "(as in MetaTeacherSystem), so that mtfas compare keeps it across methods.",
                FutureWarning,
                stacklevel=2,
            )
            student_optimizer = optimizer
        if loss not in ("binary_map", "map_mean_bce"):
            raise ConfigError(f"loss must be 'binary_map' or 'map_mean_bce', got {loss!r}.")
        self.save_hyperparameters(ignore=["student"])
        self.student = student if student is not None else DepthNet()
        self.loss_name = loss
        self.use_meta_val = use_meta_val
        self._optimizer = student_optimizer

    def configure_optimizers(self) -> torch.optim.Optimizer:  # noqa: D102
        return self._optimizer(self.student.parameters())

    def loss(self, maps: Tensor, labels: Tensor) -> Tensor:
        """The handcrafted-supervision loss of a batch of student maps."""
        if self.loss_name == "binary_map":
            return teaching_loss(maps, binary_map_target(labels, maps))
        return map_mean_bce(maps, labels)

    def training_step(self, batch: Any, batch_idx: int) -> None:  # noqa: D102
        images, labels = training_images(batch, self.use_meta_val)
        opt = self.optimizers()
        opt.zero_grad(set_to_none=True)  # type: ignore[union-attr]
        loss = self.loss(self.student(images), labels)
        self.manual_backward(loss)
        grads = [p.grad.detach().flatten() for p in self.student.parameters() if p.grad is not None]
        grad_norm = torch.linalg.vector_norm(torch.cat(grads)) if grads else loss.detach()
        if self.check_step_finite(loss, grad_norm):
            self.step_optimizer(opt)  # type: ignore[arg-type]
            self.log("train/student_loss", loss.detach(), prog_bar=True, batch_size=len(labels))
        else:
            opt.zero_grad(set_to_none=True)  # type: ignore[union-attr]
        self.log_nonfinite()
