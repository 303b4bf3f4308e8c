"""Score files and results tables written by every ``test`` run.

At the end of ``trainer.test`` a :class:`~mtfas.systems.FASSystem` writes three files to
its run folder (:func:`run_dir`):

* ``scores.csv``: one row per evaluated presentation (per video at video level, per frame
  otherwise) of the dev and test splits, columns :data:`SCORE_COLUMNS`: ``split``
  (``dev`` / ``test``), ``video`` (the name from the data module's video table), ``label``
  (0 bona fide, 1 attack), ``pai`` (species name), ``score`` (higher = attack) and
  ``n_frames`` (frames averaged into the score).
* ``results.csv``: one row per report (``dev``, ``test``, ``test_idealised``), columns
  ``report``, ``worst_species`` and :meth:`PADReport.to_dict` keys with counts (rates as
  fractions).
* ``results.md``: the same in percent as a markdown table, one column per report.

``mtfas report RUN_DIR...`` (:mod:`mtfas.reporting.runs`) reads ``results.csv`` of several runs.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd
import torch
from torchmetrics.utilities.data import dim_zero_cat

from mtfas.metrics.functional import aggregate_by_video
from mtfas.metrics.pad import PADMetrics
from mtfas.metrics.report import PADReport
from mtfas.reporting.tables import markdown_table, write_csv, write_text

__all__ = [
    "RESULTS_CSV",
    "RESULTS_MD",
    "SCORES_CSV",
    "SCORE_COLUMNS",
    "markdown_table",
    "read_scores",
    "results_markdown",
    "results_table",
    "run_dir",
    "score_table",
    "write_test_results",
]

SCORES_CSV = "scores.csv"
RESULTS_CSV = "results.csv"
RESULTS_MD = "results.md"
#: Columns of ``scores.csv``, in order.
SCORE_COLUMNS = ("split", "video", "label", "pai", "score", "n_frames")


def score_table(
    metric: PADMetrics,
    split: str,
    video_names: Sequence[str] | None = None,
) -> pd.DataFrame:
    """The evaluated presentations of a metric as a table (synced across processes).

    At video level (``metric.video_level``) there is one row per video with the mean frame
    score, exactly the values the metric's reports are computed from; otherwise one row
    per frame. Call it on every process (it syncs) before the metric is reset.

    Args:
        metric: The metric holding the split's scores.
        split: Value of the ``split`` column (e.g. ``"dev"``).
        video_names: Names by video id (row of the data module's video table); ``None``
            writes the integer ids instead.

    Returns:
        A table with columns :data:`SCORE_COLUMNS` (empty if the metric holds no data).
    """
    with metric.sync_context():
        states = [metric.frame_scores, metric.frame_labels, metric.frame_pai, metric.frame_video]
        if _empty(states[0]):
            return pd.DataFrame(columns=list(SCORE_COLUMNS))
        scores, labels, pai, video = (dim_zero_cat(s).cpu() for s in states)
    scores, labels, pai, video = (
        scores.to(torch.float64),
        labels.to(torch.int64),
        pai.to(torch.int64),
        video.to(torch.int64),
    )
    if metric.video_level:
        ids, counts = torch.unique(video, sorted=True, return_counts=True)
        scores, labels, pai = aggregate_by_video(scores, labels, pai, video)
    else:
        ids, counts = video, torch.ones_like(video)
    names = [_video_name(int(i), video_names) for i in ids]
    return pd.DataFrame(
        {
            "split": split,
            "video": names,
            "label": labels.numpy(),
            "pai": [metric.pai_names[int(p)] for p in pai],
            "score": scores.numpy(),
            "n_frames": counts.numpy(),
        },
        columns=list(SCORE_COLUMNS),
    )


def _empty(state: Any) -> bool:
    if isinstance(state, torch.Tensor):
        return state.numel() == 0
    return all(t.numel() == 0 for t in state)


def _video_name(index: int, names: Sequence[str] | None) -> str:
    if names is not None and 0 <= index < len(names):
        return str(names[index])
    return str(index)


def run_dir(trainer: Any) -> Path:
    """The folder a run writes its score file and results to.

    ``trainer.log_dir`` for TensorBoard and CSV loggers; for other loggers with a name and
    version (e.g. ``WandbLogger``) ``save_dir/name/version``, the folder Lightning puts
    their checkpoints in (their ``trainer.log_dir`` is the shared ``save_dir``); without a
    logger ``trainer.default_root_dir``. Call it on every process (``log_dir`` broadcasts).
    """
    from lightning.pytorch.loggers import CSVLogger, TensorBoardLogger

    log_dir = trainer.log_dir
    loggers = trainer.loggers
    if not loggers or isinstance(loggers[0], (CSVLogger, TensorBoardLogger)):
        return Path(log_dir or trainer.default_root_dir)
    logger = loggers[0]
    save_dir = logger.save_dir or trainer.default_root_dir
    name, version = logger.name, logger.version
    if name is None or version is None:
        return Path(save_dir)
    version = version if isinstance(version, str) else f"version_{version}"
    return Path(save_dir) / str(name) / version


#: Order of the reports in result tables.
REPORT_ORDER = ("dev", "test", "test_idealised")


def _ordered(reports: Mapping[str, PADReport]) -> dict[str, PADReport]:
    known = [name for name in REPORT_ORDER if name in reports]
    return {name: reports[name] for name in [*known, *(n for n in reports if n not in known)]}


def results_table(reports: Mapping[str, PADReport]) -> pd.DataFrame:
    """One row per report: ``report``, ``worst_species`` and the report's values.

    Rates are fractions; counts are included (``count/live``, ``count/<species>``).
    """
    rows = []
    for name, report in _ordered(reports).items():
        row: dict[str, Any] = {"report": name, "worst_species": report.worst_species}
        row.update(report.to_dict(include_counts=True))
        rows.append(row)
    return pd.DataFrame(rows)


def results_markdown(reports: Mapping[str, PADReport], title: str = "Results") -> str:
    """The reports as a markdown table, rates in percent, one column per report."""
    reports = _ordered(reports)
    names = list(reports)
    keys: list[str] = []
    for report in reports.values():
        keys += [k for k in report.to_dict(include_counts=True) if k not in keys]
    rows = []
    for key in keys:
        cells = [key]
        for name in names:
            value = reports[name].to_dict(include_counts=True).get(key)
            cells.append(_format_value(key, value))
        rows.append(cells)
    worst = ["worst species", *(reports[n].worst_species for n in names)]
    lines = [
        f"### {title}",
        "",
        markdown_table(["metric", *names], [worst, *rows]),
        "",
        "Rates in percent; thresholds are raw scores; a presentation is an attack iff "
        "score >= threshold. `test` uses the threshold chosen on `dev`; `test_idealised` "
        "uses the test set's own EER threshold (for comparison with papers only).",
    ]
    return "\n".join(lines) + "\n"


def _format_value(key: str, value: float | None) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if key.startswith("count/"):
        return str(int(value))
    if key in ("threshold", "eer_threshold"):
        return f"{value:.6g}"
    return f"{100.0 * value:.2f}"


def write_test_results(
    out_dir: str | Path,
    scores: pd.DataFrame,
    reports: Mapping[str, PADReport],
    title: str = "Results",
) -> dict[str, Path]:
    """Write ``scores.csv``, ``results.csv`` and ``results.md`` to ``out_dir`` (created).

    Returns:
        The written paths by kind (``"scores"``, ``"results_csv"``, ``"results_md"``).
    """
    out = Path(out_dir)
    paths = {
        "scores": out / SCORES_CSV,
        "results_csv": out / RESULTS_CSV,
        "results_md": out / RESULTS_MD,
    }
    # Atomic writes: a reader (mtfas report) never sees a half-written file.
    write_csv(paths["scores"], scores)
    write_csv(paths["results_csv"], results_table(reports))
    write_text(paths["results_md"], results_markdown(reports, title))
    return paths


def read_scores(path: str | Path) -> pd.DataFrame:
    """Read a score file (a ``scores.csv`` or a run folder holding one).

    Raises:
        DatasetError: If the file is missing or lacks columns of :data:`SCORE_COLUMNS`.
    """
    from mtfas.errors import DatasetError

    path = Path(path)
    if path.is_dir():
        path = path / SCORES_CSV
    if not path.is_file():
        raise DatasetError(
            f"No score file at {path}: test runs write {SCORES_CSV} to their log folder; "
            "run `mtfas test` (or `fit`, which tests after training) first."
        )
    table = pd.read_csv(path, dtype={"video": str})
    missing = [c for c in SCORE_COLUMNS if c not in table.columns]
    if missing:
        raise DatasetError(f"{path} is not an mtfas score file: it lacks the columns {missing}.")
    return table
