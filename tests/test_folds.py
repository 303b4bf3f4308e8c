"""``mtfas folds``: one fit + test per fold, then mean +- std."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest
import yaml

from mtfas.cli import EXTRA_COMMANDS, main
from mtfas.errors import ConfigError
from mtfas.pipelines.folds import run_folds
from tests.conftest import OULU_CROPS

ROOT = Path(__file__).resolve().parents[1]


def _report(apcer, bpcer, species="print1"):
    return SimpleNamespace(apcer=apcer, bpcer=bpcer, acer=(apcer + bpcer) / 2,
                           worst_species=species, threshold=0.5)


def test_mean_and_std_over_folds(tmp_path, capsys):
    given = {1: (0.1, 0.0), 2: (0.3, 0.2), 3: (0.2, 0.1)}
    calls = []

    def runner(args):
        calls.append(args)
        fold = int(args[args.index("--data.init_args.fold") + 1])
        return {"dev": _report(0, 0), "test": _report(*given[fold], species=f"s{fold}")}

    table = run_folds(["--config", "c.yaml", "--x", "1"], [1, 2, 3], tmp_path, "P3", runner)
    assert [c[:3] for c in calls] == [["--config", "c.yaml", "--x"]] * 3
    assert table["fold"].tolist() == ["1", "2", "3", "mean", "std"]
    mean, std = table.iloc[3], table.iloc[4]
    assert mean["apcer"] == pytest.approx(0.2) and std["apcer"] == pytest.approx(0.1)
    assert mean["bpcer"] == pytest.approx(0.1) and std["bpcer"] == pytest.approx(0.1)
    assert mean["acer"] == pytest.approx(0.15) and std["acer"] == pytest.approx(0.1)
    on_disk = pd.read_csv(tmp_path / "folds.csv", dtype={"fold": str})
    assert on_disk["fold"].tolist() == table["fold"].tolist()
    markdown = (tmp_path / "folds.md").read_text()
    assert "| 2 | 30.00 | s2 | 20.00 | 25.00 |" in markdown
    assert "| mean ± std | 20.00 ± 10.00 | | 10.00 ± 10.00 | 15.00 ± 10.00 |" in markdown
    assert markdown in capsys.readouterr().out


def test_a_fold_without_a_dev_threshold_is_an_error(tmp_path):
    with pytest.raises(ConfigError, match="test_after_fit"):
        run_folds([], [1], tmp_path, runner=lambda args: {"test": _report(0, 0)})
    with pytest.raises(ConfigError, match="distinct"):
        run_folds([], [1, 1], tmp_path, runner=lambda args: {})


def test_folds_runs_fit_and_test_per_fold(oulu_release, oulu_cache, tmp_path, capsys):
    assert "folds" in EXTRA_COMMANDS
    config = yaml.safe_load((ROOT / "tests" / "conf" / "tiny_mtfas.yaml").read_text())
    config["data"] = {
        "class_path": "mtfas.datamodules.OULUNPUDataModule",
        "init_args": {
            "root": str(oulu_release),
            "protocol": 3,
            "fold": 1,
            "cache_dir": str(oulu_cache),
            **OULU_CROPS,
            "image_size": 32,
            "batch_size": 8,
            "eval_batch_size": 512,
            "meta_val_fraction": 0.5,
        },
    }
    path = tmp_path / "p3.yaml"
    path.write_text(yaml.safe_dump(config))
    out = tmp_path / "out"
    assert main(["folds", "--config", str(path), "--folds", "1", "2", "--out", str(out),
                 "--trainer.fast_dev_run", "1",
                 "--trainer.default_root_dir", str(tmp_path)]) == 0
    table = pd.read_csv(out / "folds.csv", dtype={"fold": str})
    assert table["fold"].tolist() == ["1", "2", "mean", "std"]
    assert table[["apcer", "bpcer", "acer"]].notna().all().all()
    printed = capsys.readouterr().out
    assert "=== fold 2 (2 of 2) ===" in printed and "| mean ± std |" in printed
    assert (out / "folds.md").read_text() in printed


@pytest.mark.parametrize("protocol", [1, 2, 3, 4])
def test_shipped_oulu_configs_parse(protocol, capsys):
    config = ROOT / "configs" / "oulu_npu" / f"protocol_{protocol}.yaml"
    with pytest.raises(SystemExit) as exit_info:
        main(["fit", "--config", str(config), "--data.init_args.root", "/data/OULU-NPU",
              "--print_config"])
    assert exit_info.value.code == 0
    printed = yaml.safe_load(capsys.readouterr().out)
    data = printed["data"]
    assert data["class_path"] == "mtfas.datamodules.OULUNPUDataModule"
    assert data["init_args"]["protocol"] == protocol
    assert data["init_args"]["crop_size"] == data["init_args"]["image_size"] == 256
    assert printed["model"]["init_args"]["student"]["init_args"]["width_mult"] == 1.0


def _config(tmp_path, class_path, **init_args):
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump({"data": {"class_path": class_path, "init_args": init_args}}))
    return str(path)


def test_the_data_module_declares_its_folds(tmp_path):
    from mtfas.pipelines.folds import plan_folds

    oulu = "mtfas.datamodules.OULUNPUDataModule"
    assert plan_folds(_config(tmp_path, oulu, protocol=3), []) == ("fold", [1, 2, 3, 4, 5, 6])
    # Command-line overrides of the protocol count, in both spellings.
    config = _config(tmp_path, oulu, protocol=1)
    assert plan_folds(config, ["--data.init_args.protocol", "4"])[1] == [1, 2, 3, 4, 5, 6]
    assert plan_folds(config, ["--data.init_args.protocol=3"])[0] == "fold"
    with pytest.raises(ConfigError, match="no folds"):
        plan_folds(config, [])
    synthetic = _config(tmp_path, "mtfas.datamodules.SyntheticOULUNPUDataModule",
                        protocol=4, phones=[2, 5])
    assert plan_folds(synthetic, []) == ("fold", [2, 5])
    with pytest.raises(ConfigError, match="cannot import"):
        plan_folds(_config(tmp_path, "mtfas.datamodules.NoSuchModule"), [])


def test_the_fold_key_is_passed_to_fit(tmp_path):
    calls = []

    def runner(args):
        calls.append(args[-2:])
        return {"dev": _report(0, 0), "test": _report(0.1, 0.1)}

    run_folds([], [1, 3], tmp_path, runner=runner, key="subprotocol")
    assert calls == [["--data.init_args.subprotocol", "1"], ["--data.init_args.subprotocol", "3"]]


def test_siw_declares_its_sub_protocols(tmp_path):
    from mtfas.pipelines.folds import plan_folds

    siw = "mtfas.datamodules.SiWDataModule"
    assert plan_folds(_config(tmp_path, siw, protocol=2), []) == ("subprotocol", [1, 2, 3, 4])
    assert plan_folds(_config(tmp_path, siw, protocol=3), []) == ("subprotocol", [1, 2])
    with pytest.raises(ConfigError, match="no folds"):
        plan_folds(_config(tmp_path, siw, protocol=1), [])
