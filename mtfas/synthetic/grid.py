"""A labelled grid of sample frames, for eyeballing the generator."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from mtfas.errors import ConfigError
from mtfas.synthetic.capture import render_capture
from mtfas.synthetic.conditions import N_DEVICES, N_SESSIONS, PAI_NAMES, check_positive


def render_sample_grid(
    n_subjects: int = 4,
    size: int = 128,
    seed: int = 0,
    *,
    device: int | None = None,
    session: int | None = None,
) -> np.ndarray:
    """Renders one frame per (subject, species) into a labelled RGB grid.

    Rows are subjects ``0..n_subjects-1``; columns are ``PAI_NAMES`` (live, print1, print2,
    replay1, replay2), with the species names drawn in a header row. Each row uses one
    device and session, cycling through them by default so the grid also shows the nuisance
    variation.

    Args:
        n_subjects: Number of rows.
        size: Side of each frame in pixels.
        seed: Global seed.
        device: Device of every row (default: row ``i`` uses device ``i % N_DEVICES``).
        session: Session of every row (default: row ``i`` uses session ``i % N_SESSIONS``).

    Returns:
        ``(header + n_subjects * size, len(PAI_NAMES) * size, 3)`` uint8 RGB image.

    Raises:
        ConfigError: If an argument is invalid.
    """
    n_subjects = check_positive("n_subjects", n_subjects)
    header = max(16, size // 6)
    cols = len(PAI_NAMES)
    grid = np.full((header + n_subjects * size, cols * size, 3), 255, np.uint8)
    for row in range(n_subjects):
        dev = row % N_DEVICES if device is None else device
        ses = row % N_SESSIONS if session is None else session
        y = header + row * size
        for col, name in enumerate(PAI_NAMES):
            cap = render_capture(
                row, name, device=dev, session=ses, n_frames=1, size=size, seed=seed
            )
            grid[y : y + size, col * size : (col + 1) * size] = cap.frames[0]
    scale = header / 40.0
    for col, name in enumerate(PAI_NAMES):
        (tw, th), _ = cv2.getTextSize(name, cv2.FONT_HERSHEY_SIMPLEX, scale, 1)
        org = (col * size + max((size - tw) // 2, 1), (header + th) // 2)
        cv2.putText(
            grid,
            name,
            org,
            cv2.FONT_HERSHEY_SIMPLEX,
            scale,
            (0, 0, 0),
            max(1, round(scale * 1.5)),
            cv2.LINE_AA,
        )
    return grid


def write_sample_grid(
    out_dir: str | Path, n_subjects: int = 4, size: int = 128, seed: int = 0
) -> Path:
    """Renders :func:`render_sample_grid` and writes it as a PNG.

    Args:
        out_dir: Directory to write into (created if missing).
        n_subjects: Number of rows.
        size: Side of each frame in pixels.
        seed: Global seed.

    Returns:
        Path of the written ``synthetic_samples_seed{seed}.png``.

    Raises:
        ConfigError: If an argument is invalid or the image cannot be written.
    """
    grid = render_sample_grid(n_subjects, size, seed)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"synthetic_samples_seed{seed}.png"
    if not cv2.imwrite(str(path), cv2.cvtColor(grid, cv2.COLOR_RGB2BGR)):
        raise ConfigError(f"Could not write the sample grid to {path}; check the directory.")
    return path
