"""``mtfas folds``: one fit + test per fold, then mean +- std."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest
import yaml

from mtfas.cli import main
from mtfas.cli.cli import COMMANDS, fit_arguments
from mtfas.errors import ConfigError
from mtfas.pipelines.folds import fold_jobs, plan_folds, run_folds
from mtfas.pipelines.jobs import JobResult
from tests.conftest import OULU_CROPS

ROOT = Path(__file__).resolve().parents[2]


def _report(apcer, bpcer, species="print1"):
    return SimpleNamespace(
        apcer=apcer, bpcer=bpcer, acer=(apcer + bpcer) / 2, worst_species=species, threshold=0.5
    )


def test_mean_and_std_over_folds(tmp_path, capsys):
    given = {1: (0.1, 0.0), 2: (0.3, 0.2), 3: (0.2, 0.1)}
    calls = []

    def runner(job, run_dir):
        calls.append((job.args, run_dir))
        fold = int(job.args[job.args.index("--data.init_args.fold") + 1])
        reports = {"dev": _report(0, 0), "test": _report(*given[fold], species=f"s{fold}")}
        return JobResult(job, reports, run_dir / "version_0")

    table = run_folds(fold_jobs("fold", [1, 2, 3]), runner, tmp_path, "P3")
    assert [c[1] for c in calls] == [tmp_path / "runs" / f"fold_{k}" for k in (1, 2, 3)]
    assert table["fold"].tolist() == ["1", "2", "3", "mean", "std"]
    mean, std = table.iloc[3], table.iloc[4]
    assert mean["apcer"] == pytest.approx(0.2) and std["apcer"] == pytest.approx(0.1)
    assert mean["bpcer"] == pytest.approx(0.1) and std["bpcer"] == pytest.approx(0.1)
    assert mean["acer"] == pytest.approx(0.15) and std["acer"] == pytest.approx(0.1)
    on_disk = pd.read_csv(tmp_path / "folds.csv", dtype={"fold": str})
    assert on_disk["fold"].tolist() == table["fold"].tolist()
    assert on_disk["run"].tolist()[:3] == [f"runs/fold_{k}/version_0" for k in (1, 2, 3)]
    markdown = (tmp_path / "folds.md").read_text()
    assert "| [2](runs/fold_2/version_0) | 30.00 | s2 | 20.00 | 25.00 |" in markdown
    assert "| mean ± std | 20.00 ± 10.00 |  | 10.00 ± 10.00 | 15.00 ± 10.00 |" in markdown
    assert markdown in capsys.readouterr().out


def test_one_fold_is_shown_as_n1_not_nan(tmp_path):
    def runner(job, run_dir):
        return JobResult(job, {"dev": _report(0, 0), "test": _report(0.1, 0.3)}, None)

    run_folds(fold_jobs("fold", [4]), runner, tmp_path)
    markdown = (tmp_path / "folds.md").read_text()
    assert "nan" not in markdown
    assert "| mean ± std | 10.00 (n=1) |  | 30.00 (n=1) | 20.00 (n=1) |" in markdown


def test_a_fold_without_a_dev_threshold_is_an_error(tmp_path):
    with pytest.raises(ConfigError, match="test_after_fit"):
        run_folds(
            fold_jobs("fold", [1]), lambda job, d: JobResult(job, {"test": _report(0, 0)}), tmp_path
        )
    with pytest.raises(ConfigError, match="distinct"):
        fold_jobs("fold", [1, 1])


def test_pipeline_options_are_removed_from_the_fit_arguments():
    argv = [
        "folds",
        "--config",
        "a.yaml",
        "--folds",
        "1",
        "2",
        "--config",
        "b.yaml",
        "--key=fold",
        "--out",
        "o",
        "--trainer.max_epochs",
        "1",
    ]
    assert fit_arguments(argv, "folds") == [
        "--config",
        "a.yaml",
        "--config",
        "b.yaml",
        "--trainer.max_epochs",
        "1",
    ]
    argv = ["compare", "--methods", "m1.yaml", "m2.yaml", "--seeds", "0", "1", "-c", "x.yaml"]
    assert fit_arguments(argv, "compare") == ["-c", "x.yaml"]


@pytest.mark.slow
def test_folds_runs_fit_and_test_per_fold(oulu_release, oulu_cache, tmp_path, capsys):
    assert "folds" in COMMANDS
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
    data = {"data": config.pop("data")}
    model_path, data_path = tmp_path / "model.yaml", tmp_path / "p3.yaml"
    model_path.write_text(yaml.safe_dump(config))
    data_path.write_text(yaml.safe_dump(data))
    out = tmp_path / "out"
    # Two --config files and flags, as in mtfas fit; --folds given (the plan would be 1-6).
    assert (
        main(
            [
                "folds",
                "--config",
                str(model_path),
                "--config",
                str(data_path),
                "--folds",
                "1",
                "2",
                "--out",
                str(out),
                "--trainer.fast_dev_run",
                "1",
            ]
        )
        == 0
    )
    table = pd.read_csv(out / "folds.csv", dtype={"fold": str})
    assert table["fold"].tolist() == ["1", "2", "mean", "std"]
    assert table[["apcer", "bpcer", "acer"]].notna().all().all()
    for run in table["run"].dropna().tolist():
        assert (out / run / "results.csv").is_file()  # each row links to its own run
    printed = capsys.readouterr().out
    assert "=== fold_2 (2 of 2) ===" in printed and "| mean ± std |" in printed
    assert (out / "folds.md").read_text() in printed
    with pytest.raises(SystemExit) as exit_info:
        main(
            [
                "folds",
                "--config",
                str(model_path),
                "--config",
                str(data_path),
                "--folds",
                "1",
                "--print_config",
            ]
        )
    assert exit_info.value.code == 0
    printed = yaml.safe_load(capsys.readouterr().out)
    assert printed["data"]["init_args"]["protocol"] == 3 and printed["folds"] == [1]


@pytest.mark.parametrize("protocol", [1, 2, 3, 4])
def test_shipped_oulu_configs_parse(protocol, capsys):
    from tests.test_configs import benchmark_args

    with pytest.raises(SystemExit) as exit_info:
        main(
            [
                "fit",
                *benchmark_args(f"oulu_npu/protocol_{protocol}.yaml"),
                "--data.init_args.root",
                "/data/OULU-NPU",
                "--print_config",
            ]
        )
    assert exit_info.value.code == 0
    printed = yaml.safe_load(capsys.readouterr().out)
    data = printed["data"]
    assert data["class_path"] == "mtfas.datamodules.OULUNPUDataModule"
    assert data["init_args"]["protocol"] == protocol
    assert data["init_args"]["fold"] == (1 if protocol in (3, 4) else None)
    assert data["init_args"]["crop_size"] == data["init_args"]["image_size"] == 256
    assert printed["model"]["class_path"] == "mtfas.MetaTeacherSystem"
    if protocol in (3, 4):
        assert plan_folds(data["class_path"], data["init_args"]) == ("fold", [1, 2, 3, 4, 5, 6])


def test_the_data_module_declares_its_folds():
    oulu = "mtfas.datamodules.OULUNPUDataModule"
    assert plan_folds(oulu, {"protocol": 3}) == ("fold", [1, 2, 3, 4, 5, 6])
    assert plan_folds(oulu, {"protocol": 4})[1] == [1, 2, 3, 4, 5, 6]
    with pytest.raises(ConfigError, match="no folds"):
        plan_folds(oulu, {"protocol": 1})
    synthetic = "mtfas.datamodules.SyntheticOULUNPUDataModule"
    assert plan_folds(synthetic, {"protocol": 4, "phones": [2, 5]}) == ("fold", [2, 5])
    with pytest.raises(ConfigError, match="cannot import"):
        plan_folds("mtfas.datamodules.NoSuchModule", {})


def test_the_fold_key_is_passed_to_fit():
    jobs = fold_jobs("subprotocol", [1, 3])
    assert [job.args for job in jobs] == [
        ("--data.init_args.subprotocol", "1"),
        ("--data.init_args.subprotocol", "3"),
    ]
    assert [job.name for job in jobs] == ["subprotocol_1", "subprotocol_3"]


def test_siw_declares_its_sub_protocols():
    siw = "mtfas.datamodules.SiWDataModule"
    assert plan_folds(siw, {"protocol": 2}) == ("subprotocol", [1, 2, 3, 4])
    assert plan_folds(siw, {"protocol": 3}) == ("subprotocol", [1, 2])
    with pytest.raises(ConfigError, match="no folds"):
        plan_folds(siw, {"protocol": 1})
