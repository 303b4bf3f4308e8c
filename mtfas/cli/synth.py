"""``mtfas synth``: a sample grid to look at, or a synthetic release in a real layout."""

from __future__ import annotations

import inspect
from typing import Any

from mtfas.errors import ConfigError

DESCRIPTION = "Render the synthetic benchmark: a sample grid, or a release in a benchmark's layout."


def add_arguments(parser: Any) -> None:
    """Add the options of ``mtfas synth`` to ``parser``."""
    from mtfas.synthetic.layouts import LAYOUTS

    parser.description = (
        "Render the synthetic benchmark. --layout grid (default): a PNG grid of live faces "
        "and each attack species (columns) for several subjects (rows). "
        f"--layout {{{','.join(LAYOUTS)}}}: a release in that benchmark's exact layout "
        "(videos, annotations, protocol files), readable by its data module."
    )
    parser.add_argument("--out", required=True, help="Output directory.")
    parser.add_argument("--layout", default="grid", choices=["grid", *LAYOUTS])
    parser.add_argument("--seed", type=int, default=0, help="Seed of the generator.")
    parser.add_argument(
        "--size",
        type=int,
        default=None,
        help="Side of each rendered image (grid: 128; layouts: their default).",
    )
    parser.add_argument("--n_subjects", type=int, default=4, help="grid: rows of the grid.")
    parser.add_argument(
        "--frames", type=int, default=None, help="Frames per video (layouts other than grid)."
    )
    parser.add_argument(
        "--phones",
        type=int,
        nargs="+",
        default=None,
        help="oulu-npu: phones 1-6 to include (default all).",
    )
    parser.add_argument(
        "--sessions",
        type=int,
        nargs="+",
        default=None,
        help="oulu-npu: sessions 1-3 to include (default all).",
    )
    parser.add_argument(
        "--users",
        type=int,
        nargs="+",
        default=None,
        help="oulu-npu: first N users of every split, or N_TRAIN N_DEV N_TEST.",
    )
    parser.add_argument(
        "--subjects",
        type=int,
        nargs="+",
        default=None,
        help="siw, replay-attack, casia-fasd, msu-mfsd, table: first N subjects "
        "(clients) of every split, or one count per split.",
    )
    parser.add_argument("--workers", type=int, default=0, help="Rendering processes.")


def _one_or_list(values: list[int] | None) -> int | list[int] | None:
    return values[0] if values and len(values) == 1 else values


def run(args: Any) -> int:
    """Run ``mtfas synth`` with parsed arguments; returns the exit status.

    Raises:
        ConfigError: If a knob does not apply to the chosen layout.
    """
    from mtfas.synthetic import write_sample_grid
    from mtfas.synthetic.layouts import LAYOUTS

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
        "users_per_split": _one_or_list(args.users),
        "subjects_per_split": _one_or_list(args.subjects),
    }
    accepted = inspect.signature(writer).parameters
    unknown = [k for k, v in knobs.items() if v is not None and k not in accepted]
    if unknown:
        raise ConfigError(f"layout {args.layout} has no knob {unknown}; see mtfas synth --help")
    kwargs = {k: v for k, v in knobs.items() if v is not None}
    result = writer(args.out, seed=args.seed, workers=args.workers, progress=True, **kwargs)
    quality = "lossless" if result.lossless else "lossy"
    print(
        f"Wrote a synthetic {result.layout} release to {result.root}: {result.n_videos} videos "
        f"({result.n_written} rendered now), codec {result.fourcc} ({quality}), "
        f"{len(result.protocol_files)} protocol files"
    )
    return 0
