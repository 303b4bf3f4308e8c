"""Validation and test logic shared by every system: dev threshold applied to test."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from mtfas import SupervisedSystem
from mtfas.errors import ConfigError, EmptySplitError
from mtfas.metrics.functional import choose_threshold, pad_report
from tests.fakes import RandomDataModule, video_scores


class BrightnessStudent(nn.Module):
    """Deterministic scorer: map = sigmoid(mean brightness + noise-free offset)."""

    def __init__(self):
        super().__init__()
        self.offset = nn.Parameter(torch.zeros(()))

    def forward(self, x):
        b = x.mean(dim=1, keepdim=True)
        return torch.sigmoid(4 * nn.functional.avg_pool2d(b, 8) + self.offset)


def _system(**kwargs):
    return SupervisedSystem(student=BrightnessStudent(), **kwargs)


def test_test_threshold_comes_from_dev_and_is_applied_unchanged(make_trainer):
    system, dm = _system(print_test_report=False), RandomDataModule(n_subjects=20)
    make_trainer().test(system, dm, verbose=False)
    dev = video_scores(system.student, dm, "dev")
    test = video_scores(system.student, dm, "test")
    threshold = choose_threshold(dev[0], dev[1])
    report = system.test_reports["test"]
    assert report.threshold == pytest.approx(threshold)
    expected = pad_report(*test, threshold, dm.pai_names)
    assert report.acer == pytest.approx(expected.acer)
    assert report.apcer_per_species == pytest.approx(expected.apcer_per_species)
    # The idealised report uses the test set's own EER threshold, and is labelled so.
    ideal = system.test_reports["test_idealised"]
    assert ideal.threshold == pytest.approx(choose_threshold(*test[:2], placement="score"))
    assert float(system.threshold) == pytest.approx(threshold)
    logged = system.trainer.logged_metrics
    assert float(logged["test/acer"]) == pytest.approx(expected.acer)
    assert float(logged["test/hter_idealised"]) == pytest.approx(ideal.hter)


def test_dev_threshold_at_target_bpcer(make_trainer):
    system = _system(threshold_method="bpcer", threshold_target=0.1, print_test_report=False)
    dm = RandomDataModule(n_subjects=20)
    make_trainer().test(system, dm, verbose=False)
    dev = video_scores(system.student, dm, "dev")
    want = choose_threshold(dev[0], dev[1], method="bpcer", target=0.1)
    assert system.test_reports["test"].threshold == pytest.approx(want)


def test_report_is_printed(make_trainer, capsys):
    make_trainer().test(_system(), RandomDataModule(), verbose=False)
    out = capsys.readouterr().out
    assert "dev-chosen threshold" in out and "Idealised" in out and "ACER" in out


def test_validation_stores_dev_threshold_and_logs_metrics(make_trainer):
    system, dm = _system(), RandomDataModule(n_subjects=20)
    trainer = make_trainer(limit_val_batches=1.0)
    trainer.validate(system, dm, verbose=False)
    dev = video_scores(system.student, dm, "dev")
    assert float(system.threshold) == pytest.approx(choose_threshold(dev[0], dev[1]))
    assert "val/acer" in trainer.logged_metrics
    assert "threshold" in system.state_dict()  # saved with checkpoints


class _TestOnly(RandomDataModule):
    def test_dataloader(self):
        return self._loader("test", self.eval_batch_size, train=False)


def test_single_test_loader_uses_the_stored_threshold(make_trainer):
    system, dm = _system(print_test_report=False), _TestOnly(n_subjects=20)
    system.threshold.fill_(0.7)
    with pytest.warns(UserWarning, match="stored dev threshold"):
        make_trainer().test(system, dm, verbose=False)
    assert system.test_reports["test"].threshold == pytest.approx(0.7)


def test_single_test_loader_without_threshold_is_a_clear_error(make_trainer):
    with pytest.raises(ConfigError, match="dev threshold"):
        make_trainer().test(_system(), _TestOnly(), verbose=False)


class _EmptyDev(RandomDataModule):
    def video_table(self, split):
        table = super().video_table(split)
        return table.iloc[:0] if split == "dev" else table


def test_empty_split_is_a_clear_error(make_trainer):
    with pytest.raises(EmptySplitError, match="dev split holds no videos"):
        make_trainer().test(_system(), _EmptyDev(), verbose=False)


def test_pai_names_must_match_the_data_module(make_trainer):
    system = _system(pai_names=["live", "print1", "replay9"])
    with pytest.raises(ConfigError, match="differ from the data module"):
        make_trainer().test(system, RandomDataModule(), verbose=False)
