"""Two CPU processes (gloo): identical models on every rank, averaged meta-gradients."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from mtfas.systems.inner_loop import make_inner_loop
from mtfas.systems.losses import supervision_target, validation_loss
from mtfas.transforms import normalise_batch
from tests.fakes import TinyStudent, TinyTeacher

pytestmark = pytest.mark.ddp

ROOT = Path(__file__).resolve().parents[2]
LR = 0.1


BACKENDS = ["higher", "torch.func", "jvp"]
SEVERAL = 4  # steps of the longer "higher" run


@pytest.fixture(scope="module")
def ddp_runs(tmp_path_factory) -> Path:
    """One two-process run of every fit the tests check (one process start for all)."""
    out = tmp_path_factory.mktemp("ddp")
    specs = [f"{backend}:1" for backend in BACKENDS] + [f"higher:{SEVERAL}"]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(
        [sys.executable, str(ROOT / "tests" / "systems" / "ddp_run.py"), str(out), *specs],
        cwd=out,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return out


def _grads(state: dict, backend: str) -> tuple[list, list]:
    """Per-rank teacher and student gradients of the first step, recomputed here."""
    student, teacher = TinyStudent(batchnorm=True), TinyTeacher()
    student.load_state_dict(state["student"])
    teacher.load_state_dict(state["teacher"])
    # The recorded batch is as the loader gives it (uint8); the systems normalise in steps.
    batch = normalise_batch(state["batch"])
    train, meta_val = batch["train"], batch["meta_val"]
    target = supervision_target(teacher(train["image"]), train["label"])
    loop = make_inner_loop(backend, 1, 0.05, False)
    res = loop.run(
        student,
        train["image"],
        target,
        meta_val["image"],
        lambda m: validation_loss("map_mean_bce", m, meta_val["label"]),
    )
    t_grads = torch.autograd.grad(res.val_loss, list(teacher.parameters()))
    return list(t_grads), res.student_grads


@pytest.mark.parametrize("backend", BACKENDS)
def test_ddp_keeps_ranks_identical_and_averages_gradients(ddp_runs, backend):
    tmp_path = ddp_runs / f"{backend}-1"
    final = [torch.load(tmp_path / f"params_rank{r}.pt") for r in (0, 1)]
    for net in ("student", "teacher"):
        for name, value in final[0][net].items():
            if "running" in name or "num_batches" in name:
                continue  # BatchNorm statistics are per process (DDP broadcasts rank 0's)
            assert torch.equal(value, final[1][net][name]), (net, name)
    starts = [torch.load(tmp_path / f"step0_rank{r}.pt") for r in (0, 1)]
    assert not torch.equal(
        starts[0]["batch"]["train"]["image"], starts[1]["batch"]["train"]["image"]
    )  # really different data
    per_rank = [_grads(s, backend) for s in starts]
    teacher0 = TinyTeacher()
    teacher0.load_state_dict(starts[0]["teacher"])
    for (name, p0), g0, g1 in zip(teacher0.named_parameters(), per_rank[0][0], per_rank[1][0]):
        expected = p0 - LR * (g0 + g1) / 2
        torch.testing.assert_close(final[0]["teacher"][name], expected, rtol=1e-5, atol=1e-6)
    student0 = TinyStudent(batchnorm=True)
    student0.load_state_dict(starts[0]["student"])
    for (name, p0), g0, g1 in zip(student0.named_parameters(), per_rank[0][1], per_rank[1][1]):
        expected = p0 - LR * (g0 + g1) / 2
        torch.testing.assert_close(final[0]["student"][name], expected, rtol=1e-5, atol=1e-6)


def test_ddp_several_steps_stay_bit_identical(ddp_runs):
    final = [torch.load(ddp_runs / f"higher-{SEVERAL}" / f"params_rank{r}.pt") for r in (0, 1)]
    assert final[0]["steps"] == SEVERAL
    for net in ("student", "teacher"):
        for name, value in final[0][net].items():
            if "running" not in name and "num_batches" not in name:
                assert torch.equal(value, final[1][net][name]), (net, name)
