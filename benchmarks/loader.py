"""Crop-loader throughput from the cache at 256x256 (target: at least 5,000 images/s).

Builds a crop cache of synthetic 256x256 crops (written directly as the cache's per-video
arrays: going through ``preprocess`` on generated videos would take longer than the
measurement), then iterates the evaluation ``DataLoader`` of the shared frame dataset as
the data modules build it (cache read, uint8 batches collated channels-last; the system
normalises them on the device) with 0, 1 and 2 workers (persistent; one warm-up epoch,
then one timed epoch). For reference it also times float32 batches normalised on the CPU
(``uint8_batches=False``, the only path of earlier versions) and the augmented training
loader. Last, the same eval loader over a real :class:`~mtfas.preprocessing.CropCache`
(written with the cache's own writers): the seconds to open the cache and build the data
set (the data modules check every crop file of their splits at that point, in threads:
:meth:`~mtfas.preprocessing.CropCache.verify_videos`; timed without the CRC-32, then
with it on one thread and on the default number) and the warm epoch rate.

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
from mtfas.preprocessing import CropCache, PreprocessSettings
from mtfas.preprocessing import cache as cache_format
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


class CropStore:
    """The data modules' frame store over a crop cache (``CropCache.load``)."""

    def __init__(self, cache: CropCache) -> None:
        self.cache = cache

    def frames(self, video: str) -> np.ndarray:
        return self.cache.load(video)


def build_cache(root: Path, crops_by_video: dict[str, np.ndarray], size: int) -> Path:
    """Write a crop cache of the installed mtfas's format (per-video parts, index)."""
    settings = PreprocessSettings(size=size, sampling="even", n_frames=25, tag="bench")
    cache_dir = cache_format.prepare_cache_dir(root, settings)
    tables = []
    for video, crops in crops_by_video.items():
        file = cache_format.crop_file(video)
        rows = pd.DataFrame(
            {
                "video": video,
                "frame": np.arange(len(crops)),
                "status": "ok",
                "x1": 0.0,
                "y1": 0.0,
                "x2": float(size),
                "y2": float(size),
                "source": "bench",
                "rotation": 0,
                "file": file,
                "offset": np.arange(len(crops)),
                "box_source": "bench",
            }
        )[cache_format.PART_COLUMNS]
        record = cache_format.write_array(cache_dir / file, crops)
        if hasattr(cache_format, "write_part"):  # per-video records with checksums
            meta = {
                "settings_key": settings.key(),
                "box_source": "bench",
                "max_frames": None,
                "rotation": None,
                "sources": [],
            }
            cache_format.write_part(cache_dir, video, rows, meta, record)
        else:  # the earlier format: CSV parts and an index
            cache_format.write_table(cache_dir / cache_format.part_file(video), rows)
        tables.append(rows)
    cache_format.write_table(cache_dir / cache_format.INDEX_FILE, pd.concat(tables))
    return cache_dir


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--videos", type=int, default=200)
    parser.add_argument("--frames", type=int, default=25)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument(
        "--cache-only",
        action="store_true",
        help="time only the loader over a CropCache (cost of its checks)",
    )
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        rows = []
        for v in range(args.videos):
            crops = rng.integers(0, 256, (args.frames, args.size, args.size, 3), dtype=np.uint8)
            np.save(folder / f"v{v}.npy", crops)
            pai = ["live", "print1"][v % 2]
            rows.append(
                {
                    "video": f"v{v}",
                    "label": "live" if pai == "live" else "attack",
                    "pai": pai,
                    "subject": v // 2,
                }
            )
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
        for name, transform, uint8 in variants[: 0 if args.cache_only else None]:
            dataset = FrameDataset(table, NpyStore(folder), names, transform, uint8=uint8)
            for workers in (0, 1, 2):
                loader = DataLoader(
                    dataset,
                    batch_size=args.batch,
                    shuffle=True,
                    num_workers=workers,
                    collate_fn=collate_frames,
                    persistent_workers=workers > 0,
                )
                for _ in loader:  # warm-up epoch: worker start, page cache
                    pass
                start = time.perf_counter()
                seen = sum(len(batch["image"]) for batch in loader)
                rate = seen / (time.perf_counter() - start)
                results[(name, workers)] = rate
                print(f"{name:<18} workers={workers}: {rate:8.0f} images/s")
        crops = {f"v{v}": np.load(folder / f"v{v}.npy") for v in range(args.videos)}
        cache_dir = build_cache(folder / "cache", crops, args.size)
        del crops
        for verify, threads in ((False, 1), (True, 1), (True, None)):
            start = time.perf_counter()
            CropCache(cache_dir, verify=verify).verify_videos(table["video"], threads=threads)
            checks = "size, CRC-32, shape" if verify else "size, shape (no CRC-32)"
            print(
                f"{'CropCache open':<18} threads={threads or 'auto'}: every file opened and "
                f"checked ({checks}) in {time.perf_counter() - start:.2f} s"
            )
        for workers in (0, 2):
            start = time.perf_counter()
            cache = CropCache(cache_dir)
            cache.verify_videos(table["video"])  # as the data modules' frame_store does
            store = CropStore(cache)
            dataset = FrameDataset(table, store, names, eval_transform(args.size), uint8=True)
            opened = time.perf_counter() - start
            loader = DataLoader(
                dataset,
                batch_size=args.batch,
                shuffle=True,
                num_workers=workers,
                collate_fn=collate_frames,
                persistent_workers=workers > 0,
            )
            start = time.perf_counter()
            for _ in loader:
                pass
            first = time.perf_counter() - start
            start = time.perf_counter()
            seen = sum(len(batch["image"]) for batch in loader)
            rate = seen / (time.perf_counter() - start)
            print(
                f"{'eval, CropCache':<18} workers={workers}: {rate:8.0f} images/s "
                f"(open + data set {opened:.2f} s, first epoch {first:.2f} s)"
            )
        if args.cache_only:
            return
        best = max(v for (name, _), v in results.items() if name == "eval")
        verdict = "holds" if best >= 5000 else "does NOT hold"
        print(
            f"target: >= 5,000 images/s (eval loader, best of 0-2 workers): {best:.0f} -> {verdict}"
        )


if __name__ == "__main__":
    main()
