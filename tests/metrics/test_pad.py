"""Tests of the PADMetrics torchmetrics Metric.

Expected values come from mtfas.metrics.functional, itself checked against a brute-force
reference in test_functional.py.
"""

from __future__ import annotations

import math
import warnings

import pytest
import torch

from mtfas.errors import MetricInputError
from mtfas.metrics import PADMetrics, aggregate_by_video, choose_threshold, pad_report

NAMES = ["live", "print", "replay"]


def make_frames(seed, n_videos=24):
    """Frame-level (scores, labels, pai, video) of random videos, frames shuffled."""
    g = torch.Generator().manual_seed(seed)
    rows = []
    for v in range(n_videos):
        label = v % 2  # both classes present
        pai = int(torch.randint(1, len(NAMES), (1,), generator=g)) if label else 0
        n_frames = int(torch.randint(1, 6, (1,), generator=g))
        base = float(torch.randn(1, generator=g)) + 1.2 * label
        for _ in range(n_frames):
            score = round(base + 0.3 * float(torch.randn(1, generator=g)), 2)
            rows.append((score, label, pai, 100 + 7 * v))
    order = torch.randperm(len(rows), generator=g).tolist()
    rows = [rows[i] for i in order]
    return (
        torch.tensor([r[0] for r in rows], dtype=torch.float32),
        torch.tensor([r[1] for r in rows]),
        torch.tensor([r[2] for r in rows]),
        torch.tensor([r[3] for r in rows]),
    )


def batches(frames, size=7):
    n = frames[0].numel()
    for start in range(0, n, size):
        yield tuple(t[start : start + size] for t in frames)


def filled(frames, **kwargs):
    metric = PADMetrics(NAMES, **kwargs)
    for batch in batches(frames):
        metric.update(*batch)
    return metric


def assert_same_values(computed, expected):
    assert list(computed) == list(expected)
    for key, value in expected.items():
        assert computed[key].ndim == 0 and computed[key].dtype == torch.float64, key
        assert computed[key].item() == pytest.approx(value, rel=1e-12, abs=1e-15), key


def test_class_settings():
    metric = PADMetrics(NAMES)
    assert metric.full_state_update is False
    assert metric.higher_is_better is None
    assert metric.video_level is True
    assert metric.threshold is None


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_compute_matches_functional_at_video_level(seed):
    frames = make_frames(seed)
    metric = filled(frames)
    expected = pad_report(*aggregate_by_video(*frames), None, NAMES).to_dict()
    assert_same_values(metric.compute(), expected)
    # Video level really aggregates: fewer presentations than frames.
    scores, labels, pai = metric.scores()
    assert scores.numel() == len(set(frames[3].tolist())) < frames[0].numel()
    ref_scores, ref_labels, ref_pai = aggregate_by_video(*frames)
    assert scores.tolist() == pytest.approx(ref_scores.tolist())
    assert torch.equal(labels, ref_labels) and torch.equal(pai, ref_pai)


def test_frame_level_needs_no_video():
    frames = make_frames(3)
    metric = PADMetrics(NAMES, video_level=False)
    for scores, labels, pai, _ in batches(frames):
        metric.update(scores, labels, pai)
    expected = pad_report(frames[0], frames[1], frames[2], None, NAMES).to_dict()
    assert_same_values(metric.compute(), expected)
    scores, labels, pai = metric.scores()
    assert torch.equal(scores, frames[0].double())
    assert torch.equal(labels, frames[1]) and torch.equal(pai, frames[2])


def test_video_required_at_video_level():
    with pytest.raises(MetricInputError, match="video id"):
        PADMetrics(NAMES).update(torch.rand(3), torch.tensor([0, 1, 1]), torch.tensor([0, 1, 2]))


def test_fixed_threshold_versus_eer():
    frames = make_frames(4)
    metric = filled(frames, threshold=0.3)
    own = pad_report(*aggregate_by_video(*frames), None, NAMES)
    assert metric.report().threshold == 0.3
    assert metric.compute()["threshold"].item() == 0.3
    assert metric.report(threshold=0.7).threshold == 0.7
    at_eer = metric.report(threshold="eer")
    assert at_eer.threshold == own.eer_threshold == at_eer.eer_threshold
    assert at_eer == own

    # Changing the threshold invalidates the cached compute() value.
    metric.threshold = None
    assert metric.compute()["threshold"].item() == own.eer_threshold
    metric.threshold = own.eer_threshold + 10.0  # everything bona fide
    values = metric.compute()
    assert values["apcer_pooled"].item() == 1.0 and values["bpcer"].item() == 0.0
    with pytest.raises(MetricInputError, match="NaN"):
        metric.threshold = math.nan
    with pytest.raises(MetricInputError, match="'eer'"):
        metric.report(threshold="best")


def test_prefix_is_prepended_to_compute_keys():
    frames = make_frames(13)
    plain = filled(frames).compute()
    prefixed = filled(frames, prefix="val/").compute()
    assert list(prefixed) == [f"val/{key}" for key in plain]


def test_choose_threshold_on_dev_then_apply_to_test():
    dev, test = make_frames(5), make_frames(6)
    dev_metric, test_metric = filled(dev), filled(test)
    threshold = dev_metric.choose_threshold("bpcer", 0.1)
    dev_scores, dev_labels, _ = aggregate_by_video(*dev)
    assert threshold == choose_threshold(dev_scores, dev_labels, "bpcer", 0.1)
    test_metric.threshold = threshold
    expected = pad_report(*aggregate_by_video(*test), threshold, NAMES)
    assert test_metric.report() == expected


@pytest.mark.parametrize("seed", range(4))
def test_apcer_threshold_is_at_the_worst_species_unless_pooled(seed):
    frames = make_frames(20 + seed, n_videos=40)
    metric = filled(frames)
    scores, labels, pai = aggregate_by_video(*frames)
    worst = metric.choose_threshold("apcer", 0.2)
    pooled = metric.choose_threshold("apcer", 0.2, pooled=True)
    assert worst == choose_threshold(scores, labels, "apcer", 0.2, pai=pai)
    assert pooled == choose_threshold(scores, labels, "apcer", 0.2)
    # Independently: at the worst-species threshold every species misses <= 20 %.
    for species in (1, 2):
        attacks = scores[pai == species]
        if attacks.numel():
            assert float((attacks < worst).double().mean()) <= 0.2
    assert worst <= pooled  # a stricter constraint never allows a higher threshold


def test_forward_only_updates():
    frames = make_frames(7)
    metric = PADMetrics(NAMES)
    for batch in batches(frames, size=3):
        assert metric(*batch) is None
    expected = {k: v.item() for k, v in filled(frames).compute().items()}
    assert_same_values(metric.compute(), expected)


def test_reset_clears_data_but_keeps_threshold():
    frames = make_frames(8)
    metric = filled(frames, threshold=0.25)
    metric.compute()
    metric.reset()
    assert metric.threshold == 0.25
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torchmetrics warns about compute before update
        with pytest.raises(MetricInputError, match="no scores"):
            metric.compute()
    with pytest.raises(MetricInputError, match="no scores"):
        metric.scores()
    other = make_frames(9)
    for batch in batches(other):
        metric.update(*batch)
    expected = pad_report(*aggregate_by_video(*other), 0.25, NAMES).to_dict()
    assert_same_values(metric.compute(), expected)


def test_missing_class_raises_on_compute():
    metric = PADMetrics(NAMES)
    metric.update(
        torch.rand(4), torch.ones(4, dtype=torch.long), torch.tensor([1, 2, 1, 2]), torch.arange(4)
    )
    with pytest.raises(MetricInputError, match="no bona fide"):
        metric.compute()


def test_video_with_mixed_labels_across_batches_raises():
    metric = PADMetrics(NAMES)
    metric.update(
        torch.tensor([0.1, 0.9]), torch.tensor([0, 1]), torch.tensor([0, 1]), torch.tensor([0, 1])
    )
    metric.update(torch.tensor([0.2]), torch.tensor([1]), torch.tensor([2]), torch.tensor([0]))
    with pytest.raises(MetricInputError, match=r"disagree on their label.*\[0\]"):
        metric.compute()


@pytest.mark.parametrize(
    ("scores", "labels", "pai", "match"),
    [
        ([0.1, 0.2], [0, 1, 1], [0, 1, 1], "equal lengths"),
        ([0.1, math.nan, 0.3], [0, 1, 1], [0, 1, 1], "NaN or infinite"),
        ([0.1, math.inf, 0.3], [0, 1, 1], [0, 1, 1], "NaN or infinite"),
        ([0.1, 0.2, 0.3], [0, 1, 2], [0, 1, 1], "0 \\(bona fide\\) or 1"),
        ([0.1, 0.2, 0.3], [0, 1, 1], [0, 1, 3], "species id 3"),
        ([0.1, 0.2, 0.3], [0, 1, 1], [1, 1, 1], "labels and pai disagree"),
    ],
)
def test_update_validates_inputs(scores, labels, pai, match):
    metric = PADMetrics(NAMES)
    with pytest.raises(MetricInputError, match=match):
        metric.update(
            torch.tensor(scores), torch.tensor(labels), torch.tensor(pai), torch.arange(3)
        )
    assert metric.frame_scores == []  # nothing was stored


def test_invalid_construction_raises():
    with pytest.raises(MetricInputError, match="at least one attack species"):
        PADMetrics(["live"])
    with pytest.raises(MetricInputError, match="NaN"):
        PADMetrics(NAMES, threshold=math.nan)


def _split_by_video(frames, videos_a):
    in_a = torch.isin(frames[3], torch.tensor(videos_a))
    return tuple(t[in_a] for t in frames), tuple(t[~in_a] for t in frames)


def test_merge_state_concatenates():
    frames = make_frames(10)
    videos = sorted(set(frames[3].tolist()))
    part_a, part_b = _split_by_video(frames, videos[::3])
    # One video's frames go to both parts: aggregation must still see all of its frames.
    shared = videos[1]
    first = (part_b[3] == shared).nonzero()[0, 0]
    part_a = tuple(
        torch.cat([a, b[first : first + 1]]) for a, b in zip(part_a, part_b, strict=True)
    )
    keep = torch.ones_like(part_b[3], dtype=torch.bool)
    keep[first] = False
    part_b = tuple(t[keep] for t in part_b)

    metric_a, metric_b = filled(part_a), filled(part_b)
    metric_a.merge_state(metric_b)
    expected = pad_report(*aggregate_by_video(*frames), None, NAMES).to_dict()
    assert_same_values(metric_a.compute(), expected)


def _fake_gather(metric, remote):
    """A dist_sync_fn simulating a second rank that holds ``remote``'s states."""
    names = iter(list(metric.metric_state))  # states are gathered in this order
    remote_states = {
        name: torch.cat(state) if state else torch.zeros(0)
        for name, state in remote.metric_state.items()
    }

    def gather(tensor, group=None):
        return [tensor, remote_states[next(names)]]

    return gather


def test_simulated_distributed_sync_concatenates_states():
    frames = make_frames(11)
    videos = sorted(set(frames[3].tolist()))
    part_a, part_b = _split_by_video(frames, videos[: len(videos) // 2])
    remote = filled(part_b)
    local = filled(part_a, distributed_available_fn=lambda: True)
    local.dist_sync_fn = _fake_gather(local, remote)
    expected = pad_report(*aggregate_by_video(*frames), None, NAMES).to_dict()
    assert_same_values(local.compute(), expected)
    # After compute the local (un-synced) states are restored and can keep accumulating.
    assert torch.equal(torch.cat(local.frame_scores), part_a[0].double())

    local.dist_sync_fn = _fake_gather(local, remote)
    scores, _, _ = local.scores()
    assert scores.numel() == len(videos)


def test_simulated_sync_with_an_empty_rank():
    frames = make_frames(12)
    remote = filled(frames)
    local = PADMetrics(NAMES, distributed_available_fn=lambda: True)
    local.dist_sync_fn = _fake_gather(local, remote)
    report = local.report()
    assert report == pad_report(*aggregate_by_video(*frames), None, NAMES)


@pytest.mark.parametrize("method", ["compute", "report"])
def test_local_states_restored_when_synced_data_is_invalid(method):
    frames = make_frames(14)
    attacks_only = tuple(t[frames[1] == 1] for t in frames)
    remote = filled(attacks_only)
    local = filled(attacks_only, distributed_available_fn=lambda: True)
    local.dist_sync_fn = _fake_gather(local, remote)
    n_local = len(local.frame_scores)
    with pytest.raises(MetricInputError, match="no bona fide"):
        getattr(local, method)()
    assert not local._is_synced
    assert isinstance(local.frame_scores, list) and len(local.frame_scores) == n_local
