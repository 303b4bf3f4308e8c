"""What a checkpoint given to ``mtfas fit|validate|test|predict --ckpt_path`` may name.

LightningCLI parses a checkpoint's hyper-parameters over the configuration and imports
every class they name; :func:`check_checkpoint_hparams` refuses a checkpoint that names
anything outside :func:`hparams_classes` before Lightning reads it. The allow-list lives
in the command line (not in :mod:`mtfas.inference`), because it names the systems and
data modules, which inference does not depend on.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

from mtfas.errors import CheckpointError
from mtfas.inference import checkpoint as _checkpoint
from mtfas.inference.checkpoint import AllowList, ClassLike, _check_hparams, _exported

__all__ = ["check_checkpoint_hparams", "check_run_config", "hparams_classes"]


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


def check_run_config(
    config: Mapping[str, Any], where: str, allowed_classes: Iterable[ClassLike] = ()
) -> None:
    """Refuse a saved run configuration whose model or data names a class not allowed.

    For the tools that rebuild a run from its ``config.yaml`` (``scripts/``): the ``model``
    and ``data`` sections are checked as a checkpoint's hyper-parameters are (the same
    allow-list, :func:`hparams_classes`; init args typed by the named class), before
    LightningCLI imports anything they name.

    Raises:
        CheckpointError: If a section is missing or not a ``class_path`` mapping, or names
            (at any depth) a class or import path outside the allow-list.
    """
    allow = hparams_classes(allowed_classes)
    advice = " (the run's model and data are rebuilt from it)"
    for key in ("model", "data"):
        section = config.get(key)
        if not isinstance(section, Mapping) or "class_path" not in section:
            raise CheckpointError(
                f"{where} has no {key} section with a class_path; give the folder of a run "
                "that mtfas fit wrote."
            )
        cls = allow.resolve(section["class_path"], f"{where} ({key}.class_path)", advice)
        init_args = section.get("init_args") or {}
        if not isinstance(init_args, Mapping):
            raise CheckpointError(f"{where} ({key}.init_args) is not a mapping.")
        _check_hparams(dict(init_args), cls, f"{where} ({key})", allow, advice, 0)
