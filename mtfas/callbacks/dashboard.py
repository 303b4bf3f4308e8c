"""Lightning callbacks: the :class:`FASDashboard` (W&B panels or local PNG files).

Add it to a trainer (``Trainer(callbacks=[FASDashboard()])``) or a config::

    trainer:
      logger:
        class_path: lightning.pytorch.loggers.WandbLogger
        init_args: {project: mtfas}
      callbacks:
        - class_path: mtfas.callbacks.FASDashboard
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from lightning.pytorch import Callback, LightningModule, Trainer
from lightning.pytorch.utilities import rank_zero_warn
from matplotlib.figure import Figure

from mtfas.errors import ConfigError
from mtfas.io import atomic_path, atomic_write_text
from mtfas.reporting.plots import (
    det_figure,
    figure_to_array,
    map_panel_figure,
    roc_figure,
    score_histogram_figure,
    species_roc_figure,
    usable_splits,
)
from mtfas.transforms import normalise

__all__ = ["FASDashboard", "system_map_figure"]


class _Sink:
    """Where the dashboard's panels go: a W&B run, a folder of files, or nowhere."""

    def image(self, key: str, figure: Figure, step: int, caption: str = "") -> None:
        raise NotImplementedError

    def table(self, key: str, table: pd.DataFrame, step: int) -> None:
        raise NotImplementedError

    def config(self, config: dict[str, Any], text: str) -> None:
        raise NotImplementedError


class _WandbSink(_Sink):
    def __init__(self, logger: Any) -> None:
        self.logger = logger

    def image(self, key: str, figure: Figure, step: int, caption: str = "") -> None:
        self.logger.log_image(key, [figure_to_array(figure)], step=step, caption=[caption])

    def table(self, key: str, table: pd.DataFrame, step: int) -> None:
        self.logger.log_table(key, dataframe=table, step=step)

    def config(self, config: dict[str, Any], text: str) -> None:
        run = self.logger.experiment
        run.config.update({"lightning_cli": config}, allow_val_change=True)
        atomic_write_text(Path(run.dir) / "lightning_config.yaml", text)


class _FileSink(_Sink):
    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def _path(self, key: str, step: int, suffix: str) -> Path:
        self.folder.mkdir(parents=True, exist_ok=True)
        return self.folder / f"{re.sub(r'[^A-Za-z0-9_.-]+', '_', key)}_step{step}{suffix}"

    def image(self, key: str, figure: Figure, step: int, caption: str = "") -> None:
        with atomic_path(self._path(key, step, ".png")) as tmp:
            figure.savefig(tmp)

    def table(self, key: str, table: pd.DataFrame, step: int) -> None:
        atomic_write_text(self._path(key, step, ".csv"), table.to_csv(index=False))

    def config(self, config: dict[str, Any], text: str) -> None:
        """LightningCLI already writes ``config.yaml`` to the log folder."""


class FASDashboard(Callback):
    """Panels for face anti-spoofing runs, logged to W&B or written as local files.

    With a :class:`~lightning.pytorch.loggers.WandbLogger` among the trainer's loggers the
    panels go to that W&B run (offline runs too). Otherwise they are written as PNG and
    CSV files to ``local_dir`` (default ``<run folder>/dashboard``, the run folder of
    :func:`mtfas.reporting.results.run_dir`), or, with ``local_files=False``, not at all (the
    callback is then a no-op). Only rank zero logs.

    Panels:

    * ``maps/val/<species>`` (every ``every_n_epochs`` validation epochs) and
      ``maps/test/<species>`` (at test): for live and each attack species, the first
      ``samples_per_species`` faces of the dev (validation) or test split, with the cue
      mask (where batches carry ``cue_mask``, synthetic data), the teacher's target map
      and the student's map side by side, all on one colour scale ``[0, 1]`` with a
      colour bar (:func:`system_map_figure`). Systems with a
      ``teacher_target(images, labels)`` method (``MetaTeacherSystem``) show the target;
      others show the student's map only.
    * ``curves/roc``, ``curves/det``, ``curves/roc_per_species``,
      ``curves/score_histogram``: per split (dev and test of the last ``test``), with the
      operating point at each report's threshold (the dev threshold) marked and listed
      in the legend with AUC and EER (:mod:`mtfas.reporting.plots`); a split without
      both classes gets no curve (counted in :attr:`skipped` and warned about).
    * ``tables/apcer_per_species``: per split and species, APCER (BPCER for live), count
      and threshold; ``tables/results``: every report's values (``mtfas.reporting.results``).
    * The resolved LightningCLI configuration (when run from ``mtfas fit/test``), as the
      run config key ``lightning_cli`` and the file ``lightning_config.yaml`` of the run.

    Per-step training losses, learning rates and the per-epoch metrics of each split
    (``val/...``, ``test/...``, ``test_dev/...``) are logged by the system itself.

    Args:
        samples_per_species: Faces shown per species.
        every_n_epochs: Draw validation maps every this many epochs.
        local_files: Without W&B, write the panels as files (else do nothing).
        local_dir: Folder for those files (default ``<run folder>/dashboard``).
    """

    def __init__(
        self,
        samples_per_species: int = 2,
        every_n_epochs: int = 1,
        local_files: bool = True,
        local_dir: str | None = None,
    ) -> None:
        super().__init__()
        if samples_per_species < 1 or every_n_epochs < 1:
            raise ConfigError(
                "FASDashboard needs samples_per_species >= 1 and every_n_epochs >= 1, got "
                f"{samples_per_species} and {every_n_epochs}."
            )
        self.samples_per_species = int(samples_per_species)
        self.every_n_epochs = int(every_n_epochs)
        self.local_files = local_files
        self.local_dir = local_dir
        #: Panels not drawn, with the reason (e.g. a split without attacks).
        self.skipped: dict[str, str] = {}
        self._sink: _Sink | None = None
        self._samples: dict[int, list[tuple[torch.Tensor, torch.Tensor | None]]] = {}
        self._config_logged = False

    # ------------------------------------------------------------------ set-up
    def setup(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None:  # noqa: D102
        self._sink = self._make_sink(trainer)
        if self._sink is not None and not self._config_logged:
            self._log_config(trainer)

    def _make_sink(self, trainer: Trainer) -> _Sink | None:
        from lightning.pytorch.loggers import WandbLogger

        from mtfas.reporting.results import run_dir

        folder = Path(self.local_dir) if self.local_dir else run_dir(trainer) / "dashboard"
        if not trainer.is_global_zero:
            return None
        for logger in trainer.loggers:
            if isinstance(logger, WandbLogger):
                return _WandbSink(logger)
        return _FileSink(folder) if self.local_files else None

    def _log_config(self, trainer: Trainer) -> None:
        from lightning.pytorch.cli import SaveConfigCallback

        # Trainer sets ``callbacks`` in its callback connector; its class does not declare it.
        for callback in trainer.callbacks:  # type: ignore[attr-defined]
            if isinstance(callback, SaveConfigCallback):
                with warnings.catch_warnings():  # jsonargparse renames skip_none
                    warnings.simplefilter("ignore")
                    text = callback.parser.dump(callback.config, skip_none=False)
                assert self._sink is not None  # only called with a sink
                self._sink.config(callback.config.as_dict(), text)
                self._config_logged = True
                return

    # ------------------------------------------------------------------ samples
    def _collect(self, batch: Any) -> None:
        if not isinstance(batch, dict) or not {"image", "label", "pai"} <= batch.keys():
            return
        masks = batch.get("cue_mask")  # synthetic data only: (B, 1, H, W) in [0, 1]
        for index, pai in enumerate(batch["pai"].tolist()):
            kept = self._samples.setdefault(int(pai), [])
            if len(kept) < self.samples_per_species:
                mask = None if masks is None else masks[index].detach().cpu()
                kept.append((batch["image"][index].detach().cpu(), mask))

    def _draw_maps(self, pl_module: LightningModule, stage: str, step: int) -> None:
        samples, self._samples = self._samples, {}
        if self._sink is None or not samples:
            return
        names = getattr(pl_module, "pai_names", None) or []
        for pai in sorted(samples):
            species = names[pai] if pai < len(names) else f"pai{pai}"
            images = torch.stack([image for image, _ in samples[pai]])
            labels = torch.full((len(images),), int(pai != 0), dtype=torch.int64)
            masks = [mask for _, mask in samples[pai] if mask is not None]
            cue_masks = torch.stack(masks) if len(masks) == len(images) else None
            if masks and cue_masks is None:
                self.skipped[f"maps/{stage}/{species}/cue_mask"] = (
                    f"{len(images) - len(masks)} of {len(images)} faces came without a cue mask"
                )
            titles = [f"{species} #{i}" for i in range(len(images))]
            figure = system_map_figure(pl_module, images, labels, titles, cue_masks)
            self._sink.image(f"maps/{stage}/{species}", figure, step, caption=species)

    # ------------------------------------------------------------------ validation
    def _validation_epoch_drawn(self, trainer: Trainer) -> bool:
        return not trainer.sanity_checking and trainer.current_epoch % self.every_n_epochs == 0

    def on_validation_batch_end(  # noqa: D102
        self,
        trainer: Trainer,
        pl_module: LightningModule,
        outputs: Any,
        batch: Any,
        batch_idx: int,
        dataloader_idx: int = 0,
    ) -> None:
        if self._sink is not None and self._validation_epoch_drawn(trainer):
            self._collect(batch)

    def on_validation_epoch_end(self, trainer: Trainer, pl_module: LightningModule) -> None:  # noqa: D102
        if self._validation_epoch_drawn(trainer):
            self._draw_maps(pl_module, "val", trainer.global_step)
        self._samples = {}

    # ------------------------------------------------------------------ test
    def on_test_batch_end(  # noqa: D102
        self,
        trainer: Trainer,
        pl_module: LightningModule,
        outputs: Any,
        batch: Any,
        batch_idx: int,
        dataloader_idx: int = 0,
    ) -> None:
        # The maps are drawn from the test split: the last test dataloader.
        if self._sink is not None and dataloader_idx == len(trainer.num_test_batches) - 1:
            self._collect(batch)

    def on_test_end(self, trainer: Trainer, pl_module: LightningModule) -> None:  # noqa: D102
        step = trainer.global_step
        self._draw_maps(pl_module, "test", step)
        scores = getattr(pl_module, "test_scores", None)
        reports = getattr(pl_module, "test_reports", None) or {}
        if self._sink is None or scores is None or scores.empty:
            return
        thresholds = {
            split: reports[split].threshold for split in ("dev", "test") if split in reports
        }
        splits, skipped = usable_splits(scores)
        for split, reason in skipped.items():
            self.skipped[f"curves/{split}"] = reason
            rank_zero_warn(f"FASDashboard: split {split!r} has {reason}.")
        if splits:
            self._sink.image("curves/roc", roc_figure(scores, thresholds), step)
            self._sink.image("curves/det", det_figure(scores, thresholds), step)
            figure = species_roc_figure(scores, thresholds)
            self._sink.image("curves/roc_per_species", figure, step)
        self._sink.image("curves/score_histogram", score_histogram_figure(scores, thresholds), step)
        if reports:
            from mtfas.reporting.results import results_table

            self._sink.table("tables/apcer_per_species", species_table(reports), step)
            self._sink.table("tables/results", results_table(reports), step)


def system_map_figure(
    system: LightningModule,
    images: torch.Tensor,
    labels: torch.Tensor,
    titles: Sequence[str] | None = None,
    cue_masks: torch.Tensor | None = None,
) -> Figure:
    """The map panel of a system on some faces: face, cue mask, teacher target, student map.

    The system's student map (``system(x)``) and, for systems with a
    ``teacher_target(images, labels)`` method (``MetaTeacherSystem``), the teacher's target
    are computed in eval mode without gradients (the mode is restored), then drawn by
    :func:`mtfas.reporting.plots.map_panel_figure` on the fixed colour scale ``[0, 1]``.
    The dashboard's ``maps/...`` panels, the notebooks and the README figures use it.

    Args:
        system: A trained system (any ``LightningModule`` whose forward gives maps).
        images: ``(N, 3, H, W)`` uint8 faces, as the data modules give them.
        labels: ``(N,)`` 0 bona fide / 1 attack (the teacher's input).
        titles: One label per face (row).
        cue_masks: ``(N, 1, H, W)`` cue masks in ``[0, 1]`` (1 = attack instrument seen),
            where the data has them (synthetic releases), else ``None``.

    Returns:
        The figure.
    """
    device = system.device
    was_training = system.training
    system.eval()
    images = normalise(images)  # batches arrive as uint8; faces are drawn from [-1, 1]
    try:
        with torch.no_grad():
            x = images.to(device)
            maps = system(x)[:, 0].float().cpu().numpy()
            teacher_target = getattr(system, "teacher_target", None)
            targets = None
            if callable(teacher_target):
                targets = teacher_target(x, labels.to(device))[:, 0].float().cpu().numpy()
    finally:
        system.train(was_training)
    faces = ((images.permute(0, 2, 3, 1).cpu().numpy() + 1.0) * 127.5).clip(0, 255)
    masks = None if cue_masks is None else cue_masks.detach().float().cpu().numpy()
    return map_panel_figure(faces.astype(np.uint8), maps, targets, titles, masks)


def species_table(reports: dict[str, Any]) -> pd.DataFrame:
    """Per report and species: the error rate (APCER; BPCER for live), count, threshold.

    Rates are in percent. Species absent from a split are listed with an empty rate.
    """
    rows = []
    for split in [s for s in ("dev", "test", "test_idealised") if s in reports]:
        report = reports[split]
        rows.append(
            {
                "split": split,
                "species": "live",
                "metric": "BPCER",
                "error_pct": 100 * report.bpcer,
                "count": report.n_bona_fide,
                "threshold": report.threshold,
            }
        )
        for species, count in report.n_attack.items():
            rate = report.apcer_per_species.get(species)
            rows.append(
                {
                    "split": split,
                    "species": species,
                    "metric": "APCER",
                    "error_pct": None if rate is None else 100 * rate,
                    "count": count,
                    "threshold": report.threshold,
                }
            )
    return pd.DataFrame(rows)
