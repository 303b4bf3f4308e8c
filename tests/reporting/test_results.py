"""Score files and results tables of test runs, the local dashboard, and `mtfas report`."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import yaml
from lightning.pytorch import Trainer
from lightning.pytorch.loggers import CSVLogger

from mtfas import MetaTeacherSystem
from mtfas.callbacks.dashboard import FASDashboard
from mtfas.cli import main
from mtfas.metrics import pad_report
from mtfas.reporting.results import SCORE_COLUMNS, read_scores, write_test_results
from tests.fakes import RandomDataModule, TinyStudent, TinyTeacher


def trainer(root, **kwargs):
    defaults = dict(
        accelerator="cpu",
        max_epochs=1,
        limit_train_batches=2,
        num_sanity_val_steps=0,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        default_root_dir=root,
    )
    return Trainer(**{**defaults, **kwargs})


@pytest.fixture(scope="module")
def tested(tmp_path_factory):
    """A tiny fit + test with a CSV logger and the dashboard writing local files."""
    root = tmp_path_factory.mktemp("run")
    data = RandomDataModule(eval_batch_size=64)
    system = MetaTeacherSystem(TinyStudent(), TinyTeacher(), inner_lr=0.05, print_test_report=False)
    run = trainer(root, logger=CSVLogger(root, name="csv"), callbacks=[FASDashboard()])
    run.fit(system, data)
    run.test(system, data, verbose=False)
    return run, system, data


def test_scores_file_holds_dev_and_test_videos_by_name(tested):
    run, system, data = tested
    folder = system.test_results_dir
    assert folder == Path(run.log_dir)  # the CSV logger's version folder
    scores = read_scores(folder)
    assert list(scores.columns) == list(SCORE_COLUMNS)
    tables = data.split_tables()
    for split in ("dev", "test"):
        part = scores[scores["split"] == split]
        assert sorted(part["video"]) == sorted(tables[split]["video"])
        assert (part["n_frames"] == data.frames).all()
        by_name = tables[split].set_index("video")
        assert (part["pai"].to_numpy() == by_name.loc[part["video"], "pai"].to_numpy()).all()
    pd.testing.assert_frame_equal(scores, system.test_scores, check_dtype=False)


def test_scores_file_reproduces_the_reports(tested):
    _, system, data = tested
    scores = read_scores(system.test_results_dir)
    test = scores[scores["split"] == "test"]
    pai = test["pai"].map({n: i for i, n in enumerate(data.pai_names)})
    threshold = system.test_reports["dev"].threshold
    report = pad_report(
        torch.tensor(test["score"].to_numpy()),
        torch.tensor(test["label"].to_numpy()),
        torch.tensor(pai.to_numpy()),
        threshold,
        data.pai_names,
    )
    assert report.acer == pytest.approx(system.test_reports["test"].acer)
    assert report.apcer_per_species == pytest.approx(system.test_reports["test"].apcer_per_species)


def test_results_table_csv_and_markdown(tested):
    _, system, _ = tested
    folder = system.test_results_dir
    results = pd.read_csv(folder / "results.csv")
    assert results["report"].tolist() == ["dev", "test", "test_idealised"]
    assert results.loc[1, "acer"] == pytest.approx(system.test_reports["test"].acer)
    markdown = (folder / "results.md").read_text()
    assert "| metric | dev | test | test_idealised |" in markdown
    assert "| acer | " in markdown


def test_dashboard_without_wandb_writes_local_files(tested):
    _, system, _ = tested
    files = {p.name for p in (system.test_results_dir / "dashboard").iterdir()}
    for species in ("live", "print", "replay"):
        assert any(f.startswith(f"maps_val_{species}") and f.endswith(".png") for f in files)
        assert any(f.startswith(f"maps_test_{species}") for f in files)
    for panel in ("curves_roc", "curves_det", "curves_score_histogram"):
        assert any(f.startswith(panel) and f.endswith(".png") for f in files)
    table = next(f for f in files if f.startswith("tables_apcer_per_species"))
    species = pd.read_csv(system.test_results_dir / "dashboard" / table)
    assert set(species["species"]) == {"live", "print", "replay"}


def test_without_logger_results_go_to_default_root_dir(tested, tmp_path):
    _, system, data = tested
    trainer(tmp_path, logger=False).test(system, data, verbose=False)
    assert (tmp_path / "scores.csv").is_file() and (tmp_path / "results.md").is_file()


def fake_run(folder, seed, species=("print", "replay")):
    names = ["live", *species]
    rng = np.random.default_rng(seed)
    pai = torch.tensor(np.repeat(np.arange(len(names)), 10))
    labels = (pai > 0).long()
    scores = torch.tensor(rng.normal(size=len(pai)) + labels.numpy())
    report = pad_report(scores, labels, pai, 0.5, names)
    table = pd.DataFrame(
        {
            "split": "test",
            "video": range(len(pai)),
            "label": labels.numpy(),
            "pai": [names[i] for i in pai],
            "score": scores.numpy(),
            "n_frames": 1,
        }
    )
    write_test_results(folder, table, {"dev": report, "test": report, "test_idealised": report})
    return report


def test_report_collects_runs_with_mean_and_std(tmp_path, capsys):
    reports = [fake_run(tmp_path / "runs" / f"seed{s}", s) for s in range(3)]
    reports.append(fake_run(tmp_path / "runs" / "seed3", 3, species=("print",)))
    out = tmp_path / "summary"
    assert main(["report", str(tmp_path / "runs"), "--out", str(out)]) == 0
    table = pd.read_csv(out / "report.csv")
    assert table["run"].tolist() == ["seed0", "seed1", "seed2", "seed3", "mean", "std"]
    acer = [r.acer for r in reports]
    assert table.loc[4, "acer"] == pytest.approx(np.mean(acer))
    assert table.loc[5, "acer"] == pytest.approx(np.std(acer, ddof=1))
    replay = [r.apcer_per_species["replay"] for r in reports[:3]]
    assert table.loc[4, "apcer/replay"] == pytest.approx(np.mean(replay))
    markdown = (out / "report.md").read_text()
    assert "mean ± std" in markdown and "absent from 1 run(s)" in markdown
    assert markdown in capsys.readouterr().out


def test_report_errors_name_the_problem(tmp_path, capsys):
    assert main(["report", str(tmp_path)]) == 2
    assert "no results.csv" in capsys.readouterr().err
    fake_run(tmp_path / "one", 0)
    frame = pd.read_csv(tmp_path / "one" / "results.csv")
    frame[frame["report"] != "dev"].to_csv(tmp_path / "one" / "results.csv", index=False)
    assert main(["report", str(tmp_path / "one"), "--report", "dev", "--out", str(tmp_path)]) == 2
    assert "has no 'dev' report" in capsys.readouterr().err


@pytest.mark.parametrize("cut", ["mid_line", "mid_row"])
def test_report_refuses_a_half_written_results_file(tmp_path, capsys, cut):
    for seed in range(2):
        fake_run(tmp_path / f"seed{seed}", seed)
    path = tmp_path / "seed1" / "results.csv"
    text = path.read_text()
    # Cut inside the last line (no final line end), or drop the end of a row.
    cut_text = text[: len(text) - 7] if cut == "mid_line" else text.replace(",", "\n", 1)
    path.write_text(cut_text)
    assert main(["report", str(tmp_path), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert str(path) in err and "not a complete mtfas results file" in err
    assert not (tmp_path / "out" / "report.csv").exists()


def _with_config(run: Path, model: str, protocol: int, fold: int = 1) -> None:
    config = {
        "model": {"class_path": model, "init_args": {"student": {"width_mult": 0.5}}},
        "data": {
            "class_path": "mtfas.datamodules.OULUNPUDataModule",
            "init_args": {"protocol": protocol, "fold": fold, "root": f"/data/{fold}"},
        },
        "seed_everything": fold,
    }
    (run / "config.yaml").write_text(yaml.safe_dump(config))


def test_report_refuses_runs_of_different_methods_or_data_unless_mixed(tmp_path, capsys):
    for i, (model, protocol) in enumerate(
        [("mtfas.MetaTeacherSystem", 3), ("mtfas.MetaTeacherSystem", 3)]
    ):
        fake_run(tmp_path / f"fold{i}", i)
        _with_config(tmp_path / f"fold{i}", model, protocol, fold=i + 1)
    # Folds (and seeds) of one experiment are averaged.
    assert main(["report", str(tmp_path), "--out", str(tmp_path / "out")]) == 0
    assert "could not be checked" not in (tmp_path / "out" / "report.md").read_text()
    fake_run(tmp_path / "other", 5)
    _with_config(tmp_path / "other", "mtfas.SupervisedSystem", 3)
    capsys.readouterr()
    assert main(["report", str(tmp_path), "--out", str(tmp_path / "out")]) == 2
    assert "different methods" in capsys.readouterr().err
    _with_config(tmp_path / "other", "mtfas.MetaTeacherSystem", 4)
    assert main(["report", str(tmp_path), "--out", str(tmp_path / "out")]) == 2
    assert "different data" in capsys.readouterr().err
    assert main(["report", str(tmp_path), "--mixed", "--out", str(tmp_path / "out")]) == 0
    (tmp_path / "other" / "config.yaml").unlink()
    assert main(["report", str(tmp_path), "--out", str(tmp_path / "out")]) == 0
    assert "1 run(s) have no saved config.yaml" in (tmp_path / "out" / "report.md").read_text()


def test_report_refuses_a_results_file_of_the_pooled_bpcer_format(tmp_path, capsys):
    for seed in range(2):
        fake_run(tmp_path / f"seed{seed}", seed)
    path = tmp_path / "seed1" / "results.csv"
    frame = pd.read_csv(path)
    pooled = [c for c in frame.columns if c.startswith("bpcer@apcer_pooled=")]
    assert pooled  # the current format names the pooled variant
    # A file of the older format: its bpcer@apcer=x columns held the pooled variant.
    older = frame.drop(columns=[c for c in frame.columns if c.startswith("bpcer@apcer=")])
    older.rename(columns={c: c.replace("_pooled", "") for c in pooled}).to_csv(path, index=False)
    assert main(["report", str(tmp_path), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert str(path) in err and "pooled variant" in err
    assert not (tmp_path / "out" / "report.csv").exists()
