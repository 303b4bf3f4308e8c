"""The figures of mtfas.reporting.plots, checked on their matplotlib objects (Agg backend).

Every figure is rendered from ordinary, saturated (perfectly separated) and degenerate score
sets (a split with one class only, all-equal scores, a species with a single video, no usable
split). The expected values (AUC, EER, error rates, histogram counts) are computed here by
brute force, independently of :mod:`mtfas.metrics.functional`.
"""

from __future__ import annotations

import itertools
from fractions import Fraction
from statistics import NormalDist

import matplotlib
import numpy as np
import pandas as pd
import pytest

matplotlib.use("Agg")

from matplotlib.image import AxesImage
from matplotlib.patches import StepPatch

from mtfas.errors import ShapeError
from mtfas.reporting.plots import (
    MAP_RANGE,
    det_figure,
    figure_to_array,
    map_panel_figure,
    roc_figure,
    score_histogram_figure,
    species_roc_figure,
)

SPECIES = ("print1", "print2", "replay1")


def table(rows):
    frame = pd.DataFrame(rows, columns=["split", "video", "label", "pai", "score"])
    return frame.assign(n_frames=1)


def ordinary(seed=0, n_live=30, n_attack=12):
    rng = np.random.default_rng(seed)
    rows = []
    for split in ("dev", "test"):
        rows += [(split, f"{split}_l{i}", 0, "live", rng.normal()) for i in range(n_live)]
        for k, pai in enumerate(SPECIES):
            rows += [
                (split, f"{split}_{pai}{i}", 1, pai, rng.normal(1.5 + k)) for i in range(n_attack)
            ]
    return table(rows)


def saturated():
    frame = ordinary(seed=1)
    return frame.assign(score=frame["score"] + 100.0 * frame["label"])


def all_equal():
    return ordinary(seed=2).assign(score=0.25)


def single_video_species():
    frame = ordinary(seed=3)
    lone = table([("dev", "dev_lone0", 1, "mask", 0.4), ("test", "test_lone0", 1, "mask", 3.0)])
    return pd.concat([frame, lone], ignore_index=True)


def one_class_split():
    """dev holds both classes; test holds live faces only."""
    frame = ordinary(seed=4)
    return frame[(frame["split"] == "dev") | (frame["label"] == 0)].reset_index(drop=True)


SETS = {
    "ordinary": ordinary,
    "saturated": saturated,
    "all_equal": all_equal,
    "single_video_species": single_video_species,
    "one_class_split": one_class_split,
}


# ---------------------------------------------------------------------- brute force
def rates(part, threshold):
    attack = part[part["label"] == 1]["score"].to_numpy()
    bona = part[part["label"] == 0]["score"].to_numpy()
    return float(np.mean(attack < threshold)), float(np.mean(bona >= threshold))


def worst(part, threshold):
    per = {
        pai: float(np.mean(group["score"].to_numpy() < threshold))
        for pai, group in part[part["label"] == 1].groupby("pai", sort=False)
    }
    name = max(per, key=lambda p: (per[p], -list(per).index(p)))
    return name, per[name]


def brute_auc(part):
    attack = part[part["label"] == 1]["score"].to_numpy()
    bona = part[part["label"] == 0]["score"].to_numpy()
    pairs = [(a > b) + 0.5 * (a == b) for a, b in itertools.product(attack, bona)]
    return float(np.mean(pairs))


def brute_eer(part):
    """Min |APCER - BPCER| over the candidate thresholds, ties to the lowest (exact)."""
    attack = part[part["label"] == 1]["score"].to_numpy()
    bona = part[part["label"] == 0]["score"].to_numpy()
    values = sorted(set(part["score"]))

    def exact(t):
        return Fraction(int(np.sum(attack < t)), len(attack)), Fraction(
            int(np.sum(bona >= t)), len(bona)
        )

    candidates = [*values, np.nextafter(values[-1], np.inf)]
    best = min(candidates, key=lambda t: (abs(exact(t)[0] - exact(t)[1]), t))
    return float(sum(exact(best)) / 2)


def pct(rate):
    return f"{100 * rate:.3g}"


def legend_texts(ax):
    legend = ax.get_legend()
    return [] if legend is None else [t.get_text() for t in legend.get_texts()]


def labelled_lines(ax):
    return {
        line.get_label(): line for line in ax.get_lines() if not line.get_label().startswith("_")
    }


def threshold_of(frame, split):
    part = frame[frame["split"] == split]
    return float(np.median(part["score"]))


def thresholds(frame):
    return {split: threshold_of(frame, "dev") for split in dict.fromkeys(frame["split"])}


def inside(ax, line):
    """Every point of a line lies strictly inside the axes limits (nothing clipped)."""
    (x0, x1), (y0, y1) = sorted(ax.get_xlim()), sorted(ax.get_ylim())
    x, y = (np.asarray(v, dtype=float) for v in line.get_data())
    return bool(np.all((x > x0) & (x < x1) & (y > y0) & (y < y1)))


# ---------------------------------------------------------------------- ROC and DET
@pytest.mark.parametrize("name", SETS)
@pytest.mark.parametrize("kind", ["roc", "det"])
def test_curves_list_auc_eer_and_the_operating_point(name, kind):
    frame = SETS[name]()
    chosen = thresholds(frame)
    figure = (roc_figure if kind == "roc" else det_figure)(frame, chosen)
    (ax,) = figure.axes
    texts = legend_texts(ax)
    lines = labelled_lines(ax)
    usable = [s for s, part in frame.groupby("split", sort=False) if part["label"].nunique() == 2]
    assert len([t for t in texts if "AUC" in t]) == len(usable)
    for split in usable:
        part = frame[frame["split"] == split]
        curve = f"{split}: AUC {100 * brute_auc(part):.2f} %, EER {100 * brute_eer(part):.2f} %"
        assert curve in texts
        apcer, bpcer = rates(part, chosen[split])
        at = f"{split} @ t={chosen[split]:.4g}: "
        point = f"{at}APCER {pct(apcer)} %, BPCER {pct(bpcer)} %"
        assert point in texts
        species, worst_apcer = worst(part, chosen[split])
        worst_text = f"{at}worst-species APCER {pct(worst_apcer)} % ({species})"
        assert worst_text in texts
        # markers and curves are drawn inside the frame, whatever the rates
        for label in (point, worst_text, curve):
            assert inside(ax, lines[label]), (label, lines[label].get_data())
    assert "test" in usable or name == "one_class_split"
    figure_to_array(figure)  # it renders


def test_roc_has_apcer_on_a_log_axis_with_zero_drawn_below_every_positive_rate():
    frame = saturated()
    (ax,) = roc_figure(frame, {"dev": 50.0, "test": 50.0}).axes
    assert ax.get_xscale() == "log" and ax.get_yscale() == "linear"
    ticks, labels = ax.get_xticks(), [t.get_text() for t in ax.get_xticklabels()]
    zero = ticks[labels.index("0")]
    smallest = min(1 / frame.groupby(["split", "label"]).size().max(), 1e-2)
    assert 0 < zero < smallest and ax.get_xlim()[0] < zero
    # a perfectly separated set: at the dev threshold APCER = 0, drawn at the 0 tick
    point = next(line for label, line in labelled_lines(ax).items() if label.startswith("dev @"))
    assert point.get_xdata()[0] == pytest.approx(zero)


def test_det_axes_are_probit():
    frame = ordinary()
    (ax,) = det_figure(frame, thresholds(frame)).axes
    deviates = [NormalDist().inv_cdf(p) for p in (0.01, 0.2, 0.5, 0.9)]
    for axis in (ax.xaxis, ax.yaxis):
        transform = axis.get_transform()
        got = transform.transform(np.array([0.01, 0.2, 0.5, 0.9]))
        np.testing.assert_allclose(got, deviates, atol=1e-9)
    labels = [t.get_text() for t in ax.get_xticklabels()]
    assert labels[0] == "0" and labels[-1] == "100" and "50" in labels


def test_det_operating_points_at_rates_zero_and_one_are_not_clipped():
    frame = all_equal()  # threshold = the only score: every presentation is an attack
    (ax,) = det_figure(frame, thresholds(frame)).axes
    point = next(line for label, line in labelled_lines(ax).items() if label.startswith("dev @"))
    assert "APCER 0 %, BPCER 100 %" in point.get_label()
    assert inside(ax, point)


def test_curve_figures_without_a_usable_split_say_so():
    frame = ordinary()
    live = frame[frame["label"] == 0]
    for make in (roc_figure, det_figure, species_roc_figure):
        (ax,) = make(live, {"dev": 0.0}).axes
        assert ax.get_legend() is None
        assert any("no split holds both classes" in t.get_text() for t in ax.texts)


def test_species_roc_has_one_curve_per_species_with_its_own_rates():
    frame = single_video_species()
    chosen = thresholds(frame)
    figure = species_roc_figure(frame, chosen)
    assert [ax.get_title() for ax in figure.axes] == [
        "ROC per species: dev",
        "ROC per species: test",
    ]
    for ax, split in zip(figure.axes, ("dev", "test")):
        assert ax.get_xscale() == "log"
        part = frame[frame["split"] == split]
        texts = legend_texts(ax)
        assert len([t for t in texts if "AUC" in t]) == len(SPECIES) + 1
        for pai in (*SPECIES, "mask"):
            chosen_part = part[(part["label"] == 0) | (part["pai"] == pai)]
            n = int((part["pai"] == pai).sum())
            auc, eer = brute_auc(chosen_part), brute_eer(chosen_part)
            assert f"{pai} (n={n}): AUC {100 * auc:.2f} %, EER {100 * eer:.2f} %" in texts
            apcer, bpcer = rates(chosen_part, chosen[split])
            point = (
                f"{pai} (n={n}) @ t={chosen[split]:.4g}: APCER {pct(apcer)} %, BPCER {pct(bpcer)} %"
            )
            assert point in texts
            assert inside(ax, labelled_lines(ax)[point])
        assert not any("worst" in t for t in texts)  # one species per curve


# ---------------------------------------------------------------------- histograms
def brute_counts(values, edges):
    counts = []
    for i, (low, high) in enumerate(itertools.pairwise(edges)):
        last = i == len(edges) - 2
        counts.append(sum(low <= v < high or (last and v == high) for v in values))
    return counts


@pytest.mark.parametrize("name", SETS)
def test_histograms_count_videos_per_species_as_outlines(name):
    frame = SETS[name]()
    chosen = thresholds(frame)
    figure = score_histogram_figure(frame, chosen, bins=12)
    splits = list(dict.fromkeys(frame["split"]))
    assert len(figure.axes) == len(splits)
    for ax, split in zip(figure.axes, splits):
        assert ax.get_ylabel() == "videos"
        part = frame[frame["split"] == split]
        steps = [p for p in ax.patches if isinstance(p, StepPatch)]
        assert steps and len(steps) == len(ax.patches)  # outlines only, no filled bars
        assert not any(p.get_fill() for p in steps)
        by_label = {p.get_label(): p for p in steps}
        assert len(by_label) == part["pai"].nunique()
        for pai, group in part.groupby("pai"):
            values, edges, _ = by_label[f"{pai} (n={len(group)})"].get_data()
            assert np.issubdtype(values.dtype, np.integer)
            assert len(edges) == 13
            assert list(values) == brute_counts(group["score"].tolist(), edges)
        assert sum(sum(p.get_data()[0]) for p in steps) == len(part)
        assert f"threshold {chosen[split]:.4g}" in legend_texts(ax)
        assert ax.get_ylim()[0] == 0
    figure_to_array(figure)


def test_histogram_bins_of_all_equal_scores_hold_the_value():
    frame = all_equal()
    (ax, _) = score_histogram_figure(frame).axes
    values, edges, _ = ax.patches[0].get_data()
    assert edges[0] < 0.25 < edges[-1] and sum(values) == 30


def test_histogram_of_frame_scores_counts_frames():
    frame = ordinary()
    frames = pd.concat([frame, frame], ignore_index=True)  # each video twice: two frames
    (ax, _) = score_histogram_figure(frames).axes
    assert ax.get_ylabel() == "frames"


# ---------------------------------------------------------------------- map panels
def panel_inputs(n=3, seed=0):
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, (n, 32, 32, 3), dtype=np.uint8)
    maps = rng.random((n, 4, 4)) * 0.05  # a faint student map: must not be stretched to 1
    targets = np.full((n, 1, 4, 4), 0.91)
    targets[0, 0, 0, 0] = 0.026
    masks = np.zeros((n, 1, 32, 32))
    masks[1:, :, 8:24, 4:28] = 1.0
    return images, maps, targets, masks


def map_images(figure):
    return [image for ax in figure.axes for image in ax.get_images() if image.get_array().ndim == 2]


def test_map_panels_share_one_fixed_colour_scale_and_a_colour_bar():
    images, maps, targets, masks = panel_inputs()
    figure = map_panel_figure(images, maps, targets, ["live #0", "print #0", "print #1"], masks)
    shown = map_images(figure)
    assert len(shown) == 3 * 3  # cue mask, target, student map per row
    assert all(image.get_clim() == MAP_RANGE == (0.0, 1.0) for image in shown)
    assert all(image.get_cmap().name == shown[0].get_cmap().name for image in shown)
    bars = {id(image.colorbar) for image in shown if image.colorbar is not None}
    assert len(bars) == 1  # one colour bar for every map
    bar = next(image.colorbar for image in shown if image.colorbar is not None)
    assert tuple(bar.mappable.get_clim()) == (0.0, 1.0) and bar.extend == "neither"
    titles = [ax.get_title() for ax in figure.axes]
    assert {"face", "cue mask (truth)", "teacher target", "student map"} <= set(titles)
    faces = [ax for ax in figure.axes if any(i.get_array().ndim == 3 for i in ax.get_images())]
    assert [ax.get_ylabel() for ax in faces] == ["live #0", "print #0", "print #1"]
    assert bar.ax.get_ylabel() == "map value (0 live, 1 attack cue)"
    # every map's mean and spatial std under it
    expected = f"mean {targets[0].mean():.3f}, std {targets[0].std():.3f}"
    assert expected in [ax.get_xlabel() for ax in figure.axes]
    figure_to_array(figure)


def test_map_panels_without_cue_masks_or_teacher_and_with_values_above_one():
    images, maps, _, _ = panel_inputs(n=2)
    figure = map_panel_figure(images, maps * 40)  # a ReLU student can exceed 1
    shown = map_images(figure)
    assert len(shown) == 2 and all(image.get_clim() == (0.0, 1.0) for image in shown)
    (bar,) = [image.colorbar for image in shown if image.colorbar is not None]
    assert bar.extend == "max" and tuple(bar.mappable.get_clim()) == (0.0, 1.0)
    assert "cue mask (truth)" not in [ax.get_title() for ax in figure.axes]


def test_map_panels_refuse_maps_that_do_not_match_the_faces():
    images, maps, targets, _ = panel_inputs(n=3)
    with pytest.raises(ShapeError, match="targets"):
        map_panel_figure(images, maps, targets[:2])


def test_map_faces_are_drawn_unchanged():
    images, maps, _, _ = panel_inputs(n=1)
    figure = map_panel_figure(images, maps)
    faces = [i for ax in figure.axes for i in ax.get_images() if isinstance(i, AxesImage)]
    assert np.array_equal(faces[0].get_array(), images[0])
