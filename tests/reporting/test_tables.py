"""Cells of the summary tables: ``mean ± std``, one value, none."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from mtfas.reporting.tables import mean_std, percent, spread


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ([0.05, 0.15], "10.00 ± 7.07"),  # sample std of 5 % and 15 %: 7.07 %
        ([0.0625], "6.25 (n=1)"),
        ([], "-"),
    ],
)
def test_spread_of_rates_in_percent(values, expected) -> None:
    assert spread(*mean_std(pd.Series(values, dtype=float))) == expected


@pytest.mark.parametrize(
    ("mean", "std", "n", "expected"),
    [
        (0.1234, 0.0451, 3, "+0.123 ± 0.045"),
        (-0.02, 0.01, 2, "-0.020 ± 0.010"),
        (0.0, math.nan, 1, "+0.000 (n=1)"),
        (0.5, 0.1, 0, "-"),
    ],
)
def test_signed_spread_of_map_values(mean, std, n, expected) -> None:
    assert spread(mean, std, n, lambda v: f"{v:.3f}", signed=True) == expected
    # the same cells the format spec "+.3f" writes for the mean
    if n > 0:
        assert spread(mean, std, n, lambda v: f"{v:.3f}", signed=True).startswith(f"{mean:+.3f}")


def test_percent_of_missing_is_a_dash() -> None:
    assert percent(None) == "-" and percent(math.nan) == "-" and percent(0.5) == "50.00"
