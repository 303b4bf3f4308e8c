"""Tests of PADReport's flat dict, table and text rendering."""

from __future__ import annotations

import math

import pytest
import torch

from mtfas.metrics import PADReport, pad_report

NAMES = ["live", "print", "replay", "mask"]


def small_report() -> PADReport:
    # bona fide 0.1, 0.3, 0.6; print 0.3, 0.5; mask 0.9; replay absent. Threshold 0.5:
    # print misses 0.3 -> APCER 1/2; mask 0; pooled 1/3; BPCER 1/3 (0.6).
    scores = torch.tensor([0.1, 0.3, 0.6, 0.3, 0.5, 0.9], dtype=torch.float64)
    labels = torch.tensor([0, 0, 0, 1, 1, 1])
    pai = torch.tensor([0, 0, 0, 1, 1, 3])
    return pad_report(scores, labels, pai, 0.5, NAMES)


def test_to_dict_keys_and_values():
    report = small_report()
    values = report.to_dict()
    assert list(values) == [
        "threshold",
        "apcer",
        "apcer/print",
        "apcer/mask",
        "apcer_pooled",
        "bpcer",
        "acer",
        "hter",
        "eer",
        "eer_threshold",
        "auc",
        "bpcer@apcer=1%",
        "bpcer@apcer=5%",
        "bpcer@apcer=10%",
        "bpcer@apcer_pooled=1%",
        "bpcer@apcer_pooled=5%",
        "bpcer@apcer_pooled=10%",
    ]
    assert all(type(v) is float and math.isfinite(v) for v in values.values())
    assert values["apcer"] == 0.5 and values["apcer/mask"] == 0.0
    assert values["apcer_pooled"] == pytest.approx(1 / 3)
    assert values["acer"] == pytest.approx((1 / 2 + 1 / 3) / 2)
    # Worst species (print 0.3, 0.5; mask 0.9) at APCER <= 10 %: every threshold up to 0.3
    # (print's lowest score), lowest BPCER 2/3 (0.3 and 0.6 flagged). Pooled (3 attacks)
    # likewise allows no miss: the same 0.3.
    assert values["bpcer@apcer=10%"] == pytest.approx(2 / 3)
    assert values["bpcer@apcer_pooled=10%"] == pytest.approx(2 / 3)


def test_to_dict_prefix_and_counts():
    values = small_report().to_dict(prefix="test/", include_counts=True)
    assert all(key.startswith("test/") for key in values)
    assert values["test/count/live"] == 3.0
    assert values["test/count/print"] == 2.0
    assert values["test/count/replay"] == 0.0
    assert values["test/count/mask"] == 1.0


def test_table_is_in_percent_except_thresholds():
    report = small_report()
    table = report.table()
    assert list(table.columns) == ["metric", "value", "unit"]
    rows = table.set_index("metric")
    assert rows.loc["apcer", "value"] == pytest.approx(50.0)
    assert rows.loc["apcer", "unit"] == "%"
    assert rows.loc["threshold", "value"] == 0.5
    assert rows.loc["threshold", "unit"] == "score"
    assert rows.loc["eer_threshold", "value"] == report.eer_threshold
    assert len(table) == len(report.to_dict())


def test_format_lists_every_species_in_percent():
    text = small_report().format("dev set")
    lines = text.splitlines()
    assert lines[0] == "dev set"
    assert set(lines[1]) == {"-"}
    assert "APCER (worst: print)" in text and "50.00 %" in text
    assert any("replay" in line and "absent" in line for line in lines)
    assert any(line.startswith("BPCER") and "33.33 %" in line for line in lines)
    assert any(line.startswith("BPCER @ APCER=5%") and "worst species" in line for line in lines)
    assert "BPCER @ APCER pooled=5%" in text
    assert "nan" not in text.lower()
