"""Speed of the PAD metrics on 10^6 scores (target: a full report in under 0.5 s).

python benchmarks/metrics_speed.py --n 1000000 --repeats 5
"""

from __future__ import annotations

import argparse
import time

import torch

from mtfas.metrics import PADMetrics
from mtfas.metrics import functional as F

PAI_NAMES = ["live", "print1", "print2", "replay1", "replay2"]


def _best(fn, repeats: int) -> float:
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--frames_per_video", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    g = torch.Generator().manual_seed(0)
    n_videos = args.n // args.frames_per_video
    pai_video = torch.randint(0, len(PAI_NAMES), (n_videos,), generator=g)
    pai = pai_video.repeat_interleave(args.frames_per_video)
    labels = (pai > 0).long()
    scores = torch.rand(args.n, generator=g, dtype=torch.float64) + 0.3 * labels
    video = torch.arange(n_videos).repeat_interleave(args.frames_per_video)
    threshold = 0.8

    def metric() -> None:
        m = PADMetrics(PAI_NAMES, threshold=threshold)
        m.update(scores, labels, pai, video)
        m.compute()

    timings = {
        "eer": _best(lambda: F.eer(scores, labels), args.repeats),
        "auc": _best(lambda: F.auc(scores, labels), args.repeats),
        "pad_report (frame level)": _best(
            lambda: F.pad_report(scores, labels, pai, threshold, PAI_NAMES), args.repeats
        ),
        "PADMetrics update+compute (video level)": _best(metric, args.repeats),
    }
    print(f"{args.n:,} scores, {torch.get_num_threads()} threads")
    for name, seconds in timings.items():
        print(f"{name:<42}{seconds:8.3f} s")
    worst = max(
        timings["pad_report (frame level)"], timings["PADMetrics update+compute (video level)"]
    )
    verdict = "holds" if worst < 0.5 else "does NOT hold"
    print(f"target: full report under 0.5 s: {worst:.3f} s -> {verdict}")


if __name__ == "__main__":
    main()
