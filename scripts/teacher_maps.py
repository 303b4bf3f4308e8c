"""Draw what a trained run's teacher and student put on faces with known spoof cues.

    python scripts/teacher_maps.py RUN_DIR --out docs/partial_teacher_maps.png

``RUN_DIR`` is the folder of a run of ``mtfas fit`` (or of one ``mtfas compare`` job)
holding ``config.yaml`` and ``checkpoints/last.ckpt`` (the tested model). The run's model
and data module are rebuilt from ``config.yaml`` (the model and data sections, parsed as
data by ``mtfas.cli.MTFASCLI``; nothing in the file is executed), the weights are loaded
with ``torch.load(weights_only=True)`` (``mtfas.inference.checkpoint.load_checkpoint``),
and ``--per_species`` frames of each attack species of the chosen evaluation split (plus as
many live frames) are drawn with ``mtfas.callbacks.system_map_figure``: face, cue mask
(where the data has one), teacher target and student map on one colour scale [0, 1].
Frames are the first of each species in the split's loader order (deterministic).
Set ``MTFAS_CACHE`` as for the run, so that its release and crops are reused.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch
import yaml

from mtfas.callbacks.dashboard import system_map_figure
from mtfas.cli.cli import MTFASCLI
from mtfas.cli.trust import check_run_config
from mtfas.errors import MTFASError
from mtfas.inference.checkpoint import load_checkpoint


def main(argv: list[str]) -> int:
    """Draw the figure; returns the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run", type=Path, help="run folder (config.yaml, checkpoints/last.ckpt)")
    parser.add_argument("--out", type=Path, required=True, help="figure file (.png, .pdf)")
    parser.add_argument("--split", choices=["dev", "test"], default="test")
    parser.add_argument("--per_species", type=int, default=2)
    args = parser.parse_args(argv)

    path = args.run / "config.yaml"
    config = yaml.safe_load(path.read_text(encoding="utf-8"))
    check_run_config(config if isinstance(config, dict) else {}, str(path))
    cli = MTFASCLI(args={key: config[key] for key in ("model", "data")}, run=False)
    system, data = cli.model, cli.datamodule
    checkpoint = load_checkpoint(args.run / "checkpoints" / "last.ckpt")
    system.load_state_dict(checkpoint["state_dict"])
    data.prepare_data()
    data.setup("test")
    dev, test = data.test_dataloader()
    names = list(data.pai_names)
    wanted = {pai: args.per_species for pai in range(len(names))}
    picked: list[tuple[torch.Tensor, int, int, torch.Tensor | None]] = []
    for batch in dev if args.split == "dev" else test:
        for i, pai in enumerate(batch["pai"].tolist()):
            if wanted.get(pai, 0) > 0:
                wanted[pai] -= 1
                mask = batch["cue_mask"][i] if "cue_mask" in batch else None
                picked.append((batch["image"][i], pai, int(batch["label"][i]), mask))
        if not any(wanted.values()):
            break
    picked.sort(key=lambda item: item[1])
    images = torch.stack([p[0] for p in picked])
    labels = torch.tensor([p[2] for p in picked])
    masks = None if picked[0][3] is None else torch.stack([p[3] for p in picked])  # type: ignore[misc]
    titles = [names[p[1]] for p in picked]
    figure = system_map_figure(system, images, labels, titles, masks)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(args.out, dpi=110, bbox_inches="tight")
    print(f"Wrote {args.out}: {len(picked)} {args.split} frames ({', '.join(sorted(set(titles)))})")
    return 0


if __name__ == "__main__":
    try:
        raise SystemExit(main(sys.argv[1:]))
    except MTFASError as exc:  # a mistake mtfas catches: its message, no traceback
        print(f"{Path(__file__).name}: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
