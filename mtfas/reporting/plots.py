"""Matplotlib figures of PAD results: ROC and DET curves, score histograms, maps.

Figures are built on :class:`matplotlib.figure.Figure` directly (no ``pyplot`` state, no
GUI backend), so they work in callbacks, worker processes and notebooks alike; in a
notebook, display one by leaving it as a cell's last value. :func:`figure_to_array`
renders a figure to an RGB array (for W&B images or PNG files).

Conventions: higher score = attack; a presentation is an attack iff ``score >=
threshold``. ROC: x = BPCER (bona fide classified as attacks), y = 1 - APCER (attacks
detected), pooled over species. DET: pooled APCER against BPCER on normal-deviate axes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from statistics import NormalDist

import numpy as np
import pandas as pd
import torch
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from mtfas.metrics.functional import roc
from mtfas.metrics.report import PADReport

__all__ = [
    "det_figure",
    "figure_to_array",
    "map_panel_figure",
    "roc_figure",
    "score_histogram_figure",
    "species_error_figure",
    "usable_splits",
]

_DET_TICKS = (0.001, 0.01, 0.05, 0.2, 0.5, 0.8, 0.95, 0.99, 0.999)
_EPS = 5e-4


def figure_to_array(figure: Figure) -> np.ndarray:
    """Render a figure to an ``H x W x 3`` uint8 RGB array."""
    canvas = FigureCanvasAgg(figure)
    canvas.draw()  # type: ignore[no-untyped-call]
    return np.asarray(canvas.buffer_rgba())[..., :3].copy()  # type: ignore[no-untyped-call]


def usable_splits(scores: pd.DataFrame) -> tuple[list[str], dict[str, str]]:
    """Splits of a score table that hold both classes, and why the others are left out.

    Args:
        scores: A score table (``mtfas.reporting.results.SCORE_COLUMNS``).

    Returns:
        ``(splits, skipped)``: usable split names in order of appearance, and
        ``{split: reason}`` for splits without bona fide or without attack scores.
    """
    usable, skipped = [], {}
    for split, part in scores.groupby("split", sort=False):
        labels = set(part["label"].astype(int))
        if labels == {0, 1}:
            usable.append(str(split))
        else:
            missing = "attack" if 1 not in labels else "bona fide"
            skipped[str(split)] = f"no {missing} presentation, no curve"
    return usable, skipped


def _curve(part: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    curve = roc(
        torch.tensor(part["score"].to_numpy(np.float64, copy=True)),
        torch.tensor(part["label"].to_numpy(np.int64, copy=True)),
    )
    return curve.apcer.numpy(), curve.bpcer.numpy()


def _rates_at(part: pd.DataFrame, threshold: float) -> tuple[float, float]:
    scores, labels = part["score"].to_numpy(), part["label"].to_numpy().astype(int)
    apcer = float(np.mean(scores[labels == 1] < threshold))
    bpcer = float(np.mean(scores[labels == 0] >= threshold))
    return apcer, bpcer


_Curve = tuple[str, np.ndarray, np.ndarray, tuple[float, float] | None]


def _curve_axes(
    scores: pd.DataFrame, thresholds: Mapping[str, float] | None
) -> tuple[Figure, Axes, list[_Curve]]:
    """A figure for ROC / DET curves, and the curve of every usable split.

    Returns:
        The figure, its axes and ``(split, pooled APCER, BPCER, (APCER, BPCER) at the
        split's threshold or None)`` per split of :func:`usable_splits`.
    """
    figure = Figure(figsize=(4.5, 4.2), dpi=100)
    curves: list[_Curve] = []
    for split in usable_splits(scores)[0]:
        part = scores[scores["split"] == split]
        point = _rates_at(part, thresholds[split]) if thresholds and split in thresholds else None
        curves.append((split, *_curve(part), point))
    return figure, figure.add_subplot(), curves


def roc_figure(
    scores: pd.DataFrame, thresholds: Mapping[str, float] | None = None, title: str = "ROC"
) -> Figure:
    """ROC curve of every split of a score table holding both classes.

    Args:
        scores: A score table (columns ``split``, ``label``, ``score``).
        thresholds: Operating threshold per split, marked on its curve.
        title: Axes title.
    """
    figure, ax, curves = _curve_axes(scores, thresholds)
    for split, apcer, bpcer, point in curves:
        (line,) = ax.plot(bpcer, 1 - apcer, label=split, drawstyle="steps-post")
        if point is not None:
            ax.plot([point[1]], [1 - point[0]], "o", color=line.get_color())
    ax.plot([0, 1], [0, 1], ":", color="grey", linewidth=0.8)
    ax.set(
        xlim=(0, 1),
        ylim=(0, 1.01),
        xlabel="BPCER (bona fide rejected)",
        ylabel="1 - APCER (attacks detected, pooled)",
        title=title,
    )
    if curves:
        ax.legend(loc="lower right")
    figure.tight_layout()
    return figure


def _probit(values: np.ndarray) -> np.ndarray:
    inv = NormalDist().inv_cdf
    return np.array([inv(float(v)) for v in np.clip(values, _EPS, 1 - _EPS)])


def det_figure(
    scores: pd.DataFrame, thresholds: Mapping[str, float] | None = None, title: str = "DET"
) -> Figure:
    """DET curve (pooled APCER vs BPCER on normal-deviate axes) of every usable split.

    Rates of 0 and 1 are drawn at 0.05 % and 99.95 %.
    """
    figure, ax, curves = _curve_axes(scores, thresholds)
    for split, apcer, bpcer, point in curves:
        (line,) = ax.plot(_probit(apcer), _probit(bpcer), label=split, drawstyle="steps-post")
        if point is not None:
            a, b = (_probit(np.array([rate])) for rate in point)
            ax.plot(a, b, "o", color=line.get_color())
    ticks = _probit(np.array(_DET_TICKS))
    labels = [f"{100 * t:g}" for t in _DET_TICKS]
    limit = (_probit(np.array([_EPS]))[0], _probit(np.array([1 - _EPS]))[0])
    ax.set_xticks(ticks, labels)
    ax.set_yticks(ticks, labels)
    ax.set(
        xlim=limit,
        ylim=limit,
        xlabel="APCER pooled (%)",
        ylabel="BPCER (%)",
        title=title,
    )
    ax.plot(limit, limit, ":", color="grey", linewidth=0.8)
    ax.grid(True, linewidth=0.3)
    if curves:
        ax.legend(loc="upper right")
    figure.tight_layout()
    return figure


def score_histogram_figure(
    scores: pd.DataFrame,
    thresholds: Mapping[str, float] | None = None,
    bins: int = 30,
    title: str = "Scores",
) -> Figure:
    """Score histograms per split (one axes each), live and every attack species overlaid.

    Args:
        scores: A score table (columns ``split``, ``pai``, ``score``).
        thresholds: Threshold per split, drawn as a vertical line.
        bins: Number of bins (shared by every split and species).
        title: Figure title.
    """
    splits = list(dict.fromkeys(scores["split"]))
    figure = Figure(figsize=(4.5 * max(1, len(splits)), 3.4), dpi=100)
    values = scores["score"].to_numpy(np.float64)
    low, high = (float(values.min()), float(values.max())) if len(values) else (0.0, 1.0)
    edges = np.linspace(low, high if high > low else low + 1e-6, bins + 1)
    species = list(dict.fromkeys(scores["pai"]))
    if "live" in species:
        species = ["live", *(s for s in species if s != "live")]
    for index, split in enumerate(splits):
        ax = figure.add_subplot(1, max(1, len(splits)), index + 1)
        part = scores[scores["split"] == split]
        for name in species:
            chosen = part[part["pai"] == name]["score"]
            if len(chosen):
                # matplotlib takes an array of edges; its stubs only list sequences
                ax.hist(
                    chosen,
                    bins=edges,  # type: ignore[arg-type]
                    alpha=0.55,
                    label=f"{name} (n={len(chosen)})",
                )
        if thresholds and split in thresholds:
            ax.axvline(thresholds[split], color="black", linestyle="--", label="threshold")
        ax.set(title=f"{title}: {split}", xlabel="score (higher = attack)", ylabel="count")
        ax.legend(fontsize=7)
    figure.tight_layout()
    return figure


def species_error_figure(reports: Mapping[str, PADReport], title: str = "Errors") -> Figure:
    """Bar chart of the APCER of every attack species and the BPCER, one bar group per report."""
    figure = Figure(figsize=(6, 3.6), dpi=100)
    ax = figure.add_subplot()
    names = list(reports)
    categories: list[str] = []
    for report in reports.values():
        categories += [s for s in report.apcer_per_species if s not in categories]
    categories.append("BPCER (live)")
    width = 0.8 / max(1, len(names))
    x = np.arange(len(categories))
    for index, name in enumerate(names):
        report = reports[name]
        heights = [100 * report.apcer_per_species.get(c, np.nan) for c in categories[:-1]]
        heights.append(100 * report.bpcer)
        ax.bar(x + index * width - 0.4 + width / 2, heights, width, label=name)
    ax.set_xticks(x, [f"APCER {c}" if c != categories[-1] else c for c in categories])
    ax.tick_params(axis="x", labelrotation=20, labelsize=8)
    ax.set(ylabel="error (%)", title=title)
    ax.legend(fontsize=8)
    figure.tight_layout()
    return figure


def map_panel_figure(
    images: np.ndarray,
    maps: np.ndarray,
    targets: np.ndarray | None = None,
    titles: Sequence[str] | None = None,
) -> Figure:
    """Faces with the teacher's target map (if given) and the student's map, side by side.

    One row per sample; columns: face, target (``targets`` not ``None``), student map.
    Both maps of a row share one colour scale, from 0 to their common maximum.

    Args:
        images: ``(N, H, W, 3)`` uint8 RGB faces.
        maps: ``(N, h, w)`` student maps.
        targets: ``(N, h, w)`` target maps, or ``None`` (systems without a teacher).
        titles: One line per row, shown above the face.
    """
    n = len(images)
    columns = 3 if targets is not None else 2
    figure = Figure(figsize=(2.0 * columns, 2.1 * max(1, n)), dpi=100)
    for row in range(n):
        top = float(maps[row].max())
        if targets is not None:
            top = max(top, float(targets[row].max()))
        top = max(top, 1e-6)
        axes = [figure.add_subplot(n, columns, row * columns + c + 1) for c in range(columns)]
        axes[0].imshow(images[row])
        axes[0].set_title(titles[row] if titles else "face", fontsize=8)
        if targets is not None:
            axes[1].imshow(targets[row], vmin=0, vmax=top, cmap="magma")
            axes[1].set_title("teacher target", fontsize=8)
        axes[-1].imshow(maps[row], vmin=0, vmax=top, cmap="magma")
        axes[-1].set_title(f"student map (mean {maps[row].mean():.3g})", fontsize=8)
        axes[-1].text(
            1.0,
            -0.08,
            f"scale 0-{top:.3g}",
            transform=axes[-1].transAxes,
            ha="right",
            va="top",
            fontsize=7,
        )
        for ax in axes:
            ax.axis("off")
    figure.tight_layout()
    return figure
