"""Crop-loader throughput from the cache at 256x256 (target: at least 5,000 images/s).

Builds a crop cache of synthetic 256x256 crops (written directly as the cache's per-video
arrays: going through ``preprocess`` on generated videos would take longer than the
measurement), then iterates the evaluation ``DataLoader`` of the shared frame dataset as
the data modules build it (cache read, uint8 batches collated channels-last; the system
normalises them on the device) with 0, 1 and 2 workers (persistent; one warm-up epoch,
then one timed epoch). For reference it also times float32 batches normalised on the CPU
(``uint8_batches=False``, the only path of earlier versions) and the augmented training
loader.

    python benchmarks/loader.py --videos 200 --frames 25 --batch 64
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from torch.utils.data import DataLoader

from mtfas.datamodules.dataset import FrameDataset, collate_frames
from mtfas.transforms.augment import eval_transform, train_transform


class NpyStore:
    """Per-video ``.npy`` crops opened once as memory maps, as the crop cache does."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.arrays: dict[str, np.ndarray] = {}

    def frames(self, video: str) -> np.ndarray:
        if video not in self.arrays:
            self.arrays[video] = np.load(self.folder / f"{video}.npy", mmap_mode="r")
        return self.arrays[video]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--videos", type=int, default=200)
    parser.add_argument("--frames", type=int, default=25)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--batch", type=int, default=64)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        rows = []
        for v in range(args.videos):
            crops = rng.integers(0, 256, (args.frames, args.size, args.size, 3), dtype=np.uint8)
            np.save(folder / f"v{v}.npy", crops)
            pai = ["live", "print1"][v % 2]
            rows.append({"video": f"v{v}", "label": "live" if pai == "live" else "attack",
                         "pai": pai, "subject": v // 2})
        table = pd.DataFrame(rows)
        names = ["live", "print1"]
        n = args.videos * args.frames
        print(f"{n:,} crops of {args.size}x{args.size}, batch {args.batch}")
        results = {}
        variants = (
            ("eval", eval_transform(args.size), True),
            ("eval, float32", eval_transform(args.size), False),
            ("train (augmented)", train_transform(args.size), True),
        )
        for name, transform, uint8 in variants:
            dataset = FrameDataset(table, NpyStore(folder), names, transform, uint8=uint8)
            for workers in (0, 1, 2):
                loader = DataLoader(dataset, batch_size=args.batch, shuffle=True,
                                    num_workers=workers, collate_fn=collate_frames,
                                    persistent_workers=workers > 0)
                for _ in loader:  # warm-up epoch: worker start, page cache
                    pass
                start = time.perf_counter()
                seen = sum(len(batch["image"]) for batch in loader)
                rate = seen / (time.perf_counter() - start)
                results[(name, workers)] = rate
                print(f"{name:<18} workers={workers}: {rate:8.0f} images/s")
        best = max(v for (name, _), v in results.items() if name == "eval")
        verdict = "holds" if best >= 5000 else "does NOT hold"
        print(f"target: >= 5,000 images/s (eval loader, best of 0-2 workers): {best:.0f} "
              f"-> {verdict}")


if __name__ == "__main__":
    main()
