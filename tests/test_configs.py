"""The shipped configs compose, and every one of them runs (with configs/smoke.yaml).

A benchmark run is ``trainer/gpu.yaml`` + a method file of ``model/`` + a data file of
``data/``; ``smoke.yaml`` last makes it a short CPU run. Here every data file and every
method file runs that way on the tiny synthetic releases of ``tests/conftest.py`` (their
crop settings, so the crop caches are shared with the data-module tests), and the method
files are checked to swap the system while keeping the student (and teacher) set before
them, as ``mtfas compare`` relies on.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch
import yaml

from mtfas.cli import main
from mtfas.synthetic.layouts.face_boxes import FACE_BOX_FOLDER
from tests.conftest import (
    DETECTED_CROPS,
    OULU_CROPS,
    OULU_RELEASE,
    PARTIAL_CROPS,
    PARTIAL_RELEASE,
    REPLAY_CROPS,
    SIW_CROPS,
    TABLE_CROPS,
)

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = ROOT / "configs"
GPU = CONFIGS / "trainer" / "gpu.yaml"
SMOKE = CONFIGS / "smoke.yaml"
DEMOS = [CONFIGS / "demo.yaml", CONFIGS / "demo_baseline.yaml"]
#: One-file recipes of experiments on other data than the demo's.
RECIPES = [CONFIGS / "partial.yaml", CONFIGS / "partial_full.yaml"]
#: The configs each recipe runs with: the --full override goes after the CPU recipe.
RECIPE_CONFIGS = {
    "partial": [CONFIGS / "partial.yaml"],
    "partial_full": [CONFIGS / "partial.yaml", CONFIGS / "partial_full.yaml"],
}
METHODS = sorted((CONFIGS / "model").glob("*.yaml"))
DATA = sorted((CONFIGS / "data").rglob("*.yaml"))
#: The system each method file selects: (class path, loss or None).
SYSTEMS = {
    "mtfas": ("mtfas.MetaTeacherSystem", None),
    "binary_map": ("mtfas.SupervisedSystem", "binary_map"),
    "map_mean_bce": ("mtfas.SupervisedSystem", "map_mean_bce"),
    "teacher_student": ("mtfas.TeacherStudentSystem", None),
}
#: A 1/16-width teacher, for the systems that have one (the smoke file cannot set it).
SMALL_TEACHER = [
    "--model.init_args.teacher",
    "{class_path: mtfas.models.TeacherNet, init_args: {width_mult: 0.0625}}",
]


def _name(path: Path) -> str:
    return path.relative_to(CONFIGS).as_posix()


def benchmark_args(data: str | Path, method: str = "mtfas") -> list[str]:
    """``--config`` arguments of a benchmark run: the GPU trainer, a method, a data file.

    Args:
        data: The data file, absolute or relative to ``configs/data`` (``"siw/protocol_2.yaml"``).
        method: Stem of the method file in ``configs/model``.
    """
    return [
        "--config",
        str(GPU),
        "--config",
        str(CONFIGS / "model" / f"{method}.yaml"),
        "--config",
        str(CONFIGS / "data" / data),
    ]


def printed_config(args: list[str], capsys) -> dict:
    """The configuration ``mtfas fit ARGS --print_config`` prints."""
    with pytest.raises(SystemExit) as exit_info:
        main(["fit", *args, "--print_config"])
    assert exit_info.value.code == 0
    return yaml.safe_load(capsys.readouterr().out)


# ----------------------------------------------------------------- every file is tested
def test_every_shipped_config_is_exercised_here():
    shipped = {_name(p) for p in CONFIGS.rglob("*") if p.suffix in (".yaml", ".yml")}
    tested = {_name(p) for p in [GPU, SMOKE, *DEMOS, *RECIPES, *METHODS, *DATA]}
    assert shipped == tested, f"configs without a test here: {sorted(shipped - tested)}"
    assert {p.stem for p in METHODS} == set(SYSTEMS)
    assert {p.relative_to(CONFIGS / "data").parts[0] for p in DATA} == {
        "oulu_npu",
        "siw",
        "casia_fasd",
        "replay_attack",
        "msu_mfsd",
        "cross_dataset",
        "table",
        "synthetic",
    }


# ----------------------------------------------------------------- method files
@pytest.mark.parametrize("method", METHODS, ids=lambda p: p.stem)
def test_a_method_file_swaps_the_system_and_keeps_the_demo_networks(method, capsys):
    model = printed_config(["--config", str(DEMOS[0]), "--config", str(method)], capsys)["model"]
    class_path, loss = SYSTEMS[method.stem]
    assert model["class_path"] == class_path
    args = model["init_args"]
    assert args.get("loss") == loss
    assert args["student"]["class_path"] == "mtfas.models.DepthNet"
    assert args["student"]["init_args"]["width_mult"] == 0.125
    # ...and its optimiser: every system calls it student_optimizer.
    assert args["student_optimizer"]["init_args"]["lr"] == 0.002
    if "teacher" in args:  # the systems with a teacher keep the demo's
        assert args["teacher"]["init_args"]["width_mult"] == 0.0625
        assert args["teacher"]["init_args"]["init_map"] == 0.9
    else:
        assert class_path == "mtfas.SupervisedSystem"


def test_arguments_the_new_system_lacks_are_dropped_and_stay_dropped(capsys):
    # jsonargparse keeps the init_args the new class accepts and silently drops the others,
    # so the demo's teacher does not survive a detour through a system without one.
    args = [
        "--config",
        str(DEMOS[0]),
        "--config",
        str(CONFIGS / "model" / "binary_map.yaml"),
        "--config",
        str(CONFIGS / "model" / "teacher_student.yaml"),
    ]
    model = printed_config(args, capsys)["model"]["init_args"]
    assert model["student"]["init_args"]["width_mult"] == 0.125
    assert model["teacher"] is None  # TeacherStudentSystem's default, not the demo's


def test_the_composed_benchmark_takes_each_layer_from_its_file(capsys):
    data = CONFIGS / "data" / "oulu_npu" / "protocol_3.yaml"
    printed = printed_config(
        [*benchmark_args(data, "map_mean_bce"), "--data.init_args.root", "/data/OULU-NPU"], capsys
    )
    trainer = printed["trainer"]
    assert trainer["strategy"] == "ddp" and trainer["max_epochs"] == 30
    assert trainer["logger"]["class_path"].endswith("CSVLogger")
    assert trainer["logger"]["init_args"]["name"] == "oulu_npu_protocol_3"  # from the data file
    assert printed["model"]["class_path"] == "mtfas.SupervisedSystem"
    assert printed["model"]["init_args"]["loss"] == "map_mean_bce"
    # The recipe's networks and optimiser (trainer/gpu.yaml) survive the method file.
    assert printed["model"]["init_args"]["student"]["init_args"]["width_mult"] == 1.0
    assert printed["model"]["init_args"]["student_optimizer"]["init_args"]["lr"] == 0.0001
    assert printed["data"]["init_args"]["protocol"] == 3
    assert printed["data"]["init_args"]["root"] == "/data/OULU-NPU"


# ----------------------------------------------------------------- smoke runs
@pytest.fixture(scope="module", autouse=True)
def _cache_in_tmp_and_one_thread(tmp_path_factory):
    """Caches without an explicit cache_dir go to a temporary folder; one torch thread (the
    tiny networks only lose time to a second one, the more so on a busy machine)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MTFAS_CACHE", str(tmp_path_factory.mktemp("mtfas_cache")))
        yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def releases(
    oulu_release,
    oulu_cache,
    siw_release,
    siw_cache,
    replay_release,
    replay_cache,
    casia_release,
    casia_cache,
    msu_release,
    msu_cache,
    table_release,
    table_cache,
    partial_release,
    partial_cache,
    tmp_path_factory,
):
    """Per benchmark: the tiny release, its crop cache and the tests' crop settings."""
    boxes = lambda root: {"face_boxes": str(root / FACE_BOX_FOLDER)}
    found = {
        "OULUNPUDataModule": (oulu_release, oulu_cache, OULU_CROPS),
        "SiWDataModule": (siw_release, siw_cache, SIW_CROPS),
        "ReplayAttackDataModule": (replay_release, replay_cache, REPLAY_CROPS),
        "CASIAFASDDataModule": (
            casia_release,
            casia_cache,
            {**DETECTED_CROPS, **boxes(casia_release)},
        ),
        "MSUMFSDDataModule": (msu_release, msu_cache, {**DETECTED_CROPS, **boxes(msu_release)}),
        "TableDataModule": (
            table_release,
            table_cache,
            {**TABLE_CROPS, "table": table_release / "table.csv"},
        ),
        "SyntheticPartialDataModule": (
            partial_release,
            partial_cache,
            {**PARTIAL_RELEASE, **PARTIAL_CROPS},
        ),
    }
    # One folder holding the four copies under the names the cross-dataset configs use.
    data_root = tmp_path_factory.mktemp("data_root")
    for name, klass in [
        ("OULU-NPU", "OULUNPUDataModule"),
        ("CASIA-FASD", "CASIAFASDDataModule"),
        ("Replay-Attack", "ReplayAttackDataModule"),
        ("MSU-MFSD", "MSUMFSDDataModule"),
    ]:
        os.symlink(found[klass][0], data_root / name)
    return found, data_root


def _data_overrides(data: Path, releases, tmp_path: Path) -> list[str]:
    """Arguments pointing ``data`` at the tiny releases, in the tests' crop settings."""
    found, data_root = releases
    shipped = yaml.safe_load(data.read_text())["data"]
    klass = shipped["class_path"].rsplit(".", 1)[1]
    if klass != "CrossDatasetDataModule":
        root, cache, crops = found[klass]
        settings = {"root": str(root), "cache_dir": str(cache), **crops}
        return [f"--data.init_args.{k}={v}" for k, v in settings.items()]
    # Cross-dataset: the shipped members (classes, protocols, roots relative to data_root),
    # each with its cache and crop settings.
    members = {}
    for key in ("sources", "target"):
        shipped_members = shipped["init_args"][key]
        listed = shipped_members if key == "sources" else [shipped_members]
        for member in listed:
            root, cache, crops = found[member["class_path"].rsplit(".", 1)[1]]
            assert not Path(member["init_args"]["root"]).is_absolute()
            member["init_args"].update({"cache_dir": str(cache), **crops})
        members[key] = listed if key == "sources" else listed[0]
    override = tmp_path / "members.yaml"
    override.write_text(yaml.safe_dump({"data": {"init_args": members}}))
    return ["--config", str(override), "--data.init_args.data_root", str(data_root)]


def _smoke_run(args: list[str], tmp_path: Path, capsys) -> str:
    code = main(
        [
            "fit",
            *args,
            "--trainer.default_root_dir",
            str(tmp_path),
            "--trainer.enable_progress_bar",
            "false",
        ]
    )
    out = capsys.readouterr().out
    assert code == 0, out[-2000:]
    assert "dev-chosen threshold" in out and "ACER" in out
    assert not (tmp_path / "lightning_logs").exists()  # smoke.yaml: no logger
    return out


#: The method each data file runs with: the method files in turn, so that every one runs.
RUNS = [(data, METHODS[i % len(METHODS)]) for i, data in enumerate(DATA)]


@pytest.mark.slow
@pytest.mark.parametrize(("data", "method"), RUNS, ids=[f"{_name(d)}+{m.stem}" for d, m in RUNS])
def test_every_data_and_method_file_runs_with_the_smoke_override(
    data, method, releases, tmp_path, capsys
):
    teacher = SMALL_TEACHER if method.stem in ("mtfas", "teacher_student") else []
    args = [
        *benchmark_args(data, method.stem),
        "--config",
        str(SMOKE),
        *teacher,
        *_data_overrides(data, releases, tmp_path),
    ]
    _smoke_run(args, tmp_path, capsys)


@pytest.mark.slow
@pytest.mark.parametrize("demo", DEMOS, ids=lambda p: p.stem)
def test_the_demos_run_with_the_smoke_override(demo, oulu_release, oulu_cache, tmp_path, capsys):
    # The demo's synthetic release, made as small as the shared tiny OULU-NPU release
    # (which is then found complete at root and reused).
    release = {
        "users_per_split": [OULU_RELEASE["users_per_split"]] * 3,
        "video_frames": OULU_RELEASE["n_frames"],
        "video_size": OULU_RELEASE["size"],
        "root": oulu_release,
        "cache_dir": oulu_cache,
        **OULU_CROPS,
    }
    args = [
        "--config",
        str(demo),
        "--config",
        str(SMOKE),
        *[f"--data.init_args.{k}={v}" for k, v in release.items()],
    ]
    _smoke_run(args, tmp_path, capsys)


@pytest.mark.slow
@pytest.mark.parametrize("recipe", RECIPES, ids=lambda p: p.stem)
def test_the_recipes_run_with_the_smoke_override(
    recipe, partial_release, partial_cache, tmp_path, capsys
):
    # The recipe's release made as small as the shared tiny one (found complete at root).
    settings = {"root": partial_release, "cache_dir": partial_cache}
    settings.update(PARTIAL_RELEASE)
    settings.update(PARTIAL_CROPS)
    configs = [arg for path in RECIPE_CONFIGS[recipe.stem] for arg in ("--config", str(path))]
    args = [
        *configs,
        "--config",
        str(SMOKE),
        *[f"--data.init_args.{k}={v}" for k, v in settings.items()],
    ]
    _smoke_run(args, tmp_path, capsys)
