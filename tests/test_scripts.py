"""The figure and measurement scripts of scripts/ run on a real (tiny) run folder."""

from __future__ import annotations

import re
import runpy
import sys

import pytest
import yaml

from mtfas.cli import main
from mtfas.cli.trust import check_run_config
from tests.cli.test_cli import ROOT, TINY


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    """The folder of a two-step MT-FAS fit (config.yaml, checkpoints/last.ckpt)."""
    run = tmp_path_factory.mktemp("run")
    args = ["fit", "--config", TINY, "--trainer.max_steps", "2"]
    assert main([*args, "--trainer.default_root_dir", str(run)]) == 0
    assert (run / "config.yaml").is_file() and (run / "checkpoints" / "last.ckpt").is_file()
    return run


def _script(name, argv, monkeypatch, capsys) -> str:
    capsys.readouterr()
    monkeypatch.setattr(sys, "argv", [name, *argv])
    with pytest.raises(SystemExit) as exit_info:
        runpy.run_path(str(ROOT / "scripts" / name), run_name="__main__")
    assert exit_info.value.code == 0
    return capsys.readouterr().out


@pytest.mark.slow
def test_teacher_maps_draws_the_maps_of_a_trained_run(tiny_run, tmp_path, capsys, monkeypatch):
    out = tmp_path / "maps.png"
    argv = [str(tiny_run), "--out", str(out), "--split", "dev", "--per_species", "1"]
    printed = _script("teacher_maps.py", argv, monkeypatch, capsys)
    assert f"Wrote {out}: 5 dev frames (live, print1, print2, replay1, replay2)" in printed
    assert out.stat().st_size > 10_000


@pytest.mark.slow
def test_meta_gradient_map_prints_the_gradient_of_each_species(tiny_run, capsys, monkeypatch):
    printed = _script(
        "meta_gradient_map.py", [str(tiny_run), "--batches", "1"], monkeypatch, capsys
    )
    assert "dL_val / d target per pixel" in printed and "(trained networks)" in printed
    rows = re.findall(
        r"^  (print1|print2|replay1|replay2)\s+\+nan\s+\+nan\s+([-+][\d.]+)", printed, re.M
    )
    assert rows and all(float(value) != 0.0 for _, value in rows)  # no masks: "all" only


@pytest.mark.parametrize(
    "crafted",
    [
        {"model": {"class_path": "os.system", "init_args": {"command": "touch PWNED"}}},
        {
            "model": {
                "class_path": "mtfas.MetaTeacherSystem",
                "init_args": {
                    "student": {"class_path": "os.system", "init_args": {"command": "touch PWNED"}}
                },
            }
        },
    ],
    ids=["model", "nested"],
)
def test_scripts_refuse_a_run_config_naming_classes_outside_the_allow_list(
    tiny_run, tmp_path, capsys, monkeypatch, crafted
):
    run = tmp_path / "crafted"
    run.mkdir()
    genuine = yaml.safe_load((tiny_run / "config.yaml").read_text())
    (run / "config.yaml").write_text(yaml.safe_dump({**genuine, **crafted}))
    monkeypatch.chdir(tmp_path)
    for name, argv in [
        ("teacher_maps.py", [str(run), "--out", str(tmp_path / "x.png")]),
        ("meta_gradient_map.py", [str(run)]),
    ]:
        monkeypatch.setattr(sys, "argv", [name, *argv])
        with pytest.raises(SystemExit) as exit_info:
            runpy.run_path(str(ROOT / "scripts" / name), run_name="__main__")
        assert exit_info.value.code == 2
        err = capsys.readouterr().err
        assert "os.system" in err and "Traceback" not in err
    assert not (tmp_path / "PWNED").exists()
    check_run_config(genuine, "the genuine config")  # the real one passes
