"""Preprocessing throughput of each benchmark's data module on a small synthetic release.

Writes a small fake release of every benchmark (``mtfas.synthetic.layouts``: 10 frames of
128 px per video), then times ``prepare_data`` (decode, locate faces, crop to 64 px, cache
writes; one process) and prints videos/s, frames/s and the frames skipped by reason:

    python benchmarks/datasets.py
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from mtfas.datamodules import (
    CASIAFASDDataModule,
    MSUMFSDDataModule,
    OULUNPUDataModule,
    ReplayAttackDataModule,
    SiWDataModule,
)
from mtfas.synthetic.layouts import LAYOUTS
from mtfas.synthetic.layouts.face_boxes import FACE_BOX_FOLDER

RENDER = {"n_frames": 10, "size": 128, "seed": 0}
CROPS = {"crop_size": 64, "n_frames": 10, "preprocess_workers": 0, "progress": False}
#: (label, layout, writer knobs, data module, its arguments; "BOXES" = the true boxes).
RUNS = [
    (
        "OULU-NPU P1",
        "oulu-npu",
        {"phones": [1, 2], "users_per_split": [4, 2, 2]},
        OULUNPUDataModule,
        {"protocol": 1},
    ),
    (
        "SiW P2-1",
        "siw",
        {"subjects_per_split": (4, 2), "sensors": [1]},
        SiWDataModule,
        {"protocol": 2, "subprotocol": 1},
    ),
    (
        "Replay-Attack grandtest (zero boxes to dlib)",
        "replay-attack",
        {"subjects_per_split": (2, 1, 1), "takes": [1]},
        ReplayAttackDataModule,
        {"protocol": "grandtest"},
    ),
    (
        "CASIA-FASD (box files)",
        "casia-fasd",
        {"subjects_per_split": (4, 2)},
        CASIAFASDDataModule,
        {"face_boxes": "BOXES"},
    ),
    ("CASIA-FASD (dlib)", "casia-fasd", {"subjects_per_split": (4, 2)}, CASIAFASDDataModule, {}),
    (
        "MSU-MFSD (box files)",
        "msu-mfsd",
        {"subjects_per_split": (4, 2)},
        MSUMFSDDataModule,
        {"face_boxes": "BOXES"},
    ),
]


def main() -> None:
    """Write the releases, preprocess each and print one line per run."""
    tmp = Path(tempfile.mkdtemp(prefix="mtfas_datasets_"))
    for label, layout, knobs, module, arguments in RUNS:
        root = tmp / layout
        start = time.perf_counter()
        release = LAYOUTS[layout](root, **knobs, **RENDER)
        rendered = time.perf_counter() - start
        if arguments.get("face_boxes") == "BOXES":
            arguments = {**arguments, "face_boxes": str(root / FACE_BOX_FOLDER)}
        dm = module(
            root,
            cache_dir=tmp / f"cache_{len(label)}_{layout}",
            allow_missing_crops=True,
            **arguments,
            **CROPS,
        )
        start = time.perf_counter()
        dm.prepare_data()
        took = time.perf_counter() - start
        counts = dm.last_preprocess.counts
        skipped = {k: v for k, v in counts.frames_skipped.items() if v}
        print(
            f"{label}: release of {release.n_videos} videos (rendered in {rendered:.1f} s); "
            f"{counts.videos_total} videos / {counts.frames_sampled} frames preprocessed in "
            f"{took:.2f} s = {counts.videos_total / took:.1f} videos/s, "
            f"{counts.frames_sampled / took:.0f} frames/s; {counts.frames_written} crops, "
            f"skipped {skipped or 'none'}"
        )


if __name__ == "__main__":
    main()
