"""Optional extras: a missing one is a clear error naming it, and nothing imports it early."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from mtfas.errors import MissingExtraError, MTFASError
from mtfas.extras import require
from mtfas.inference import export_onnx

ROOT = Path(__file__).resolve().parents[1]
OPTIONAL = ("wandb", "onnx", "onnxscript", "onnxruntime", "nbclient", "nbformat")


def test_an_installed_module_is_returned():
    assert require("onnx", "json", "a test") is json


@pytest.mark.parametrize("module", ["onnx", "onnxscript"])
def test_a_missing_module_names_the_extra_that_installs_it(monkeypatch, module):
    monkeypatch.setitem(sys.modules, module, None)  # what `import` sees when it is absent
    with pytest.raises(MissingExtraError) as info:
        require("onnx", module, "ONNX export")
    message = str(info.value)
    assert 'pip install "mtfas[onnx]"' in message
    assert repr(module) in message and "ONNX export" in message
    assert isinstance(info.value, MTFASError) and isinstance(info.value, ImportError)


@pytest.mark.parametrize("module", ["onnx", "onnxscript"])
def test_export_without_onnx_fails_first_and_writes_nothing(monkeypatch, tmp_path, module):
    monkeypatch.setitem(sys.modules, module, None)
    out = tmp_path / "out" / "model.onnx"
    # The checkpoint does not exist either: the missing extra is reported before it is read.
    with pytest.raises(MissingExtraError, match=r'pip install "mtfas\[onnx\]"'):
        export_onnx(tmp_path / "absent.ckpt", out)
    assert not out.parent.exists()


def test_no_module_of_the_package_imports_an_extra_when_imported():
    # A fresh interpreter in which every optional package is missing imports all of mtfas
    # (so the demo's `mtfas fit`, which needs none of them, starts without them).
    code = (
        "import importlib, pkgutil, sys\n"
        f"for name in {OPTIONAL!r}:\n"
        "    sys.modules[name] = None\n"
        "import mtfas\n"
        "names = [m.name for m in pkgutil.walk_packages(mtfas.__path__, 'mtfas.')]\n"
        "for name in names:\n"
        "    importlib.import_module(name)\n"
        "print(len(names))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    assert int(done.stdout.split()[-1]) > 50  # it did walk the package
