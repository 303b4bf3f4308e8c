"""``mtfas predict`` (the checkpoint predictor) and ``mtfas export``.

``mtfas predict --ckpt_path X --input PATH...`` scores images, videos and folders with a
trained checkpoint (:class:`~mtfas.inference.Predictor`). The options live on the same
``predict`` subcommand as Lightning's predict loop: with ``--input`` the checkpoint
predictor runs; without it, ``mtfas predict --config C --ckpt_path X`` is Lightning's
predict over the config's data module. ``mtfas export --ckpt_path X --out model.onnx``
writes the checkpoint's student as an ONNX model.
"""

from __future__ import annotations

from typing import Any

from mtfas.errors import ConfigError

__all__ = [
    "EXPORT_DESCRIPTION",
    "PREDICT_DESCRIPTION",
    "add_export_arguments",
    "add_predict_arguments",
    "run_export",
    "run_predict",
]

PREDICT_DESCRIPTION = (
    "Score images, videos and folders with a checkpoint (--ckpt_path X --input ...); with "
    "--config and no --input, Lightning's predict loop."
)
EXPORT_DESCRIPTION = "Export a checkpoint's student to ONNX, checked against PyTorch."


def add_predict_arguments(parser: Any) -> None:
    """Add the checkpoint predictor's options to ``parser`` (``--ckpt_path`` is shared)."""
    group = parser.add_argument_group(
        "checkpoint predictor (with --input)",
        "Face detection (dlib HOG) or a given box, crop (scale from the checkpoint, 1.3), "
        "resize to the model's input size, per-frame and per-video scores (map mean, higher "
        "= attack), decision at the dev threshold saved with the checkpoint.",
    )
    group.add_argument(
        "--input",
        type=str,
        nargs="+",
        default=None,
        help="Image or video files, or folders of them (selects the checkpoint predictor).",
    )
    group.add_argument(
        "--out", type=str, default=None, help="Write the result to a .csv or .json file."
    )
    group.add_argument(
        "--no-detect",
        dest="detect",
        action="store_false",
        help="The inputs are face crops already: use the whole frame.",
    )
    group.add_argument(
        "--box",
        nargs=4,
        type=float,
        default=None,
        metavar=("X1", "Y1", "X2", "Y2"),
        help="Face box in pixels, used for every frame instead of detection.",
    )
    group.add_argument(
        "--max_frames",
        type=int,
        default=None,
        help="At most this many frames per video, evenly spread (default all).",
    )
    group.add_argument(
        "--threshold", type=float, default=None, help="Override the checkpoint's dev threshold."
    )
    group.add_argument(
        "--input_size", type=int, default=None, help="Override the checkpoint's input size."
    )
    group.add_argument("--batch_size", type=int, default=32, help="Faces per forward pass.")
    group.add_argument("--device", type=str, default="cpu", help="Torch device (default cpu).")
    _add_allow_class(group)


def _add_allow_class(parser: Any) -> None:
    """``--allow_class``: student classes the user trusts besides mtfas's networks."""
    parser.add_argument(
        "--allow_class",
        type=str,
        nargs="+",
        default=None,
        metavar="pkg.module.Class",
        help="Student classes you trust besides mtfas's networks (DepthNet, CDCN, "
        "TeacherNet): a checkpoint naming another class is refused, since building a class "
        "named by a file can run its code.",
    )


def run_predict(args: Any) -> int:
    """Run the checkpoint predictor; exit status 1 when no input could be scored.

    Raises:
        ConfigError: If ``--ckpt_path`` is missing or ``--box`` is combined with
            ``--no-detect``.
    """
    from mtfas.inference.predictor import Predictor

    if not args.ckpt_path:
        raise ConfigError("mtfas predict --input needs --ckpt_path (a checkpoint of an mtfas run)")
    if args.box is not None and not args.detect:
        raise ConfigError("--box and --no-detect exclude each other: give one of them")
    predictor = Predictor.from_checkpoint(
        args.ckpt_path,
        input_size=args.input_size,
        threshold=args.threshold,
        detect=args.detect,
        box=args.box,
        max_frames=args.max_frames,
        batch_size=args.batch_size,
        device=args.device,
        allowed_classes=args.allow_class or (),
    )
    _say_selection(predictor.info.selection if predictor.info else None)
    result = predictor.predict(args.input)
    written = result.save(args.out) if args.out else []
    print(result.summary())
    for path in written:
        print(f"Wrote {path}")
    if result.n_scored_inputs == 0:
        print("mtfas predict: no input could be scored (see the skip reasons above).")
        return 1
    return 0


def add_export_arguments(parser: Any) -> None:
    """Add the options of ``mtfas export`` to ``parser``."""
    from mtfas.inference.export import DEFAULT_ATOL

    parser.description = (
        "Export a checkpoint's student to ONNX: input 'image' (batch, 3, S, S) normalised as "
        "in training, outputs 'map' and 'score' (map mean, attack iff score >= threshold); "
        "dynamic batch axis; threshold and input size in the model metadata."
    )
    parser.add_argument(
        "--ckpt_path", type=str, required=True, help="Checkpoint (.ckpt) of an mtfas run."
    )
    parser.add_argument("--out", type=str, required=True, help="The .onnx file to write.")
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
    _add_allow_class(parser)


def run_export(args: Any) -> int:
    """Run ``mtfas export`` with parsed arguments; returns the exit status."""
    from mtfas.inference.export import export_onnx

    result = export_onnx(
        args.ckpt_path,
        args.out,
        input_size=args.input_size,
        opset=args.opset,
        check=args.check,
        atol=args.atol,
        allowed_classes=args.allow_class or (),
    )
    _say_selection(result.selection)
    print(f"Wrote {result.path} (input {result.input_size}x{result.input_size}, dynamic batch)")
    if result.checked:
        print(f"ONNX Runtime matches PyTorch: max abs difference {result.max_abs_diff:.3g}")
    elif args.check:
        print(
            'Not checked against PyTorch: onnxruntime is not installed (pip install "mtfas[onnx]").'
        )
    return 0


def _say_selection(selection: str | None) -> None:
    """Say that a checkpoint chosen on validation is not the model the fit tested."""
    if selection:
        print(
            f"Note: this checkpoint was chosen on validation ({selection}); it is not the "
            "model the fit tested and printed (that is last.ckpt)."
        )
