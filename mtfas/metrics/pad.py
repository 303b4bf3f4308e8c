""":class:`PADMetrics`, a torchmetrics ``Metric`` accumulating scores for PAD evaluation."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Literal

import torch
from torch import Tensor
from torchmetrics import Metric
from torchmetrics.utilities.data import dim_zero_cat

from mtfas.errors import MetricInputError
from mtfas.metrics import _checks as checks
from mtfas.metrics.functional import (
    ThresholdMethod,
    aggregate_by_video,
    choose_threshold,
    pad_report,
)
from mtfas.metrics.report import PADReport

__all__ = ["PADMetrics"]

_STATES = ("frame_scores", "frame_labels", "frame_pai", "frame_video")


class PADMetrics(Metric):
    """Accumulates ``(score, label, pai, video)`` and reports ISO/IEC 30107-3 PAD metrics.

    States are lists concatenated across processes (``dist_reduce_fx="cat"``), so the report
    is computed on the whole evaluation set. With ``video_level=True`` frame scores are
    averaged per video (:func:`mtfas.metrics.functional.aggregate_by_video`) after syncing,
    so a video split across processes is still aggregated correctly (a distributed sampler
    that pads with duplicate frames slightly shifts those videos' means).

    Typical use in a ``LightningModule``::

        # in __init__
        self.val_pad = PADMetrics(pai_names, prefix="val/")
        # in validation_step
        self.val_pad.update(scores, batch["label"], batch["pai"], batch["video"])
        # in on_validation_epoch_end
        self.log_dict(self.val_pad.compute())
        self.val_pad.reset()

    Calling the metric (``forward``) only updates it and returns ``None``: PAD rates of a
    single batch are meaningless (a batch may hold no attack or no bona fide presentation).

    Every method that reads the data (:meth:`compute`, :meth:`report`, :meth:`scores`,
    :meth:`choose_threshold`) syncs across processes, so call it on every rank.

    Args:
        pai_names: Species names by id, index 0 = ``"live"``.
        threshold: Decision threshold for :meth:`compute` and :meth:`report`; ``None`` uses
            the evaluated data's own EER threshold. Settable later via :attr:`threshold`;
            kept across :meth:`reset`.
        video_level: Average frame scores per video before computing the metrics.
        prefix: Prepended to every key :meth:`compute` returns, e.g. ``"val/"``.
        **kwargs: Passed to :class:`torchmetrics.Metric` (e.g. ``compute_on_cpu``).
    """

    full_state_update = False
    higher_is_better = None
    is_differentiable = False
    # The list states of ``_STATES`` (``add_state`` sets them; declared for type checkers).
    frame_scores: list[Tensor]
    frame_labels: list[Tensor]
    frame_pai: list[Tensor]
    frame_video: list[Tensor]

    def __init__(
        self,
        pai_names: Sequence[str],
        threshold: float | None = None,
        video_level: bool = True,
        prefix: str = "",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.pai_names = checks.check_pai_names(torch.zeros(0, dtype=torch.int64), pai_names)
        self.video_level = bool(video_level)
        self.prefix = prefix
        self._threshold: float | None = None
        self.threshold = threshold
        for name in _STATES:
            self.add_state(name, default=[], dist_reduce_fx="cat")

    @property
    def threshold(self) -> float | None:
        """Decision threshold used by :meth:`compute`; ``None`` means the data's EER threshold."""
        return self._threshold

    @threshold.setter
    def threshold(self, value: float | None) -> None:
        self._threshold = None if value is None else checks.check_threshold(value)
        self._computed = None  # a cached compute() used the previous threshold

    def update(
        self,
        scores: Tensor,
        labels: Tensor,
        pai: Tensor,
        video: Tensor | None = None,
    ) -> None:
        """Add a batch of presentations.

        Args:
            scores: Attack scores (higher = more likely an attack), shape ``(B,)``.
            labels: 0 bona fide / 1 attack, shape ``(B,)``.
            pai: Species ids (0 live, attacks ``1..len(pai_names)-1``), shape ``(B,)``.
            video: Video id of each frame, shape ``(B,)``; required when ``video_level``.

        Raises:
            MetricInputError: On shape mismatches, NaN or inf scores, labels outside
                ``{0, 1}``, species ids without a name or disagreeing with the labels, or a
                missing ``video`` at video level.
        """
        scores = checks.as_scores(scores)
        labels = checks.as_labels(labels)
        pai = checks.as_pai(pai)
        if video is None:
            if self.video_level:
                raise MetricInputError(
                    "PADMetrics(video_level=True) needs the video id of every frame; pass "
                    "batch['video'] to update() or build the metric with video_level=False."
                )
            video = torch.full_like(labels, -1)
        video = checks.as_video(video)
        checks.check_same_length(scores=scores, labels=labels, pai=pai, video=video)
        checks.check_pai_matches_labels(labels, pai)
        checks.check_pai_names(pai, self.pai_names)
        self.frame_scores.append(scores)
        self.frame_labels.append(labels)
        self.frame_pai.append(pai.to(labels.device))
        self.frame_video.append(video.to(labels.device))

    def forward(self, *args: Any, **kwargs: Any) -> None:
        """Update the metric with a batch (same arguments as :meth:`update`); returns ``None``."""
        self.update(*args, **kwargs)

    def compute(self) -> dict[str, Tensor]:
        """Return :meth:`PADReport.to_dict` of the data at :attr:`threshold` as scalar tensors.

        Values are ``float64`` tensors on the metric's device, ready for ``log_dict``.

        Raises:
            MetricInputError: If no data was accumulated, or the data holds no attack or no
                bona fide presentation.
        """
        try:
            report = self._report(self.threshold)
        except MetricInputError:
            # torchmetrics only restores the local states after a successful compute().
            if self._is_synced and self._should_unsync:
                self.unsync()
            raise
        return {
            key: torch.tensor(value, dtype=torch.float64, device=self.device)
            for key, value in report.to_dict(prefix=self.prefix).items()
        }

    def report(self, threshold: float | Literal["eer"] | None = None) -> PADReport:
        """Return the full :class:`PADReport` of the accumulated (synced) data.

        Args:
            threshold: A decision threshold; ``None`` uses :attr:`threshold` and, if that is
                unset too, this data's own EER threshold; ``"eer"`` always uses this data's
                EER threshold.

        Raises:
            MetricInputError: As :meth:`compute`.
        """
        if isinstance(threshold, str):
            if threshold != "eer":
                raise MetricInputError(
                    f"threshold must be a number, None or 'eer', got {threshold!r}."
                )
            threshold = None
        elif threshold is None:
            threshold = self.threshold
        with self._synced():
            return self._report(threshold)

    def scores(self) -> tuple[Tensor, Tensor, Tensor]:
        """Return the accumulated ``(scores, labels, pai)``, synced across processes.

        With ``video_level=True`` these are per-video (mean score), ordered by video id;
        otherwise per frame in accumulation order.

        Raises:
            MetricInputError: If no data was accumulated.
        """
        with self._synced():
            return self._evaluated_data()

    def choose_threshold(
        self, method: ThresholdMethod = "eer", target: float | None = None, pooled: bool = False
    ) -> float:
        """Choose a threshold on the accumulated data (see ``functional.choose_threshold``).

        Typically called on development scores; assign the result to :attr:`threshold` of the
        test metric. ``method="apcer"`` meets the target at the worst species' APCER (ISO,
        the operating point of the report's ``bpcer@apcer=...``), or at the pooled APCER
        with ``pooled=True``.
        """
        scores, labels, pai = self.scores()
        species = None if pooled else pai
        return choose_threshold(scores, labels, method=method, target=target, pai=species)

    @contextmanager
    def _synced(self) -> Iterator[None]:
        """Sync states across processes for the duration of the block (unless already synced)."""
        if self._is_synced:
            yield
            return
        self.sync(dist_sync_fn=self.dist_sync_fn, should_sync=self._to_sync)
        try:
            yield
        finally:  # restore the local states even if the metrics raised
            self.unsync(should_unsync=self._is_synced and self._should_unsync)

    def _report(self, threshold: float | None) -> PADReport:
        scores, labels, pai = self._evaluated_data()
        return pad_report(scores, labels, pai, threshold, self.pai_names)

    def _evaluated_data(self) -> tuple[Tensor, Tensor, Tensor]:
        """Concatenate the current states (aggregated per video if configured)."""
        if _is_empty(self.frame_scores):
            raise MetricInputError(
                "PADMetrics holds no scores: call update() with at least one batch before "
                "compute(), report() or scores() (was reset() called too early?)."
            )
        # A rank without data contributes empty default-dtype tensors when syncing: recast.
        scores = dim_zero_cat(self.frame_scores).to(torch.float64)
        labels = dim_zero_cat(self.frame_labels).to(torch.int64)
        pai = dim_zero_cat(self.frame_pai).to(torch.int64)
        if not self.video_level:
            return scores, labels, pai
        video = dim_zero_cat(self.frame_video).to(torch.int64)
        return aggregate_by_video(scores, labels, pai, video)


def _is_empty(state: list[Tensor] | Tensor) -> bool:
    if isinstance(state, Tensor):
        return state.numel() == 0
    return all(t.numel() == 0 for t in state)
