"""Where the meta-objective wants the teacher's target to go, pixel by pixel.

    python scripts/meta_gradient_map.py RUN_DIR [--untrained] [--batches 6]

For a ``MetaTeacherSystem`` run (``RUN_DIR`` with ``config.yaml`` and
``checkpoints/last.ckpt``, as for ``scripts/teacher_maps.py``), this takes dev batches as
the inner step's training input, the run's meta-validation slice as its validation input,
and computes ``dL_val / d target``: the gradient of the adapted student's meta-validation
loss with respect to each pixel of the supervision target the teacher gives (the quantity
the teacher's hypergradient is made of, before the chain rule through the teacher). Per
attack species it prints the mean of that gradient over the cue pixels and over the live
pixels of the frames (cue masks pooled to map resolution as the diagnostics do; frames
without a cue mask: all pixels only). A negative value means the meta-objective lowers when
the target rises there. ``--untrained`` uses the run's networks as initialised (same seed)
instead of the checkpoint. Nothing here trains: the student and teacher are unchanged.
"""

from __future__ import annotations

import argparse
import functools
import itertools
import math
import sys
from pathlib import Path

import torch
import yaml

from mtfas.cli.cli import MTFASCLI
from mtfas.cli.trust import check_run_config
from mtfas.errors import MTFASError
from mtfas.inference.checkpoint import load_checkpoint
from mtfas.systems.diagnostics import pool_cue_mask
from mtfas.systems.losses import supervision_target, validation_loss
from mtfas.transforms import normalise_batch


def _mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else math.nan


def main(argv: list[str]) -> int:
    """Print the per-species mean meta-gradient on cue and live pixels; the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run", type=Path, help="run folder (config.yaml, checkpoints/last.ckpt)")
    parser.add_argument("--untrained", action="store_true", help="the initial networks")
    parser.add_argument("--batches", type=int, default=6, help="dev batches to average over")
    args = parser.parse_args(argv)

    path = args.run / "config.yaml"
    config = yaml.safe_load(path.read_text(encoding="utf-8"))
    check_run_config(config if isinstance(config, dict) else {}, str(path))
    torch.manual_seed(int(config.get("seed_everything") or 0))
    cli = MTFASCLI(args={key: config[key] for key in ("model", "data")}, run=False)
    system, data = cli.model, cli.datamodule
    if not hasattr(system, "inner_loop"):
        print(f"{type(system).__name__} has no meta-learned teacher; nothing to measure.")
        return 1
    if not args.untrained:
        system.load_state_dict(
            load_checkpoint(args.run / "checkpoints" / "last.ckpt")["state_dict"]
        )
    data.prepare_data()
    data.setup("fit")
    held_out_batches = itertools.islice(data.train_dataloader()["meta_val"], 4)
    meta_val = [normalise_batch(b) for b in held_out_batches]
    names = list(data.pai_names)
    found: dict[str, dict[str, list[float]]] = {}
    system.train()  # as in a training step (BatchNorm on batch statistics)
    for index, batch in enumerate(itertools.islice(data.val_dataloader(), args.batches)):
        batch = normalise_batch(batch)
        images, labels = batch["image"], batch["label"]
        held_out = meta_val[index % len(meta_val)]
        target = supervision_target(system.teacher(images), labels).detach().requires_grad_(True)
        loss = functools.partial(validation_loss, system.val_loss_name, labels=held_out["label"])
        result = system.inner_loop.run(system.student, images, target, held_out["image"], loss)
        (grad,) = torch.autograd.grad(result.val_loss, [target])
        cue = batch.get("cue_mask")
        cue_pixels = None if cue is None else pool_cue_mask(cue, grad.shape[-2:])
        for k in (labels == 1).nonzero().flatten().tolist():
            seen = found.setdefault(names[int(batch["pai"][k])], {"cue": [], "live": [], "all": []})
            seen["all"].append(float(grad[k].mean()))
            if cue_pixels is not None:
                on = cue_pixels[k]
                if on.any():
                    seen["cue"].append(float(grad[k][on].mean()))
                if (~on).any():
                    seen["live"].append(float(grad[k][~on].mean()))
    which = "initial" if args.untrained else "trained"
    print(f"dL_val / d target per pixel (x 1e6), mean over attack frames ({which} networks):")
    print(f"  {'species':<16}{'cue':>10}{'live':>10}{'all':>10}{'frames':>8}")
    for name, seen in found.items():
        cells = [f"{1e6 * _mean(seen[key]):+10.1f}" for key in ("cue", "live", "all")]
        print(f"  {name:<16}{''.join(cells)}{len(seen['all']):>8}")
    return 0


if __name__ == "__main__":
    try:
        raise SystemExit(main(sys.argv[1:]))
    except MTFASError as exc:  # a mistake mtfas catches: its message, no traceback
        print(f"{Path(__file__).name}: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
