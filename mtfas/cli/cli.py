"""The ``mtfas`` command line.

``mtfas fit | validate | test | predict --config CONFIG.yaml`` wrap Lightning's CLI
(every constructor argument of the system and the data module is a YAML key or a
``--model.*`` / ``--data.*`` flag). ``fit`` tests the trained model right after training
(dev threshold applied to test) unless ``--test_after_fit false``.

``mtfas synth --out DIR`` renders the synthetic benchmark for a person to look at;
``mtfas synth --layout oulu-npu --out DIR`` writes it as a release in OULU-NPU's layout.
``mtfas folds --config CONFIG.yaml`` runs every fold of a folded protocol (mean +- std);
``mtfas compare --config CONFIG.yaml`` trains MT-FAS and the baselines over seeds.

``mtfas report RUN_DIR...`` collects the results of several test runs (mean +- std);
``mtfas predict --ckpt_path X --input PATH...`` scores images, videos and folders with a
checkpoint (with ``--config`` it is LightningCLI's ``predict`` instead; see
:func:`mtfas.cli.inference.is_checkpoint_predict`); ``mtfas export --ckpt_path X
--out model.onnx`` exports the student to ONNX.

>>> main(["fit", "--config", "configs/demo.yaml"])  # doctest: +SKIP
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from lightning.pytorch.cli import LightningCLI

from mtfas.datamodules.base import FASDataModule
from mtfas.systems.base import FASSystem


class MTFASCLI(LightningCLI):
    """LightningCLI over any :class:`FASSystem` and :class:`FASDataModule`."""

    def add_arguments_to_parser(self, parser) -> None:  # noqa: D102
        parser.add_argument(
            "--test_after_fit",
            type=bool,
            default=True,
            help="After fit, run test (threshold chosen on dev, applied to test).",
        )

    def after_fit(self) -> None:
        """Test the trained model on [dev, test] unless disabled."""
        if self.config[self.subcommand].get("test_after_fit", True):
            self.trainer.test(self.model, datamodule=self.datamodule, verbose=False)


def synth_main(argv: Sequence[str]) -> int:
    """``mtfas synth``: a sample grid to look at, or a synthetic release in a real layout."""
    import inspect

    from mtfas.synthetic import write_sample_grid
    from mtfas.synthetic.layouts import LAYOUTS

    parser = argparse.ArgumentParser(
        prog="mtfas synth",
        allow_abbrev=False,
        description="Render the synthetic benchmark. --layout grid (default): a PNG grid of "
        "live faces and each attack species (columns) for several subjects (rows). "
        f"--layout {{{','.join(LAYOUTS)}}}: a release in that benchmark's exact layout "
        "(videos, annotations, protocol files), readable by its data module.",
    )
    parser.add_argument("--out", required=True, help="Output directory.")
    parser.add_argument("--layout", default="grid", choices=["grid", *LAYOUTS])
    parser.add_argument("--seed", type=int, default=0, help="Seed of the generator.")
    parser.add_argument("--size", type=int, default=None,
                        help="Side of each rendered image (grid: 128; layouts: their default).")
    parser.add_argument("--n_subjects", type=int, default=4, help="grid: rows of the grid.")
    release = parser.add_argument_group("releases (--layout other than grid)")
    release.add_argument("--frames", type=int, default=None, help="Frames per video.")
    release.add_argument("--phones", type=int, nargs="+", default=None,
                         help="oulu-npu: phones 1-6 to include (default all).")
    release.add_argument("--sessions", type=int, nargs="+", default=None,
                         help="oulu-npu: sessions 1-3 to include (default all).")
    release.add_argument("--users", type=int, nargs="+", default=None,
                         help="oulu-npu: first N users of every split, or N_TRAIN N_DEV N_TEST.")
    release.add_argument("--subjects", type=int, nargs="+", default=None,
                         help="siw, replay-attack, casia-fasd, msu-mfsd: first N subjects "
                         "(clients) of every split, or one count per split.")
    release.add_argument("--workers", type=int, default=0, help="Rendering processes.")
    args = parser.parse_args(list(argv))
    if args.layout == "grid":
        size = 128 if args.size is None else args.size
        path = write_sample_grid(args.out, n_subjects=args.n_subjects, size=size, seed=args.seed)
        print(f"Wrote {path}")
        return 0
    writer = LAYOUTS[args.layout]
    knobs = {
        "size": args.size,
        "n_frames": args.frames,
        "phones": args.phones,
        "sessions": args.sessions,
        "users_per_split": (args.users[0] if args.users and len(args.users) == 1
                            else args.users),
        "subjects_per_split": (args.subjects[0] if args.subjects and len(args.subjects) == 1
                               else args.subjects),
    }
    accepted = inspect.signature(writer).parameters
    unknown = [k for k, v in knobs.items() if v is not None and k not in accepted]
    if unknown:
        parser.error(f"layout {args.layout} has no knob {unknown}")
    kwargs = {k: v for k, v in knobs.items() if v is not None}
    result = writer(args.out, seed=args.seed, workers=args.workers, progress=True, **kwargs)
    quality = "lossless" if result.lossless else "lossy"
    print(
        f"Wrote a synthetic {result.layout} release to {result.root}: {result.n_videos} videos "
        f"({result.n_written} rendered now), codec {result.fourcc} ({quality}), "
        f"{len(result.protocol_files)} protocol files"
    )
    return 0


def folds_main(argv: Sequence[str]) -> int:
    """``mtfas folds``: fit and test every fold of a protocol, report mean +- std."""
    from mtfas.pipelines.folds import folds_main as run

    return run(argv)


def compare_main(argv: Sequence[str]) -> int:
    """``mtfas compare``: MT-FAS vs the baselines over seeds, mean +- std table."""
    from mtfas.pipelines.compare import compare_main as run

    return run(argv)


def report_main(argv: Sequence[str]) -> int:
    """``mtfas report``: collect several test runs into one table with mean +- std."""
    from mtfas.reporting.runs import report_main as run

    return run(argv)


def predict_main(argv: Sequence[str]) -> int:
    """``mtfas predict``: the checkpoint predictor, or LightningCLI's predict with a config."""
    from mtfas.cli.inference import is_checkpoint_predict
    from mtfas.cli.inference import predict_main as run

    if is_checkpoint_predict(argv):
        return run(argv)
    return lightning_main(["predict", *argv])


def export_main(argv: Sequence[str]) -> int:
    """``mtfas export``: a checkpoint's student as an ONNX model."""
    from mtfas.cli.inference import export_main as run

    return run(argv)


#: Subcommands handled outside LightningCLI.
EXTRA_COMMANDS = {
    "synth": synth_main,
    "folds": folds_main,
    "compare": compare_main,
    "report": report_main,
    "predict": predict_main,
    "export": export_main,
}


def main(args: Sequence[str] | None = None) -> int:
    """Entry point of the ``mtfas`` console script.

    Args:
        args: Command-line arguments without the program name (default: ``sys.argv[1:]``).

    Returns:
        The exit status (0 on success).
    """
    argv = list(sys.argv[1:] if args is None else args)
    if argv and argv[0] in EXTRA_COMMANDS:
        return EXTRA_COMMANDS[argv[0]](argv[1:])
    return lightning_main(argv)


def lightning_main(argv: Sequence[str]) -> int:
    """Run LightningCLI (``fit``, ``validate``, ``test``, ``predict``) on ``argv``."""
    MTFASCLI(
        FASSystem,
        FASDataModule,
        subclass_mode_model=True,
        subclass_mode_data=True,
        args=list(argv),
        save_config_kwargs={"overwrite": True},
    )
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
