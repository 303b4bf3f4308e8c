"""FASDashboard with an offline W&B run: `mtfas fit` on the tiny config, then the run's files."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
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
    for panel in ("roc", "det", "roc_per_species", "score_histogram"):
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


def map_images(figure):
    return [i for ax in figure.axes for i in ax.get_images() if i.get_array().ndim == 2]


def test_systems_without_a_teacher_show_the_student_map_only():
    import torch

    from mtfas import MetaTeacherSystem, SupervisedSystem
    from mtfas.callbacks.dashboard import system_map_figure
    from tests.fakes import TinyStudent, TinyTeacher

    images, labels = torch.zeros(2, 3, 16, 16, dtype=torch.uint8), torch.tensor([0, 1])
    names = ["live", "print"]
    supervised = SupervisedSystem(TinyStudent(), pai_names=names)
    figure = system_map_figure(supervised, images, labels, ["a", "b"])
    assert len(map_images(figure)) == 2 * 1  # face | student map, per sample
    meta = MetaTeacherSystem(TinyStudent(), TinyTeacher(), pai_names=names)
    meta.train()
    figure = system_map_figure(meta, images, labels, ["a", "b"])
    assert len(map_images(figure)) == 2 * 2  # face | teacher target | student map
    assert meta.training  # the mode is restored
    assert all(image.get_clim() == (0.0, 1.0) for image in map_images(figure))


class RecordingSink:
    def __init__(self):
        self.images = {}

    def image(self, key, figure, step, caption=""):
        self.images[key] = figure


def test_map_panels_show_the_cue_masks_of_the_batch_on_the_fixed_scale():
    import torch

    from mtfas import MetaTeacherSystem
    from mtfas.callbacks.dashboard import FASDashboard
    from tests.fakes import TinyStudent, TinyTeacher

    meta = MetaTeacherSystem(TinyStudent(), TinyTeacher(), pai_names=["live", "print"])
    dashboard = FASDashboard(samples_per_species=2)
    dashboard._sink = sink = RecordingSink()
    masks = torch.zeros(3, 1, 16, 16)
    masks[1:, :, 4:12, 2:14] = 1.0
    batch = {
        "image": torch.randint(0, 256, (3, 3, 16, 16), dtype=torch.uint8),
        "label": torch.tensor([0, 1, 1]),
        "pai": torch.tensor([0, 1, 1]),
        "cue_mask": masks,
    }
    dashboard._collect(batch)
    dashboard._draw_maps(meta, "val", 0)
    assert set(sink.images) == {"maps/val/live", "maps/val/print"}
    figure = sink.images["maps/val/print"]
    shown = map_images(figure)
    assert len(shown) == 2 * 3  # cue mask, teacher target, student map for 2 faces
    assert np.array_equal(shown[0].get_array(), masks[1, 0].numpy())
    assert all(image.get_clim() == (0.0, 1.0) for image in shown)
    assert [i.colorbar for i in shown if i.colorbar is not None]
    assert "cue mask (truth)" in [ax.get_title() for ax in figure.axes]
    # without cue masks in the batch: no cue column
    dashboard._collect({k: v for k, v in batch.items() if k != "cue_mask"})
    dashboard._draw_maps(meta, "val", 1)
    assert len(map_images(sink.images["maps/val/print"])) == 2 * 2
    assert dashboard.skipped == {}
