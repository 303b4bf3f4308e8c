"""FASDashboard with an offline W&B run: `mtfas fit` on the tiny config, then the run's files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mtfas.cli import main

ROOT = Path(__file__).resolve().parents[2]
TINY = str(ROOT / "tests" / "conf" / "tiny_mtfas.yaml")
SPECIES = ("live", "print1", "print2", "replay1", "replay2")


@pytest.fixture(scope="module")
def wandb_run(tmp_path_factory, monkeypatch_module):
    import wandb

    save_dir = tmp_path_factory.mktemp("wandb")
    monkeypatch_module.setenv("WANDB_MODE", "offline")
    monkeypatch_module.setenv("WANDB_DIR", str(save_dir))
    extra = save_dir / "wandb.yaml"
    extra.write_text(
        "trainer:\n"
        "  max_steps: 2\n"
        "  limit_val_batches: 1\n"
        "  log_every_n_steps: 1\n"
        "  logger:\n"
        "    class_path: lightning.pytorch.loggers.WandbLogger\n"
        f"    init_args: {{save_dir: {save_dir}, offline: true, project: mtfas-test}}\n"
        "  callbacks:\n"
        "    - class_path: mtfas.callbacks.FASDashboard\n"
        "      init_args: {samples_per_species: 1}\n"
    )
    try:
        main(
            [
                "fit",
                "--config",
                TINY,
                "--config",
                str(extra),
                "--trainer.default_root_dir",
                str(save_dir),
            ]
        )
    finally:
        wandb.finish()
    (run,) = (save_dir / "wandb").glob("offline-run-*")
    return save_dir, run


@pytest.fixture(scope="module")
def monkeypatch_module():
    with pytest.MonkeyPatch.context() as patch:
        yield patch


def media(run: Path, kind: str) -> list[str]:
    folder = run / "files" / "media" / kind
    return [str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()]


@pytest.mark.slow
def test_maps_of_every_species_are_logged(wandb_run):
    _, run = wandb_run
    images = media(run, "images")
    for stage in ("val", "test"):
        for species in SPECIES:
            assert any(i.startswith(f"maps/{stage}/{species}_") for i in images), (stage, species)


@pytest.mark.slow
def test_curves_and_histograms_are_logged(wandb_run):
    _, run = wandb_run
    images = media(run, "images")
    for panel in ("roc", "det", "score_histogram"):
        assert any(i.startswith(f"curves/{panel}_") and i.endswith(".png") for i in images)


@pytest.mark.slow
def test_species_table_is_logged(wandb_run):
    _, run = wandb_run
    (path,) = [p for p in (run / "files" / "media" / "table").rglob("apcer_per_species_*.json")]
    table = json.loads(path.read_text())
    species = {row[table["columns"].index("species")] for row in table["data"]}
    splits = {row[table["columns"].index("split")] for row in table["data"]}
    assert species == set(SPECIES) and {"dev", "test"} <= splits


@pytest.mark.slow
def test_metrics_and_config_are_in_the_run(wandb_run):
    save_dir, run = wandb_run
    history = next(run.glob("*.wandb")).read_bytes()
    for key in (
        "train/teach_loss",
        "train/meta_val_loss",
        "train/lr_student",
        "val/acer",
        "test/acer",
        "test_dev/acer",
        "maps/val/live",
        "curves/roc",
        "tables/apcer_per_species",
        "lightning_cli",
    ):
        assert key.encode() in history, key
    config = (run / "files" / "lightning_config.yaml").read_text()
    assert "class_path: mtfas.MetaTeacherSystem" in config and "FASDashboard" in config
    # The score file and results go to save_dir/project/version, beside the checkpoints.
    (scores,) = save_dir.glob("mtfas-test/*/scores.csv")
    assert (scores.parent / "results.md").is_file()


def test_systems_without_a_teacher_show_the_student_map_only():
    import torch

    from mtfas import MetaTeacherSystem, SupervisedSystem
    from mtfas.callbacks.dashboard import FASDashboard
    from tests.fakes import TinyStudent, TinyTeacher

    images, labels = torch.zeros(2, 3, 16, 16), torch.tensor([0, 1])
    names = ["live", "print"]
    supervised = SupervisedSystem(TinyStudent(), pai_names=names)
    figure = FASDashboard._maps_figure(supervised, images, labels, "print")
    assert len(figure.axes) == 2 * 2  # face | student map, per sample
    meta = MetaTeacherSystem(TinyStudent(), TinyTeacher(), pai_names=names)
    figure = FASDashboard._maps_figure(meta, images, labels, "print")
    assert len(figure.axes) == 2 * 3  # face | teacher target | student map
