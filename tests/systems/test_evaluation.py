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


# --------------------------------------------------------------------------------------
# The test loaders come from the trainer: [dev, test] or [test], none empty, at most two
# --------------------------------------------------------------------------------------


class _Loaders(RandomDataModule):
    """test_dataloader() returns the named loaders ("dev", "test" or "empty")."""

    def __init__(self, names, **kwargs):
        super().__init__(n_subjects=20, **kwargs)
        self.names = names

    def test_dataloader(self):
        from torch.utils.data import DataLoader

        return [
            DataLoader([], batch_size=4)
            if name == "empty"
            else self._loader(name, self.eval_batch_size, train=False)
            for name in self.names
        ]


def test_empty_test_loader_is_an_error_not_dev_reported_as_test(make_trainer):
    # Before: the dev scores of loader 0 were reported as "test" at the stored threshold.
    system = _system(print_test_report=False)
    system.threshold.fill_(0.5)
    with pytest.raises(EmptySplitError, match=r"test dataloader 1 \(the test loader"):
        make_trainer().test(system, _Loaders(["dev", "empty"]), verbose=False)
    assert system.test_reports == {}


def test_empty_dev_loader_is_an_error(make_trainer):
    with pytest.raises(EmptySplitError, match=r"test dataloader 0 \(the dev loader"):
        make_trainer().test(_system(), _Loaders(["empty", "test"]), verbose=False)


@pytest.mark.parametrize("names", [["empty"], ["empty", "empty"], []])
def test_all_test_loaders_empty_is_an_error(make_trainer, names):
    # Lightning skips the whole test loop here; the system still reports it.
    system = _system(print_test_report=False)
    system.threshold.fill_(0.5)
    with pytest.raises(EmptySplitError, match=r"test dataloader|no test dataloader"):
        make_trainer().test(system, _Loaders(names), verbose=False)


def test_three_test_loaders_are_an_error(make_trainer):
    # Before: the third loader was silently added to dev.
    with pytest.raises(ConfigError, match="test got 3 dataloaders"):
        make_trainer().test(_system(), _Loaders(["dev", "test", "test"]), verbose=False)


def test_two_loaders_still_choose_on_dev_and_apply_to_test(make_trainer):
    # The loader count comes from the trainer, not from the batches seen: the same result
    # as the data module's own [dev, test] loaders.
    system = _system(print_test_report=False)
    dm = _Loaders(["dev", "test"])
    make_trainer().test(system, dm, verbose=False)
    dev = video_scores(system.student, dm, "dev")
    test = video_scores(system.student, dm, "test")
    threshold = choose_threshold(dev[0], dev[1])
    assert system.test_reports["dev"].threshold == threshold
    assert system.test_reports["test"] == pad_report(*test, threshold, dm.pai_names)


def test_single_loader_is_the_test_set(make_trainer):
    system = _system(print_test_report=False)
    system.threshold.fill_(0.6)
    dm = _Loaders(["test"])
    with pytest.warns(UserWarning, match="stored dev threshold"):
        make_trainer().test(system, dm, verbose=False)
    test = video_scores(system.student, dm, "test")
    assert system.test_reports["test"] == pad_report(*test, 0.6, dm.pai_names)
    assert "dev" not in system.test_reports
