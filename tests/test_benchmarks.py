"""The GPU training benchmark runs end to end (on the CPU, tiny; no timing is asserted)."""

from __future__ import annotations

import runpy
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "gpu_training.py"


@pytest.mark.slow
def test_gpu_training_benchmark_smoke_run_on_cpu(monkeypatch, capsys):
    monkeypatch.setattr(
        sys,
        "argv",
        [
            str(SCRIPT),
            "--device",
            "cpu",
            "--width",
            "0.125",
            "--size",
            "32",
            "--batch",
            "4",
            "--steps",
            "2",
            "--warmup",
            "1",
            "--frames",
            "2",
        ],
    )
    runpy.run_path(str(SCRIPT), run_name="__main__")
    out = capsys.readouterr().out
    rows = [line for line in out.splitlines() if line.startswith(("plain", "MT-FAS"))]
    assert [row.split()[0] for row in rows] == ["plain"] + ["MT-FAS"] * 3
    for row in rows:
        seconds, images_per_s = (float(v) for v in row.split()[-4:-2])
        assert seconds > 0 and abs(images_per_s - 4 / seconds) < 0.1 * images_per_s


def test_run_all_reads_every_performance_command_from_the_readme():
    from benchmarks.run_all import performance_commands

    readme = (SCRIPT.parents[1] / "README.md").read_text()
    commands = performance_commands(readme)
    scripts = {c.split()[1] for c in commands}
    assert {
        "benchmarks/meta_step.py",
        "benchmarks/metrics_speed.py",
        "benchmarks/preprocess.py",
        "benchmarks/loader.py",
    } <= scripts
    for script in scripts:  # every command names a script that exists
        assert (SCRIPT.parents[1] / script).is_file(), script
