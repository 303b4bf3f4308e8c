"""The ``mtfas`` command line.

``mtfas fit | validate | test | predict --config CONFIG.yaml`` wrap Lightning's CLI
(every constructor argument of the system and the data module is a YAML key or a
``--model.*`` / ``--data.*`` flag). ``fit`` tests the trained model right after training
(dev threshold applied to test) unless ``--test_after_fit false``.

``mtfas synth --out DIR`` renders the synthetic benchmark for a person to look at.

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
    """``mtfas synth``: write synthetic samples for a person to look at."""
    from mtfas.synthetic import write_sample_grid

    parser = argparse.ArgumentParser(
        prog="mtfas synth",
        description="Render the synthetic benchmark: a grid of live faces and each attack "
        "species (columns) for several subjects (rows).",
    )
    parser.add_argument("--out", required=True, help="Output directory.")
    parser.add_argument("--n_subjects", type=int, default=4, help="Rows of the grid.")
    parser.add_argument("--size", type=int, default=128, help="Side of each rendered image.")
    parser.add_argument("--seed", type=int, default=0, help="Seed of the generator.")
    args = parser.parse_args(list(argv))
    path = write_sample_grid(args.out, n_subjects=args.n_subjects, size=args.size, seed=args.seed)
    print(f"Wrote {path}")
    return 0


#: Subcommands handled outside LightningCLI.
EXTRA_COMMANDS = {"synth": synth_main}


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
    MTFASCLI(
        FASSystem,
        FASDataModule,
        subclass_mode_model=True,
        subclass_mode_data=True,
        args=argv,
        save_config_kwargs={"overwrite": True},
    )
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
