"""A resume is the run: ``mtfas fit`` killed with SIGKILL mid-epoch, resumed from last.ckpt.

Deterministic settings: CPU, one device, ``seed_everything`` set, ``OMP_NUM_THREADS=1``.
The resumed run must end with the weights, optimiser states, threshold and results.csv of
the run that was not interrupted, bit for bit.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import torch
import yaml

ROOT = Path(__file__).resolve().parents[1]
TINY = ROOT / "tests" / "conf" / "tiny_mtfas.yaml"


def _config(tmp_path: Path, name: str) -> Path:
    config = yaml.safe_load(TINY.read_text())
    run = tmp_path / name
    config["trainer"].update(
        max_epochs=2,
        default_root_dir=str(run),
        enable_checkpointing=True,
        num_sanity_val_steps=0,
        callbacks=[
            {
                "class_path": "lightning.pytorch.callbacks.ModelCheckpoint",
                "init_args": {
                    "dirpath": str(run / "ckpt"),
                    "every_n_train_steps": 1,
                    "save_last": True,
                    "save_top_k": -1,
                    "filename": "{step}",
                },
            }
        ],
    )
    # Augmentation on, so that the resumed run must also repeat the augmentation draws.
    config["data"]["init_args"].update(augment=True, batch_size=4)
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def _fit(config: Path, *extra: str) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    return subprocess.Popen(
        [sys.executable, "-m", "mtfas", "fit", "--config", str(config), *extra],
        cwd=config.parent,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _finish(proc: subprocess.Popen) -> str:
    out, _ = proc.communicate(timeout=600)
    assert proc.returncode == 0, out[-3000:]
    return out


def _load(path: Path) -> dict | None:
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception:  # being written
        return None


def _kill_after_step(
    proc: subprocess.Popen, ckpt_dir: Path, step: int, steps_per_epoch: int
) -> int:
    """SIGKILL the run once last.ckpt holds a mid-epoch step ``step`` or later; that step."""
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        assert proc.poll() is None, "the run ended before it could be killed"
        if (ckpt_dir / f"step={step}.ckpt").exists():
            proc.send_signal(signal.SIGSTOP)  # freeze it, then check last.ckpt is whole
            last = _load(ckpt_dir / "last.ckpt")
            # last.ckpt is written after step=N.ckpt: wait until it holds a mid-epoch step.
            if last is not None and int(last["global_step"]) % steps_per_epoch:
                proc.kill()
                proc.communicate(timeout=60)
                return int(last["global_step"])
            proc.send_signal(signal.SIGCONT)
        time.sleep(0.05)
    proc.kill()
    raise AssertionError("no checkpoint appeared")


def _max_abs_diff(a: dict, b: dict) -> float:
    diff = 0.0
    for key, value in a.items():
        if isinstance(value, dict):
            diff = max(diff, _max_abs_diff(value, b[key]))
        elif isinstance(value, torch.Tensor):
            if value.numel():
                diff = max(diff, (value.double() - b[key].double()).abs().max().item())
        elif isinstance(value, list | tuple):
            diff = max(diff, _max_abs_diff(dict(enumerate(value)), dict(enumerate(b[key]))))
        else:
            assert value == b[key], key
    return diff


def test_fit_killed_mid_epoch_and_resumed_is_the_uninterrupted_run(tmp_path):
    ref_cfg, cut_cfg = _config(tmp_path, "ref"), _config(tmp_path, "cut")
    _finish(_fit(ref_cfg))
    ref_dir = tmp_path / "ref" / "ckpt"
    steps_per_epoch = torch.load(ref_dir / "last.ckpt", weights_only=True)["global_step"] // 2
    assert steps_per_epoch >= 3
    # Kill mid-epoch: just after the first step of the second epoch.
    held = _kill_after_step(
        _fit(cut_cfg), tmp_path / "cut" / "ckpt", steps_per_epoch + 1, steps_per_epoch
    )
    assert 0 < held % steps_per_epoch, f"step {held} of {steps_per_epoch} is not mid-epoch"
    _finish(_fit(cut_cfg, "--ckpt_path", str(tmp_path / "cut" / "ckpt" / "last.ckpt")))

    # The uninterrupted run's checkpoint of its last training step against the resumed
    # run's (same step, same name: steps are counted once each).
    final = f"step={2 * steps_per_epoch}.ckpt"
    a = torch.load(ref_dir / final, weights_only=True)
    b = torch.load(tmp_path / "cut" / "ckpt" / final, weights_only=True)
    assert a["global_step"] == b["global_step"] == 2 * steps_per_epoch
    assert _max_abs_diff(a["state_dict"], b["state_dict"]) == 0.0
    assert _max_abs_diff({"o": a["optimizer_states"]}, {"o": b["optimizer_states"]}) == 0.0
    assert torch.equal(a["state_dict"]["threshold"], b["state_dict"]["threshold"])
    assert not torch.isnan(a["state_dict"]["threshold"])
    results = [(tmp_path / run / "results.csv").read_bytes() for run in ("ref", "cut")]
    assert results[0] == results[1]
