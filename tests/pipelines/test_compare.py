"""``mtfas compare``: every method file and seed runs, and the table aggregates them."""

from __future__ import annotations

import pandas as pd
import pytest

from mtfas.cli import main
from mtfas.errors import ConfigError
from mtfas.pipelines.compare import compare_jobs, compare_markdown, run_compare
from mtfas.pipelines.jobs import JobResult
from tests.cli.test_cli import ROOT, TINY

METHODS = sorted((ROOT / "configs" / "model").glob("*.yaml"))


def _report(acer):
    from types import SimpleNamespace

    return SimpleNamespace(apcer=acer, bpcer=acer, acer=acer, worst_species="print1")


def _methods(tmp_path, *names):
    paths = []
    for name in names:
        path = tmp_path / f"{name}.yaml"
        path.write_text("model:\n  class_path: mtfas.SupervisedSystem\n")
        paths.append(path)
    return paths


def test_summary_is_mean_and_sample_std_per_method(tmp_path):
    given = {("b", 0): 0.1, ("a", 0): 0.2, ("b", 1): 0.3, ("a", 1): 0.4}
    jobs = compare_jobs(_methods(tmp_path, "b", "a"), [0, 1])
    assert [job.name for job in jobs] == ["b_seed0", "a_seed0", "b_seed1", "a_seed1"]

    def runner(job, run_dir):
        acer = given[(job.labels["method"], job.labels["seed"])]
        return JobResult(job, {"dev": _report(0), "test": _report(acer)}, run_dir)

    runs = run_compare(jobs, runner, tmp_path / "out")
    assert runs["run"].tolist() == [f"runs/{job.name}" for job in jobs]
    markdown = (tmp_path / "out" / "compare.md").read_text()
    std = pd.Series([0.1, 0.3]).std()
    assert f"| b | 2 | 20.00 ± {100 * std:.2f} |" in markdown
    assert "| a | 2 | 30.00 ±" in markdown
    assert "[b seed 1](runs/b_seed1)" in markdown
    single = compare_markdown(runs[runs["seed"] == 0], "one seed")
    assert "nan" not in single and "10.00 (n=1)" in single


def test_method_files_and_seeds_are_checked(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        compare_jobs([tmp_path / "dino.yaml"], [0])
    with pytest.raises(ConfigError, match="seed"):
        compare_jobs(_methods(tmp_path, "a"), [])
    (tmp_path / "x").mkdir()
    clash = [*_methods(tmp_path, "a"), *_methods(tmp_path / "x", "a")]
    with pytest.raises(ConfigError, match="share a name"):
        compare_jobs(clash, [0])


@pytest.mark.slow
def test_every_shipped_method_trains_the_same_student_and_is_tabulated(tmp_path, capsys):
    assert {m.stem for m in METHODS} >= {"mtfas", "binary_map", "map_mean_bce", "teacher_student"}
    out = tmp_path / "out"
    assert (
        main(
            [
                "compare",
                "--config",
                TINY,
                "--trainer.fast_dev_run",
                "1",
                "--methods",
                *map(str, METHODS),
                "--seeds",
                "0",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    runs = pd.read_csv(out / "compare.csv")
    assert runs["method"].tolist() == [m.stem for m in METHODS]
    assert runs["acer"].between(0, 1).all()
    for run in runs["run"]:
        assert (out / run / "results.csv").is_file()
    assert "teacher_student" in (out / "compare.md").read_text()
    assert "(n=1)" in capsys.readouterr().out


def test_cue_contrast_of_the_last_validation_is_tabulated_where_logged(tmp_path):
    jobs = compare_jobs(_methods(tmp_path, "teach", "plain"), [0, 1])
    last = {("teach", 0): 0.30, ("teach", 1): 0.10, ("plain", 0): 0.02, ("plain", 1): 0.04}

    def runner(job, run_dir):
        run_dir.mkdir(parents=True)
        method, seed = job.labels["method"], job.labels["seed"]
        rows = [  # two validations (the last counts) and a training row without diagnostics
            {"step": 5, "diag/student_cue_contrast": -0.5, "train/loss": 1.0},
            {"step": 10, "diag/student_cue_contrast": last[(method, seed)]},
            {"step": 12, "train/loss": 0.5},
        ]
        if method == "teach":
            rows[1]["diag/teacher_cue_contrast"] = 2 * last[(method, seed)]
        pd.DataFrame(rows).to_csv(run_dir / "metrics.csv", index=False)
        return JobResult(job, {"dev": _report(0), "test": _report(0.1)}, run_dir)

    runs = run_compare(jobs, runner, tmp_path / "out")
    got = runs.set_index(["method", "seed"])
    for key, value in last.items():
        assert got.loc[key, "student_cue_contrast"] == pytest.approx(value)
    assert got.loc[("teach", 1), "teacher_cue_contrast"] == pytest.approx(0.2)
    assert pd.isna(got.loc[("plain", 0), "teacher_cue_contrast"])  # no teacher, no value
    markdown = (tmp_path / "out" / "compare.md").read_text()
    std = pd.Series([0.30, 0.10]).std()
    assert f"+0.200 ± {std:.3f}" in markdown and "cue contrast, teacher (dev)" in markdown
    assert "| plain | 2 |" in markdown and markdown.count(" - |") == 1  # plain's teacher cell


def test_runs_without_diagnostics_have_no_cue_columns(tmp_path):
    jobs = compare_jobs(_methods(tmp_path, "a"), [0])
    runs = run_compare(
        jobs, lambda job, d: JobResult(job, {"dev": _report(0), "test": _report(0.1)}, d), tmp_path
    )
    assert runs["student_cue_contrast"].isna().all()
    assert "cue contrast" not in (tmp_path / "compare.md").read_text()


@pytest.mark.slow
@pytest.mark.parametrize("logger", ["lightning.pytorch.loggers.CSVLogger", "CSVLogger"])
def test_a_file_logger_writes_each_run_into_its_own_folder(tmp_path, monkeypatch, logger):
    monkeypatch.chdir(tmp_path)  # where the config's logger would otherwise write (runs/)
    args = ["compare", "--config", TINY, "--trainer.max_steps", "2"]
    args += ["--trainer.logger", logger, "--trainer.logger.init_args.save_dir", "runs"]
    method = ROOT / "configs" / "model" / "binary_map.yaml"
    assert main([*args, "--methods", str(method), "--seeds", "0", "--out", "out"]) == 0
    run = tmp_path / "out" / "runs" / "binary_map_seed0"
    assert (run / "metrics.csv").is_file() and (run / "results.csv").is_file()
    assert (run / "checkpoints" / "last.ckpt").is_file()
    assert not (tmp_path / "runs").exists() and not list(run.glob("version_*"))
    assert pd.read_csv(tmp_path / "out" / "compare.csv")["run"].tolist() == [
        "runs/binary_map_seed0"
    ]
