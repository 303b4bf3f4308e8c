"""``mtfas predict`` (checkpoint predictor) and ``mtfas export`` command lines.

``mtfas predict`` has two meanings. With ``--config``/``-c`` or Lightning's ``--model.*``,
``--data.*``, ``--trainer.*`` or ``--print_config`` flags (and no ``--input``) it is
LightningCLI's ``predict`` subcommand, unchanged. Otherwise (typically ``--ckpt_path X
--input PATH...``) it runs the checkpoint :class:`~mtfas.inference.Predictor` on images,
videos and folders: see :func:`is_checkpoint_predict`.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

__all__ = ["export_main", "is_checkpoint_predict", "predict_main"]

_LIGHTNING_PREFIXES = ("--config", "-c", "--model", "--data", "--trainer", "--print_config")


def is_checkpoint_predict(argv: Sequence[str]) -> bool:
    """Whether ``mtfas predict ARGV`` is for the checkpoint predictor (not LightningCLI).

    It is when ``--input`` is given, or when no LightningCLI flag (``--config``, ``-c``,
    ``--model.*``, ``--data.*``, ``--trainer.*``, ``--print_config``) is.
    """
    if any(a == "--input" or a.startswith("--input=") for a in argv):
        return True
    return not any(
        a == p or a.startswith((p + "=", p + ".")) for a in argv for p in _LIGHTNING_PREFIXES
    )


def _predict_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mtfas predict",
        allow_abbrev=False,
        description="Score images, videos and folders with a trained checkpoint: face "
        "detection (dlib HOG) or a given box, crop (scale from the checkpoint, 1.3), resize "
        "to the model's input size, per-frame and per-video scores (map mean, higher = "
        "attack), decision at the dev threshold saved with the checkpoint. (With --config, "
        "`mtfas predict` is LightningCLI's predict subcommand instead.)",
    )
    parser.add_argument("--ckpt_path", required=True, help="Checkpoint (.ckpt) of an mtfas run.")
    parser.add_argument(
        "--input", nargs="+", required=True, help="Image or video files, or folders of them."
    )
    parser.add_argument("--out", default=None, help="Write the result to a .csv or .json file.")
    faces = parser.add_mutually_exclusive_group()
    faces.add_argument(
        "--no-detect",
        dest="detect",
        action="store_false",
        help="The inputs are face crops already: use the whole frame.",
    )
    faces.add_argument(
        "--box",
        nargs=4,
        type=float,
        metavar=("X1", "Y1", "X2", "Y2"),
        help="Face box in pixels, used for every frame instead of detection.",
    )
    parser.add_argument(
        "--max_frames",
        type=int,
        default=None,
        help="At most this many frames per video, evenly spread (default all).",
    )
    parser.add_argument(
        "--threshold", type=float, default=None, help="Override the checkpoint's dev threshold."
    )
    parser.add_argument(
        "--input_size", type=int, default=None, help="Override the checkpoint's input size."
    )
    parser.add_argument("--batch_size", type=int, default=32, help="Faces per forward pass.")
    parser.add_argument("--device", default="cpu", help="Torch device (default cpu).")
    return parser


def predict_main(argv: Sequence[str]) -> int:
    """Run the checkpoint predictor; exit status 1 when no input could be scored."""
    from mtfas.errors import MTFASError
    from mtfas.inference.predictor import Predictor

    parser = _predict_parser()
    args = parser.parse_args(list(argv))
    try:
        predictor = Predictor.from_checkpoint(
            args.ckpt_path,
            input_size=args.input_size,
            threshold=args.threshold,
            detect=args.detect,
            box=args.box,
            max_frames=args.max_frames,
            batch_size=args.batch_size,
            device=args.device,
        )
        result = predictor.predict(args.input)
        written = result.save(args.out) if args.out else []
    except MTFASError as exc:
        parser.exit(2, f"mtfas predict: error: {exc}\n")
    print(result.summary())
    for path in written:
        print(f"Wrote {path}")
    if result.n_scored_inputs == 0:
        print("mtfas predict: no input could be scored (see the skip reasons above).")
        return 1
    return 0


def export_main(argv: Sequence[str]) -> int:
    """``mtfas export``: the student of a checkpoint as an ONNX model."""
    from mtfas.errors import MTFASError
    from mtfas.inference.export import DEFAULT_ATOL, export_onnx

    parser = argparse.ArgumentParser(
        prog="mtfas export",
        allow_abbrev=False,
        description="Export a checkpoint's student to ONNX: input 'image' (batch, 3, S, S) "
        "normalised as in training, outputs 'map' and 'score' (map mean, attack iff score >= "
        "threshold); dynamic batch axis; threshold and input size in the model metadata.",
    )
    parser.add_argument("--ckpt_path", required=True, help="Checkpoint (.ckpt) of an mtfas run.")
    parser.add_argument("--out", required=True, help="The .onnx file to write.")
    parser.add_argument(
        "--input_size", type=int, default=None, help="Override the checkpoint's input size."
    )
    parser.add_argument("--opset", type=int, default=None, help="ONNX opset version.")
    parser.add_argument(
        "--no-check",
        dest="check",
        action="store_false",
        help="Do not compare ONNX Runtime with PyTorch.",
    )
    parser.add_argument(
        "--atol",
        type=float,
        default=DEFAULT_ATOL,
        help=f"Tolerance of the check (default {DEFAULT_ATOL:g}).",
    )
    args = parser.parse_args(list(argv))
    try:
        result = export_onnx(
            args.ckpt_path,
            args.out,
            input_size=args.input_size,
            opset=args.opset,
            check=args.check,
            atol=args.atol,
        )
    except MTFASError as exc:
        parser.exit(2, f"mtfas export: error: {exc}\n")
    print(f"Wrote {result.path} (input {result.input_size}x{result.input_size}, dynamic batch)")
    if result.checked:
        print(f"ONNX Runtime matches PyTorch: max abs difference {result.max_abs_diff:.3g}")
    elif args.check:
        print("Not checked against PyTorch: onnxruntime is not installed.")
    return 0
