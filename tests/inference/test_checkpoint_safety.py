"""Loading is data, never code: crafted checkpoints are refused and their payloads never run.

Every payload below creates a marker file when it runs. Each test first shows that the
payload is live (it does run when loaded the unsafe way, or its class is importable),
then that mtfas refuses the file with a :class:`CheckpointError` naming the reason, and
that the marker was not created.
"""

from __future__ import annotations

import builtins
import copy
import functools
import os
import pickle
import subprocess
import sys
import warnings
from enum import Enum
from pathlib import Path

import numpy as np
import pytest
import torch

import mtfas
from mtfas.cli import main
from mtfas.cli.trust import check_checkpoint_hparams
from mtfas.errors import CheckpointError, ConfigError
from mtfas.inference import export_onnx
from mtfas.inference.checkpoint import (
    INFERENCE_KEY,
    load_checkpoint,
    load_student,
    plain_hyperparameters,
    student_classes,
)
from mtfas.models import DepthNet
from tests.fakes import TinyStudent
from tests.inference.conftest import IMAGE_SIZE, write_image

ROOT = Path(__file__).resolve().parents[2]
TINY = str(ROOT / "tests" / "conf" / "tiny_mtfas.yaml")


class Payload:
    """Unpickling this runs ``exec`` of code that creates ``marker``."""

    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __reduce__(self):
        return builtins.exec, (f"open({self.marker!r}, 'w').close()",)


@pytest.fixture
def marker(tmp_path):
    path = tmp_path / "payload-ran"
    yield path
    assert not path.exists(), "a payload ran"


@pytest.fixture(scope="module")
def genuine(trained):
    """The tiny trained checkpoint, read as data."""
    path, _ = trained
    return torch.load(path, map_location="cpu", weights_only=True)


def with_student_spec(genuine, tmp_path, spec, name="crafted.ckpt"):
    checkpoint = copy.deepcopy(genuine)
    checkpoint[INFERENCE_KEY]["student"] = spec
    path = tmp_path / name
    torch.save(checkpoint, path)
    return path


def refused(path, match, **kwargs):
    with pytest.raises(CheckpointError, match=match) as info:
        mtfas.Predictor.from_checkpoint(path, detect=False, **kwargs)
    return str(info.value)


# ---------------------------------------------------------------------- pickle payloads
def test_payload_is_live_when_loaded_unsafely(tmp_path):
    marker = tmp_path / "control"
    pickle.loads(pickle.dumps(Payload(marker)))
    assert marker.exists()


@pytest.mark.parametrize("protocol", [2, pickle.DEFAULT_PROTOCOL])
def test_plain_pickle_payload_is_refused(tmp_path, marker, protocol):
    path = tmp_path / "plain.ckpt"
    path.write_bytes(pickle.dumps({"state_dict": {}, "x": Payload(marker)}, protocol=protocol))
    # Protocol 2 (torch's) gets as far as the global; newer ones stop at their framing.
    if protocol == 2:
        message = refused(path, "refused to read checkpoint")
        assert "more than plain data" in message and "GLOBAL exec" in message
    else:
        message = refused(path, "cannot read checkpoint")
        assert "Unsupported operand" in message and "never as pickled objects" in message


def test_torch_save_payload_is_refused(tmp_path, marker):
    path = tmp_path / "torch_save.ckpt"
    torch.save({"state_dict": {"student.w": torch.zeros(1)}, "x": Payload(marker)}, path)
    with pytest.raises(CheckpointError, match="GLOBAL exec"):
        load_checkpoint(path)
    with pytest.raises(CheckpointError, match="more than plain data"):
        export_onnx(path, tmp_path / "x.onnx")
    assert not (tmp_path / "x.onnx").exists()


@pytest.mark.parametrize("where", ["callbacks", "hyper_parameters", INFERENCE_KEY, "state_dict"])
def test_real_checkpoint_with_a_payload_inside_is_refused(genuine, tmp_path, marker, where):
    checkpoint = copy.deepcopy(genuine)
    checkpoint.setdefault(where, {})["evil"] = Payload(marker)
    path = tmp_path / "last.ckpt"
    torch.save(checkpoint, path)
    refused(path, "refused to read checkpoint .*GLOBAL exec")
    with pytest.raises(CheckpointError, match="GLOBAL exec"):
        check_checkpoint_hparams(path)


def test_allowed_optimiser_class_cannot_smuggle_other_objects(genuine, tmp_path, marker):
    # torch.optim classes may appear (older checkpoints' hyper-parameters), nothing else.
    checkpoint = copy.deepcopy(genuine)
    checkpoint["hyper_parameters"]["student_optimizer"] = torch.optim.Adam
    checkpoint["hyper_parameters"]["evil"] = functools.partial(Payload, marker)
    path = tmp_path / "partial.ckpt"
    torch.save(checkpoint, path)
    refused(path, "functools.partial")


# ---------------------------------------------------------------------- class_path payloads
@pytest.mark.parametrize(
    ("class_path", "init_args"),
    [
        ("os.system", lambda m: {"command": f"touch {m}"}),
        ("builtins.exec", lambda m: {"source": f"open({str(m)!r}, 'w').close()"}),
        ("subprocess.Popen", lambda m: {"args": [sys.executable, "-c", f"open({str(m)!r}, 'w')"]}),
        ("mtfas.models.depthnet.os.system", lambda m: {"command": f"touch {m}"}),
    ],
)
def test_class_path_payload_is_refused(genuine, tmp_path, marker, class_path, init_args):
    spec = {"class_path": class_path, "init_args": init_args(marker)}
    path = with_student_spec(genuine, tmp_path, spec)
    message = refused(path, "not one of the mtfas model classes")
    assert repr(class_path) in message and f"--allow_class {class_path}" in message
    assert f"allowed_classes=[{class_path!r}]" in message and "student=" in message
    assert "mtfas.models.depthnet.DepthNet" in message


def test_class_path_module_is_never_imported(genuine, tmp_path, marker, monkeypatch):
    # A module next to the checkpoint that would run code on import.
    (tmp_path / "evil_student.py").write_text(
        f"open({str(marker)!r}, 'w').close()\nimport torch\nNet = torch.nn.Identity\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    path = with_student_spec(genuine, tmp_path, {"class_path": "evil_student.Net"})
    refused(path, "'evil_student.Net', which is not one of the mtfas model")
    assert "evil_student" not in sys.modules


def test_nested_class_spec_payload_is_refused(genuine, tmp_path, marker):
    nested = {"class_path": "os.system", "init_args": {"command": f"touch {marker}"}}
    spec = {
        "class_path": "mtfas.models.depthnet.DepthNet",
        "init_args": {"width_mult": 0.1, "output_activation": [{"x": nested}]},
    }
    path = with_student_spec(genuine, tmp_path, spec)
    message = refused(path, "init_args of the student .*\\['output_activation'\\]\\[0\\]\\['x'\\]")
    assert "'os.system'" in message


@pytest.mark.parametrize(
    ("value", "kind"),
    [
        (torch.tensor(0.1), "torch.Tensor"),
        (torch.optim.Adam, "builtins.type"),
        ({1: 0.1}, "key that is not a string"),
    ],
)
def test_init_args_that_are_not_plain_data_are_refused(genuine, tmp_path, value, kind):
    spec = {"class_path": "mtfas.models.depthnet.DepthNet", "init_args": {"width_mult": value}}
    path = with_student_spec(genuine, tmp_path, spec)
    refused(path, kind)


def test_malformed_specs_are_refused(genuine, tmp_path):
    for spec, match in [
        ({"class_path": 7}, "not a string"),
        ({"class_path": "mtfas.models.DepthNet", "init_args": [1]}, "are not a dict"),
        ({"class_path": "mtfas.models.DepthNet", "call": "x"}, "keys other than"),
        ("mtfas.models.DepthNet", "is not a"),
    ]:
        refused(with_student_spec(genuine, tmp_path, spec), match)


def test_deep_nesting_is_refused(genuine, tmp_path):
    deep: list = []
    for _ in range(100):
        deep = [deep]
    spec = {"class_path": "mtfas.models.DepthNet", "init_args": {"width_mult": deep}}
    refused(with_student_spec(genuine, tmp_path, spec), "nested more than")


def test_student_weights_must_be_tensors(genuine, tmp_path):
    checkpoint = copy.deepcopy(genuine)
    checkpoint["state_dict"]["student.extra"] = [1, 2]
    path = tmp_path / "list.ckpt"
    torch.save(checkpoint, path)
    refused(path, "student.extra .* is a list, not a tensor")


# ---------------------------------------------------------------------- allowing classes
def test_alias_paths_of_mtfas_models_are_allowed(genuine, tmp_path):
    spec = {"class_path": "mtfas.models.DepthNet", "init_args": {"width_mult": 0.1}}
    net, _ = load_student(with_student_spec(genuine, tmp_path, spec))
    assert type(net) is DepthNet and net.width_mult == 0.1
    allow = student_classes()
    assert {"mtfas.models.CDCN", "mtfas.models.teacher.TeacherNet"} <= set(allow.classes)
    assert all(c.__module__.startswith("mtfas.models") for c in allow.classes.values())


def test_user_allowed_class_is_built(trained, tmp_path):
    path, _ = trained
    checkpoint = torch.load(path, weights_only=True)
    student = TinyStudent()
    checkpoint["state_dict"] = {
        **{k: v for k, v in checkpoint["state_dict"].items() if not k.startswith("student.")},
        **{f"student.{k}": v for k, v in student.state_dict().items()},
    }
    checkpoint[INFERENCE_KEY]["student"] = {"class_path": "tests.fakes.TinyStudent"}
    crafted = tmp_path / "tiny_student.ckpt"
    torch.save(checkpoint, crafted)
    refused(crafted, "'tests.fakes.TinyStudent', which is not one of")
    for allowed in (["tests.fakes.TinyStudent"], [TinyStudent]):
        predictor = mtfas.Predictor.from_checkpoint(crafted, detect=False, allowed_classes=allowed)
        assert type(predictor.student) is TinyStudent
    with pytest.raises(ConfigError, match="cannot be imported"):
        load_student(crafted, allowed_classes=["tests.fakes.NoSuchClass"])
    with pytest.raises(ConfigError, match="must be classes"):
        load_student(crafted, allowed_classes=["os.system"])


def test_allowed_class_that_builds_no_network_is_refused(genuine, tmp_path):
    path = with_student_spec(genuine, tmp_path, {"class_path": "collections.OrderedDict"})
    refused(path, "built a OrderedDict, not a network", allowed_classes=["collections.OrderedDict"])


# ---------------------------------------------------------------------- command line
def test_cli_predict_refuses_a_crafted_checkpoint_without_traceback(
    genuine, tmp_path, marker, capsys, capture
):
    image = write_image(tmp_path / "face.png", capture.frames[0])
    spec = {"class_path": "os.system", "init_args": {"command": f"touch {marker}"}}
    crafted = with_student_spec(genuine, tmp_path, spec)
    args = ["predict", "--ckpt_path", str(crafted), "--input", str(image), "--no-detect"]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "mtfas: error:" in err and "'os.system'" in err and "--allow_class os.system" in err
    assert "Traceback" not in err
    pickled = tmp_path / "pickled.ckpt"
    torch.save({"state_dict": {}, "x": Payload(marker)}, pickled)
    out = tmp_path / "x.onnx"
    assert main(["export", "--ckpt_path", str(pickled), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "refused to read checkpoint" in err and "Traceback" not in err
    assert not out.exists()


def test_cli_allow_class_flag_builds_the_named_class(
    genuine, tmp_path, capsys, capture, monkeypatch
):
    # A user's own student class (same architecture as the trained DepthNet).
    (tmp_path / "my_nets.py").write_text(
        "from mtfas.models import DepthNet\n\n\nclass Net(DepthNet):\n    pass\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    spec = copy.deepcopy(genuine[INFERENCE_KEY]["student"])
    spec["class_path"] = "my_nets.Net"
    crafted = with_student_spec(genuine, tmp_path, spec)
    image = write_image(tmp_path / "face.png", capture.frames[0][:IMAGE_SIZE, :IMAGE_SIZE])
    args = ["predict", "--ckpt_path", str(crafted), "--input", str(image), "--no-detect"]
    assert main(args) == 2
    assert "--allow_class my_nets.Net" in capsys.readouterr().err
    assert "my_nets" not in sys.modules
    assert main([*args, "--allow_class", "my_nets.Net"]) == 0
    assert "1 of 1 input(s) scored" in capsys.readouterr().out
    out = tmp_path / "model.onnx"
    assert main(["export", "--ckpt_path", str(crafted), "--out", str(out), "--no-check"]) == 2
    export = ["export", "--ckpt_path", str(crafted), "--out", str(out), "--no-check"]
    assert main([*export, "--allow_class", "my_nets.Net"]) == 0 and out.is_file()


def test_console_script_exits_2_with_a_message(genuine, tmp_path, marker, capture):
    image = write_image(tmp_path / "face.png", capture.frames[0])
    spec = {
        "class_path": "subprocess.Popen",
        "init_args": {"args": [sys.executable, "-c", f"open({str(marker)!r}, 'w')"]},
    }
    crafted = with_student_spec(genuine, tmp_path, spec)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("MTFAS_DEBUG", None)
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "mtfas",
            "predict",
            "--ckpt_path",
            str(crafted),
            "--input",
            str(image),
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=300,
    )
    assert done.returncode == 2, done.stderr
    assert "'subprocess.Popen'" in done.stderr and "Traceback" not in done.stderr


# ---------------------------------------------------------------------- hyper-parameters
def test_genuine_checkpoints_need_no_allowed_globals(trained):
    path, _ = trained
    assert torch.serialization.get_unsafe_globals_in_checkpoint(path) == []
    checkpoint = torch.load(path, weights_only=True)
    assert checkpoint["hyper_parameters"]["student_optimizer"] == {
        "class_path": "torch.optim.adam.Adam"
    }
    check_checkpoint_hparams(path)


def test_older_checkpoint_with_an_optimiser_class_still_predicts(genuine, trained, tmp_path):
    _, system = trained
    checkpoint = copy.deepcopy(genuine)
    checkpoint["hyper_parameters"]["student_optimizer"] = torch.optim.Adam
    path = tmp_path / "old.ckpt"
    torch.save(checkpoint, path)
    assert torch.serialization.get_unsafe_globals_in_checkpoint(path) == ["torch.optim.adam.Adam"]
    predictor = mtfas.Predictor.from_checkpoint(path, detect=False)
    assert predictor.threshold == float(system.threshold)
    check_checkpoint_hparams(path)


def test_plain_hyperparameters_turn_objects_into_data(tmp_path):
    class Colour(Enum):
        RED = "red"

    hparams = {
        "opt": torch.optim.SGD,
        "partial": functools.partial(torch.optim.SGD, lr=0.1, betas=(0.9, 0.99)),
        "function": os.path.join,
        "path": Path("a/b"),
        "enum": Colour.RED,
        "np": np.float32(1.5),
        "array": np.arange(3),
        "nested": [{"x": (1, None)}],
        "dtype": torch.float16,
        "tensor": torch.ones(2),
    }
    plain = plain_hyperparameters(hparams)
    assert plain["opt"] == {"class_path": "torch.optim.sgd.SGD"}
    assert plain["partial"] == {
        "class_path": "torch.optim.sgd.SGD",
        "init_args": {"lr": 0.1, "betas": (0.9, 0.99)},
    }
    assert plain["function"] == f"{os.path.join.__module__}.join"
    assert plain["path"] == str(Path("a/b")) and plain["enum"] == "red"
    assert plain["np"] == 1.5 and plain["array"] == [0, 1, 2]
    assert plain["nested"] == [{"x": (1, None)}] and plain["dtype"] == "torch.float16"
    with pytest.warns(UserWarning, match="hyper_parameters.fn .*cannot be stored"):
        lossy = plain_hyperparameters({"fn": lambda x: x})
    assert lossy["fn"].startswith("<not saved: ")
    path = tmp_path / "h.pt"
    torch.save(plain, path)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        loaded = torch.load(path, weights_only=True)
    assert loaded["partial"] == plain["partial"]


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ({"_class_path": "evil_system.System"}, "'evil_system.System', which is not one of"),
        ({"_class_path": "os.system"}, "'os.system'"),
        ({"student": {"class_path": "evil_system.Net"}}, "'evil_system.Net'"),
        (
            {
                "student": {
                    "class_path": "mtfas.models.DepthNet",
                    "init_args": {"theta": {"class_path": "subprocess.Popen"}},
                }
            },
            "'subprocess.Popen'",
        ),
        (
            {
                "student_optimizer": {
                    "class_path": "subprocess.Popen",
                    "init_args": {"args": ["touch", "x"]},
                }
            },
            "'subprocess.Popen'",
        ),
        (
            {"student_optimizer": "evil_system.make"},
            r"import path\) names the class 'evil_system\.make'",
        ),
        ({"_instantiator": "evil_system.make"}, "instantiator"),
        ({"student": {"class_path": "mtfas.models.DepthNet", "eval": "x"}}, "keys besides"),
    ],
)
def test_hparams_class_paths_are_checked(genuine, tmp_path, marker, monkeypatch, change, match):
    (tmp_path / "evil_system.py").write_text(f"open({str(marker)!r}, 'w').close()\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    checkpoint = copy.deepcopy(genuine)
    checkpoint["hyper_parameters"].update(change)
    path = tmp_path / "hp.ckpt"
    torch.save(checkpoint, path)
    with pytest.raises(CheckpointError, match=match):
        check_checkpoint_hparams(path)
    assert "evil_system" not in sys.modules


def test_cli_style_hparams_pass(genuine, tmp_path):
    checkpoint = copy.deepcopy(genuine)
    checkpoint["hyper_parameters"] = {
        "_class_path": "mtfas.MetaTeacherSystem",
        "_instantiator": "lightning.pytorch.cli.instantiate_module",
        "student": {"class_path": "mtfas.models.DepthNet", "init_args": {"width_mult": 0.1}},
        "backend": "torch.func",
        "student_optimizer": {"class_path": "torch.optim.Adam", "init_args": {"lr": 0.002}},
        "teacher_optimizer": "torch.optim.SGD",
        "pai_names": ["live", "print"],
    }
    checkpoint["datamodule_hyper_parameters"] = {
        "_class_path": "mtfas.datamodules.SyntheticDataModule",
        "n_subjects": 8,
    }
    path = tmp_path / "cli.ckpt"
    torch.save(checkpoint, path)
    check_checkpoint_hparams(path)
    checkpoint["hyper_parameters"]["student"]["class_path"] = "tests.fakes.TinyStudent"
    torch.save(checkpoint, path)
    with pytest.raises(CheckpointError, match="TinyStudent"):
        check_checkpoint_hparams(path)
    check_checkpoint_hparams(path, allowed_classes=["tests.fakes.TinyStudent"])


def test_checkpoint_written_by_the_cli_is_plain_data(tmp_path, capture):
    root = tmp_path / "run"
    code = main(
        [
            "fit",
            "--config",
            TINY,
            "--trainer.max_epochs",
            "1",
            "--trainer.limit_train_batches",
            "2",
            "--trainer.limit_val_batches",
            "1",
            "--trainer.enable_checkpointing",
            "true",
            "--test_after_fit",
            "false",
            "--trainer.default_root_dir",
            str(root),
        ]
    )
    assert code == 0
    paths = sorted(root.rglob("*.ckpt"))
    assert paths
    for path in paths:
        assert torch.serialization.get_unsafe_globals_in_checkpoint(path) == []
        checkpoint = check_checkpoint_hparams(path)
        assert checkpoint["hyper_parameters"]["_class_path"] == "mtfas.MetaTeacherSystem"
    image = write_image(tmp_path / "face.png", capture.frames[0])
    result = mtfas.Predictor.from_checkpoint(paths[0], detect=False).predict(image)
    assert result.n_scored_inputs == 1


# ---------------------------------------------------------------------- atomic export
def test_failed_export_keeps_the_old_file(trained, tmp_path):
    path, _ = trained
    out = tmp_path / "model.onnx"
    out.write_bytes(b"old model")
    with pytest.raises(CheckpointError, match="not written"):
        export_onnx(path, out, atol=-1.0)  # every difference exceeds a negative tolerance
    assert out.read_bytes() == b"old model"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.onnx"]
    export_onnx(path, out)
    assert out.read_bytes() != b"old model"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.onnx"]
