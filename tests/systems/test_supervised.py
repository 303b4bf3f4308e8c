from __future__ import annotations

import copy
import functools

import pytest
import torch
import torch.nn.functional as F

from mtfas import SupervisedSystem
from mtfas.errors import ConfigError
from mtfas.systems.supervised import training_images
from tests.fakes import RandomDataModule, TinyStudent, dataset_images


def _full_batch_dm(**kwargs):
    dm = RandomDataModule(batch_size=64, meta_val_batch_size=64, **kwargs)
    dm.setup("fit")
    return dm


def _images(dm, split):
    return dataset_images(dm, split)


@pytest.mark.parametrize("loss", ["binary_map", "map_mean_bce"])
def test_one_sgd_step_follows_the_handcrafted_loss(make_trainer, loss):
    torch.manual_seed(0)
    lr = 0.1
    system = SupervisedSystem(
        student=TinyStudent(),
        loss=loss,
        student_optimizer=functools.partial(torch.optim.SGD, lr=lr),
    )
    dm = _full_batch_dm()
    x = torch.cat([_images(dm, "train")[0], _images(dm, "meta_val")[0]])
    y = torch.cat([_images(dm, "train")[1], _images(dm, "meta_val")[1]])
    ref = copy.deepcopy(system.student)
    maps = ref(x)
    if loss == "binary_map":
        expected_loss = F.mse_loss(maps, y.float().view(-1, 1, 1, 1).expand_as(maps))
    else:
        expected_loss = F.binary_cross_entropy(maps.mean((1, 2, 3)), y.float())
    expected_loss.backward()
    expected = [p.detach() - lr * p.grad for p in ref.parameters()]
    make_trainer(max_steps=1).fit(system, dm)
    for got, want in zip(system.student.parameters(), expected):
        torch.testing.assert_close(got.detach(), want, rtol=1e-5, atol=1e-6)


def test_meta_val_slice_is_used_only_when_asked():
    dm = _full_batch_dm()
    batch = {
        "train": {"image": torch.zeros(3, 3, 8, 8), "label": torch.zeros(3)},
        "meta_val": {"image": torch.ones(2, 3, 8, 8), "label": torch.ones(2)},
    }
    assert training_images(batch, True)[0].shape[0] == 5
    assert training_images(batch, False)[0].shape[0] == 3
    assert dm is not None


def test_unknown_loss_is_rejected():
    with pytest.raises(ConfigError):
        SupervisedSystem(student=TinyStudent(), loss="focal")


def test_the_old_optimizer_name_still_works_with_a_warning():
    sgd = functools.partial(torch.optim.SGD, lr=0.5)
    with pytest.warns(FutureWarning, match="call it student_optimizer"):
        system = SupervisedSystem(student=TinyStudent(), optimizer=sgd)
    assert isinstance(system.configure_optimizers(), torch.optim.SGD)
    with pytest.raises(ConfigError, match="both student_optimizer and optimizer"):
        SupervisedSystem(student=TinyStudent(), optimizer=sgd, student_optimizer=sgd)
