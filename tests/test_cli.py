"""The ``mtfas`` command line, on tiny synthetic data."""

from __future__ import annotations

from pathlib import Path

import cv2
import pytest

from mtfas.cli import main

ROOT = Path(__file__).resolve().parents[1]
TINY = str(ROOT / "tests" / "conf" / "tiny_mtfas.yaml")


def test_fit_fast_dev_run_trains_then_tests_and_prints_the_table(capsys, tmp_path):
    main(["fit", "--config", TINY, "--trainer.fast_dev_run", "1",
          "--trainer.default_root_dir", str(tmp_path)])
    out = capsys.readouterr().out
    assert "dev-chosen threshold" in out
    assert "APCER (worst" in out and "BPCER" in out and "ACER" in out
    for species in ("print1", "print2", "replay1", "replay2"):
        assert f"APCER {species}" in out


def test_test_after_fit_can_be_disabled(capsys, tmp_path):
    main(["fit", "--config", TINY, "--trainer.fast_dev_run", "1", "--test_after_fit", "false",
          "--trainer.default_root_dir", str(tmp_path)])
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


def test_wrong_input_size_is_a_clear_error(tmp_path):
    # jsonargparse re-raises instantiation errors as ValueError (ConfigError is one) with
    # our message inside.
    with pytest.raises(ValueError, match="multiple of 8"):
        main(["fit", "--config", TINY, "--data.init_args.image_size", "30",
              "--trainer.default_root_dir", str(tmp_path)])


def test_synth_writes_a_sample_grid(tmp_path, capsys):
    assert main(["synth", "--out", str(tmp_path), "--n_subjects", "2", "--size", "48"]) == 0
    written = list(tmp_path.glob("*.png"))
    assert len(written) == 1 and str(written[0]) in capsys.readouterr().out
    image = cv2.imread(str(written[0]))
    assert image is not None and image.shape[0] >= 2 * 48 and image.shape[1] >= 5 * 48
