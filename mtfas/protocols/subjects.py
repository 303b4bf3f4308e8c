"""Carving a subject-disjoint dev split out of a benchmark's training subjects.

CASIA-FASD and MSU-MFSD (like SiW) publish no dev split, but the protocol needs one to
choose the decision threshold. It is drawn from the training subjects, so that dev and
train share no identity and the test subjects stay untouched:
``max(1, round(fraction * n))`` of the ``n`` training subjects, drawn with
``numpy.random.default_rng(seed)`` from the sorted subject ids. The same subjects, seed
and fraction always give the same dev split.

>>> draw_dev_subjects(range(1, 21), fraction=0.2, seed=0)
[6, 10, 12, 15]
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from mtfas.errors import ConfigError


def draw_dev_subjects(subjects: Iterable[int], fraction: float, seed: int) -> list[int]:
    """Draw the dev subjects among the training subjects (seeded).

    Args:
        subjects: Training subject ids (duplicates are ignored).
        fraction: Fraction of them for dev, in (0, 1).
        seed: Seed of the draw.

    Returns:
        The dev subject ids, sorted.

    Raises:
        ConfigError: If ``fraction`` is outside (0, 1), or there are fewer than two
            subjects (one must stay for training).
    """
    if not 0.0 < float(fraction) < 1.0:
        raise ConfigError(
            f"dev_fraction must lie in (0, 1): the release has no dev split, so one is "
            f"carved from the training subjects; got {fraction!r}"
        )
    pool = np.array(sorted({int(s) for s in subjects}), dtype=np.int64)
    if len(pool) < 2:
        raise ConfigError(
            f"cannot carve a dev split from {len(pool)} training subject(s): at least two "
            "are needed (one for dev, one for training)"
        )
    n_dev = min(len(pool) - 1, max(1, round(float(fraction) * len(pool))))
    rng = np.random.default_rng(int(seed))
    return sorted(int(s) for s in rng.choice(pool, size=n_dev, replace=False))
