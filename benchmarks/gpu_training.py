"""Training throughput on a GPU: images/s of plain supervised vs MT-FAS training steps.

Runs the real Lightning training loop (manual optimisation, uint8 batches normalised on
the device) of ``SupervisedSystem`` (handcrafted ZeroMap/OneMap, the plain step) and of
``MetaTeacherSystem`` with each inner-loop backend, on random crops held in memory (so
that the loader is not what is measured), and prints seconds per step, training images
per second (the training batch; MT-FAS also reads a meta-validation batch of the same size
per step) and peak GPU memory. One command, a few minutes on a current GPU:

    python benchmarks/gpu_training.py
    python benchmarks/gpu_training.py --precision bf16-mixed
    python benchmarks/gpu_training.py --device cpu --width 0.125 --size 32 --batch 4 \\
        --steps 2 --warmup 1          # a smoke run on the CPU
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd
import torch
from lightning.pytorch import Callback, Trainer

from mtfas import MetaTeacherSystem, SupervisedSystem
from mtfas.datamodules import ArrayStore, FASDataModule
from mtfas.models import DepthNet, TeacherNet


class RandomCrops(FASDataModule):
    """Random uint8 crops in memory: 16 subjects x live/print x ``frames`` per split."""

    pai_names = ("live", "print")

    def __init__(self, size: int, frames: int, **kwargs) -> None:
        super().__init__(image_size=size, augment=False, **kwargs)
        rng = np.random.default_rng(0)
        rows, arrays = [], {}
        for split in ("train", "dev", "test"):
            for subject in range(16):
                for pai in self.pai_names:
                    video = f"{split}/{subject}/{pai}"
                    arrays[video] = rng.integers(0, 256, (frames, size, size, 3), np.uint8)
                    rows.append(
                        {
                            "video": video,
                            "split": split,
                            "pai": pai,
                            "label": "live" if pai == "live" else "attack",
                            "subject": subject + 100 * ("train", "dev", "test").index(split),
                        }
                    )
        self.table = pd.DataFrame(rows)
        self.store = ArrayStore(arrays)

    def video_table(self, split):
        return self.table[self.table["split"] == split].drop(columns="split")

    def frame_store(self) -> ArrayStore:
        return self.store


class StepTimer(Callback):
    """Wall time of each training step after ``warmup`` steps (synchronising the GPU)."""

    def __init__(self, warmup: int) -> None:
        self.warmup = warmup
        self.times: list[float] = []
        self._start = 0.0

    @staticmethod
    def _sync(module) -> None:
        if module.device.type == "cuda":
            torch.cuda.synchronize(module.device)

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        self._sync(pl_module)
        if batch_idx == self.warmup and pl_module.device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(pl_module.device)
        self._start = time.perf_counter()

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        self._sync(pl_module)
        if batch_idx >= self.warmup:
            self.times.append(time.perf_counter() - self._start)


def measure(system, args) -> tuple[float, float]:
    """Median seconds per training step and peak GPU MiB (NaN on the CPU)."""
    data = RandomCrops(
        args.size, args.frames, batch_size=args.batch, meta_val_fraction=0.25, num_workers=0
    )
    timer = StepTimer(args.warmup)
    trainer = Trainer(
        accelerator=args.device,
        devices=1,
        precision=args.precision,
        max_steps=args.warmup + args.steps,
        limit_val_batches=0,
        num_sanity_val_steps=0,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        callbacks=[timer],
    )
    trainer.fit(system, data)
    if not timer.times:
        raise SystemExit("no timed step: raise --frames or lower --warmup")
    peak = float("nan")
    if args.device == "cuda":
        peak = torch.cuda.max_memory_allocated() / 2**20
    return float(np.median(timer.times)), peak


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda", help="cuda (default) or cpu")
    parser.add_argument("--width", type=float, default=1.0, help="DepthNet width multiplier")
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--steps", type=int, default=30, help="timed steps per system")
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--frames", type=int, default=16, help="crops per video in memory")
    parser.add_argument("--precision", default="32-true", help="e.g. bf16-mixed")
    args = parser.parse_args()
    if args.device == "cuda" and not torch.cuda.is_available():
        raise SystemExit("no CUDA device: pass --device cpu for a smoke run")
    torch.manual_seed(0)
    name = torch.cuda.get_device_name() if args.device == "cuda" else "cpu"
    print(
        f"device {name}, torch {torch.__version__}, precision {args.precision}, "
        f"DepthNet width {args.width}, input {args.size}, batch {args.batch}, "
        f"{args.steps} timed steps after {args.warmup}"
    )
    systems = {
        "plain supervised (binary map)": lambda: SupervisedSystem(
            DepthNet(args.width), loss="binary_map", print_test_report=False
        )
    }
    for backend in ("jvp", "torch.func", "higher"):
        systems[f"MT-FAS K=1 2nd order, {backend}"] = lambda b=backend: MetaTeacherSystem(
            DepthNet(args.width), TeacherNet(args.width / 2), backend=b, print_test_report=False
        )
    print(f"{'system':<36}{'s/step':>9}{'images/s':>10}{'ratio':>8}{'peak MiB':>10}")
    base = None
    for label, make in systems.items():
        seconds, peak = measure(make(), args)
        base = base or seconds
        print(
            f"{label:<36}{seconds:>9.4f}{args.batch / seconds:>10.1f}"
            f"{seconds / base:>8.2f}{peak:>10.0f}"
        )


if __name__ == "__main__":
    main()
