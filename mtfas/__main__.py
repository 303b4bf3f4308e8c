"""``python -m mtfas``: the ``mtfas`` command line."""

from mtfas.cli import main

if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
