"""Deterministic random streams of the synthetic generator.

Every random quantity of the generator is drawn from a stream named by the global seed, a
tag saying what the stream is for, and integer keys (subject, species, device, ...). Streams
with different names are statistically independent, so changing one knob (e.g. the number
of frames) never perturbs an unrelated quantity (e.g. a subject's face).
"""

from __future__ import annotations

import numpy as np

_MASK64 = (1 << 64) - 1

TAG_IDENTITY = 1
"""Identity parameters of a subject: ``(subject,)``."""
TAG_CAPTURE = 2
"""Capture-level randomness (placement, medium pose): ``(subject, pai, device, session)``."""
TAG_FRAME = 3
"""Per-frame motion and sensor noise: ``(subject, pai, device, session, frame)``."""
TAG_SOURCE = 4
"""The photo or video an attack is made from: ``(subject, medium kind)``."""
TAG_SOURCE_FRAME = 5
"""Per-frame motion inside a replayed video: ``(subject, medium kind, frame)``."""
TAG_MEDIUM = 6
"""One physical attack medium (a print, a display): ``(subject, pai)``."""
TAG_PERSON = 7
"""The subject's appearance on a session day (expression, textures): ``(subject, session)``."""


def stream(seed: int, tag: int, *keys: int) -> np.random.Generator:
    """Returns the random generator named by ``seed``, ``tag`` and ``keys``.

    Args:
        seed: Global seed of the synthetic benchmark (any Python int).
        tag: One of the ``TAG_*`` constants of this module.
        *keys: Non-negative integers that identify the stream within the tag.

    Returns:
        A fresh ``numpy.random.Generator``; equal arguments give identical streams.
    """
    entropy = [int(seed) & _MASK64, int(tag), *(int(k) for k in keys)]
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(entropy)))
