"""The cross-dataset composite: splits, names, per-domain meta-val, threshold from source dev."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml
from lightning.pytorch import Trainer

from mtfas import SupervisedSystem
from mtfas.cli import main
from mtfas.datamodules import CrossDatasetDataModule, OULUNPUDataModule, VideoDataModule
from mtfas.datamodules.cross_dataset import SUBJECT_STRIDE
from mtfas.errors import ConfigError, DatasetNotFoundError
from mtfas.metrics.functional import choose_threshold, pad_report
from mtfas.synthetic.layouts.face_boxes import FACE_BOX_FOLDER
from tests.conftest import DETECTED_CROPS, OULU_CROPS
from tests.fakes import RandomDataModule, video_scores
from tests.systems.test_evaluation import BrightnessStudent

ROOT = Path(__file__).resolve().parents[2]


class ShiftedDataModule(RandomDataModule):
    """RandomDataModule whose crops are shifted by a constant, so domains differ."""

    def __init__(self, shift: int, pai_names=("live", "print", "replay"), **kwargs) -> None:
        self.pai_names = tuple(pai_names)
        super().__init__(**kwargs)
        self.shift = shift
        arrays = self.store.arrays
        for video in list(arrays):
            arrays[video] = np.clip(arrays[video].astype(int) - shift, 0, 255).astype(np.uint8)


def _composite(**kwargs):
    a = ShiftedDataModule(0, n_subjects=10)
    b = ShiftedDataModule(20, pai_names=("live", "photo", "video"), n_subjects=15)
    t = ShiftedDataModule(40, n_subjects=10)
    defaults = dict(
        domains=["A", "B", "T"], image_size=16, batch_size=4, augment=False, meta_val_fraction=0.3
    )
    return CrossDatasetDataModule([a, b], t, **{**defaults, **kwargs}), (a, b, t)


def test_splits_come_from_the_right_domains_and_splits():
    dm, (a, b, t) = _composite()
    train, dev, test = (dm.video_table(s) for s in ("train", "dev", "test"))
    assert set(train["domain"]) == {"A", "B"} and set(dev["domain"]) == {"A", "B"}
    assert set(test["domain"]) == {"T"}
    for table, split, members in (
        (train, "train", (a, b)),
        (dev, "dev", (a, b)),
        (test, "test", (t,)),
    ):
        expected = sorted(
            f"{d}/{v}"
            for d, m in zip("ABT", (a, b, t), strict=True)
            if m in members
            for v in m.video_table(split)["video"]
        )
        assert sorted(table["video"]) == expected, split
    # Subjects are renumbered per domain and keep the original.
    assert (train["subject"] // SUBJECT_STRIDE).isin([0, 1]).all()
    assert (train["subject"] % SUBJECT_STRIDE == train["domain_subject"]).all()
    assert (test["subject"] // SUBJECT_STRIDE == 2).all()


def test_species_are_named_per_domain():
    dm, _ = _composite()
    assert dm.pai_names == (
        "live",
        "A/print",
        "A/replay",
        "B/photo",
        "B/video",
        "T/print",
        "T/replay",
    )
    table = dm.video_table("train")
    assert set(table["pai"]) == {"live", "A/print", "A/replay", "B/photo", "B/video"}
    assert ((table["pai"] == "live") == (table["label"] == "live")).all()
    assert dm.describe() == "A&B -> T"


def test_meta_val_is_carved_per_source_domain_subject_disjoint():
    dm, (a, b, _) = _composite()
    tables = dm.split_tables()
    meta, train = tables["meta_val"], tables["train"]
    assert set(meta["domain"]) == {"A", "B"}
    assert set(meta["subject"]).isdisjoint(train["subject"])
    for domain, member in (("A", a), ("B", b)):
        n = member.video_table("train")["subject"].nunique()
        assert meta.loc[meta["domain"] == domain, "subject"].nunique() == round(0.3 * n)
    assert set(meta["video"]) | set(train["video"]) == set(dm.video_table("train")["video"])
    again, _ = _composite()
    assert again.split_tables()["meta_val"]["video"].tolist() == meta["video"].tolist()


def test_loaders_read_each_domain_from_its_own_store():
    dm, (a, b, t) = _composite()
    dm.prepare_data()
    dm.setup("fit")
    for split, dataset in dm.datasets.items():
        for row in range(0, len(dataset.table), 7):
            video = dataset.table.at[row, "video"]
            domain, _, inner = video.partition("/")
            member = {"A": a, "B": b, "T": t}[domain]
            np.testing.assert_array_equal(
                dm.frame_store().frames(video), member.frame_store().frames(inner), split
            )
    loaders = dm.train_dataloader()
    assert set(loaders) == {"train", "meta_val"}
    dev, test = dm.test_dataloader()
    assert set(dev.dataset.table["domain"]) == {"A", "B"}
    assert set(test.dataset.table["domain"]) == {"T"}


def test_source_train_and_target_test_splits_are_configurable():
    dm, (a, _, t) = _composite(
        source_train_splits=["train", "test"], target_test_splits=["train", "test"]
    )
    train = dm.video_table("train")
    assert set(train["domain_split"]) == {"train", "test"}
    n_a = len(a.video_table("train")) + len(a.video_table("test"))
    assert (train["domain"] == "A").sum() == n_a
    test = dm.video_table("test")
    assert len(test) == len(t.video_table("train")) + len(t.video_table("test"))
    assert set(dm.video_table("dev")["domain_split"]) == {"dev"}


@pytest.mark.parametrize(
    "kwargs,match",
    [
        (dict(source_train_splits=["train", "dev"]), "threshold"),
        (dict(target_test_splits=["tst"]), "target_test_splits"),
        (dict(domains=["A", "A", "T"]), "distinct"),
        (dict(domains=["A/x", "B", "T"]), "without '/'"),
        (dict(domains=["A", "T"]), "sources then target"),
    ],
)
def test_bad_settings_are_clear_errors(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        _composite(**kwargs)


def test_target_may_not_be_a_source_and_default_domains_must_differ():
    a = RandomDataModule()
    with pytest.raises(ConfigError, match="also a source"):
        CrossDatasetDataModule([a], a)
    with pytest.raises(ConfigError, match="domains"):
        CrossDatasetDataModule([RandomDataModule()], RandomDataModule())
    with pytest.raises(ConfigError, match="at least one source"):
        CrossDatasetDataModule([], RandomDataModule())


def test_threshold_comes_from_source_dev_and_is_applied_to_the_target(tmp_path):
    dm, _ = _composite()
    system = SupervisedSystem(student=BrightnessStudent(), print_test_report=False)
    trainer = Trainer(
        accelerator="cpu",
        devices=1,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        default_root_dir=tmp_path,
    )
    trainer.test(system, dm, verbose=False)
    dev = video_scores(system.student, dm, "dev")
    test = video_scores(system.student, dm, "test")
    threshold = choose_threshold(dev[0], dev[1])
    realistic = system.test_reports["test"]
    assert realistic.threshold == pytest.approx(threshold)
    expected = pad_report(*test, threshold, dm.pai_names)
    assert realistic.hter == pytest.approx(expected.hter)
    assert realistic.acer == pytest.approx(expected.acer)
    assert set(realistic.apcer_per_species) == {"T/print", "T/replay"}
    ideal = system.test_reports["test_idealised"]
    assert ideal.threshold == pytest.approx(choose_threshold(*test[:2], placement="score"))
    # The dev report covers the two sources' dev videos only.
    n_dev = len(dm.video_table("dev"))
    report = system.test_reports["dev"]
    assert report.n_bona_fide + report.n_attack_total == n_dev


# ----------------------------------------------------------------- OULU-NPU as a domain
def test_oulu_protocol_all_lists_every_video_by_folder(oulu_release, oulu_cache):
    dm = OULUNPUDataModule(oulu_release, protocol="all", cache_dir=oulu_cache, **OULU_CROPS)
    for split, folder in (("train", "Train_files"), ("dev", "Dev_files"), ("test", "Test_files")):
        table = dm.video_table(split)
        on_disk = sorted(f"{folder}/{p.stem}" for p in (oulu_release / folder).glob("*.avi"))
        assert sorted(table["video"]) == on_disk
        assert set(table["session"]) == {1, 2, 3}
    with pytest.raises(Exception, match="no folds"):
        OULUNPUDataModule(oulu_release, protocol="all", fold=1)


def test_a_root_of_another_benchmark_is_named(oulu_release):
    class FakeBenchmark(VideoDataModule):
        benchmark = "fake-benchmark"
        title = "Fake"
        required_entries = ("train_release", "test_release")
        pai_names = ("live", "print")

        def video_table(self, split):  # pragma: no cover - never reached
            raise AssertionError

        def box_source(self, video):  # pragma: no cover
            raise AssertionError

    with pytest.raises(DatasetNotFoundError, match="looks like a copy of OULU-NPU") as info:
        FakeBenchmark(oulu_release).check_root()
    assert "OULUNPUDataModule" in str(info.value)


def test_relative_member_roots_are_taken_from_data_root(oulu_release, tmp_path):
    relative = OULUNPUDataModule("OULU-NPU", protocol="all")
    absolute = OULUNPUDataModule(oulu_release, protocol="all")
    dm = CrossDatasetDataModule(
        [relative], absolute, domains=["O1", "O2"], data_root=oulu_release.parent
    )
    assert relative.root == oulu_release and absolute.root == oulu_release
    assert len(dm.video_table("train")) == len(absolute.video_table("train"))


# ----------------------------------------------------------------- end to end, CLI, configs
CROSS_CONFIGS = sorted((ROOT / "configs" / "data" / "cross_dataset").glob("*.yaml"))


def test_every_cross_dataset_protocol_has_a_config():
    assert {p.stem for p in CROSS_CONFIGS} == {
        "casia_to_replay",
        "replay_to_casia",
        "oci_to_m",
        "omi_to_c",
        "ocm_to_i",
        "icm_to_o",
    }


@pytest.mark.parametrize("config", CROSS_CONFIGS, ids=lambda p: p.stem)
def test_shipped_cross_dataset_configs_parse(config, capsys):
    from tests.test_configs import benchmark_args

    with pytest.raises(SystemExit) as exit_info:
        main(
            [
                "fit",
                *benchmark_args(config),
                "--data.init_args.data_root",
                "/data",
                "--print_config",
            ]
        )
    assert exit_info.value.code == 0
    printed = yaml.safe_load(capsys.readouterr().out)["data"]["init_args"]
    letters = {
        "OULUNPUDataModule": "o",
        "CASIAFASDDataModule": "c",
        "ReplayAttackDataModule": "i",
        "MSUMFSDDataModule": "m",
    }
    name = lambda member: letters[member["class_path"].rsplit(".", 1)[1]]
    sources = "".join(name(m) for m in printed["sources"])
    stem = config.stem.replace("casia", "c").replace("replay", "i")
    assert stem == f"{sources}_to_{name(printed['target'])}"


def test_cli_trains_on_sources_and_tests_on_the_target(
    oulu_release,
    oulu_cache,
    casia_release,
    casia_cache,
    msu_release,
    msu_cache,
    tmp_path,
    capsys,
):
    config = yaml.safe_load((ROOT / "tests" / "conf" / "tiny_mtfas.yaml").read_text())
    boxes = {"face_boxes": None, **DETECTED_CROPS}

    def member(klass, root, cache, **extra):
        args = {"root": str(root), "cache_dir": str(cache), **extra}
        return {"class_path": f"mtfas.datamodules.{klass}", "init_args": args}

    config["data"] = {
        "class_path": "mtfas.datamodules.CrossDatasetDataModule",
        "init_args": {
            "sources": [
                member("OULUNPUDataModule", oulu_release, oulu_cache, protocol="all", **OULU_CROPS),
                member(
                    "CASIAFASDDataModule",
                    casia_release,
                    casia_cache,
                    **{**boxes, "face_boxes": str(casia_release / FACE_BOX_FOLDER)},
                ),
            ],
            "target": member(
                "MSUMFSDDataModule",
                msu_release,
                msu_cache,
                **{**boxes, "face_boxes": str(msu_release / FACE_BOX_FOLDER)},
            ),
            "image_size": 32,
            "batch_size": 8,
            "eval_batch_size": 512,
            "meta_val_fraction": 0.3,
        },
    }
    path = tmp_path / "cross.yaml"
    path.write_text(yaml.safe_dump(config))
    main(
        [
            "fit",
            "--config",
            str(path),
            "--trainer.fast_dev_run",
            "1",
            "--trainer.default_root_dir",
            str(tmp_path),
        ]
    )
    out = capsys.readouterr().out
    assert "dev-chosen threshold" in out and "HTER" in out
    for species in ("printed_photo", "ipad_video", "iphone_video"):
        assert f"msu-mfsd/{species}" in out
    # The target test set holds none of the sources' species.
    test_report = out.split("dev-chosen threshold", 1)[1]
    source_lines = [line for line in test_report.splitlines() if "casia-fasd/" in line]
    assert source_lines and all("absent" in line for line in source_lines)


# ----------------------------------------------------------------- data_root reaches every path
#: Folder names the shipped configs give the copies under data_root.
RELEASE_FOLDERS = {
    "OULU-NPU": "oulu_release",
    "CASIA-FASD": "casia_release",
    "Replay-Attack": "replay_release",
    "MSU-MFSD": "msu_release",
}
#: Every shipped cross-dataset config (wherever the config tree keeps them).
DATA_CONFIGS = sorted(
    {
        p.stem: p
        for p in [
            *(ROOT / "configs" / "cross_dataset").glob("*.yaml"),
            *(ROOT / "configs" / "data" / "cross_dataset").glob("*.yaml"),
        ]
    }.values()
)


def _instantiate(spec):
    """A data module from a ``class_path`` / ``init_args`` mapping (mtfas classes only)."""
    import importlib

    module, _, name = spec["class_path"].rpartition(".")
    assert module.startswith("mtfas.datamodules"), spec["class_path"]
    args = dict(spec.get("init_args") or {})
    for key in ("sources", "target"):
        if key in args:
            value = args[key]
            args[key] = (
                [_instantiate(v) for v in value] if isinstance(value, list) else _instantiate(value)
            )
    return getattr(importlib.import_module(module), name)(**args)


def _under(path, folder):
    return Path(path).is_relative_to(folder)


@pytest.mark.parametrize("config", DATA_CONFIGS, ids=lambda p: p.stem)
def test_data_root_reaches_every_path_the_members_derive(config, request, tmp_path):
    data_root = tmp_path / "data"
    data_root.mkdir()
    spec = yaml.safe_load(config.read_text())["data"]
    names = [
        m["init_args"]["root"] for m in [*spec["init_args"]["sources"], spec["init_args"]["target"]]
    ]
    for name in names:
        (data_root / name).symlink_to(request.getfixturevalue(RELEASE_FOLDERS[name]))
    spec["init_args"]["data_root"] = str(data_root)
    dm = _instantiate(spec)
    assert isinstance(dm, CrossDatasetDataModule)
    for domain, member in dm.members.items():
        assert member.root == data_root / names[dm.domains.index(domain)], domain
        if hasattr(member, "face_locations"):
            assert _under(member.face_locations, member.root) and member.face_locations.is_dir()
        jobs = member.jobs()  # lists every split, checks every video file exists
        assert jobs, domain
        for job in jobs:
            assert _under(job.path, member.root) and job.path.is_file(), job.path
            for file in job.boxes.source_files(job.path):
                assert _under(file, member.root) and file.is_file(), file
        # The default crop cache is keyed by the rebased root.
        from mtfas.datamodules.video import default_cache_dir

        assert member.cache_root == default_cache_dir(
            member.benchmark, data_root / Path(names[dm.domains.index(domain)])
        )
    # The composite lists every split of its members from data_root.
    for split in ("train", "dev", "test"):
        assert len(dm.video_table(split))


def test_data_root_after_a_listing_is_an_error(oulu_release):
    member = OULUNPUDataModule("OULU-NPU", protocol="all")
    target = OULUNPUDataModule(oulu_release, protocol="all")
    with pytest.raises(DatasetNotFoundError):
        member.video_table("train")  # relative to the working directory: not there
    CrossDatasetDataModule([member], target, domains=["a", "b"], data_root=oulu_release.parent)
    listed = OULUNPUDataModule(oulu_release, protocol="all")
    listed.video_table("train")
    relative = OULUNPUDataModule("OULU-NPU", protocol="all")
    relative._split_tables = {"train": listed.video_table("train")}
    with pytest.raises(ConfigError, match="listed its videos before data_root"):
        CrossDatasetDataModule(
            [relative], target, domains=["a", "b"], data_root=oulu_release.parent
        )


def test_too_few_subjects_are_named_with_their_numbers():
    from mtfas.datamodules.base import carve_meta_val

    one = RandomDataModule(n_subjects=1).video_table("train")
    with pytest.raises(ConfigError, match=r"from 1 training subject\(s\).*at least 2"):
        carve_meta_val(one, 0.2, 0)
    a, t = ShiftedDataModule(0, n_subjects=1), ShiftedDataModule(40, n_subjects=4)
    dm = CrossDatasetDataModule(
        [a], t, domains=["A", "T"], image_size=16, batch_size=4, meta_val_fraction=0.2
    )
    with pytest.raises(ConfigError, match=r"fewer than 2 training subjects \(\{'A': 1\}\)"):
        dm.carve_meta_val(dm.video_table("train"))
