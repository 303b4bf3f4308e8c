"""Tables shared by ``mtfas report``, ``mtfas folds`` and ``mtfas compare``.

One summary (mean, sample standard deviation and count per group) and one way to print
it: ``mean ± std`` in percent, or ``value (n=1)`` where a single run leaves the standard
deviation undefined (never ``± nan``). Tables are written atomically.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from pathlib import Path

import pandas as pd

from mtfas.io import atomic_write_text

__all__ = [
    "markdown_table",
    "mean_std",
    "percent",
    "spread",
    "summarise",
    "write_csv",
    "write_tables",
    "write_text",
]


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A GitHub-flavoured markdown table (no trailing newline)."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def percent(value: float | None) -> str:
    """A fraction as a percentage with two decimals; ``-`` for a missing value."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{100 * float(value):.2f}"


def spread(
    mean: float,
    std: float,
    n: int,
    shown: Callable[[float], str] = percent,
    signed: bool = False,
) -> str:
    """``mean ± std``; ``mean (n=1)`` when one value leaves std undefined; ``-`` for none.

    Args:
        mean: The mean.
        std: The standard deviation (NaN when undefined).
        n: How many values the mean is of.
        shown: How a value is written (default :func:`percent`, for rates).
        signed: Write the mean with its sign (a difference), e.g. ``+0.123 ± 0.045``.
    """
    if n == 0:
        return "-"
    text = shown(mean)
    if signed and not text.startswith("-"):
        text = "+" + text
    if n == 1 or math.isnan(std):
        return f"{text} (n={n})"
    return f"{text} ± {shown(std)}"


def mean_std(values: pd.Series) -> tuple[float, float, int]:
    """Mean, sample standard deviation (``n - 1``) and count of the non-missing values."""
    present = values.dropna().astype(float)
    n = len(present)
    mean = float(present.mean()) if n else math.nan
    std = float(present.std(ddof=1)) if n > 1 else math.nan
    return mean, std, n


def summarise(table: pd.DataFrame, columns: Sequence[str], by: str | None = None) -> pd.DataFrame:
    """Mean, sample std and count of ``columns``, per value of ``by`` (in order of appearance).

    Returns:
        One row per group (a single row named ``all`` without ``by``) with columns
        ``<group>``, ``runs`` and ``<column>_mean``, ``<column>_std``, ``<column>_n``.
    """
    groups = table.groupby(by, sort=False) if by else [("all", table)]
    rows = []
    for name, part in groups:
        row: dict[str, object] = {by or "group": name, "runs": len(part)}
        for column in columns:
            mean, std, n = mean_std(part[column]) if column in part else (math.nan, math.nan, 0)
            row.update({f"{column}_mean": mean, f"{column}_std": std, f"{column}_n": n})
        rows.append(row)
    return pd.DataFrame(rows)


def write_text(path: str | Path, text: str) -> Path:
    """Write ``text`` to ``path`` atomically, creating its folder (:mod:`mtfas.io`)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    return atomic_write_text(path, text)


def write_csv(path: str | Path, table: pd.DataFrame) -> Path:
    """Write ``table`` as CSV (no index) to ``path`` atomically."""
    return write_text(path, table.to_csv(index=False))


def write_tables(out_dir: str | Path, stem: str, table: pd.DataFrame, markdown: str) -> None:
    """Write ``<stem>.csv`` and ``<stem>.md`` to ``out_dir`` atomically; print the markdown."""
    out = Path(out_dir)
    write_csv(out / f"{stem}.csv", table)
    write_text(out / f"{stem}.md", markdown)
    print(markdown)
    print(f"Wrote {out / f'{stem}.csv'} and {out / f'{stem}.md'}")
