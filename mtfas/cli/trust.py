"""What a checkpoint given to ``mtfas fit|validate|test|predict --ckpt_path`` may name.

LightningCLI parses a checkpoint's hyper-parameters over the configuration and imports
every class they name; :func:`check_checkpoint_hparams` refuses a checkpoint that names
anything outside :func:`hparams_classes` before Lightning reads it. The allow-list lives
in the command line (not in :mod:`mtfas.inference`), because it names the systems and
data modules, which inference does not depend on.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import torch
from torch import nn

from mtfas.inference import checkpoint as _checkpoint
from mtfas.inference.checkpoint import AllowList, ClassLike, _exported

__all__ = ["check_checkpoint_hparams", "hparams_classes"]


def hparams_classes(allowed_classes: Iterable[ClassLike] = ()) -> AllowList:
    """The classes a checkpoint's ``hyper_parameters`` may name (LightningCLI builds them).

    Built in: mtfas's systems (:mod:`mtfas.systems`), networks (:mod:`mtfas.models`) and
    data modules (:mod:`mtfas.datamodules`) as exported there (and by :mod:`mtfas`), and
    torch's optimisers and learning-rate schedulers (``torch.optim.Adam`` and
    ``torch.optim.adam.Adam``, ...), plus ``allowed_classes``.
    """
    import lightning.pytorch as pl

    import mtfas
    import mtfas.datamodules
    import mtfas.models
    import mtfas.systems

    found = _exported([mtfas.systems], pl.LightningModule)
    found.update(_exported([mtfas.models], nn.Module))
    found.update(_exported([mtfas.datamodules], pl.LightningDataModule))
    found = {k: v for k, v in found.items() if v.__module__.startswith("mtfas.")}
    for name in ("FASSystem", "MetaTeacherSystem", "SupervisedSystem", "TeacherStudentSystem"):
        found[f"mtfas.{name}"] = getattr(mtfas.systems, name)
    found.update(_exported([torch.optim], torch.optim.Optimizer))
    schedulers = torch.optim.lr_scheduler
    found.update(_exported([schedulers], schedulers.LRScheduler))
    found.update(_exported([schedulers], schedulers.ReduceLROnPlateau))
    summary = (
        "mtfas's systems, networks and data modules; torch.optim's optimisers and "
        "learning-rate schedulers"
    )
    return AllowList(found, allowed_classes, what="mtfas or torch.optim", summary=summary)


def check_checkpoint_hparams(
    path: str | Path, allowed_classes: Iterable[ClassLike] = ()
) -> dict[str, Any]:
    """:func:`mtfas.inference.checkpoint.check_checkpoint_hparams` with :func:`hparams_classes`.

    Raises:
        CheckpointError: If the file is unreadable, holds more than plain data, or its
            hyper-parameters name a class (or import path) that is not allowed.
    """
    return _checkpoint.check_checkpoint_hparams(path, hparams_classes(allowed_classes))
