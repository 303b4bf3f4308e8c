"""Matplotlib figures of PAD results: ROC and DET curves, score histograms, maps.

Every figure of mtfas is drawn here: the :class:`~mtfas.callbacks.FASDashboard` panels, the
notebooks and the README figures call these functions, so they look the same everywhere.
Figures are built on :class:`matplotlib.figure.Figure` directly (no ``pyplot`` state, no
GUI backend), so they work in callbacks, worker processes and notebooks alike; in a
notebook, display one by leaving it as a cell's last value. :func:`figure_to_array`
renders a figure to an RGB array (for W&B images or PNG files).

Conventions: higher score = attack; a presentation is an attack iff ``score >=
threshold``. Rates come from :mod:`mtfas.metrics.functional` (``roc``, ``pad_report``).

* ROC (:func:`roc_figure`, :func:`species_roc_figure`): x = APCER on a log axis (attacks
  accepted as bona fide), y = 1 - BPCER (bona fide accepted), so near-perfect curves,
  which differ only at small APCER, stay apart.
* DET (:func:`det_figure`): APCER against BPCER on normal-deviate (probit) axes.
* Neither log nor probit axes can show a rate of exactly 0 (or, on probit axes, 1): such
  rates are drawn at a placeholder position a little beyond the smallest tick, whose tick
  is labelled ``0`` (``100``). Every positive rate a score set can have (``k / n``) lies on
  the regular part of the axis, so no curve or operating point is ever clipped; legends
  give the true values.
* Legends list every curve's AUC and EER and, where a threshold is given, its operating
  point: pooled APCER and BPCER, and the worst species' APCER (the ISO/IEC 30107-3 APCER)
  when a split holds more than one attack species.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
import torch
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.image import AxesImage
from matplotlib.ticker import MaxNLocator, NullFormatter, PercentFormatter

from mtfas.errors import ShapeError
from mtfas.metrics.functional import pad_report, roc
from mtfas.metrics.report import PADReport

__all__ = [
    "MAP_RANGE",
    "det_figure",
    "figure_to_array",
    "map_panel_figure",
    "roc_figure",
    "score_histogram_figure",
    "species_error_figure",
    "species_roc_figure",
    "usable_splits",
]

MAP_RANGE: tuple[float, float] = (0.0, 1.0)
"""The one colour scale of every map panel (cue masks, teacher targets, student maps)."""

_MAP_CMAP = "magma"
_LIVE_COLOUR = "black"
_CurveKind = Literal["roc", "det"]
_LINE_STYLES: tuple[str | tuple[int, tuple[int, int]], ...] = ("-", "--", "-.", (0, (1, 1)))


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


# ---------------------------------------------------------------------- rates and axes
def _probit(values: np.ndarray) -> np.ndarray:
    """Normal deviate of rates (``Phi^-1``), finite for every input (clipped to 1e-12)."""
    rates = np.clip(np.asarray(values, dtype=np.float64), 1e-12, 1 - 1e-12)
    deviates: np.ndarray = torch.special.ndtri(torch.from_numpy(rates)).numpy()
    return deviates


def _normal_cdf(values: np.ndarray) -> np.ndarray:
    """Inverse of :func:`_probit` (``Phi``)."""
    deviates = np.array(values, dtype=np.float64)
    rates: np.ndarray = torch.special.ndtr(torch.from_numpy(deviates)).numpy()
    return rates


def _percent(rate: float) -> str:
    return f"{100 * rate:.3g}"


@dataclass(frozen=True)
class _RateAxis:
    """Ticks of a rate axis, and where rates of exactly 0 and 1 are drawn.

    ``lowest`` is the largest power of ten not above ``1 / n`` for the largest class
    count ``n`` drawn (at most 1 %), so every positive rate ``k / n`` is at least ``lowest``.
    """

    kind: _CurveKind
    lowest: float

    @classmethod
    def for_counts(cls, kind: _CurveKind, counts: Sequence[int]) -> _RateAxis:
        n = max([1, *counts])
        return cls(kind, min(1e-2, 10.0 ** -math.ceil(math.log10(n) - 1e-9)))

    @property
    def zero(self) -> float:
        """Where a rate of 0 is drawn: half a decade (0.6 deviates) below ``lowest``."""
        if self.kind == "roc":
            return self.lowest / 10**0.5
        return float(_normal_cdf(_probit(np.array([self.lowest])) - 0.6)[0])

    @property
    def one(self) -> float:
        """Where a rate of 1 is drawn (1 itself on the log axis)."""
        return 1.0 if self.kind == "roc" else 1.0 - self.zero

    def place(self, rates: np.ndarray) -> np.ndarray:
        """Positions of rates: 0 at :attr:`zero`, 1 at :attr:`one`, others unchanged."""
        rates = np.asarray(rates, dtype=np.float64)
        return np.where(rates <= 0, self.zero, np.where(rates >= 1, self.one, rates))

    def ticks(self) -> tuple[list[float], list[str]]:
        decades = [10.0**e for e in range(round(math.log10(self.lowest)), -1)]
        if self.kind == "roc":
            values = [*decades, 0.1, 1.0]
            return [self.zero, *values], ["0", *(_percent(v) for v in values)]
        low = [*decades, 0.05, 0.2]
        values = [*low, 0.5, *(1 - v for v in reversed(low))]
        return [self.zero, *values, self.one], ["0", *(_percent(v) for v in values), "100"]

    def limits(self) -> tuple[float, float]:
        if self.kind == "roc":
            return self.zero / 10**0.25, 1.0 * 10**0.08
        margin = _normal_cdf(_probit(np.array([self.zero, self.one])) + np.array([-0.3, 0.3]))
        return float(margin[0]), float(margin[1])

    def apply(self, ax: Axes, axis: Literal["x", "y"]) -> None:
        """Set the scale, limits and ticks of one axis of ``ax``."""
        target = ax.xaxis if axis == "x" else ax.yaxis
        set_scale = ax.set_xscale if axis == "x" else ax.set_yscale
        set_lim = ax.set_xlim if axis == "x" else ax.set_ylim
        if self.kind == "roc":
            set_scale("log")
        else:
            set_scale("function", functions=(_probit, _normal_cdf))
        set_lim(*self.limits())
        positions, labels = self.ticks()
        target.set_ticks(positions, labels)
        target.set_minor_formatter(NullFormatter())
        line = ax.axvline if axis == "x" else ax.axhline
        line(self.zero, color="grey", linewidth=0.6, linestyle=(0, (1, 2)))
        if self.kind == "det":
            line(self.one, color="grey", linewidth=0.6, linestyle=(0, (1, 2)))


# ---------------------------------------------------------------------- curves
@dataclass(frozen=True)
class _Curve:
    """One ROC / DET curve and its operating point (rates as fractions)."""

    label: str
    colour: str
    apcer: np.ndarray
    bpcer: np.ndarray
    report: PADReport
    marked: bool  # whether report.threshold is a given operating threshold


def _species_ids(part: pd.DataFrame) -> tuple[np.ndarray, list[str]]:
    """Species ids (0 bona fide, attacks 1.. in order of appearance) and names by id."""
    attack = part["label"].to_numpy().astype(int) == 1
    bona = part.loc[~attack, "pai"].astype(str)
    names = [bona.iloc[0] if len(bona) else "live"]
    names += list(dict.fromkeys(part.loc[attack, "pai"].astype(str)))
    index = {name: i for i, name in enumerate(names)}
    ids = np.where(attack, [index.get(str(p), 0) for p in part["pai"]], 0)
    return ids.astype(np.int64), names


def _curve(part: pd.DataFrame, label: str, colour: str, threshold: float | None) -> _Curve:
    """The curve of a score set holding both classes (``pad_report`` gives AUC and EER)."""
    scores = torch.tensor(part["score"].to_numpy(np.float64, copy=True))
    labels = torch.tensor(part["label"].to_numpy(np.int64, copy=True))
    ids, names = _species_ids(part)
    curve = roc(scores, labels)
    report = pad_report(scores, labels, torch.from_numpy(ids), threshold, names)
    return _Curve(
        label=label,
        colour=colour,
        apcer=curve.apcer.numpy(),
        bpcer=curve.bpcer.numpy(),
        report=report,
        marked=threshold is not None,
    )


def _xy(kind: _CurveKind, apcer: np.ndarray, bpcer: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return (apcer, 1 - bpcer) if kind == "roc" else (apcer, bpcer)


def _draw_curves(ax: Axes, kind: _CurveKind, curves: Sequence[_Curve], empty: str) -> None:
    """Draw curves with their operating points on rate axes; legend entries for both."""
    counts = [n for c in curves for n in (c.report.n_bona_fide, c.report.n_attack_total)]
    rate_axis = _RateAxis.for_counts(kind, counts)
    rate_axis.apply(ax, "x")
    if kind == "det":
        rate_axis.apply(ax, "y")
        ax.plot(rate_axis.limits(), rate_axis.limits(), ":", color="grey", linewidth=0.8)
        ax.set(xlabel="APCER (%)", ylabel="BPCER (%)")
    else:
        ax.set_ylim(-0.02, 1.02)
        ax.yaxis.set_major_formatter(PercentFormatter(xmax=1, decimals=0))
        ax.set(xlabel="APCER (%, log axis)", ylabel="1 - BPCER (bona fide accepted)")
    ax.grid(True, linewidth=0.3, alpha=0.6)
    y_place = rate_axis.place if kind == "det" else np.asarray
    for index, curve in enumerate(curves):
        r = curve.report
        x, y = _xy(kind, curve.apcer, curve.bpcer)
        ax.plot(
            rate_axis.place(x),
            y_place(y),
            color=curve.colour,
            linewidth=1.5,
            linestyle=_LINE_STYLES[index % len(_LINE_STYLES)],  # identical curves stay apart
            label=f"{curve.label}: AUC {100 * r.auc:.2f} %, EER {100 * r.eer:.2f} %",
        )
        if not curve.marked:
            continue
        at = f"{curve.label} @ t={r.threshold:.4g}"
        text = f"{at}: APCER {_percent(r.apcer_pooled)} %, BPCER {_percent(r.bpcer)} %"
        points = [("o", r.apcer_pooled, text)]
        if len(r.apcer_per_species) > 1:
            text = f"{at}: worst-species APCER {_percent(r.apcer)} % ({r.worst_species})"
            points.append(("s", r.apcer, text))
        for marker, apcer, text in points:
            x, y = _xy(kind, np.array([apcer]), np.array([r.bpcer]))
            pooled = marker == "o"
            ax.plot(
                rate_axis.place(x),
                y_place(y),
                linestyle="none",
                marker=marker,
                markersize=7 if pooled else 9,
                markerfacecolor=curve.colour if pooled else "none",
                markeredgecolor="black" if pooled else curve.colour,
                markeredgewidth=1.0 if pooled else 1.6,
                clip_on=False,
                zorder=5,
                label=text,
            )
    if curves:  # below the axes: it never hides a curve
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.13), fontsize=8, frameon=False)
    else:
        ax.text(0.5, 0.5, empty, transform=ax.transAxes, ha="center", va="center", fontsize=9)


def _split_curves(scores: pd.DataFrame, thresholds: Mapping[str, float] | None) -> list[_Curve]:
    curves = []
    for index, split in enumerate(usable_splits(scores)[0]):
        part = scores[scores["split"] == split]
        threshold = thresholds.get(split) if thresholds else None
        curves.append(_curve(part, split, f"C{index}", threshold))
    return curves


def _curve_figure(
    scores: pd.DataFrame, thresholds: Mapping[str, float] | None, kind: _CurveKind, title: str
) -> Figure:
    figure = Figure(figsize=(5.2, 4.8), dpi=100, layout="constrained")
    ax = figure.add_subplot()
    _draw_curves(ax, kind, _split_curves(scores, thresholds), "no split holds both classes")
    ax.set_title(title)
    _fit_legends(figure, 5.2)
    return figure


def _fit_legends(figure: Figure, width: float) -> None:
    """Make room below the curve axes for their legends (0.2 inch per entry)."""
    entries = [len(ax.get_legend_handles_labels()[1]) for ax in figure.axes]
    figure.set_size_inches(width, 4.8 + 0.2 * max([0, *entries]))


def roc_figure(
    scores: pd.DataFrame, thresholds: Mapping[str, float] | None = None, title: str = "ROC"
) -> Figure:
    """ROC curve of every split of a score table holding both classes.

    x: pooled APCER on a log axis (0 drawn at the tick labelled 0); y: 1 - BPCER. The
    legend gives each split's AUC and EER and, for splits in ``thresholds``, the operating
    point at that threshold (pooled APCER and BPCER, and the worst species' APCER, square
    marker, when the split has several attack species).

    Args:
        scores: A score table (columns ``split``, ``label``, ``pai``, ``score``).
        thresholds: Operating threshold per split (e.g. the dev threshold for dev and test).
        title: Axes title.
    """
    return _curve_figure(scores, thresholds, "roc", title)


def det_figure(
    scores: pd.DataFrame, thresholds: Mapping[str, float] | None = None, title: str = "DET"
) -> Figure:
    """DET curve (pooled APCER vs BPCER on probit axes) of every usable split.

    Rates of 0 and 1 are drawn at the ticks labelled 0 and 100, beyond the smallest and
    largest regular ticks; operating points are never clipped and are listed in the legend
    with their true values: pooled APCER (round marker) and BPCER, and the worst species'
    APCER (square marker) when a split has several attack species.

    Args:
        scores: A score table (columns ``split``, ``label``, ``pai``, ``score``).
        thresholds: Operating threshold per split.
        title: Axes title.
    """
    return _curve_figure(scores, thresholds, "det", title)


def _species_colours(names: Sequence[str]) -> dict[str, str]:
    """One colour per species, the same in every figure: live black, attacks C0, C1, ..."""
    attacks = [n for n in names if n != "live"]
    return {"live": _LIVE_COLOUR, **{n: f"C{i % 10}" for i, n in enumerate(attacks)}}


def _ordered_species(scores: pd.DataFrame) -> list[str]:
    species = [str(s) for s in dict.fromkeys(scores["pai"])]
    return ["live", *(s for s in species if s != "live")] if "live" in species else species


def species_roc_figure(
    scores: pd.DataFrame,
    thresholds: Mapping[str, float] | None = None,
    title: str = "ROC per species",
) -> Figure:
    """ROC curve of every attack species against the bona fide presentations, per split.

    One axes per split holding both classes; axes and legend as :func:`roc_figure`, with a
    species' APCER (not the pooled one) on x. Species keep their colours of
    :func:`score_histogram_figure`.

    Args:
        scores: A score table (columns ``split``, ``label``, ``pai``, ``score``).
        thresholds: Operating threshold per split, marked on every species' curve.
        title: Title prefix of each axes.
    """
    splits = usable_splits(scores)[0]
    colours = _species_colours(_ordered_species(scores))
    figure = Figure(figsize=(5.2 * max(1, len(splits)), 4.8), dpi=100, layout="constrained")
    if not splits:
        ax = figure.add_subplot()
        _draw_curves(ax, "roc", [], "no split holds both classes")
        ax.set_title(title)
        _fit_legends(figure, 5.2)
        return figure
    for index, split in enumerate(splits):
        ax = figure.add_subplot(1, len(splits), index + 1)
        part = scores[scores["split"] == split]
        bona = part["label"].astype(int) == 0
        threshold = thresholds.get(split) if thresholds else None
        curves = []
        for name in _ordered_species(part[~bona]):
            chosen = part[bona | (part["pai"].astype(str) == name)]
            n = int((~bona & (part["pai"].astype(str) == name)).sum())
            curves.append(_curve(chosen, f"{name} (n={n})", colours[name], threshold))
        _draw_curves(ax, "roc", curves, "no attack species")
        ax.set_title(f"{title}: {split}")
    _fit_legends(figure, 5.2 * len(splits))
    return figure


# ---------------------------------------------------------------------- histograms
def _unit(scores: pd.DataFrame) -> str:
    """``videos`` when every row is one video (video-level scores), else ``frames``."""
    if "video" not in scores.columns:
        return "presentations"
    return "frames" if scores.duplicated(["split", "video"]).any() else "videos"


def _histogram_edges(values: np.ndarray, bins: int) -> np.ndarray:
    """Bin edges shared by every split and species: ``bins`` equal bins over the scores.

    All-equal (or no) scores get bins over ``value +- 0.5``.
    """
    if len(values) == 0:
        return np.linspace(0.0, 1.0, bins + 1)
    low, high = float(np.min(values)), float(np.max(values))
    if not high > low:
        low, high = low - 0.5, high + 0.5
    return np.linspace(low, high, bins + 1)


def score_histogram_figure(
    scores: pd.DataFrame,
    thresholds: Mapping[str, float] | None = None,
    bins: int = 30,
    title: str = "Scores",
) -> Figure:
    """Score histograms per split (one axes each): live and every attack species as outlines.

    The y-axis counts presentations (videos for video-level score files, else frames);
    every species is a step outline (live thick black), so overlapping species stay
    readable. Bins are shared by every split and species (:func:`_histogram_edges`).

    Args:
        scores: A score table (columns ``split``, ``pai``, ``score``; ``video`` to tell
            videos from frames).
        thresholds: Threshold per split, drawn as a dashed vertical line.
        bins: Number of bins.
        title: Title prefix of each axes.
    """
    splits = [str(s) for s in dict.fromkeys(scores["split"])]
    figure = Figure(figsize=(5.0 * max(1, len(splits)), 3.8), dpi=100, layout="constrained")
    edges = _histogram_edges(scores["score"].to_numpy(np.float64), bins)
    species = _ordered_species(scores)
    colours = _species_colours(species)
    unit = _unit(scores)
    if not splits:
        ax = figure.add_subplot()
        ax.text(0.5, 0.5, "no scores", transform=ax.transAxes, ha="center", va="center")
        ax.set(title=title, xlabel="score (higher = attack)", ylabel=unit)
        return figure
    for index, split in enumerate(splits):
        ax = figure.add_subplot(1, len(splits), index + 1)
        part = scores[scores["split"] == split]
        for name in species:
            chosen = part.loc[part["pai"].astype(str) == name, "score"].to_numpy(np.float64)
            if len(chosen):
                counts, _ = np.histogram(chosen, bins=edges)
                ax.stairs(
                    counts,
                    edges,
                    color=colours[name],
                    linewidth=2.0 if name == "live" else 1.4,
                    label=f"{name} (n={len(chosen)})",
                )
        if thresholds and split in thresholds:
            t = thresholds[split]
            ax.axvline(t, color="grey", linestyle="--", linewidth=1.2, label=f"threshold {t:.4g}")
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_ylim(bottom=0)
        ax.set(title=f"{title}: {split}", xlabel="score (higher = attack)", ylabel=unit)
        ax.legend(fontsize=7)
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


# ---------------------------------------------------------------------- map panels
def _stack(name: str, values: np.ndarray | None, n: int) -> np.ndarray | None:
    """``(N, h, w)`` float maps from ``(N, h, w)`` or ``(N, 1, h, w)``."""
    if values is None:
        return None
    array = np.asarray(values, dtype=np.float64)
    if array.ndim == 4 and array.shape[1] == 1:
        array = array[:, 0]
    if array.ndim != 3 or len(array) != n:
        raise ShapeError(
            f"map_panel_figure: {name} must have shape (N, h, w) or (N, 1, h, w) with N = "
            f"{n} (one per face), got {tuple(np.shape(values))}; pass one map per image."
        )
    return array


def map_panel_figure(
    images: np.ndarray,
    maps: np.ndarray,
    targets: np.ndarray | None = None,
    titles: Sequence[str] | None = None,
    cue_masks: np.ndarray | None = None,
) -> Figure:
    """Faces with the cue mask, the teacher's target and the student's map, one row each.

    Columns: face, cue mask (``cue_masks`` given: 1 where the attack instrument is seen),
    teacher target (``targets`` given), student map. Every map of every row is drawn on
    the one fixed colour scale :data:`MAP_RANGE` ``[0, 1]``, explained by one colour bar
    (values above 1, e.g. of a ReLU student, show in the top colour and extend the bar).
    Below each map: its mean and spatial standard deviation.

    Args:
        images: ``(N, H, W, 3)`` uint8 RGB faces.
        maps: ``(N, h, w)`` (or ``(N, 1, h, w)``) student maps.
        targets: Teacher target maps, shaped as ``maps``, or ``None`` (no teacher).
        titles: One label per row, shown left of the face.
        cue_masks: ``(N, H, W)`` (or ``(N, 1, H, W)``) cue masks in ``[0, 1]``, or ``None``
            where the data has none.

    Raises:
        ShapeError: If a map array does not hold one map per face.
    """
    n = len(images)
    columns = [
        ("cue mask (truth)", _stack("cue_masks", cue_masks, n)),
        ("teacher target", _stack("targets", targets, n)),
        ("student map", _stack("maps", maps, n)),
    ]
    shown = [(name, values) for name, values in columns if values is not None]
    width = 1 + len(shown)
    figure = Figure(figsize=(2.1 * width + 0.9, 2.25 * max(1, n) + 0.3), dpi=100)
    figure.set_layout_engine("constrained")
    grid = figure.add_gridspec(max(1, n), width)
    image: AxesImage | None = None
    map_axes: list[Axes] = []
    low, high = MAP_RANGE
    outside = {"min": False, "max": False}
    for row in range(n):
        face = figure.add_subplot(grid[row, 0])
        face.imshow(images[row])
        face.set_ylabel(titles[row] if titles else f"#{row}", fontsize=10)
        cells = [face]
        for name, values in shown:
            assert values is not None  # filtered above
            ax = figure.add_subplot(grid[row, len(cells)])
            image = ax.imshow(
                values[row], vmin=low, vmax=high, cmap=_MAP_CMAP, interpolation="nearest"
            )
            ax.set_xlabel(f"mean {values[row].mean():.3f}, std {values[row].std():.3f}", fontsize=8)
            outside["min"] |= bool(values[row].min() < low)
            outside["max"] |= bool(values[row].max() > high)
            if row == 0:
                ax.set_title(name, fontsize=10)
            cells.append(ax)
            map_axes.append(ax)
        if row == 0:
            face.set_title("face", fontsize=10)
        for ax in cells:
            ax.set_xticks([])
            ax.set_yticks([])
    if image is not None:
        extend = {(False, False): "neither", (True, False): "min", (False, True): "max"}
        colour_bar = figure.colorbar(
            image,
            ax=map_axes,
            extend=extend.get((outside["min"], outside["max"]), "both"),
            fraction=0.05,
            shrink=min(1.0, 0.9 if n > 1 else 0.8),
        )
        colour_bar.set_label("map value (0 live, 1 attack cue)", fontsize=9)
    return figure
