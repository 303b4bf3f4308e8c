"""Training diagnostics (mtfas.systems.diagnostics) against brute-force computations."""

from __future__ import annotations

import copy
import functools
import math
import warnings

import numpy as np
import pandas as pd
import pytest
import torch
import torch.nn.functional as F
from lightning.pytorch.loggers import CSVLogger
from torch.func import functional_call

from mtfas import MetaTeacherSystem
from mtfas.systems.diagnostics import InnerLossMonitor, MapStats
from tests.fakes import RandomDataModule, TinyStudent, TinyTeacher, dataset_images

PAI_NAMES = ["live", "print", "replay"]


def _maps_and_species(seed: int = 0, n: int = 9, h: int = 4):
    g = torch.Generator().manual_seed(seed)
    # Values on a coarse grid, so that the AUC sees ties.
    maps = torch.randint(0, 6, (n, 1, h, h), generator=g).float() / 5
    pai = torch.tensor([0, 1, 2] * (n // 3))
    return maps, pai


def test_species_means_and_spatial_stds_match_numpy():
    maps, pai = _maps_and_species()
    stats = MapStats(PAI_NAMES)
    stats.update(maps[:4], pai[:4])  # two batches: the sums must accumulate
    stats.update(maps[4:], pai[4:])
    out = stats.compute()
    m, p = maps.numpy().reshape(len(maps), -1), pai.numpy()
    for i, name in enumerate(PAI_NAMES):
        rows = m[p == i]
        assert out[f"mean_{name}"] == pytest.approx(np.mean([r.mean() for r in rows]), abs=1e-12)
        assert out[f"std_{name}"] == pytest.approx(np.mean([np.std(r) for r in rows]), abs=1e-12)
    assert out["std"] == pytest.approx(np.mean([np.std(r) for r in m]), abs=1e-12)
    assert math.isnan(out["cue_contrast"]) and math.isnan(out["cue_auc"])
    assert out["cue_frames"] == 0


def test_constant_maps_have_zero_spatial_std_and_absent_species_nan():
    stats = MapStats(PAI_NAMES)
    stats.update(torch.full((2, 1, 3, 3), 0.9), torch.tensor([1, 1]))
    out = stats.compute()
    assert out["mean_print"] == pytest.approx(0.9) and out["std_print"] == 0.0
    assert math.isnan(out["mean_live"]) and math.isnan(out["std_replay"])


def _cue_masks(pai: torch.Tensor, size: int = 16) -> torch.Tensor:
    """Live: no cue; print: a partial attack (a rectangle not aligned with the 4x4 cells);
    replay: every other one full, the rest partial along the other axis."""
    masks = torch.zeros(len(pai), 1, size, size)
    for i, species in enumerate(pai.tolist()):
        if species == 1:
            masks[i, 0, 2 + i % 3 : 11, 1:9] = 1.0
        elif species == 2:
            if i % 2:
                masks[i] = 1.0
            else:
                masks[i, 0, :, 6:] = 0.7
    return masks


def _brute_force_cue(maps: torch.Tensor, pai: torch.Tensor, masks: torch.Tensor):
    m, h = maps.numpy()[:, 0], maps.shape[-1]
    k = masks.shape[-1] // h
    cue_values, live_values, frames = [], [], 0
    for i in range(len(m)):
        pooled = masks.numpy()[i, 0].reshape(h, k, h, k).mean(axis=(1, 3))
        cue = pooled >= 0.5
        if pai[i] == 0 or cue.all() or not cue.any():
            continue
        frames += 1
        cue_values += m[i][cue].tolist()
        live_values += m[i][~cue].tolist()
    c, v = np.array(cue_values)[:, None], np.array(live_values)[None, :]
    auc = float(np.mean((c > v) + 0.5 * (c == v)))
    return float(c.mean() - v.mean()), auc, frames


def test_cue_contrast_and_auc_match_brute_force():
    maps, pai = _maps_and_species(seed=3, n=12)
    masks = _cue_masks(pai)
    stats = MapStats(PAI_NAMES)
    stats.update(maps[:5], pai[:5], masks[:5])
    stats.update(maps[5:], pai[5:], masks[5:])
    out = stats.compute()
    contrast, auc, frames = _brute_force_cue(maps, pai, masks)
    assert frames > 3
    assert out["cue_frames"] == frames
    assert out["cue_contrast"] == pytest.approx(contrast, abs=1e-12)
    assert out["cue_auc"] == pytest.approx(auc, abs=1e-12)
    # Maps that equal the pooled mask separate cue from live pixels perfectly.
    pooled = F.interpolate(masks, size=(4, 4), mode="area")
    perfect = MapStats(PAI_NAMES)
    perfect.update(pooled, pai, masks)
    assert perfect.compute()["cue_auc"] == 1.0


# ----------------------------------------------------------------- training-side norms
def _full_batch_dm(**kwargs):
    dm = RandomDataModule(batch_size=64, meta_val_batch_size=64, **kwargs)
    dm.setup("fit")
    return dm


def _reference_hypergradient(student, teacher, dm, inner_lr):
    """The teacher's meta-gradient of one step, from scratch (torch.func, autograd)."""
    x_tr, y_tr = dataset_images(dm, "train")
    x_val, y_val = dataset_images(dm, "meta_val")
    t_params = dict(teacher.named_parameters())
    target = functional_call(teacher, t_params, (x_tr,)) * y_tr.view(-1, 1, 1, 1).float()
    theta = {k: v.detach().requires_grad_() for k, v in student.named_parameters()}
    loss = ((functional_call(student, theta, (x_tr,)) - target) ** 2).mean()
    grads = torch.autograd.grad(loss, list(theta.values()), create_graph=True)
    adapted = {k: v - inner_lr * g for (k, v), g in zip(theta.items(), grads, strict=True)}
    p = functional_call(student, adapted, (x_val,)).mean(dim=(1, 2, 3)).clamp(1e-4, 1 - 1e-4)
    meta = F.binary_cross_entropy(p, y_val.float())
    return torch.autograd.grad(meta, list(t_params.values()))


@pytest.mark.parametrize("backend", ["higher", "jvp"])
def test_hypergradient_and_update_norms_match_an_independent_computation(make_trainer, backend):
    torch.manual_seed(0)
    lr_teacher = 0.1
    system = MetaTeacherSystem(
        TinyStudent(),
        TinyTeacher(),
        inner_lr=0.5,
        backend=backend,
        teacher_optimizer=functools.partial(torch.optim.SGD, lr=lr_teacher),
    )
    dm = _full_batch_dm()
    student0, teacher0 = copy.deepcopy(system.student), copy.deepcopy(system.teacher)
    make_trainer(max_steps=1).fit(system, dm)
    norms = system.step_norms.means()
    reference = _reference_hypergradient(student0, teacher0, dm, inner_lr=0.5)
    expected = float(torch.linalg.vector_norm(torch.cat([g.flatten() for g in reference])))
    assert expected > 0
    assert norms["teacher_grad_norm"] == pytest.approx(expected, rel=1e-4)
    # Plain SGD moves the teacher by lr times its gradient.
    assert norms["teacher_update_norm"] == pytest.approx(lr_teacher * expected, rel=1e-4)
    moved = [p - q for p, q in zip(system.student.parameters(), student0.parameters(), strict=True)]
    assert norms["student_update_norm"] == pytest.approx(
        float(torch.linalg.vector_norm(torch.cat([d.detach().flatten() for d in moved]))), rel=1e-6
    )


def _fit_weights(make_trainer, diagnostics: bool):
    torch.manual_seed(0)
    system = MetaTeacherSystem(  # BatchNorm in the student: its buffers must match too
        TinyStudent(batchnorm=True),
        TinyTeacher(),
        inner_steps=2,
        inner_lr=0.05,
        diagnostics=diagnostics,
        print_test_report=False,
    )
    make_trainer(max_steps=3, limit_val_batches=None).fit(system, _full_batch_dm())
    return {k: v.clone() for k, v in system.state_dict().items()}


def test_training_weights_identical_with_diagnostics_on_and_off(make_trainer):
    on, off = _fit_weights(make_trainer, True), _fit_weights(make_trainer, False)
    assert on.keys() == off.keys()
    for key in on:
        assert torch.equal(on[key], off[key]), key


# ----------------------------------------------------------------- logging
class CueDataModule(RandomDataModule):
    """Random data whose dev batches carry cue masks: attacks' left half is the instrument."""

    def val_dataloader(self):
        loader = super().val_dataloader()
        collate = loader.collate_fn

        def with_cue(items):
            batch = collate(items)
            size = batch["image"].shape[-1]
            mask = torch.zeros(len(batch["label"]), 1, size, size)
            mask[:, :, :, : size // 2] = batch["label"].view(-1, 1, 1, 1).float()
            batch["cue_mask"] = mask
            return batch

        loader.collate_fn = with_cue
        return loader


def test_diagnostics_reach_the_csv_logger_and_the_console(make_trainer, tmp_path, capsys):
    torch.manual_seed(0)
    system = MetaTeacherSystem(TinyStudent(), TinyTeacher(), inner_lr=0.5)
    dm = CueDataModule(batch_size=64, meta_val_batch_size=64)
    logger = CSVLogger(tmp_path, name="diag")
    make_trainer(max_steps=2, limit_val_batches=None, logger=logger).fit(system, dm)
    metrics = pd.read_csv(f"{logger.log_dir}/metrics.csv")
    expected = {
        f"diag/{net}_{key}"
        for net in ("student", "teacher")
        for key in ("mean_live", "mean_print", "mean_replay", "std", "cue_contrast", "cue_auc")
    } | {"diag/teacher_grad_norm", "diag/teacher_update_norm", "diag/student_update_norm"}
    assert expected <= set(metrics.columns)
    rows = metrics.dropna(subset=["diag/teacher_cue_auc"])
    assert len(rows) == 2  # one per validation (one training batch per epoch)
    assert rows["diag/teacher_grad_norm"].gt(0).all()
    out = capsys.readouterr().out
    assert out.count("diagnostics: student live") == 2
    assert "teacher live" in out and "cue " in out and "|grad T|" in out


# ----------------------------------------------------------------- inner-loss monitor
def test_inner_loss_monitor_suggests_the_step_from_the_measured_curvature():
    monitor = InnerLossMonitor(lr=1.0, window=4)
    # L0 = 1, L1 = 2 at a = 1, |g| = 1: c = 2 (2 - 1 + 1) = 4, best step |g|^2 / c = 0.25.
    rising = [torch.tensor(1.0), torch.tensor(2.0)]
    messages = [monitor.add(rising, torch.tensor(1.0)) for _ in range(4)]
    assert messages[:3] == [None] * 3
    assert "100% of the last 4" in messages[3] and "inner_lr <= 0.25" in messages[3]
    assert monitor.add(rising, torch.tensor(1.0)) is None  # once per fit
    falling = InnerLossMonitor(lr=1.0, window=2)
    assert [falling.add([torch.tensor(2.0), torch.tensor(1.0)], torch.tensor(1.0))] * 2 == [
        None
    ] * 2
    assert InnerLossMonitor(lr=1.0, window=1).add([torch.tensor(1.0)], torch.tensor(1.0)) is None


def test_an_overshooting_inner_lr_warns_during_training(make_trainer):
    torch.manual_seed(0)
    system = MetaTeacherSystem(
        TinyStudent(), TinyTeacher(), inner_steps=2, inner_lr=500.0, backend="torch.func"
    )
    system.inner_monitor.window = 2
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        make_trainer(max_steps=2).fit(system, _full_batch_dm())
    texts = [str(w.message) for w in caught if "inner teaching loss rose" in str(w.message)]
    assert len(texts) == 1 and "inner_lr <=" in texts[0]
