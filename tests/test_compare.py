"""``mtfas compare``: every method and seed runs, and the table aggregates them."""

from __future__ import annotations

import pandas as pd
import pytest

from mtfas.errors import ConfigError
from mtfas.pipelines.compare import METHODS, run_compare, summarise
from tests.test_cli import TINY


def test_summary_is_mean_and_sample_std_per_method():
    runs = pd.DataFrame(
        {"method": ["b", "a", "b", "a"], "seed": [0, 0, 1, 1], "apcer": [0.1, 0.2, 0.3, 0.4],
         "bpcer": [0.0, 0.0, 0.2, 0.2], "acer": [0.05, 0.1, 0.25, 0.3]}
    )
    summary = summarise(runs).set_index("method")
    assert list(summary.index) == ["b", "a"]
    assert summary.loc["b", "apcer_mean"] == pytest.approx(0.2)
    assert summary.loc["b", "apcer_std"] == pytest.approx(pd.Series([0.1, 0.3]).std())
    assert summary.loc["a", "runs"] == 2


def test_every_method_trains_and_is_tabulated(tmp_path):
    summary = run_compare(
        ["--config", TINY, "--trainer.fast_dev_run", "1",
         "--trainer.default_root_dir", str(tmp_path)],
        list(METHODS), [0], tmp_path / "out",
    )
    assert list(summary["method"]) == list(METHODS)
    runs = pd.read_csv(tmp_path / "out" / "compare.csv")
    assert len(runs) == len(METHODS)
    assert runs["acer"].between(0, 1).all()
    assert "teacher_student" in (tmp_path / "out" / "compare.md").read_text()


def test_unknown_method_is_rejected(tmp_path):
    with pytest.raises(ConfigError, match="unknown methods"):
        run_compare([], ["dino"], [0], tmp_path)
