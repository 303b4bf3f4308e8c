"""The checkpoints a fit leaves: the tested model (``last.ckpt``) and the one validation chose.

* ``last.ckpt`` is the model whose test numbers the fit printed (weights and dev threshold),
  replacing Lightning's end-of-training ``last.ckpt``, so that ``mtfas test`` on it prints
  the same numbers and ``mtfas predict`` / ``mtfas export`` use that model.
* ``best.ckpt`` exists only when a ``ModelCheckpoint`` with a ``monitor`` ran: a copy of the
  checkpoint it chose on validation, with ``mtfas_selection`` (monitor, mode, score, epoch,
  step, the file it was copied from) in the file. It is not the tested model; predict and
  export say so when they read it
  (:func:`mtfas.inference.checkpoint.selection_note`).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch
from lightning.pytorch.callbacks import ModelCheckpoint

from mtfas.inference.checkpoint import SELECTION_KEY, selection_note
from mtfas.io import atomic_path

__all__ = ["save_best_checkpoint", "save_tested_checkpoint"]


def save_tested_checkpoint(trainer: Any) -> Path:
    """Save the model a test just used (weights and dev threshold) as ``last.ckpt``.

    The file goes beside the run's checkpoints (the ``ModelCheckpoint`` folder, else
    ``<run folder>/checkpoints``), replacing a ``last.ckpt`` saved at the end of training,
    so that the run's ``last.ckpt`` is always the model whose numbers were printed. It is
    written to a temporary file and renamed. Call it on every process.

    Returns:
        The path of ``last.ckpt``.
    """
    from mtfas.reporting.results import run_dir

    callback = trainer.checkpoint_callback
    dirpath = getattr(callback, "dirpath", None)
    folder = Path(dirpath) if dirpath else run_dir(trainer) / "checkpoints"
    path = folder / "last.ckpt"
    tmp = folder / ".last.ckpt.tmp"
    trainer.save_checkpoint(tmp, weights_only=False)  # full: weights, optimisers, loops
    if trainer.is_global_zero:
        os.replace(tmp, path)
        threshold = float(trainer.lightning_module.threshold)
        print(f"Saved the tested model (dev threshold {threshold:.6g}) to {path}", flush=True)
    trainer.strategy.barrier("mtfas_last_ckpt")
    return path


def save_best_checkpoint(trainer: Any) -> Path | None:
    """Copy the checkpoint a monitoring ``ModelCheckpoint`` chose to ``best.ckpt``.

    The copy holds ``checkpoint["mtfas_selection"]``: ``monitor``, ``mode``, ``score``,
    ``epoch``, ``step`` and ``source`` (the file chosen). Call it on every process after
    fit; rank 0 writes (atomically).

    Returns:
        The path of ``best.ckpt``, or None when no ``ModelCheckpoint`` monitors a metric or
        it saved nothing.
    """
    chooser = next(
        (
            c
            for c in trainer.callbacks
            if isinstance(c, ModelCheckpoint) and c.monitor and c.best_model_path
        ),
        None,
    )
    if chooser is None:
        return None
    source = Path(chooser.best_model_path)
    path = source.parent / "best.ckpt"
    if trainer.is_global_zero and source.is_file():
        checkpoint = torch.load(source, map_location="cpu", weights_only=True)
        score = chooser.best_model_score
        checkpoint[SELECTION_KEY] = {
            "monitor": str(chooser.monitor),
            "mode": str(chooser.mode),
            "score": None if score is None else float(score),
            "epoch": int(checkpoint.get("epoch", -1)),
            "step": int(checkpoint.get("global_step", -1)),
            "source": source.name,
        }
        with atomic_path(path) as tmp:
            torch.save(checkpoint, tmp)
        print(f"Saved the checkpoint chosen on validation ({selection_note(checkpoint)}) to {path}")
    trainer.strategy.barrier("mtfas_best_ckpt")
    return path
