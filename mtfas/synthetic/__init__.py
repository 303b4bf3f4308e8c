"""Procedural synthetic face anti-spoofing benchmark.

Real FAS datasets are licensed, so this generator is the library's out-of-the-box demo and
the source of test fixtures. Subjects differ in face shape, skin tone, eyes, brows, mouth,
hair and background; capture devices differ in sensor noise, colour response and resolution;
sessions differ in lighting; frames of one capture differ by small motion. Print attacks
(halftone / dither, paper, gamut and contrast compression, blur, warp) and replay attacks
(display sub-pixel grid sampled into moire, gamma shift, glare, flicker) are made from the
same subject's face at another moment and re-captured by the device in the session's light.
Partial attacks (cut prints with the live eyes or mouth showing through, paper glasses, a
paper mask over the mouth: ``conditions.PARTIALS``, ids after ``PAI_NAMES``) cover only part
of the live face, and every capture carries its cue mask (where the attack instrument is
seen, :attr:`Capture.cue_masks`; ``docs/synthetic.md``).
Everything is deterministic from a seed: equal arguments give identical bytes (on one
platform and library build; floating-point kernels of OpenCV may differ across CPUs).

Modules: :mod:`~mtfas.synthetic.identity` (subjects), :mod:`~mtfas.synthetic.face`
(rendering people and backgrounds), :mod:`~mtfas.synthetic.media` (prints and displays),
:mod:`~mtfas.synthetic.camera` (capture devices), :mod:`~mtfas.synthetic.conditions`
(device, session, printer and display tables), :mod:`~mtfas.synthetic.layers` (cached
per-subject assets), :mod:`~mtfas.synthetic.capture` (:func:`render_capture`) and
:mod:`~mtfas.synthetic.grid` (sample grids); :mod:`~mtfas.synthetic.partial` (regions of the
partial attacks).

Example:
    >>> from mtfas.synthetic import render_capture
    >>> cap = render_capture(3, "replay1", device=2, session=1, n_frames=2, size=64)
    >>> cap.frames.shape
    (2, 64, 64, 3)
"""

from __future__ import annotations

from mtfas.synthetic.capture import Capture, render_capture
from mtfas.synthetic.conditions import DEVICES, N_DEVICES, N_SESSIONS, PAI_NAMES, SESSIONS
from mtfas.synthetic.grid import render_sample_grid, write_sample_grid

__all__ = [
    "DEVICES",
    "N_DEVICES",
    "N_SESSIONS",
    "PAI_NAMES",
    "SESSIONS",
    "Capture",
    "render_capture",
    "render_sample_grid",
    "write_sample_grid",
]
