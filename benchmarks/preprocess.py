"""Throughput of the preprocessing pipeline vs raw decoding, and of reading the cache.

Not a test (pytest does not collect it). Run from the repository root::

    python benchmarks/preprocess.py --videos 16 --frames 150 --workers 2

It writes synthetic MJPG videos with per-frame box files into a temporary folder, then
times (1) decoding the sampled frames with OpenCV alone (one thread), (2) ``preprocess``
with ``workers=0`` (one process: decoding overlaps with cropping in a helper thread and
with cache writes in another) and with ``--workers`` workers (after a warm-up call that
starts the worker server), and (3) random-access reads of crops from the finished cache.
Target (issue 6): preprocessing runs at >= 80% of the raw decode.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

from mtfas.preprocessing import (
    CropCache,
    FaceBoxFile,
    PreprocessSettings,
    VideoJob,
    preprocess,
    read_frames,
    select_frames,
)


def make_videos(root: Path, n_videos: int, n_frames: int, width: int, height: int) -> list[Path]:
    """Write ``n_videos`` MJPG videos with a moving face box and their ``.face`` files."""
    rng = np.random.default_rng(0)
    # Smooth texture with mild noise: compresses like camera footage, unlike pure noise.
    noise = rng.integers(0, 255, (height // 16, width // 16, 3), dtype=np.uint8)
    texture = cv2.resize(noise, (width, height), interpolation=cv2.INTER_CUBIC)
    texture = cv2.add(texture, rng.integers(0, 12, (height, width, 3), dtype=np.uint8))
    paths = []
    root.mkdir(parents=True, exist_ok=True)
    side = height // 2
    for v in range(n_videos):
        path = root / f"v{v:03d}.avi"
        writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 30.0, (width, height))
        lines = []
        for f in range(n_frames):
            x1 = (width - side) // 2 + int(20 * np.sin(f / 10 + v))
            y1 = (height - side) // 2
            frame = texture.copy()
            cv2.ellipse(
                frame,
                (x1 + side // 2, y1 + side // 2),
                (side // 2, side // 2 + 20),
                0,
                0,
                360,
                (140, 160, 200),
                -1,
            )
            writer.write(frame)
            lines.append(f"{x1} {y1} {x1 + side} {y1 + side}")
        writer.release()
        path.with_suffix(".face").write_text("\n".join(lines) + "\n")
        paths.append(path)
    return paths


def time_raw_decode(paths: list[Path], settings: PreprocessSettings, n_frames: int) -> float:
    """Seconds to decode the frames the settings sample, with OpenCV only."""
    wanted = select_frames(n_frames, settings)
    start = time.perf_counter()
    for path in paths:
        for _, image in read_frames(path, wanted):
            assert image is not None
    return time.perf_counter() - start


def main() -> None:
    """Run the benchmark and print a table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--videos", type=int, default=16)
    parser.add_argument("--frames", type=int, default=150)
    parser.add_argument("--width", type=int, default=640)
    parser.add_argument("--height", type=int, default=480)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--reads", type=int, default=20000)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        paths = make_videos(root / "data", args.videos, args.frames, args.width, args.height)
        source = FaceBoxFile()
        jobs = [VideoJob(p.stem, p, source) for p in paths]
        print(f"{args.videos} videos x {args.frames} frames, {args.width}x{args.height} MJPG")
        print(f"{'run':<34}{'s':>8}{'videos/s':>10}{'frames/s':>10}")
        ratios: dict[tuple[str, int], float] = {}
        for settings in (
            PreprocessSettings(size=256, sampling="every", every_n=1),
            PreprocessSettings(size=256, sampling="even", n_frames=25),
        ):
            n = len(select_frames(args.frames, settings)) * args.videos
            label = f"{settings.sampling} ({n} frames)"
            raw = time_raw_decode(paths, settings, args.frames)
            print(f"{'raw decode, ' + label:<34}{raw:8.2f}{args.videos / raw:10.1f}{n / raw:10.0f}")
            for workers in sorted({0, args.workers}):
                if workers:  # start the worker server outside the timing
                    preprocess(jobs[:1], settings, root / "warm", workers, progress=False)
                cache_root = root / f"cache{workers}"
                start = time.perf_counter()
                result = preprocess(jobs, settings, cache_root, workers, progress=False)
                took = time.perf_counter() - start
                assert result.counts.frames_written == n, result.summary()
                name = f"preprocess w={workers}, {label}"
                print(f"{name:<34}{took:8.2f}{args.videos / took:10.1f}{n / took:10.0f}")
                ratios[(settings.sampling, workers)] = raw / took

        for (sampling, workers), ratio in ratios.items():
            verdict = "holds" if ratio >= 0.8 else "does NOT hold"
            print(
                f"target: preprocessing >= 80% of raw decode ({sampling}, workers={workers}): "
                f"{100 * ratio:.0f}% -> {verdict}"
            )
        cache = CropCache(result.cache_dir)
        order = np.random.default_rng(0).integers(0, len(cache), args.reads)
        batch = np.empty((256, 256, 256, 3), dtype=np.uint8)  # a reused batch buffer
        start = time.perf_counter()
        for i, row in enumerate(order):
            batch[i % len(batch)] = cache.crop(int(row))
        took = time.perf_counter() - start
        print(
            f"cache random reads, 256x256 copied into a batch: {len(order) / took:.0f} "
            f"crops/s over {len(cache)} crops"
        )


if __name__ == "__main__":
    main()
