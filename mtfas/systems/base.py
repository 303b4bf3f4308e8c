"""Validation, test and bookkeeping shared by every FAS training system.

Evaluation discipline:

* Every frame gets a score, the mean of the student's map (higher = more likely an
  attack); scores are averaged per video before metrics (``video_level=True``).
* ``validate`` (the dev set) reports metrics at the dev set's own threshold and stores
  that threshold in the ``threshold`` buffer, which is saved with checkpoints.
* ``test`` expects the data module's ``test_dataloader()`` to return
  ``[dev_loader, test_loader]``: the threshold is chosen on the dev scores (dataloader 0)
  and applied unchanged to the test scores (dataloader 1), in one ``trainer.test`` call.
  Given a single test loader, the stored threshold (from the last validation or the
  checkpoint) is used instead. The number of loaders comes from the trainer
  (``trainer.num_test_batches``); more than two is a :class:`ConfigError` and an empty
  loader an :class:`EmptySplitError` naming it. Test numbers at the test set's own EER
  threshold are reported too, but only under names ending in ``_idealised``.
* Prediction decides at the level the threshold was chosen at: ``predict_step`` gives
  frame scores and frame decisions (labelled so), :meth:`FASSystem.predict_decisions`
  averages them per video (``video_level=True``) exactly as :class:`mtfas.Predictor`
  does; comparisons are in ``float64``.
* Every ``test`` writes ``scores.csv`` (per-video scores of dev and test),
  ``results.csv`` and ``results.md`` to the run folder (see :mod:`mtfas.reporting.results`).
* Checkpoints carry what prediction needs (student class and init args, input size,
  crop scale, threshold; see :mod:`mtfas.inference.checkpoint`), and what a resumed fit
  needs beyond Lightning's own state (:data:`TRAINING_STATE_KEY`: the skipped-step
  counters and the global random states, restored when training starts).
* One training step is one step: however many optimisers a system steps in a batch,
  ``trainer.global_step`` advances once (:meth:`FASSystem.step_optimizer`), so
  ``max_steps``, checkpoint intervals and names and ``teacher_warmup_steps`` count
  training steps.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Literal, cast

import pandas as pd
import torch
from lightning.pytorch import LightningModule
from lightning.pytorch.core.optimizer import LightningOptimizer, do_nothing_closure
from lightning.pytorch.utilities import rank_zero_warn
from torch import Tensor, nn

from mtfas.errors import ConfigError, EmptySplitError, NonFiniteLossError
from mtfas.metrics import PADMetrics, PADReport
from mtfas.models.score import map_score
from mtfas.systems.diagnostics import MapStats, StepNorms, format_map_stats, format_step_norms
from mtfas.systems.distributed import any_rank
from mtfas.systems.losses import all_finite
from mtfas.systems.rng import collect_rng_states, restore_rng_states
from mtfas.transforms import normalise_batch

ThresholdMethod = Literal["eer", "bpcer", "apcer"]

#: Checkpoint key of what a resumed fit needs beyond the weights, optimisers and loops.
TRAINING_STATE_KEY = "mtfas_training_state"


def _test_loader_roles(counts: Sequence[int | float]) -> tuple[str, ...]:
    """The role of each test loader (``("dev", "test")`` or ``("test",)``) from their sizes.

    Args:
        counts: ``trainer.num_test_batches``: batches per test loader (``inf`` if unknown).

    Raises:
        ConfigError: With more than two test loaders.
        EmptySplitError: If a test loader has no batches.
    """
    if len(counts) > 2:
        raise ConfigError(
            f"test got {len(counts)} dataloaders; a FASSystem tests on [dev_loader, "
            "test_loader] (threshold chosen on dev, applied to test) or [test_loader] (the "
            "stored dev threshold). Run one trainer.test per extra test set."
        )
    roles = ("dev", "test") if len(counts) == 2 else ("test",)
    for index, (role, count) in enumerate(zip(roles, counts, strict=False)):
        if count == 0:
            raise EmptySplitError(
                f"test dataloader {index} (the {role} loader of "
                f"{'[dev, test]' if len(counts) == 2 else '[test]'}) has no batches: its "
                f"{role} split is empty, or limit_test_batches leaves none of it. Check "
                "the data module's split and limit_test_batches."
            )
    return roles


class FASSystem(LightningModule):
    """Base LightningModule: scoring, dev-threshold evaluation and bad-step handling.

    Subclasses hold a ``student`` network (image -> map) and implement
    ``training_step`` with manual optimisation.

    Args:
        pai_names: Species names by id, index 0 = ``"live"``; ``None`` takes them from the
            data module (``datamodule.pai_names``) at setup.
        threshold_method: How the threshold is chosen on dev: ``"eer"`` (default), or
            ``"bpcer"`` / ``"apcer"`` at ``threshold_target``.
        threshold_target: Target rate (fraction) for ``"bpcer"`` / ``"apcer"``.
        video_level: Average frame scores per video before metrics.
        max_consecutive_nonfinite: Training stops with :class:`NonFiniteLossError` after
            this many consecutive steps with a NaN or infinite loss or gradient (each such
            step is skipped and counted).
        print_test_report: Print (rank zero) one line of dev metrics at each validation and
            the test table at the end of ``test``.
        diagnostics: At each validation, log (``diag/...``) and print (one line, with
            ``print_test_report``) what the maps look like on the dev set: per-species
            means and spatial std of the student's and (if the system has one) the
            teacher's maps, cue contrast and cue AUC where batches carry ``cue_mask``,
            and the mean gradient and update norms of the training steps since the last
            validation (:mod:`mtfas.systems.diagnostics`). They do not change training
            (tested); the cost is one eval-mode teacher forward per dev batch.
    """

    #: The dev threshold, a registered float64 buffer (NaN until one is chosen).
    threshold: Tensor

    def __init__(
        self,
        pai_names: Sequence[str] | None = None,
        threshold_method: ThresholdMethod = "eer",
        threshold_target: float | None = None,
        video_level: bool = True,
        max_consecutive_nonfinite: int = 5,
        print_test_report: bool = True,
        diagnostics: bool = True,
    ) -> None:
        super().__init__()
        if threshold_method not in ("eer", "bpcer", "apcer"):
            raise ConfigError(
                f"threshold_method must be 'eer', 'bpcer' or 'apcer', got {threshold_method!r}."
            )
        if (threshold_method == "eer") != (threshold_target is None):
            raise ConfigError(
                "threshold_target is required for threshold_method 'bpcer'/'apcer' and must "
                "be left unset for 'eer'."
            )
        if max_consecutive_nonfinite < 1:
            raise ConfigError("max_consecutive_nonfinite must be >= 1.")
        self.automatic_optimization = False
        self.pai_names = list(pai_names) if pai_names is not None else None
        self.threshold_method = threshold_method
        self.threshold_target = threshold_target
        self.video_level = video_level
        self.max_consecutive_nonfinite = int(max_consecutive_nonfinite)
        self.print_test_report = print_test_report
        self.diagnostics = bool(diagnostics)
        #: Training-step scalars (gradient / update norms) since the last validation.
        self.step_norms = StepNorms()
        #: Decision threshold chosen on dev (NaN until a validation or test has run).
        self.register_buffer("threshold", torch.tensor(math.nan, dtype=torch.float64))
        #: Steps skipped because of a NaN/inf loss or gradient, in total and in a row.
        self.nonfinite_steps = 0
        self._consecutive_nonfinite = 0
        self._rng_to_restore: dict[str, Any] | None = None
        #: Reports of the last ``test`` run: ``"dev"``, ``"test"``, ``"test_idealised"``.
        self.test_reports: dict[str, PADReport] = {}
        #: Scores of the last ``test`` run (``mtfas.reporting.results.SCORE_COLUMNS``).
        self.test_scores: pd.DataFrame | None = None
        #: Folder the last ``test`` run wrote its score file and results to.
        self.test_results_dir: Path | None = None
        self.student: nn.Module

    # ------------------------------------------------------------------ set-up
    def setup(self, stage: str) -> None:  # noqa: D102
        dm = getattr(self.trainer, "datamodule", None) if self._trainer is not None else None
        dm_names = getattr(dm, "pai_names", None)
        if self.pai_names is None:
            if dm_names is None:
                raise ConfigError(
                    "The system needs the attack species names (pai_names): pass "
                    "pai_names=[...] (index 0 = 'live') or use a data module with a "
                    "pai_names attribute."
                )
            self.pai_names = list(dm_names)
        elif dm_names is not None and list(dm_names) != self.pai_names:
            raise ConfigError(
                f"pai_names {self.pai_names} differ from the data module's {list(dm_names)}."
            )
        pai_names: list[str] = self.pai_names
        make: Callable[[], PADMetrics] = lambda: PADMetrics(  # noqa: E731
            pai_names, video_level=self.video_level
        )
        self.val_metrics = make()
        self.test_dev_metrics = make()
        self.test_metrics = make()
        #: Dev-set map statistics by network (``"student"``, and ``"teacher"`` if any).
        self.val_map_stats = nn.ModuleDict(
            {net: MapStats(pai_names) for net in self._diagnosed_networks()}
        )

    def _map_stats(self) -> list[tuple[str, MapStats]]:
        stats = getattr(self, "val_map_stats", {})
        return [(net, cast(MapStats, metric)) for net, metric in stats.items()]

    def _diagnosed_networks(self) -> list[str]:
        return [
            "student",
            *(["teacher"] if isinstance(getattr(self, "teacher", None), nn.Module) else []),
        ]

    # ------------------------------------------------------------------ scoring
    def forward(self, images: Tensor) -> Tensor:
        """Student maps ``(B, 1, h, w)`` of a batch of images."""
        maps: Tensor = self.student(images)
        return maps

    def score(self, images: Tensor) -> Tensor:
        """Per-image attack scores (map means; higher = more likely an attack)."""
        return map_score(self(images))

    def predict_step(
        self, batch: Any, batch_idx: int, dataloader_idx: int = 0
    ) -> dict[str, Tensor]:
        """Frame scores of a batch and, with a stored threshold, frame decisions.

        Returns a dict of tensors:

        * ``"score"``: the frame scores (map means), in the student's dtype.
        * ``"video"``: the batch's video ids, when the batch is a dict holding them.
        * ``"frame_attack"`` (with a stored threshold): each frame's own score
          ``>= threshold``, compared in ``float64``.
        * ``"attack"``: the decisions, only with ``video_level=False``, where the threshold
          was chosen on frame scores and a frame decision is the decision (equal to
          ``"frame_attack"``).

        With ``video_level=True`` (the default) the threshold was chosen on per-video mean
        scores, so one frame's comparison is labelled a frame decision only: pass the
        outputs of ``trainer.predict`` to :meth:`predict_decisions`, which averages per
        video exactly as evaluation and :class:`mtfas.Predictor` do and decides there.
        """
        batch = normalise_batch(batch)
        images = batch["image"] if isinstance(batch, dict) else batch
        scores = self.score(images).detach()
        out: dict[str, Tensor] = {"score": scores}
        if isinstance(batch, dict) and "video" in batch:
            out["video"] = batch["video"]
        threshold = self._stored_threshold()
        if threshold is not None:
            out["frame_attack"] = scores.to(torch.float64) >= threshold  # exact, in float64
            if not self.video_level:
                out["attack"] = out["frame_attack"]
        return out

    def _stored_threshold(self) -> float | None:
        threshold = float(self.threshold)
        return None if math.isnan(threshold) else threshold

    def predict_decisions(self, outputs: Sequence[dict[str, Tensor]]) -> pd.DataFrame:
        """Decisions of :meth:`predict_step` outputs, at the level the threshold was chosen at.

        With ``video_level=True`` frames are averaged per video by
        :func:`mtfas.metrics.video_means` (float64, frames added in their order), the same
        score evaluation and :class:`mtfas.Predictor` give a video, and the mean is
        compared with the threshold in float64. With ``video_level=False`` every frame is
        decided on its own.

        Args:
            outputs: The list ``trainer.predict`` returned for one dataloader (one dict per
                batch, in order).

        Returns:
            A DataFrame with columns ``level`` (``"video"`` / ``"frame"``), ``video`` (id;
            ``-1`` at frame level for batches without ids), ``n_frames``, ``score`` and
            ``attack`` (nullable boolean; missing without a stored threshold). At video
            level one row per video, ids ascending; at frame level one row per frame.

        Raises:
            ConfigError: At video level, if a batch carried no ``"video"`` ids (predict on
                batches of the data module's dicts, or average the frames yourself).
        """
        from mtfas.metrics import video_means

        outputs = list(outputs)
        scores = [o["score"].detach().cpu().to(torch.float64) for o in outputs]
        if self.video_level and any("video" not in o for o in outputs):
            raise ConfigError(
                "predict_decisions at video level needs the video id of every frame: the "
                "threshold was chosen on per-video mean scores (video_level=True), so "
                "predict on batches that carry 'video' (the data module's loaders do)."
            )
        videos = [
            o["video"].detach().cpu().to(torch.int64)
            if "video" in o
            else torch.full((len(s),), -1, dtype=torch.int64)
            for o, s in zip(outputs, scores, strict=True)
        ]
        score = torch.cat(scores) if scores else torch.zeros(0, dtype=torch.float64)
        video = torch.cat(videos) if videos else torch.zeros(0, dtype=torch.int64)
        if self.video_level:
            video, score, n_frames = video_means(score, video)
            level = "video"
        else:
            n_frames, level = torch.ones_like(video), "frame"
        threshold = self._stored_threshold()
        attack = pd.array(
            [None] * len(score) if threshold is None else (score >= threshold).tolist(),
            dtype="boolean",
        )
        return pd.DataFrame(
            {
                "level": level,
                "video": video.numpy(),
                "n_frames": n_frames.numpy(),
                "score": score.numpy(),
                "attack": attack,
            }
        )

    # ------------------------------------------------------------------ stepping
    def step_optimizer(self, optimizer: LightningOptimizer) -> None:
        """Step ``optimizer``, counting each training step once in ``global_step``.

        In manual optimisation Lightning counts every ``LightningOptimizer.step`` as a step,
        so a system that updates a student and a teacher in one batch would advance
        ``trainer.global_step`` (and with it ``max_steps``, ``ModelCheckpoint``'s
        ``every_n_train_steps`` and file names, ``teacher_warmup_steps``) twice per batch.
        Here the first optimiser step of a batch goes through ``LightningOptimizer.step``
        (counted); later ones in the same batch go through the strategy's
        ``optimizer_step``, the same precision-plugin path (closure,
        ``on_before_optimizer_step`` hooks, gradient scaler) without the count. A batch whose
        update is skipped (non-finite) steps nothing and is not counted.
        """
        batch = self.trainer.fit_loop.epoch_loop.total_batch_idx
        if getattr(self, "_counted_batch", None) != batch:
            self._counted_batch = batch
            optimizer.step()
        else:
            self.trainer.strategy.optimizer_step(optimizer.optimizer, do_nothing_closure)

    # ------------------------------------------------------------------ bad steps
    def check_step_finite(self, *values: Tensor) -> bool:
        """Count a step whose losses/gradients are not all finite; raise after too many.

        Returns:
            True if the step may go on, False if it must be skipped.

        Raises:
            NonFiniteLossError: After ``max_consecutive_nonfinite`` bad steps in a row.
        """
        # All processes decide together, so none skips a step the others take.
        if not any_rank(not all_finite(*values), self.threshold.device):
            self._consecutive_nonfinite = 0
            return True
        self.nonfinite_steps += 1
        self._consecutive_nonfinite += 1
        rank_zero_warn(
            f"Non-finite loss or gradient at training step {self.global_step}: batch skipped "
            f"({self._consecutive_nonfinite} in a row, {self.nonfinite_steps} in total)."
        )
        if self._consecutive_nonfinite >= self.max_consecutive_nonfinite:
            raise NonFiniteLossError(
                f"{self._consecutive_nonfinite} consecutive training steps produced NaN or "
                f"infinite losses or gradients (at training step {self.global_step}). Lower the "
                "learning rates (student, teacher, inner_lr), check the input data for "
                "NaNs, or raise max_consecutive_nonfinite."
            )
        return False

    def log_nonfinite(self) -> None:
        """Log the running count of skipped steps."""
        self.log("train/nonfinite_steps", float(self.nonfinite_steps))

    # ------------------------------------------------------------------ validation
    def _update(self, metric: PADMetrics, batch: dict[str, Tensor]) -> None:
        batch = normalise_batch(batch)  # type: ignore[assignment]
        metric.update(self.score(batch["image"]), batch["label"], batch["pai"], batch["video"])

    def validation_step(self, batch: dict[str, Tensor], batch_idx: int) -> None:  # noqa: D102
        batch = normalise_batch(batch)  # type: ignore[assignment]
        images, pai = batch["image"], batch["pai"]
        maps = self(images)
        self.val_metrics.update(map_score(maps), batch["label"], pai, batch["video"])
        if not self.diagnostics:
            return
        cue_mask = batch.get("cue_mask")
        for net, stats in self._map_stats():
            net_maps = maps if net == "student" else getattr(self, net)(images)
            stats.update(net_maps, pai, cue_mask)

    def on_validation_epoch_end(self) -> None:  # noqa: D102
        if self.trainer.sanity_checking:
            # A couple of sanity batches need not hold both classes.
            self.val_metrics.reset()
            for _, stats in self._map_stats():
                stats.reset()
            return
        threshold = self._choose_threshold(self.val_metrics, "dev (validation)")
        self.threshold.fill_(threshold)
        report = self.val_metrics.report(threshold)
        self.log_dict(report.to_dict(prefix="val/"), sync_dist=False)
        self.val_metrics.reset()
        if self.print_test_report:
            self.say(
                f"epoch {self.current_epoch} step {self.global_step} dev (validation): "
                f"ACER {100 * report.acer:.2f}%  APCER {100 * report.apcer:.2f}% "
                f"({report.worst_species})  BPCER {100 * report.bpcer:.2f}%  "
                f"AUC {100 * report.auc:.2f}%  threshold {threshold:.6g}"
            )
        if self.diagnostics:
            self._log_diagnostics()

    def _log_diagnostics(self) -> None:
        """Log and print the dev-set map statistics and the training-step norms; reset them."""
        pai_names = self.pai_names or []
        logged: dict[str, float] = {}
        parts = []
        for net, stats in self._map_stats():
            values = stats.compute()
            stats.reset()
            logged.update({f"diag/{net}_{key}": value for key, value in values.items()})
            parts.append(format_map_stats(net, values, pai_names))
        norms = self.step_norms.means()
        self.step_norms.reset()
        logged.update({f"diag/{key}": value for key, value in norms.items()})
        if norms:
            parts.append(format_step_norms(norms))
        self.log_dict(logged, sync_dist=False)
        if self.print_test_report:
            self.say("  diagnostics: " + " | ".join(parts))

    def say(self, text: str) -> None:
        """Print on rank zero; in a terminal above the active progress bar (never cut by it)."""
        if self._trainer is None or not self.trainer.is_global_zero:
            return
        bar = self.trainer.progress_bar_callback
        bars = ("_main_progress_bar", "_val_progress_bar", "_test_progress_bar")
        active = [getattr(bar, name, None) for name in bars]
        in_terminal = sys.stdout.isatty()
        if in_terminal and any(b is not None and not getattr(b, "disable", True) for b in active):
            bar.print(text)  # type: ignore[union-attr]
        else:
            print(text, flush=True)

    def _choose_threshold(self, metric: PADMetrics, what: str) -> float:
        if metric.update_count == 0 and not self._has_states(metric):
            raise EmptySplitError(
                f"No {what} scores were produced: the {what} dataloader is empty. Check the "
                "data module's split (and limit_val_batches / limit_test_batches)."
            )
        return metric.choose_threshold(self.threshold_method, self.threshold_target)

    @staticmethod
    def _has_states(metric: PADMetrics) -> bool:
        return any(t.numel() for t in metric.frame_scores)

    # ------------------------------------------------------------------ test
    def test_step(  # noqa: D102
        self, batch: dict[str, Tensor], batch_idx: int, dataloader_idx: int = 0
    ) -> None:
        role = self._test_loader_roles[dataloader_idx]
        self._update(self.test_metrics if role == "test" else self.test_dev_metrics, batch)

    def on_test_epoch_start(self) -> None:
        """Name the test loaders from the trainer: ``[dev, test]`` or ``[test]``, none empty.

        Raises:
            ConfigError: With more than two test loaders.
            EmptySplitError: If a test loader has no batches.
        """
        counts = list(self.trainer.num_test_batches)
        self._test_loader_roles = _test_loader_roles(counts)

    def teardown(self, stage: str) -> None:
        """After a ``test`` whose loaders were all empty (Lightning then skips the loop), raise.

        Raises:
            EmptySplitError: If ``trainer.test`` ran no test loop because every test loader
                was empty.
        """
        super().teardown(stage)
        if stage != "test" or self._trainer is None:
            return
        if self.trainer.limit_test_batches == 0:
            rank_zero_warn("limit_test_batches=0: trainer.test evaluated nothing.")
            return
        if sum(self.trainer.num_test_batches) == 0:
            _test_loader_roles(list(self.trainer.num_test_batches))  # names the empty loader
            raise EmptySplitError(
                "trainer.test got no test dataloader (test_dataloader() returned an empty "
                "list): return [dev_loader, test_loader] (FASDataModule does) or [test_loader]."
            )

    def on_test_epoch_end(self) -> None:  # noqa: D102
        if not self._has_states(self.test_metrics) and self.test_metrics.update_count == 0:
            raise EmptySplitError(
                "No test scores were produced: the test dataloader yielded no batch. Check "
                "the data module's test split (and limit_test_batches)."
            )
        if len(self._test_loader_roles) == 2:
            threshold = self._choose_threshold(self.test_dev_metrics, "dev")
            self.threshold.fill_(threshold)
            dev_report = self.test_dev_metrics.report(threshold)
            test_metrics = self.test_metrics
        else:
            # One loader: it is the test set; the threshold must come from earlier dev data.
            if torch.isnan(self.threshold):
                raise ConfigError(
                    "test got a single dataloader and no stored dev threshold. Return "
                    "[dev_loader, test_loader] from test_dataloader() (FASDataModule does), "
                    "or validate/load a checkpoint first so the dev threshold is known."
                )
            rank_zero_warn(
                "test received one dataloader: using the stored dev threshold "
                f"{float(self.threshold):.6g} from the last validation or checkpoint."
            )
            threshold = float(self.threshold)
            dev_report = None
            test_metrics = self.test_metrics
        test_report = test_metrics.report(threshold)
        idealised = test_metrics.report("eer")
        self.test_reports = {"test": test_report, "test_idealised": idealised}
        logged = test_report.to_dict(prefix="test/")
        logged["test/hter_idealised"] = idealised.hter
        logged["test/acer_idealised"] = idealised.acer
        if dev_report is not None:
            self.test_reports["dev"] = dev_report
            logged.update(dev_report.to_dict(prefix="test_dev/"))
        self.log_dict(logged, sync_dist=False)
        by_split = {"test": test_metrics}
        if dev_report is not None:
            by_split = {"dev": self.test_dev_metrics, "test": test_metrics}
        self.save_test_results(by_split, named=dev_report is not None)
        if self.print_test_report:
            self.say(self.format_test_report())
            self.say(f"Scores and results written to {self.test_results_dir}")
        self.test_dev_metrics.reset()
        self.test_metrics.reset()

    def format_test_report(self) -> str:
        """Human-readable text of the last test: test at the dev threshold, then idealised."""
        test = self.test_reports["test"]
        ideal = self.test_reports["test_idealised"]
        source = "dev-chosen" if "dev" in self.test_reports else "stored dev"
        lines = [
            test.format(
                f"TEST at the {source} threshold ({self.threshold_method}) = {test.threshold:.6g}"
            ),
            "",
            f"Idealised (test set's own EER threshold {ideal.threshold:.6g}; for comparison "
            f"with papers only): HTER {100 * ideal.hter:.2f}%  ACER {100 * ideal.acer:.2f}%  "
            f"EER {100 * ideal.eer:.2f}%  AUC {100 * ideal.auc:.2f}%",
        ]
        return "\n".join(lines)

    # ------------------------------------------------------------------ score files
    def save_test_results(self, metrics: dict[str, PADMetrics], named: bool = True) -> None:
        """Keep the test scores in :attr:`test_scores` and write the run's result files.

        Writes ``scores.csv``, ``results.csv`` and ``results.md`` (rank zero) to
        :func:`mtfas.reporting.results.run_dir`. Runs on every process (the scores are synced).

        Args:
            metrics: The test metrics by split name, before they are reset.
            named: Name videos from the data module's split tables (``split_tables()``);
                otherwise (a single custom test loader) videos are written as their ids.
        """
        from mtfas.reporting.results import run_dir, score_table, write_test_results

        dm: Any = getattr(self.trainer, "datamodule", None)
        tables = dm.split_tables() if named and hasattr(dm, "split_tables") else {}
        parts = []
        for split, metric in metrics.items():
            names = tables[split]["video"].tolist() if split in tables else None
            parts.append(score_table(metric, split, names))
        self.test_scores = pd.concat(parts, ignore_index=True)
        self.test_results_dir = run_dir(self.trainer)
        if self.trainer.is_global_zero:
            write_test_results(self.test_results_dir, self.test_scores, self.test_reports)

    # ------------------------------------------------------------------ checkpoints
    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        """Store what prediction and export need (:mod:`mtfas.inference.checkpoint`).

        The hyper-parameters are made plain data (``torch.optim.Adam`` -> its
        ``{"class_path": ...}``), so that ``torch.load(weights_only=True)`` reads the file.
        """
        from mtfas.inference.checkpoint import (
            INFERENCE_KEY,
            inference_metadata,
            module_spec,
            plain_checkpoint_hparams,
        )

        plain_checkpoint_hparams(checkpoint)

        if not hasattr(self, "_student_spec"):
            self._student_spec = module_spec(self.student)
            if self._student_spec is None:
                rank_zero_warn(
                    f"mtfas cannot record how to rebuild the student {type(self.student)!r} "
                    "(its constructor arguments are not stored as attributes of the same "
                    "name): checkpoints still hold its weights, but prediction and export "
                    "need the network passed in (Predictor.from_checkpoint(path, student=...))."
                )
        checkpoint[INFERENCE_KEY] = inference_metadata(self, self._student_spec)
        checkpoint[TRAINING_STATE_KEY] = {
            "nonfinite_steps": int(self.nonfinite_steps),
            "consecutive_nonfinite": int(self._consecutive_nonfinite),
            "rng": collect_rng_states(),
            "validation_pending": self._validation_due_after_this_batch(),
        }

    def _validation_due_after_this_batch(self) -> bool:
        """True when saved at a training batch's end, before the validation due after it.

        ``ModelCheckpoint(every_n_train_steps=...)`` saves in ``on_train_batch_end``, before
        the validation that Lightning runs after that batch (at the end of an epoch, or at
        ``val_check_interval``); resumed from such a checkpoint, Lightning would skip that
        validation (and keep an older threshold), so the resumed fit runs it first
        (:meth:`on_train_start`).
        """
        trainer = self._trainer
        if trainer is None or not trainer.training:
            return False
        loop = trainer.fit_loop.epoch_loop
        # batch_progress.current is a _BatchProgress tracker (Lightning types it as its base).
        current: Any = loop.batch_progress.current
        at_batch_end = (
            current.processed > 0
            and current.ready == current.processed
            and current.completed == current.processed - 1
        )
        fetcher = trainer.fit_loop._data_fetcher
        if not at_batch_end or loop._skip_next_val or fetcher is None:
            return False
        return bool(loop._should_check_val_fx(fetcher))

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        """Restore the skipped-step counters; keep the random states for ``on_train_start``."""
        state = checkpoint.get(TRAINING_STATE_KEY)
        if state is None:
            return
        self.nonfinite_steps = int(state["nonfinite_steps"])
        self._consecutive_nonfinite = int(state["consecutive_nonfinite"])
        self._rng_to_restore = state.get("rng")
        self._validation_pending = bool(state.get("validation_pending", False))

    def on_train_start(self) -> None:
        """On a resumed fit, catch up with the checkpoint: pending validation, random states.

        First the validation the checkpoint was saved before (if any) runs, then the global
        random states are set to the checkpoint's. Done here, after Lightning has set up
        the model, optimisers and loaders and just before the first training batch, so
        that the resumed fit validates and draws exactly what the uninterrupted run did
        after the checkpoint was saved.
        """
        if getattr(self, "_validation_pending", False):
            self._validation_pending = False
            trainer = self.trainer
            loop = trainer.fit_loop.epoch_loop
            first_loop_iter = trainer._logger_connector._first_loop_iter
            trainer.validating = True
            self.on_validation_model_zero_grad()
            loop.val_loop.restarting = False
            loop.val_loop.run()
            trainer.training = True
            trainer._logger_connector._first_loop_iter = first_loop_iter
        if self._rng_to_restore is not None:
            restore_rng_states(self._rng_to_restore)
            self._rng_to_restore = None
