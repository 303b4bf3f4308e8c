"""Tests of mtfas.metrics.functional against an independent brute-force reference.

The reference below uses plain Python loops over candidate thresholds and over all
(attack, bona fide) pairs, with exact fractions, and shares no code with the library.
"""

from __future__ import annotations

import itertools
import math
import random
from fractions import Fraction

import numpy as np
import pytest
import torch

from mtfas.errors import MetricInputError
from mtfas.metrics import functional as F

# --------------------------------------------------------------------------------------
# Brute-force reference (attack iff score >= t)
# --------------------------------------------------------------------------------------


def ref_rates(scores, labels, t):
    """Exact (pooled APCER, BPCER) at threshold t."""
    attacks = [s for s, y in zip(scores, labels, strict=True) if y == 1]
    bona = [s for s, y in zip(scores, labels, strict=True) if y == 0]
    apcer = Fraction(sum(1 for s in attacks if s < t), len(attacks))
    bpcer = Fraction(sum(1 for s in bona if s >= t), len(bona))
    return apcer, bpcer


def ref_candidates(scores):
    distinct = sorted(set(scores))
    return [*distinct, math.nextafter(distinct[-1], math.inf)]


def ref_eer(scores, labels):
    """Min |APCER - BPCER|; ties -> lowest threshold."""
    best = None
    for t in ref_candidates(scores):
        a, b = ref_rates(scores, labels, t)
        key = (abs(a - b), t)
        if best is None or key < best[0]:
            best = (key, (a + b) / 2, t)
    return best[1], best[2]


def ref_auc(scores, labels):
    attacks = [s for s, y in zip(scores, labels, strict=True) if y == 1]
    bona = [s for s, y in zip(scores, labels, strict=True) if y == 0]
    total = Fraction(0)
    for a in attacks:
        for b in bona:
            total += 1 if a > b else Fraction(1, 2) if a == b else 0
    return total / (len(attacks) * len(bona))


def ref_threshold_at_apcer(scores, labels, target):
    """Lowest BPCER with APCER <= target; ties -> lowest APCER, then lowest threshold."""
    feasible = []
    for t in ref_candidates(scores):
        a, b = ref_rates(scores, labels, t)
        if a <= Fraction(str(target)):  # targets are decimals: 0.3 means 3/10
            feasible.append((b, a, t))
    b, _, t = min(feasible)
    return b, t


def ref_threshold_at_bpcer(scores, labels, target):
    """Lowest APCER with BPCER <= target; ties -> lowest BPCER, then lowest threshold."""
    feasible = []
    for t in ref_candidates(scores):
        a, b = ref_rates(scores, labels, t)
        if b <= Fraction(str(target)):
            feasible.append((a, b, t))
    return min(feasible)[2]


def ref_threshold_at_worst_apcer(scores, labels, pai, target):
    """Lowest BPCER with every species' APCER <= target; ties -> lowest worst APCER, then t."""
    feasible = []
    for t in ref_candidates(scores):
        worst = max(ref_species(scores, labels, pai, t).values())
        b = ref_rates(scores, labels, t)[1]
        if worst <= Fraction(str(target)):
            feasible.append((b, worst, t))
    b, _, t = min(feasible)
    return b, t


def ref_species(scores, labels, pai, t):
    missed: dict[int, int] = {}
    total: dict[int, int] = {}
    for s, y, p in zip(scores, labels, pai, strict=True):
        if y == 1:
            total[p] = total.get(p, 0) + 1
            missed[p] = missed.get(p, 0) + (s < t)
    return {p: Fraction(missed[p], total[p]) for p in sorted(total)}


# --------------------------------------------------------------------------------------
# Data
# --------------------------------------------------------------------------------------

KINDS = ("random", "tied", "coarse")
SEEDS = range(10)
CASES = [(kind, seed) for kind in KINDS for seed in SEEDS]
N_SPECIES = 3  # attack species 1..3
NAMES = ["live", "print", "replay", "mask"]


def make_set(kind, seed):
    """Random set: 'tied' rounds to 1 decimal, 'coarse' to integers (very heavy ties)."""
    rng = random.Random(f"{kind}-{seed}")
    n_bona, n_attack = rng.randint(1, 25), rng.randint(1, 25)
    labels = [0] * n_bona + [1] * n_attack
    rng.shuffle(labels)
    scores, pai = [], []
    for y in labels:
        s = rng.gauss(0.8 * y, 1.0)
        if kind == "tied":
            s = round(s, 1)
        elif kind == "coarse":
            s = float(round(s))
        scores.append(s)
        pai.append(rng.randint(1, N_SPECIES) if y == 1 else 0)
    return scores, labels, pai


def tensors(scores, labels, pai=None):
    out = [torch.tensor(scores, dtype=torch.float64), torch.tensor(labels, dtype=torch.int64)]
    if pai is not None:
        out.append(torch.tensor(pai, dtype=torch.int64))
    return out


def thresholds_to_probe(scores):
    """Candidate thresholds, midpoints between them, and values outside the range."""
    cands = ref_candidates(scores)
    mids = [(a + b) / 2 for a, b in itertools.pairwise(cands)]
    return [*cands, *mids, min(scores) - 1.0, max(scores) + 1.0, -math.inf, math.inf]


def approx(value):
    return pytest.approx(float(value), rel=1e-12, abs=1e-15)


# Degenerate sets: (scores, labels, pai)
DEGENERATE = {
    "one_species": ([0.1, 0.4, 0.35, 0.8, 0.3, 0.9], [0, 0, 1, 1, 1, 0], [0, 0, 1, 1, 1, 0]),
    "all_equal": ([0.5] * 6, [0, 1, 0, 1, 1, 0], [0, 2, 0, 1, 2, 0]),
    "perfect": ([0.1, 0.2, 0.3, 0.7, 0.8, 0.95], [0, 0, 0, 1, 1, 1], [0, 0, 0, 1, 2, 3]),
    "inverted": ([0.7, 0.8, 0.95, 0.1, 0.2, 0.3], [0, 0, 0, 1, 1, 1], [0, 0, 0, 1, 2, 3]),
    "one_each": ([0.3, 0.2], [0, 1], [0, 3]),
}
ALL_SETS = [make_set(kind, seed) for kind, seed in CASES] + list(DEGENERATE.values())
ALL_IDS = [f"{kind}-{seed}" for kind, seed in CASES] + list(DEGENERATE)


# --------------------------------------------------------------------------------------
# Against the reference
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("data", ALL_SETS, ids=ALL_IDS)
def test_error_rates_at_matches_reference(data):
    scores, labels, _ = data
    s, y = tensors(scores, labels)
    for t in thresholds_to_probe(scores):
        apcer, bpcer = F.error_rates_at(s, y, t)
        ref_a, ref_b = ref_rates(scores, labels, t)
        assert (apcer, bpcer) == (float(ref_a), float(ref_b)), t


@pytest.mark.parametrize("data", ALL_SETS, ids=ALL_IDS)
def test_roc_matches_reference(data):
    scores, labels, _ = data
    curve = F.roc(*tensors(scores, labels))
    cands = ref_candidates(scores)
    assert curve.thresholds.dtype == torch.float64
    assert curve.thresholds.tolist() == cands
    expected = [ref_rates(scores, labels, t) for t in cands]
    assert curve.apcer.tolist() == [float(a) for a, _ in expected]
    assert curve.bpcer.tolist() == [float(b) for _, b in expected]
    assert curve.apcer[0] == 0 and curve.apcer[-1] == 1
    assert curve.bpcer[0] == 1 and curve.bpcer[-1] == 0


@pytest.mark.parametrize("data", ALL_SETS, ids=ALL_IDS)
def test_eer_matches_reference(data):
    scores, labels, _ = data
    value, threshold = F.eer(*tensors(scores, labels))
    ref_value, ref_threshold = ref_eer(scores, labels)
    assert threshold == ref_threshold
    assert value == approx(ref_value)
    chosen = F.choose_threshold(*tensors(scores, labels), method="eer", placement="score")
    assert chosen == ref_threshold


@pytest.mark.parametrize("data", ALL_SETS, ids=ALL_IDS)
def test_auc_matches_reference(data):
    scores, labels, _ = data
    assert F.auc(*tensors(scores, labels)) == approx(ref_auc(scores, labels))


@pytest.mark.parametrize("data", ALL_SETS, ids=ALL_IDS)
@pytest.mark.parametrize("target", [0.0, 0.01, 0.05, 0.1, 0.3, 1.0])
def test_operating_points_match_reference(data, target):
    scores, labels, _ = data
    s, y = tensors(scores, labels)
    ref_bpcer, ref_t_apcer = ref_threshold_at_apcer(scores, labels, target)
    assert F.bpcer_at_apcer(s, y, target) == float(ref_bpcer)
    assert F.choose_threshold(s, y, "apcer", target, placement="score") == ref_t_apcer
    ref_t_bpcer = ref_threshold_at_bpcer(scores, labels, target)
    assert F.choose_threshold(s, y, "bpcer", target, placement="score") == ref_t_bpcer


@pytest.mark.parametrize("data", ALL_SETS, ids=ALL_IDS)
@pytest.mark.parametrize("target", [0.0, 0.01, 0.05, 0.1, 0.3, 0.5, 1.0])
def test_worst_species_operating_point_matches_reference(data, target):
    scores, labels, pai = data
    s, y, p = tensors(scores, labels, pai)
    ref_bpcer, ref_t = ref_threshold_at_worst_apcer(scores, labels, pai, target)
    assert F.bpcer_at_apcer(s, y, target, pai=p) == float(ref_bpcer)
    assert F.choose_threshold(s, y, "apcer", target, placement="score", pai=p) == ref_t
    # The midpoint placement keeps the operating point's rates (worst APCER and BPCER).
    mid = F.choose_threshold(s, y, "apcer", target, pai=p)
    assert ref_species(scores, labels, pai, mid) == ref_species(scores, labels, pai, ref_t)
    assert ref_rates(scores, labels, mid) == ref_rates(scores, labels, ref_t)


@pytest.mark.parametrize("data", ALL_SETS, ids=ALL_IDS)
def test_apcer_per_species_matches_reference(data):
    scores, labels, pai = data
    s, y, p = tensors(scores, labels, pai)
    for t in thresholds_to_probe(scores):
        expected = {k: float(v) for k, v in ref_species(scores, labels, pai, t).items()}
        assert F.apcer_per_species(s, y, p, t) == expected


@pytest.mark.parametrize("data", ALL_SETS, ids=ALL_IDS)
@pytest.mark.parametrize("at_eer", [True, False])
def test_pad_report_matches_reference(data, at_eer):
    scores, labels, pai = data
    ref_eer_value, ref_eer_t = ref_eer(scores, labels)
    t = ref_eer_t if at_eer else sorted(scores)[len(scores) // 2]
    report = F.pad_report(*tensors(scores, labels, pai), None if at_eer else t, NAMES)

    species = ref_species(scores, labels, pai, t)
    worst_id = max(species, key=lambda k: (species[k], -k))  # ties: first listed species
    pooled, bpcer = ref_rates(scores, labels, t)
    assert report.threshold == t
    assert report.apcer_per_species == {NAMES[k]: float(v) for k, v in species.items()}
    assert report.worst_species == NAMES[worst_id]
    assert report.apcer == float(species[worst_id])
    assert report.apcer_pooled == float(pooled)
    assert report.bpcer == float(bpcer)
    assert report.acer == approx((species[worst_id] + bpcer) / 2)
    assert report.hter == approx((pooled + bpcer) / 2)
    assert report.eer == approx(ref_eer_value)
    assert report.eer_threshold == ref_eer_t
    assert report.auc == approx(ref_auc(scores, labels))
    for target in F.DEFAULT_APCER_TARGETS:
        assert report.bpcer_at_apcer[target] == float(
            ref_threshold_at_worst_apcer(scores, labels, pai, target)[0]
        )
        assert report.bpcer_at_apcer_pooled[target] == float(
            ref_threshold_at_apcer(scores, labels, target)[0]
        )
    assert report.n_bona_fide == labels.count(0)
    assert report.n_attack == {NAMES[k]: pai.count(k) for k in range(1, len(NAMES))}


def test_float32_scores_use_their_exact_values():
    scores, labels, _ = make_set("random", 99)
    s32 = torch.tensor(scores, dtype=torch.float32)
    as_floats = s32.tolist()  # exact float64 values of the float32 scores
    y = torch.tensor(labels)
    assert F.eer(s32, y) == (approx(ref_eer(as_floats, labels)[0]), ref_eer(as_floats, labels)[1])
    assert F.roc(s32, y).thresholds.tolist() == ref_candidates(as_floats)


def test_accepts_python_lists():
    assert F.eer([0.1, 0.9, 0.2, 0.8], [0, 1, 0, 1]) == (0.0, 0.8)


# --------------------------------------------------------------------------------------
# Hand-checked examples
# --------------------------------------------------------------------------------------

# bona fide: 0.1, 0.3, 0.6; print: 0.3, 0.5; replay: 0.6, 0.9.
HAND_SCORES = [0.1, 0.3, 0.6, 0.3, 0.5, 0.6, 0.9]
HAND_LABELS = [0, 0, 0, 1, 1, 1, 1]
HAND_PAI = [0, 0, 0, 1, 1, 2, 2]
# Candidates and (APCER, BPCER):
#   0.1 (0, 1)  0.3 (0, 2/3)  0.5 (1/4, 1/3)  0.6 (2/4, 1/3)  0.9 (3/4, 0)  next(0.9) (1, 0)
# |APCER - BPCER| = 1, 2/3, 1/12, 1/6, 3/4, 1  -> EER threshold 0.5, EER = (1/4 + 1/3) / 2.


def test_hand_example_eer_and_auc():
    s, y = tensors(HAND_SCORES, HAND_LABELS)
    value, threshold = F.eer(s, y)
    assert threshold == 0.5
    assert value == pytest.approx(7 / 24)
    # Pairs (attack vs 0.1, 0.3, 0.6): 0.3 -> 1 + 1/2 + 0; 0.5 -> 2; 0.6 -> 2 + 1/2; 0.9 -> 3.
    assert F.auc(s, y) == pytest.approx(9 / 12)


def test_hand_example_operating_points():
    s, y = tensors(HAND_SCORES, HAND_LABELS)
    # APCER <= 1/4 at 0.1, 0.3, 0.5 -> smallest BPCER 1/3 (at 0.5).
    assert F.bpcer_at_apcer(s, y, 0.25) == pytest.approx(1 / 3)
    # APCER <= 1% only at 0.1 and 0.3 -> BPCER 2/3.
    assert F.bpcer_at_apcer(s, y, 0.01) == pytest.approx(2 / 3)
    # APCER <= 1/2: BPCER 1/3 at both 0.5 and 0.6 -> tie to the lower APCER: 0.5.
    assert F.choose_threshold(s, y, method="apcer", target=0.5, placement="score") == 0.5
    # BPCER <= 0.34 at 0.5, 0.6, 0.9, next -> lowest APCER 1/4 at 0.5.
    assert F.choose_threshold(s, y, method="bpcer", target=0.34, placement="score") == 0.5
    # BPCER <= 0 at 0.9 and next(0.9) -> lowest APCER 3/4 at 0.9.
    assert F.choose_threshold(s, y, method="bpcer", target=0.0, placement="score") == 0.9


def test_hand_example_report():
    report = F.pad_report(*tensors(HAND_SCORES, HAND_LABELS, HAND_PAI), 0.5, NAMES[:3])
    # At 0.5: print 0.3 missed -> 1/2; replay none missed -> 0; pooled 1/4; BPCER 1/3 (0.6).
    assert report.apcer_per_species == {"print": 0.5, "replay": 0.0}
    assert report.worst_species == "print"
    assert report.apcer == 0.5
    assert report.apcer_pooled == 0.25
    assert report.bpcer == pytest.approx(1 / 3)
    assert report.acer == pytest.approx((1 / 2 + 1 / 3) / 2)
    assert report.hter == pytest.approx((1 / 4 + 1 / 3) / 2)
    assert report.n_bona_fide == 3
    assert report.n_attack == {"print": 2, "replay": 2}


def test_eer_tie_goes_to_lower_threshold():
    # bona fide 0.1, 0.3; attack 0.2.  0.1 (0, 1)  0.2 (0, 1/2)  0.3 (1, 1/2)  next (1, 0):
    # |diff| 1, 1/2, 1/2, 1 -> tie between 0.2 and 0.3; the lower (APCER <= BPCER) wins.
    value, threshold = F.eer(*tensors([0.1, 0.3, 0.2], [0, 0, 1]))
    assert threshold == 0.2
    assert value == 0.25


def test_degenerate_values():
    for name, expected_eer, expected_t, expected_auc in [
        ("all_equal", 0.5, 0.5, 0.5),  # (0, 1) at 0.5 ties (1, 0) at next(0.5) -> 0.5
        ("perfect", 0.0, 0.7, 1.0),  # lowest attack score separates perfectly
        ("inverted", 1.0, 0.7, 0.0),  # at 0.7 APCER = BPCER = 1
    ]:
        scores, labels, _ = DEGENERATE[name]
        s, y = tensors(scores, labels)
        assert F.eer(s, y) == (expected_eer, expected_t), name
        assert F.auc(s, y) == expected_auc, name
    s, y = tensors(*DEGENERATE["all_equal"][:2])
    assert F.roc(s, y).thresholds.tolist() == [0.5, math.nextafter(0.5, math.inf)]
    assert F.bpcer_at_apcer(s, y, 0.05) == 1.0
    assert F.error_rates_at(s, y, math.nextafter(0.5, math.inf)) == (1.0, 0.0)


def test_one_species_report_has_iso_equal_pooled():
    report = F.pad_report(*tensors(*DEGENERATE["one_species"]), None, ["live", "print"])
    assert report.apcer == report.apcer_pooled
    assert report.acer == report.hter
    assert list(report.apcer_per_species) == ["print"]


def test_worst_species_tie_goes_to_first_listed():
    # Both species fully missed at threshold 1.0 -> tie -> "print" (id 1) is listed first.
    report = F.pad_report(*tensors([0.0, 0.2, 0.3], [0, 1, 1], [0, 2, 1]), 1.0, NAMES[:3])
    assert report.apcer_per_species == {"print": 1.0, "replay": 1.0}
    assert report.worst_species == "print"


# --------------------------------------------------------------------------------------
# Species listed but absent from the data
# --------------------------------------------------------------------------------------


def test_absent_species_skipped_and_counted_zero():
    scores, labels, pai = [0.1, 0.2, 0.7, 0.8], [0, 0, 1, 1], [0, 0, 1, 3]
    report = F.pad_report(*tensors(scores, labels, pai), 0.75, NAMES)
    assert report.apcer_per_species == {"print": 1.0, "mask": 0.0}
    assert report.n_attack == {"print": 1, "replay": 0, "mask": 1}
    values = report.to_dict()
    assert "apcer/replay" not in values
    assert all(math.isfinite(v) for v in values.values())
    assert F.apcer_per_species(*tensors(scores, labels, pai), 0.75) == {1: 1.0, 3: 0.0}


# --------------------------------------------------------------------------------------
# Per-video aggregation
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("id_offset", [0, -1000, 10**12])  # small ids, negative, huge
def test_aggregate_by_video_means_frames(id_offset):
    rng = random.Random(3)
    ids = [v + id_offset for v in [7, 2, 11, 5, 40]]
    videos = {v: (rng.randint(0, 1), rng.randint(1, 6)) for v in ids}
    frames = []
    for v, (label, n_frames) in videos.items():
        pai = rng.randint(1, 3) if label else 0
        frames += [(rng.random(), label, pai, v) for _ in range(n_frames)]
    rng.shuffle(frames)
    scores, labels, pai, video = map(list, zip(*frames, strict=True))
    out_s, out_y, out_p = F.aggregate_by_video(
        *tensors(scores, labels, pai), torch.tensor(video, dtype=torch.int64)
    )
    expected = []
    for v in sorted(videos):
        rows = [f for f in frames if f[3] == v]
        expected.append((sum(r[0] for r in rows) / len(rows), rows[0][1], rows[0][2]))
    assert out_s.dtype == torch.float64 and out_y.dtype == out_p.dtype == torch.int64
    assert out_s.tolist() == pytest.approx([e[0] for e in expected], rel=1e-12)
    assert out_y.tolist() == [e[1] for e in expected]
    assert out_p.tolist() == [e[2] for e in expected]


@pytest.mark.parametrize("field", ["label", "pai"])
def test_aggregate_by_video_rejects_inconsistent_frames(field):
    labels = [0, 0, 1, 1, 1]
    pai = [0, 0, 1, 1, 1]
    if field == "label":
        labels[1], pai[1] = 1, 1  # video 10 has a bona fide and an attack frame
    else:
        pai[3] = 2  # video 20 mixes species 1 and 2
    video = torch.tensor([10, 10, 20, 20, 20])
    bad_video = 10 if field == "label" else 20
    with pytest.raises(MetricInputError, match=rf"disagree on their {field}.*\[{bad_video}\]"):
        F.aggregate_by_video(*tensors([0.1, 0.2, 0.3, 0.4, 0.5], labels, pai), video)


# --------------------------------------------------------------------------------------
# Invalid input -> MetricInputError, never NaN
# --------------------------------------------------------------------------------------

BINARY_FUNCTIONS = {
    "error_rates_at": lambda s, y: F.error_rates_at(s, y, 0.5),
    "roc": F.roc,
    "eer": F.eer,
    "auc": F.auc,
    "bpcer_at_apcer": lambda s, y: F.bpcer_at_apcer(s, y, 0.05),
    "choose_threshold": lambda s, y: F.choose_threshold(s, y, "bpcer", 0.05),
    "pad_report": lambda s, y: F.pad_report(s, y, y * 1, None, NAMES),
}


@pytest.mark.parametrize("fn", BINARY_FUNCTIONS.values(), ids=BINARY_FUNCTIONS.keys())
@pytest.mark.parametrize("missing", ["attack", "bona fide"])
def test_missing_class_raises(fn, missing):
    labels = [0, 0, 0] if missing == "attack" else [1, 1, 1]
    s, y = tensors([0.1, 0.5, 0.9], labels)
    with pytest.raises(MetricInputError, match=f"no {missing}"):
        fn(s, y)


@pytest.mark.parametrize("fn", BINARY_FUNCTIONS.values(), ids=BINARY_FUNCTIONS.keys())
def test_empty_input_raises(fn):
    with pytest.raises(MetricInputError):
        fn(torch.zeros(0, dtype=torch.float64), torch.zeros(0, dtype=torch.int64))


@pytest.mark.parametrize("fn", BINARY_FUNCTIONS.values(), ids=BINARY_FUNCTIONS.keys())
@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_non_finite_scores_raise(fn, bad):
    s, y = tensors([0.1, bad, 0.9, 0.3], [0, 1, 1, 0])
    with pytest.raises(MetricInputError, match=r"NaN or infinite.*\[1\]"):
        fn(s, y)


def test_bad_labels_and_species_ids_are_named_with_values_and_indices():
    from mtfas.metrics._checks import as_labels, as_pai

    with pytest.raises(
        MetricInputError,
        match=r"must be 0 \(bona fide\) or 1 \(attack\), found values \[2, 3\] at indices \[1, 3\]",
    ):
        as_labels([0, 2, 1, 3])
    with pytest.raises(
        MetricInputError,
        match=r"pai species ids must be >= 0 \(0 = live\), found values \[-2\] at indices \[2\]",
    ):
        as_pai([0, 1, -2])
    assert as_pai([0, 3]).tolist() == [0, 3] and as_labels([1, 0]).dtype == torch.int64


def test_aggregate_rejects_non_finite_scores():
    s, y, p = tensors([0.1, math.nan], [0, 0], [0, 0])
    with pytest.raises(MetricInputError, match="NaN"):
        F.aggregate_by_video(s, y, p, torch.tensor([0, 0]))


@pytest.mark.parametrize(
    ("scores", "labels", "match"),
    [
        (torch.zeros(4, dtype=torch.float64), torch.tensor([0, 1, 0]), "equal lengths"),
        (torch.zeros(2, 2), torch.tensor([[0, 1], [0, 1]]), "1-D"),
        (torch.zeros(4), torch.tensor([0.0, 1.0, 0.0, 1.0]), "integer"),
        (torch.zeros(4), torch.tensor([False, True, False, True]), "integer"),
        (torch.zeros(4), torch.tensor([0, 1, 2, 1]), r"0 \(bona fide\) or 1"),
        (torch.tensor([True, False, True, False]), torch.tensor([0, 1, 0, 1]), "boolean"),
    ],
)
def test_invalid_inputs_raise(scores, labels, match):
    with pytest.raises(MetricInputError, match=match):
        F.eer(scores, labels)


def test_invalid_thresholds_and_targets_raise():
    s, y = tensors([0.1, 0.9], [0, 1])
    with pytest.raises(MetricInputError, match="NaN"):
        F.error_rates_at(s, y, math.nan)
    for target in (-0.1, 1.5, math.nan, "5%"):
        with pytest.raises(MetricInputError, match=r"\[0, 1\]"):
            F.bpcer_at_apcer(s, y, target)
    with pytest.raises(MetricInputError, match="unknown threshold method"):
        F.choose_threshold(s, y, method="hter")
    with pytest.raises(MetricInputError, match="takes no target"):
        F.choose_threshold(s, y, method="eer", target=0.1)
    with pytest.raises(MetricInputError, match="needs a target"):
        F.choose_threshold(s, y, method="bpcer")


def test_pai_inconsistent_with_labels_or_names_raises():
    s, y = tensors([0.1, 0.9, 0.5], [0, 1, 1])
    with pytest.raises(MetricInputError, match="labels and pai disagree"):
        F.pad_report(s, y, torch.tensor([0, 0, 1]), None, NAMES)  # attack with pai 0
    with pytest.raises(MetricInputError, match="labels and pai disagree"):
        F.apcer_per_species(s, y, torch.tensor([2, 1, 1]), 0.5)  # bona fide with pai 2
    with pytest.raises(MetricInputError, match="species id 4"):
        F.pad_report(s, y, torch.tensor([0, 4, 1]), None, NAMES)
    with pytest.raises(MetricInputError, match=">= 0"):
        F.pad_report(s, y, torch.tensor([0, -1, 1]), None, NAMES)
    with pytest.raises(MetricInputError, match="at least one attack species"):
        F.pad_report(s, y, torch.tensor([0, 1, 1]), None, ["live"])
    with pytest.raises(MetricInputError, match="no attack"):
        F.apcer_per_species(*tensors([0.1], [0], [0]), 0.5)


@pytest.mark.parametrize("method,target", [("eer", None), ("bpcer", 0.1), ("apcer", 0.1)])
@pytest.mark.parametrize("seed", range(5))
def test_midpoint_threshold_keeps_the_rates_and_sits_in_the_gap(method, target, seed):
    rng = np.random.default_rng(seed)
    s = torch.from_numpy(np.round(rng.normal(size=60), 1))
    y = torch.from_numpy(rng.integers(0, 2, 60))
    y[:2] = torch.tensor([0, 1])
    edge = F.choose_threshold(s, y, method, target, placement="score")
    mid = F.choose_threshold(s, y, method, target)
    assert F.error_rates_at(s, y, mid) == F.error_rates_at(s, y, edge)
    below = s[s < edge]
    if len(below) and edge <= float(s.max()):
        assert float(below.max()) < mid < edge
        assert mid == pytest.approx((float(below.max()) + edge) / 2)
    else:
        assert mid == edge


def test_midpoint_threshold_on_perfectly_separated_scores():
    s = torch.tensor([0.1, 0.2, 0.3, 0.7, 0.8, 0.9], dtype=torch.float64)
    y = torch.tensor([0, 0, 0, 1, 1, 1])
    assert F.choose_threshold(s, y) == pytest.approx(0.5)
    assert F.choose_threshold(s, y, placement="score") == pytest.approx(0.7)


def test_hand_example_worst_species_operating_point_differs_from_pooled():
    s, y, p = tensors(HAND_SCORES, HAND_LABELS, HAND_PAI)
    # Pooled APCER <= 1/4 up to 0.5 (BPCER 1/3); but at 0.5 print misses 1 of 2 (1/2), so
    # every species <= 1/4 only up to 0.3 (print's lowest score): BPCER 2/3.
    assert F.bpcer_at_apcer(s, y, 0.25) == pytest.approx(1 / 3)
    assert F.bpcer_at_apcer(s, y, 0.25, pai=p) == pytest.approx(2 / 3)
    assert F.choose_threshold(s, y, "apcer", 0.25, placement="score", pai=p) == 0.3
    report = F.pad_report(s, y, p, None, NAMES[:3], apcer_targets=[0.25])
    assert report.bpcer_at_apcer == {0.25: pytest.approx(2 / 3)}
    assert report.bpcer_at_apcer_pooled == {0.25: pytest.approx(1 / 3)}
    values = report.to_dict()
    assert values["bpcer@apcer=25%"] == pytest.approx(2 / 3)
    assert values["bpcer@apcer_pooled=25%"] == pytest.approx(1 / 3)


# --------------------------------------------------------------------------------------
# Float-safe threshold placement (randomised, hypothesis-style, against the reference)
# --------------------------------------------------------------------------------------

_MAX = float(np.finfo(np.float64).max)
_TINY = 5e-324  # the smallest subnormal


def _edge_case_scores(rng: random.Random, n: int) -> list[float]:
    """Scores built to stress placement: adjacent floats, ties, huge, tiny, negative."""
    kind = rng.choice(["adjacent", "huge", "tiny", "mixed", "ties"])
    if kind == "adjacent":
        base = rng.choice([1.0, -1.0, 0.0, 1e-300, -3.5, 1e300, 0.1])
        values = [base]
        for _ in range(n - 1):
            step = rng.choice([0, 1, 1, 2])
            value = values[-1]
            for _ in range(step):
                value = float(np.nextafter(value, np.inf))
            values.append(value)
    elif kind == "huge":
        values = [rng.choice([1, -1]) * rng.uniform(0.5, 1.0) * _MAX for _ in range(n)]
        values[rng.randrange(n)] = rng.choice([_MAX, -_MAX, float(np.nextafter(_MAX, 0))])
    elif kind == "tiny":
        values = [rng.choice([1, -1]) * rng.randint(0, 6) * _TINY for _ in range(n)]
    elif kind == "ties":
        values = [float(rng.randint(-2, 2)) for _ in range(n)]
    else:
        pool = [0.0, -0.0, _TINY, -_TINY, 1.0, float(np.nextafter(1.0, 2.0)), -_MAX, _MAX, 1e308]
        values = [rng.choice(pool) if rng.random() < 0.6 else rng.gauss(0, 1) for _ in range(n)]
    rng.shuffle(values)
    return values


def _edge_case_set(seed: int):
    rng = random.Random(f"edge-{seed}")
    n = rng.randint(2, 14)
    scores = _edge_case_scores(rng, n)
    labels = [rng.randint(0, 1) for _ in range(n)]
    labels[:2] = [0, 1]
    pai = [rng.randint(1, N_SPECIES) if y else 0 for y in labels]
    return scores, labels, pai


@pytest.mark.parametrize("seed", range(150))
def test_threshold_placement_keeps_the_candidate_rates(seed):
    scores, labels, pai = _edge_case_set(seed)
    s, y, p = tensors(scores, labels, pai)
    cands = ref_candidates(scores)
    choices = [("eer", None, None)]
    choices += [(m, t, None) for m in ("bpcer", "apcer") for t in (0.0, 0.1, 0.5, 1.0)]
    choices += [("apcer", t, p) for t in (0.0, 0.1, 0.5, 1.0)]
    for method, target, species in choices:
        edge = F.choose_threshold(s, y, method, target, placement="score", pai=species)
        mid = F.choose_threshold(s, y, method, target, pai=species)
        assert edge in cands, (method, target)
        index = cands.index(edge)
        # The returned threshold lies in (previous candidate, edge] and gives its rates.
        if 0 < index < len(cands) - 1:
            assert cands[index - 1] < mid <= edge, (method, target, mid)
            assert math.isfinite(mid)
        else:
            assert mid == edge
        assert ref_rates(scores, labels, mid) == ref_rates(scores, labels, edge), (method, mid)
        assert ref_species(scores, labels, pai, mid) == ref_species(scores, labels, pai, edge)
        assert F.error_rates_at(s, y, mid) == tuple(map(float, ref_rates(scores, labels, edge)))


def test_adjacent_float_scores_keep_the_chosen_rates():
    # The old midpoint 0.5 * (1.0 + 1.0000000000000002) rounded to 1.0: BPCER 1 instead of 0.
    high = math.nextafter(1.0, 2.0)
    s, y = tensors([1.0, high], [0, 1])
    threshold = F.choose_threshold(s, y)
    assert threshold == high
    assert F.error_rates_at(s, y, threshold) == (0.0, 0.0)


@pytest.mark.parametrize("scores", [[1e308, 1.5e308], [-_MAX, _MAX], [_MAX * 0.9, _MAX]])
def test_midpoint_of_huge_scores_does_not_overflow(scores):
    s, y = tensors(scores, [0, 1])
    threshold = F.choose_threshold(s, y)
    assert math.isfinite(threshold) and scores[0] < threshold <= scores[1]
    assert F.error_rates_at(s, y, threshold) == (0.0, 0.0)


def test_midpoint_unchanged_where_it_was_already_safe():
    # Ordinary scores keep the exact value of the plain midpoint (a + b) / 2.
    s, y = tensors([0.1, 0.2, 0.3, 0.7, 0.8, 0.9], [0, 0, 0, 1, 1, 1])
    assert F.choose_threshold(s, y) == 0.5 * (0.3 + 0.7)
