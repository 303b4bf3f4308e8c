"""Presentation-attack-detection metrics (ISO/IEC 30107-3) as pure functions on 1-D tensors.

Conventions (see ``docs/design.md``):

* Higher score = more likely an attack; a presentation is classified as an attack iff
  ``score >= threshold``.
* Labels: ``0`` bona fide, ``1`` attack. ``pai``: species id, ``0`` = live, attacks ``>= 1``.
* APCER(t) = fraction of attacks with ``score < t``; BPCER(t) = fraction of bona fide
  presentations with ``score >= t``. Without a species breakdown APCER is *pooled* over all
  attacks; the ISO APCER is the worst species' APCER (see :func:`pad_report`).
* Candidate thresholds are the distinct scores plus ``nextafter(max, inf)``, at which every
  presentation is bona fide. Everything is computed in ``float64`` from sorted scores and
  cumulative integer counts, so 10^6 scores take about 0.1 s on a CPU.

Tie-break rules (all deterministic, decided on exact integer counts):

* :func:`eer`: the candidate minimising ``|APCER - BPCER|``; when two candidates tie, the
  lower threshold (the one where ``APCER <= BPCER``, favouring attack detection).
* ``choose_threshold(method="bpcer", target=b)``: among candidates with ``BPCER <= b`` the
  lowest APCER; among those, the lowest BPCER (i.e. the highest such threshold).
* ``choose_threshold(method="apcer", target=a)`` and :func:`bpcer_at_apcer`: among candidates
  with ``APCER <= a`` the lowest BPCER; among those, the lowest APCER (i.e. the lowest such
  threshold). The APCER is the worst species' APCER (ISO/IEC 30107-3) when species ids
  (``pai``) are given, else the pooled APCER. :func:`pad_report` reports both.

Threshold placement is float-safe: a threshold returned between two adjacent distinct scores
``a < b`` always lies in ``(a, b]``, so it gives exactly the rates of the candidate ``b`` it
was chosen from; where no float lies strictly between them it is ``b`` itself, and it never
overflows.

Every function raises :class:`mtfas.errors.MetricInputError` on invalid input (non 1-D,
mismatched lengths, NaN or inf scores, labels outside ``{0, 1}``) and when a rate would be
undefined because the set holds no attack or no bona fide presentation; no metric is ever NaN.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal, NamedTuple

import numpy as np
import torch
from torch import Tensor

from mtfas.errors import MetricInputError
from mtfas.metrics._checks import (
    as_labels,
    as_pai,
    as_scores,
    as_video,
    check_pai_matches_labels,
    check_pai_names,
    check_same_length,
    check_target,
    check_threshold,
    require_both_classes,
)
from mtfas.metrics.report import PADReport

DEFAULT_APCER_TARGETS: tuple[float, ...] = (0.01, 0.05, 0.10)
"""APCER operating points at which :func:`pad_report` reports the BPCER (worst-species APCER,
and pooled APCER under its own name)."""

ThresholdMethod = Literal["eer", "bpcer", "apcer"]


class ROCCurve(NamedTuple):
    """Error rates at every candidate threshold, for ROC and DET plots (CPU tensors).

    Attributes:
        thresholds: Candidate thresholds, ascending ``float64``: the distinct scores, then
            ``nextafter(max score, inf)``.
        apcer: Pooled APCER at each threshold (non-decreasing, from 0 to 1).
        bpcer: BPCER at each threshold (non-increasing, from 1 to 0).
    """

    thresholds: Tensor
    apcer: Tensor
    bpcer: Tensor


class _Tally(NamedTuple):
    """Cumulative class counts below every candidate threshold (internal)."""

    thresholds: Tensor  # (K + 1,) float64, ascending
    attack_below: Tensor  # (K + 1,) int64: attacks with score < thresholds[j]
    bona_below: Tensor  # (K + 1,) int64: bona fide with score < thresholds[j]
    attack_counts: Tensor  # (K,) int64: attacks scoring exactly the j-th distinct score
    bona_counts: Tensor  # (K,) int64: bona fide scoring exactly the j-th distinct score
    apcer: Tensor  # (K + 1,) float64 pooled APCER at each candidate
    bpcer: Tensor  # (K + 1,) float64 BPCER at each candidate
    n_bona: int
    n_attack: int

    def rates(self, index: int) -> tuple[float, float]:
        """Return ``(apcer_pooled, bpcer)`` at candidate ``index``."""
        apcer = int(self.attack_below[index]) / self.n_attack
        bpcer = (self.n_bona - int(self.bona_below[index])) / self.n_bona
        return apcer, bpcer


def _binary_inputs(scores: Tensor, labels: Tensor) -> tuple[Tensor, Tensor, int, int]:
    """Validate scores and labels; return them with the class counts."""
    scores = as_scores(scores)
    labels = as_labels(labels)
    check_same_length(scores=scores, labels=labels)
    n_bona, n_attack = require_both_classes(labels)
    return scores, labels, n_bona, n_attack


def _tally(scores: Tensor, labels: Tensor, n_bona: int, n_attack: int) -> _Tally:
    """Count each class below every candidate threshold.

    Each class is sorted on its own (a value-only sort, much faster than an arg-sort), then
    the two sorted runs are merged with a stable arg-sort, which is linear on two runs. The
    cumulative attack and bona fide counts at the last position of every distinct value give
    the counts at or below it. Computed on the CPU in float64 / int64.
    """
    values = scores.cpu().numpy()
    is_attack = (labels == 1).cpu().numpy()
    runs = np.concatenate([np.sort(values[is_attack]), np.sort(values[~is_attack])])
    order = np.argsort(runs, kind="stable")
    merged = runs[order]
    attack_sorted = order < n_attack
    run_end = np.empty(merged.size, dtype=bool)
    run_end[-1] = True
    np.not_equal(merged[1:], merged[:-1], out=run_end[:-1])
    distinct = merged[run_end]
    attack_at_or_below = np.cumsum(attack_sorted)[run_end]
    bona_at_or_below = np.cumsum(~attack_sorted)[run_end]
    with np.errstate(over="ignore"):  # inf only above the largest finite float: still right
        top = np.nextafter(distinct[-1:], np.inf)
    zero = np.zeros(1, dtype=np.int64)
    attack_below = torch.from_numpy(np.concatenate([zero, attack_at_or_below]))
    bona_below = torch.from_numpy(np.concatenate([zero, bona_at_or_below]))
    return _Tally(
        thresholds=torch.from_numpy(np.concatenate([distinct, top])),
        attack_below=attack_below,
        bona_below=bona_below,
        attack_counts=attack_below.diff(),
        bona_counts=bona_below.diff(),
        apcer=attack_below.to(torch.float64) / n_attack,
        bpcer=(n_bona - bona_below).to(torch.float64) / n_bona,
        n_bona=n_bona,
        n_attack=n_attack,
    )


def _eer_index(tally: _Tally) -> int:
    """Index of the EER candidate: min ``|APCER - BPCER|``, ties to the lowest threshold."""
    # |a/na - (nb - b)/nb| scaled by na * nb: exact in int64, so ties are exact.
    gap = tally.attack_below * tally.n_bona - (tally.n_bona - tally.bona_below) * tally.n_attack
    gap = gap.abs()
    return int((gap == gap.min()).nonzero()[0, 0])


def _apcer_target_index(tally: _Tally, target: float) -> int:
    """Index of the lowest-BPCER candidate with pooled APCER <= target (ties: lowest APCER)."""
    feasible = tally.apcer <= target  # a prefix; index 0 (APCER = 0) is always feasible
    return _lowest_with_same_bpcer(tally, int(feasible.sum()) - 1)


def _lowest_with_same_bpcer(tally: _Tally, last: int) -> int:
    """The lowest candidate with the BPCER of candidate ``last`` (the lowest APCER there)."""
    # Same BPCER <=> same number of bona fide below; take the lowest such threshold.
    return int(torch.searchsorted(tally.bona_below, tally.bona_below[last : last + 1]))


def _allowed_misses(n: int, target: float) -> int:
    """The largest ``k`` in ``[0, n]`` with ``k / n`` (float64) ``<= target``."""
    k = min(n, math.floor(target * n))
    while k < n and (k + 1) / n <= target:
        k += 1
    while k > 0 and k / n > target:
        k -= 1
    return k


class _Species(NamedTuple):
    """Every present attack species' scores (internal)."""

    scores: list[np.ndarray]

    @classmethod
    def of(cls, scores: Tensor, labels: Tensor, pai: Tensor) -> _Species:
        attack = (labels == 1).cpu().numpy()
        values = scores.cpu().numpy()[attack]
        ids = pai.cpu().numpy()[attack]
        present: np.ndarray | list[int] = np.flatnonzero(np.bincount(ids)) if ids.size else []
        if len(present) == 1:
            return cls([values])
        return cls([values[ids == s] for s in present])

    def limits(self, targets: Sequence[float]) -> list[float]:
        """Per target, the highest threshold at which every species' APCER is ``<= target``.

        A species of ``n`` attacks may miss ``k`` (:func:`_allowed_misses`): its ``k``
        lowest scores may fall below the threshold, its ``(k + 1)``-th may not, so the
        threshold may be at most that order statistic (one partial sort per species).
        """
        limits = [math.inf] * len(targets)
        for values in self.scores:
            allowed = [_allowed_misses(values.size, t) for t in targets]
            kth = sorted({k for k in allowed if k < values.size})
            if not kth:
                continue
            ordered = np.partition(values, kth)
            for i, k in enumerate(allowed):
                if k < values.size:
                    limits[i] = min(limits[i], float(ordered[k]))
        return limits


def _worst_apcer_target_index(tally: _Tally, limit: float) -> int:
    """Index of the lowest-BPCER candidate with worst-species APCER <= a target.

    Every species' APCER is non-decreasing in the threshold, so the feasible candidates are
    those up to the target's :meth:`_Species.limits` (a prefix holding at least the lowest
    candidate).
    """
    bound = torch.tensor([limit], dtype=torch.float64)
    last = int(torch.searchsorted(tally.thresholds, bound, right=True)) - 1
    return _lowest_with_same_bpcer(tally, max(last, 0))


def _bpcer_target_index(tally: _Tally, target: float) -> int:
    """Index of the lowest-APCER candidate with BPCER <= target (ties: lowest BPCER)."""
    feasible = tally.bpcer <= target  # a suffix; the last candidate (BPCER = 0) is feasible
    first = tally.thresholds.numel() - int(feasible.sum())
    below = tally.attack_below[first : first + 1]
    return int(torch.searchsorted(tally.attack_below, below, right=True)) - 1


def _group(video: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """Return ``(ids, inverse, counts)`` of the distinct video ids, ids ascending.

    Video ids are usually small non-negative indices into a video table: those are grouped
    with a linear-time ``bincount``; other ids fall back to a sort (``torch.unique``).
    """
    if video.numel() == 0 or int(video.min()) < 0 or int(video.max()) > 4 * video.numel() + 1024:
        grouped: tuple[Tensor, Tensor, Tensor] = torch.unique(
            video, sorted=True, return_inverse=True, return_counts=True
        )
        return grouped
    counts = torch.bincount(video)
    present = counts > 0
    position = present.cumsum(0) - 1  # rank of each present id
    return present.nonzero().reshape(-1), position[video], counts[present]


def aggregate_by_video(
    scores: Tensor, labels: Tensor, pai: Tensor, video: Tensor
) -> tuple[Tensor, Tensor, Tensor]:
    """Average frame scores per video.

    Args:
        scores: Frame scores, shape ``(N,)``.
        labels: Frame labels (0 bona fide / 1 attack), shape ``(N,)``.
        pai: Frame species ids, shape ``(N,)``.
        video: Integer video id of each frame, shape ``(N,)``.

    Returns:
        ``(scores, labels, pai)`` with one entry per distinct video, ordered by ascending video
        id: the mean frame score (``float64``), and the video's label and species (``int64``).

    Raises:
        MetricInputError: On invalid inputs, or if the frames of one video disagree on their
            label or species.
    """
    scores = as_scores(scores)
    labels = as_labels(labels)
    pai = as_pai(pai)
    video = as_video(video)
    check_same_length(scores=scores, labels=labels, pai=pai, video=video)
    ids, inverse, counts = _group(video)
    n_videos = ids.numel()
    means = _means(scores, inverse, counts)
    per_video = []
    for name, values in (("label", labels), ("pai", pai)):
        low = torch.zeros(n_videos, dtype=torch.int64, device=values.device)
        low = low.scatter_reduce(0, inverse, values, reduce="amin", include_self=False)
        high = low.scatter_reduce(0, inverse, values, reduce="amax", include_self=False)
        bad = low != high
        if bool(bad.any()):
            shown = ids[bad][:5].tolist()
            raise MetricInputError(
                f"frames of {int(bad.sum())} video(s) disagree on their {name} (video ids "
                f"{shown}); every frame of a video must carry the same label and pai. Check "
                "the dataset's video table, or evaluate at frame level."
            )
        per_video.append(low)
    return means, per_video[0], per_video[1]


def _means(scores: Tensor, inverse: Tensor, counts: Tensor) -> Tensor:
    """Per-group means in float64: each group's frames summed in their order, then divided."""
    sums = torch.zeros(counts.numel(), dtype=torch.float64, device=scores.device)
    sums.index_add_(0, inverse, scores)
    return sums / counts.to(torch.float64)


def video_means(scores: Tensor, video: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """Mean frame score of every video, the one definition used by evaluation and prediction.

    A video's score is the sum of its frame scores in ``float64``, added in the order the
    frames come, divided by its number of frames: exactly the per-video score of
    :func:`aggregate_by_video` (``video_level`` evaluation), of
    :meth:`mtfas.systems.FASSystem.predict_decisions` and of :class:`mtfas.Predictor`, so
    the three decide identically on the same frames.

    Args:
        scores: Frame scores, shape ``(N,)`` (any float dtype; computed in ``float64``).
        video: Integer video id of each frame, shape ``(N,)``.

    Returns:
        ``(ids, means, counts)``: the distinct video ids ascending, their mean score
        (``float64``) and their number of frames.

    Raises:
        MetricInputError: On invalid inputs (non 1-D, mismatched lengths, NaN or inf).
    """
    scores = as_scores(scores)
    video = as_video(video)
    check_same_length(scores=scores, video=video)
    ids, inverse, counts = _group(video)
    return ids, _means(scores, inverse, counts), counts


def error_rates_at(scores: Tensor, labels: Tensor, threshold: float) -> tuple[float, float]:
    """Pooled APCER and BPCER at a threshold.

    Args:
        scores: Attack scores, shape ``(N,)``.
        labels: 0 bona fide / 1 attack, shape ``(N,)``.
        threshold: Attack iff ``score >= threshold``.

    Returns:
        ``(apcer_pooled, bpcer)`` as fractions.

    Raises:
        MetricInputError: On invalid inputs or if either class is absent.
    """
    scores, labels, n_bona, n_attack = _binary_inputs(scores, labels)
    threshold = check_threshold(threshold)
    is_attack = scores >= threshold
    missed = int((~is_attack & (labels == 1)).sum())
    false_alarms = int((is_attack & (labels == 0)).sum())
    return missed / n_attack, false_alarms / n_bona


def _counts_at(
    scores: Tensor, labels: Tensor, pai: Tensor, threshold: float
) -> tuple[int, Tensor, Tensor]:
    """Return false alarms, attacks per species id and missed attacks per species id."""
    missed_mask = scores < threshold
    attack = labels == 1
    false_alarms = int((~missed_mask & ~attack).sum())
    total = torch.bincount(pai[attack])
    missed = torch.bincount(pai[attack & missed_mask], minlength=total.numel())
    return false_alarms, total, missed


def apcer_per_species(
    scores: Tensor, labels: Tensor, pai: Tensor, threshold: float
) -> dict[int, float]:
    """APCER of every attack species present in the data.

    Args:
        scores: Attack scores, shape ``(N,)``.
        labels: 0 bona fide / 1 attack, shape ``(N,)``.
        pai: Species ids (0 for bona fide, ``>= 1`` for attacks), shape ``(N,)``.
        threshold: Attack iff ``score >= threshold``.

    Returns:
        ``{species_id: apcer}`` in ascending species id, for the species that occur. Bona fide
        presentations are not needed and may be absent.

    Raises:
        MetricInputError: On invalid inputs, if labels and pai disagree, or if there is no
            attack presentation.
    """
    scores = as_scores(scores)
    labels = as_labels(labels)
    pai = as_pai(pai)
    check_same_length(scores=scores, labels=labels, pai=pai)
    check_pai_matches_labels(labels, pai)
    threshold = check_threshold(threshold)
    if not bool((labels == 1).any()):
        raise MetricInputError(
            "the scores contain no attack presentation (label 1), so APCER is undefined; "
            "evaluate on a set that holds attacks."
        )
    _, total, missed = _counts_at(scores, labels, pai, threshold)
    return _species_rates(total, missed)


def _species_rates(total: Tensor, missed: Tensor) -> dict[int, float]:
    present = total.nonzero().reshape(-1).tolist()
    return {s: int(missed[s]) / int(total[s]) for s in present}


def roc(scores: Tensor, labels: Tensor) -> ROCCurve:
    """Pooled APCER and BPCER at every candidate threshold (ROC / DET curve).

    Args:
        scores: Attack scores, shape ``(N,)``.
        labels: 0 bona fide / 1 attack, shape ``(N,)``.

    Returns:
        The :class:`ROCCurve`; the attack detection rate is ``1 - apcer``.

    Raises:
        MetricInputError: On invalid inputs or if either class is absent.
    """
    tally = _tally(*_binary_inputs(scores, labels))
    return ROCCurve(tally.thresholds, tally.apcer, tally.bpcer)


def eer(scores: Tensor, labels: Tensor) -> tuple[float, float]:
    """Equal error rate of pooled APCER and BPCER, and its threshold.

    The EER threshold is the candidate threshold minimising ``|APCER - BPCER|``; if two
    candidates tie, the lower threshold (where ``APCER <= BPCER``) is chosen. The EER is
    ``(APCER + BPCER) / 2`` there.

    Args:
        scores: Attack scores, shape ``(N,)``.
        labels: 0 bona fide / 1 attack, shape ``(N,)``.

    Returns:
        ``(eer, threshold)``.

    Raises:
        MetricInputError: On invalid inputs or if either class is absent.
    """
    tally = _tally(*_binary_inputs(scores, labels))
    return _eer_from(tally)


def _eer_from(tally: _Tally) -> tuple[float, float]:
    index = _eer_index(tally)
    apcer, bpcer = tally.rates(index)
    return (apcer + bpcer) / 2, float(tally.thresholds[index])


def auc(scores: Tensor, labels: Tensor) -> float:
    """Area under the ROC curve (Mann-Whitney statistic).

    Probability that a random attack scores higher than a random bona fide presentation,
    ties counting one half.

    Args:
        scores: Attack scores, shape ``(N,)``.
        labels: 0 bona fide / 1 attack, shape ``(N,)``.

    Returns:
        The AUC in ``[0, 1]``.

    Raises:
        MetricInputError: On invalid inputs or if either class is absent.
    """
    return _auc_from(_tally(*_binary_inputs(scores, labels)))


def _auc_from(tally: _Tally) -> float:
    # Pairs (attack, bona fide) with the attack strictly higher, plus half the tied pairs.
    above = (tally.attack_counts * tally.bona_below[:-1]).sum()
    tied = (tally.attack_counts * tally.bona_counts).sum()
    return float(2 * above + tied) / (2.0 * tally.n_attack * tally.n_bona)


def bpcer_at_apcer(
    scores: Tensor, labels: Tensor, target: float, pai: Tensor | None = None
) -> float:
    """Smallest BPCER over candidate thresholds whose APCER is at most ``target``.

    With ``pai`` the APCER is the worst present species' APCER (ISO/IEC 30107-3, as the
    headline APCER of :func:`pad_report`): every species must meet the target. Without it,
    the pooled APCER over all attacks.

    A candidate qualifies when its APCER ``k / n``, correctly rounded to float64, is
    ``<= target``. For decimal targets this is the exact decimal comparison (``0.05`` admits
    ``k / n = 5 / 100``) for any realistic ``n``. The lowest candidate always qualifies (its
    APCER is 0), so the result is always defined. The tie-break of the underlying threshold
    is documented in :func:`choose_threshold`.

    Args:
        scores: Attack scores, shape ``(N,)``.
        labels: 0 bona fide / 1 attack, shape ``(N,)``.
        target: APCER target as a fraction in ``[0, 1]``, e.g. ``0.05``.
        pai: Species ids (0 live, attacks ``>= 1``), shape ``(N,)``; ``None`` pools the
            attacks.

    Returns:
        The BPCER at that operating point.

    Raises:
        MetricInputError: On invalid inputs, a target outside ``[0, 1]``, labels and pai that
            disagree, or if either class is absent.
    """
    target = check_target(target, "target")
    scores, labels, n_bona, n_attack = _binary_inputs(scores, labels)
    tally = _tally(scores, labels, n_bona, n_attack)
    if pai is None:
        return tally.rates(_apcer_target_index(tally, target))[1]
    limit = _species_of(scores, labels, pai).limits([target])[0]
    return tally.rates(_worst_apcer_target_index(tally, limit))[1]


def _species_of(scores: Tensor, labels: Tensor, pai: Tensor) -> _Species:
    """Validate ``pai`` against ``labels`` and group the attack scores by species."""
    pai = as_pai(pai)
    check_same_length(scores=scores, labels=labels, pai=pai)
    check_pai_matches_labels(labels, pai)
    return _Species.of(scores, labels, pai)


def _between(low: float, high: float) -> float:
    """A threshold in ``(low, high]`` near the middle; ``high`` when no float lies between.

    Attack iff ``score >= threshold``: with no score strictly between ``low`` and ``high``,
    every threshold in ``(low, high]`` gives the rates of ``high``. The plain midpoint
    ``(low + high) / 2`` is tried first (it overflows for huge scores of the same sign);
    then ``low + (high - low) / 2`` (which overflows for huge scores of opposite signs);
    then ``low / 2 + high / 2``. Any result not strictly between them (adjacent floats,
    subnormals) falls back to ``high``.
    """
    for mid in (0.5 * (low + high), low + (high - low) / 2, low / 2 + high / 2):
        if low < mid < high:
            return mid
    return high


def choose_threshold(
    scores: Tensor,
    labels: Tensor,
    method: ThresholdMethod = "eer",
    target: float | None = None,
    placement: Literal["midpoint", "score"] = "midpoint",
    pai: Tensor | None = None,
) -> float:
    """Choose a decision threshold on (typically development) scores.

    Every threshold in the gap between the chosen candidate score and the next lower
    distinct score gives exactly the same rates on these scores. ``placement="midpoint"``
    (default) returns the middle of that gap, which is less sensitive to a small shift of
    new (test) scores than the gap's edge; ``"score"`` returns the candidate itself (the
    lowest candidate and the top one, above every score, are always returned as they are).
    The midpoint is float-safe: when no float lies strictly inside the gap (adjacent
    floats) the candidate itself is returned, and it never overflows; so the returned
    threshold always gives exactly the candidate's rates. (The top candidate is
    ``nextafter(max score, inf)``, which is ``inf`` only when the highest score is the
    largest finite float.)

    Threshold methods:

    * ``"eer"``: the EER threshold (see :func:`eer`); ``target`` must be ``None``.
    * ``"bpcer"``: the lowest-APCER candidate with ``BPCER <= target``; ties go to the lowest
      BPCER (the highest such threshold). Always defined: at the top candidate BPCER is 0.
    * ``"apcer"``: the lowest-BPCER candidate with ``APCER <= target``; ties go to the
      lowest APCER (the lowest such threshold). The APCER is the worst species' when
      ``pai`` is given, else pooled. This is the operating point of :func:`bpcer_at_apcer`.

    Rates are compared with the target as in :func:`bpcer_at_apcer` (decimal targets are
    honoured exactly: ``target=0.3`` admits 6 errors out of 20).

    Args:
        scores: Attack scores, shape ``(N,)``.
        labels: 0 bona fide / 1 attack, shape ``(N,)``.
        method: ``"eer"``, ``"bpcer"`` or ``"apcer"``.
        target: Rate target as a fraction in ``[0, 1]`` for ``"bpcer"`` and ``"apcer"``.
        placement: ``"midpoint"`` or ``"score"`` (see above).
        pai: Species ids (0 live, attacks ``>= 1``) for ``method="apcer"`` at the
            worst-species APCER; ``None`` (default) uses the pooled APCER. Ignored by the
            other methods.

    Returns:
        The threshold (attack iff ``score >= threshold``).

    Raises:
        MetricInputError: On invalid inputs, an unknown method, a missing or superfluous
            target, labels and pai that disagree, or if either class is absent.
    """
    if method not in ("eer", "bpcer", "apcer"):
        raise MetricInputError(
            f"unknown threshold method {method!r}; use 'eer', 'bpcer' or 'apcer'."
        )
    if method == "eer":
        if target is not None:
            raise MetricInputError(
                "method='eer' takes no target; use method='bpcer' or 'apcer' for a target rate."
            )
    elif target is None:
        raise MetricInputError(
            f"method={method!r} needs a target {method.upper()} fraction, e.g. target=0.05."
        )
    else:
        target = check_target(target, "target")
    if placement not in ("midpoint", "score"):
        raise MetricInputError(f"placement must be 'midpoint' or 'score', got {placement!r}.")
    scores, labels, n_bona, n_attack = _binary_inputs(scores, labels)
    tally = _tally(scores, labels, n_bona, n_attack)
    if method == "eer":
        index = _eer_index(tally)
    else:
        assert target is not None  # checked above: 'bpcer' and 'apcer' need a target
        if method == "bpcer":
            index = _bpcer_target_index(tally, target)
        elif pai is None:
            index = _apcer_target_index(tally, target)
        else:
            limit = _species_of(scores, labels, pai).limits([target])[0]
            index = _worst_apcer_target_index(tally, limit)
    chosen = float(tally.thresholds[index])
    if placement == "score" or index == 0 or index == len(tally.thresholds) - 1:
        return chosen
    return _between(float(tally.thresholds[index - 1]), chosen)


def pad_report(
    scores: Tensor,
    labels: Tensor,
    pai: Tensor,
    threshold: float | None,
    pai_names: Sequence[str],
    *,
    apcer_targets: Sequence[float] = DEFAULT_APCER_TARGETS,
) -> PADReport:
    """Compute every PAD metric of a score set at one threshold.

    Species listed in ``pai_names`` but absent from the data are skipped in the APCER (no
    NaN) and reported with count 0 in :attr:`PADReport.n_attack`. The ISO APCER is the worst
    present species' APCER; ties go to the species listed first.

    Args:
        scores: Attack scores, shape ``(N,)`` (already aggregated per video if wanted).
        labels: 0 bona fide / 1 attack, shape ``(N,)``.
        pai: Species ids (0 live, attacks ``>= 1``), shape ``(N,)``.
        threshold: Decision threshold; ``None`` uses this data's own EER threshold.
        pai_names: Species names by id, index 0 = ``"live"``.
        apcer_targets: APCER targets at which to report the BPCER, at the worst species'
            APCER (:attr:`PADReport.bpcer_at_apcer`) and at the pooled APCER
            (:attr:`PADReport.bpcer_at_apcer_pooled`).

    Returns:
        The :class:`PADReport`.

    Raises:
        MetricInputError: On invalid inputs, labels and pai that disagree, a species id with
            no name, or if the set holds no attack or no bona fide presentation.
    """
    scores, labels, n_bona, n_attack = _binary_inputs(scores, labels)
    pai = as_pai(pai)
    check_same_length(scores=scores, labels=labels, pai=pai)
    check_pai_matches_labels(labels, pai)
    names = check_pai_names(pai, pai_names)
    targets = [check_target(t, "apcer_targets entry") for t in apcer_targets]

    tally = _tally(scores, labels, n_bona, n_attack)
    species = _Species.of(scores, labels, pai)
    eer_value, eer_threshold = _eer_from(tally)
    threshold = eer_threshold if threshold is None else check_threshold(threshold)
    false_alarms, total, missed = _counts_at(scores, labels, pai, threshold)
    apcer_pooled = int(missed.sum()) / n_attack
    bpcer = false_alarms / n_bona

    per_id = _species_rates(total, missed)
    per_species = {names[s]: rate for s, rate in per_id.items()}
    worst_id = max(per_id, key=lambda s: (per_id[s], -s))
    counts = total.tolist() + [0] * (len(names) - total.numel())
    apcer = per_id[worst_id]
    return PADReport(
        threshold=threshold,
        apcer_per_species=per_species,
        worst_species=names[worst_id],
        apcer=apcer,
        apcer_pooled=apcer_pooled,
        bpcer=bpcer,
        acer=(apcer + bpcer) / 2,
        hter=(apcer_pooled + bpcer) / 2,
        eer=eer_value,
        eer_threshold=eer_threshold,
        auc=_auc_from(tally),
        bpcer_at_apcer={
            t: tally.rates(_worst_apcer_target_index(tally, limit))[1]
            for t, limit in zip(targets, species.limits(targets), strict=True)
        },
        bpcer_at_apcer_pooled={t: tally.rates(_apcer_target_index(tally, t))[1] for t in targets},
        n_bona_fide=n_bona,
        n_attack={names[s]: counts[s] for s in range(1, len(names))},
    )
