"""The ``mtfas`` command line, on tiny synthetic data."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import cv2
import pytest
import torch

from mtfas.cli import main
from mtfas.cli.cli import COMMANDS
from mtfas.inference.checkpoint import SELECTION_KEY, load_student

ROOT = Path(__file__).resolve().parents[2]
TINY = str(ROOT / "tests" / "conf" / "tiny_mtfas.yaml")


@pytest.mark.slow
def test_fit_fast_dev_run_trains_then_tests_and_prints_the_table(capsys, tmp_path):
    main(
        [
            "fit",
            "--config",
            TINY,
            "--trainer.fast_dev_run",
            "1",
            "--trainer.default_root_dir",
            str(tmp_path),
        ]
    )
    out = capsys.readouterr().out
    assert "dev-chosen threshold" in out
    assert "APCER (worst" in out and "BPCER" in out and "ACER" in out
    for species in ("print1", "print2", "replay1", "replay2"):
        assert f"APCER {species}" in out


@pytest.mark.slow
def test_test_after_fit_can_be_disabled(capsys, tmp_path):
    main(
        [
            "fit",
            "--config",
            TINY,
            "--trainer.fast_dev_run",
            "1",
            "--test_after_fit",
            "false",
            "--trainer.default_root_dir",
            str(tmp_path),
        ]
    )
    assert "dev-chosen threshold" not in capsys.readouterr().out


@pytest.mark.parametrize("config", ["demo.yaml", "demo_baseline.yaml"])
def test_shipped_configs_parse(config, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["fit", "--config", str(ROOT / "configs" / config), "--print_config"])
    assert exit_info.value.code == 0
    assert "class_path: mtfas." in capsys.readouterr().out


def test_unknown_config_key_names_the_key(capsys, tmp_path):
    bad = tmp_path / "bad.yaml"
    text = Path(TINY).read_text().replace("inner_lr: 0.05", "inner_lr: 0.05\n    innr_steps: 2")
    bad.write_text(text)
    with pytest.raises(SystemExit) as exit_info:
        main(["fit", "--config", str(bad)])
    assert exit_info.value.code != 0
    assert "innr_steps" in capsys.readouterr().err


def test_wrong_input_size_is_a_clear_error_without_traceback(tmp_path, capsys):
    code = main(
        [
            "fit",
            "--config",
            TINY,
            "--data.init_args.image_size",
            "30",
            "--trainer.default_root_dir",
            str(tmp_path),
        ]
    )
    err = capsys.readouterr().err
    assert code == 2
    assert "multiple of 8" in err and "Traceback" not in err


def test_debug_shows_the_traceback(tmp_path, monkeypatch):
    monkeypatch.setenv("MTFAS_DEBUG", "1")
    with pytest.raises(ValueError, match="multiple of 8"):
        main(
            [
                "fit",
                "--config",
                TINY,
                "--data.init_args.image_size",
                "30",
                "--trainer.default_root_dir",
                str(tmp_path),
            ]
        )
    monkeypatch.delenv("MTFAS_DEBUG")
    with pytest.raises(ValueError, match="multiple of 8"):
        main(
            [
                "fit",
                "--debug",
                "--config",
                TINY,
                "--data.init_args.image_size",
                "30",
                "--trainer.default_root_dir",
                str(tmp_path),
            ]
        )


def test_help_lists_every_command_with_a_description(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    for command, description in COMMANDS.items():
        assert re.search(rf"^\s+{command}\s+\S", out, flags=re.M), command
        assert description.split()[0] in out
    assert set(COMMANDS) >= {
        "fit",
        "validate",
        "test",
        "predict",
        "synth",
        "folds",
        "compare",
        "report",
        "export",
    }


def test_an_unknown_command_names_the_closest_one(capsys):
    assert main(["foldz"]) == 2
    err = capsys.readouterr().err
    assert "unknown command 'foldz'" in err and "did you mean 'folds'" in err


def test_python_dash_m_mtfas_runs_the_command_line():
    result = subprocess.run(
        [sys.executable, "-m", "mtfas", "--help"],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr
    assert "usage: mtfas" in result.stdout and "compare" in result.stdout
    # Passing args while sys.argv holds others is how main() works: no LightningCLI note.
    assert "not recommended" not in result.stderr


def test_a_missing_checkpoint_is_reported_before_any_data_is_prepared(tmp_path, capsys):
    run_root = tmp_path / "runs"
    code = main(
        [
            "test",
            "--config",
            TINY,
            "--ckpt_path",
            str(tmp_path / "nope.ckpt"),
            "--trainer.default_root_dir",
            str(run_root),
        ]
    )
    err = capsys.readouterr().err
    assert code == 2 and "nope.ckpt: no such file" in err and "Traceback" not in err
    assert not run_root.exists()  # nothing prepared, no empty run folder


@pytest.mark.slow
def test_fit_saves_the_tested_model_and_test_reproduces_it(tmp_path, capsys):
    root = tmp_path / "run"
    assert (
        main(
            [
                "fit",
                "--config",
                TINY,
                "--trainer.max_steps",
                "3",
                "--trainer.default_root_dir",
                str(root),
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    saved = re.search(r"Saved the tested model \(dev threshold (\S+)\) to (\S+)", out)
    assert saved, out
    path = Path(saved.group(2))
    assert path.is_file() and path.name == "last.ckpt"
    checkpoint = torch.load(path, weights_only=True, map_location="cpu")
    assert float(checkpoint["state_dict"]["threshold"]) == pytest.approx(
        float(saved.group(1)), rel=1e-5
    )
    printed = out[out.index("TEST at") : out.index("Scores and results")]
    assert (
        main(
            [
                "test",
                "--config",
                TINY,
                "--ckpt_path",
                str(path),
                "--trainer.default_root_dir",
                str(tmp_path / "again"),
            ]
        )
        == 0
    )
    again = capsys.readouterr().out
    assert again[again.index("TEST at") : again.index("Scores and results")] == printed


def test_synth_writes_a_sample_grid(tmp_path, capsys):
    assert main(["synth", "--out", str(tmp_path), "--n_subjects", "2", "--size", "48"]) == 0
    written = list(tmp_path.glob("*.png"))
    assert len(written) == 1 and str(written[0]) in capsys.readouterr().out
    image = cv2.imread(str(written[0]))
    assert image is not None and image.shape[0] >= 2 * 48 and image.shape[1] >= 5 * 48


@pytest.mark.slow
def test_a_checkpoint_chosen_on_validation_is_best_ckpt_and_says_so(tmp_path, capsys):
    root = tmp_path / "run"
    args = ["fit", "--config", TINY, "--trainer.default_root_dir", str(root)]
    args += ["--trainer.enable_checkpointing", "true", "--trainer.max_epochs", "2"]
    args += ["--trainer.limit_train_batches", "2", "--trainer.callbacks+=ModelCheckpoint"]
    args += ["--trainer.callbacks.monitor", "val/acer", "--trainer.callbacks.mode", "min"]
    args += ["--trainer.callbacks.dirpath", str(root / "checkpoints")]
    assert main(args) == 0
    out = capsys.readouterr().out
    chosen = re.search(r"Saved the checkpoint chosen on validation \((.+?)\) to (\S+)", out)
    assert chosen, out
    best, last = Path(chosen.group(2)), root / "checkpoints" / "last.ckpt"
    assert best.name == "best.ckpt" and best.is_file() and last.is_file()
    selection = torch.load(best, weights_only=True)[SELECTION_KEY]
    assert selection["monitor"] == "val/acer" and selection["mode"] == "min"
    assert selection["source"] != "best.ckpt" and (best.parent / selection["source"]).is_file()
    assert chosen.group(1).startswith("val/acer = ")
    # The tested model is last.ckpt, not the chosen one, and each says what it is.
    assert out.index("Saved the checkpoint chosen") < out.index("TEST at")
    assert load_student(best)[1].selection == chosen.group(1)
    assert load_student(last)[1].selection is None
    assert main(["export", "--ckpt_path", str(best), "--out", str(tmp_path / "m.onnx")]) == 0
    assert "chosen on validation" in capsys.readouterr().out


def test_without_running_the_cli_builds_the_model_and_data_as_lightningcli():
    import yaml

    from mtfas.cli.cli import MTFASCLI

    config = yaml.safe_load(Path(TINY).read_text())
    cli = MTFASCLI(args={"model": config["model"], "data": config["data"]}, run=False)
    assert type(cli.model).__name__ == "MetaTeacherSystem"
    assert type(cli.datamodule).__name__ == "SyntheticDataModule"
    assert cli.model.student.width_mult == 0.1


def test_tools_run_without_importing_lightning(tmp_path: Path) -> None:
    # The tools need no model or data: the entry point runs them without MTFASCLI, so they
    # do not pay Lightning's import (seconds); the others still get it.
    out = tmp_path / "oulu"
    tool = ["synth", "--layout", "oulu-npu", "--out", str(out), "--phones", "1"]
    tool += ["--sessions", "1", "--users", "1", "--frames", "1", "--size", "32"]
    code = (
        "import sys; from mtfas.cli import main; "
        f"rc = main({tool!r}); "
        "print(rc, sorted({m.split('.')[0] for m in sys.modules} & {'lightning', 'torch'}))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=tmp_path
    )
    assert result.stdout.strip().splitlines()[-1] == "0 []", result.stdout + result.stderr
    assert (out / "Train_files").is_dir()
