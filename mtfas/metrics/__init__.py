"""Presentation-attack-detection metrics (ISO/IEC 30107-3).

Scores are attack scores (higher = more likely an attack) and a presentation is classified as
an attack iff ``score >= threshold``. :mod:`mtfas.metrics.functional` holds pure functions on
1-D tensors; :class:`PADMetrics` accumulates scores in a torchmetrics ``Metric``;
:class:`PADReport` holds every metric of one evaluation.
"""

from __future__ import annotations

from mtfas.metrics.functional import (
    DEFAULT_APCER_TARGETS,
    ROCCurve,
    aggregate_by_video,
    apcer_per_species,
    auc,
    bpcer_at_apcer,
    choose_threshold,
    eer,
    error_rates_at,
    pad_report,
    roc,
    video_means,
)
from mtfas.metrics.pad import PADMetrics
from mtfas.metrics.report import PADReport

__all__ = [
    "DEFAULT_APCER_TARGETS",
    "PADMetrics",
    "PADReport",
    "ROCCurve",
    "aggregate_by_video",
    "apcer_per_species",
    "auc",
    "bpcer_at_apcer",
    "choose_threshold",
    "eer",
    "error_rates_at",
    "pad_report",
    "roc",
    "video_means",
]
