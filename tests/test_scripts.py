"""The figure scripts of scripts/ run on a real (tiny) run folder."""

from __future__ import annotations

import runpy
import sys

import pytest

from mtfas.cli import main
from tests.cli.test_cli import ROOT, TINY


@pytest.mark.slow
def test_teacher_maps_draws_the_maps_of_a_trained_run(tmp_path, capsys, monkeypatch):
    run = tmp_path / "run"
    args = ["fit", "--config", TINY, "--trainer.max_steps", "2"]
    assert main([*args, "--trainer.default_root_dir", str(run)]) == 0
    assert (run / "config.yaml").is_file() and (run / "checkpoints" / "last.ckpt").is_file()
    capsys.readouterr()
    out = tmp_path / "maps.png"
    argv = [str(run), "--out", str(out), "--split", "dev", "--per_species", "1"]
    monkeypatch.setattr(sys, "argv", ["teacher_maps.py", *argv])
    with pytest.raises(SystemExit) as exit_info:
        runpy.run_path(str(ROOT / "scripts" / "teacher_maps.py"), run_name="__main__")
    assert exit_info.value.code == 0
    printed = capsys.readouterr().out
    assert f"Wrote {out}: 5 dev frames (live, print1, print2, replay1, replay2)" in printed
    assert out.stat().st_size > 10_000
