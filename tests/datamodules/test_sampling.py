"""The training order and augmentation draws are pure functions, and a loader resumes exactly."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.utils.data import Dataset

from mtfas.datamodules.sampling import (
    META_VAL_STREAM,
    TRAIN_STREAM,
    LoaderPosition,
    ResumableLoader,
    SeededShuffle,
    pass_order,
)
from mtfas.errors import MTFASError


class _Keys(Dataset):
    """Returns the ``(index, seed)`` key itself, so a batch shows what was drawn."""

    def __init__(self, n: int) -> None:
        self.n = n

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, key):
        index, seed = key
        return torch.tensor([index, seed % 2**31])


def _loader(n: int = 23, seed: int = 7, batch: int = 4, workers: int = 0) -> ResumableLoader:
    return ResumableLoader(
        _Keys(n),
        batch_size=batch,
        sampler=SeededShuffle(n, seed, TRAIN_STREAM),
        num_workers=workers,
    )


def _batches(loader) -> list[list[list[int]]]:
    return [b.tolist() for b in loader]


def test_a_pass_is_a_function_of_seed_stream_and_pass_only():
    order, seeds = pass_order(3, TRAIN_STREAM, 5, 50)
    assert sorted(order.tolist()) == list(range(50))  # a permutation
    np.random.seed(123)  # noqa: NPY002  (the global state must not matter)
    torch.manual_seed(9)
    again, again_seeds = pass_order(3, TRAIN_STREAM, 5, 50)
    assert np.array_equal(order, again) and np.array_equal(seeds, again_seeds)
    # The same recipe, computed here independently.
    rng = np.random.default_rng(np.random.SeedSequence([3, TRAIN_STREAM, 5]))
    assert np.array_equal(order, rng.permutation(50))
    assert np.array_equal(seeds, rng.integers(0, 2**32, size=50, dtype=np.uint64))
    # Other passes, streams and seeds give other orders.
    for other in [(3, TRAIN_STREAM, 6), (3, META_VAL_STREAM, 5), (4, TRAIN_STREAM, 5)]:
        assert not np.array_equal(order, pass_order(*other, 50)[0]), other


def test_each_sample_keeps_its_seed_wherever_the_pass_puts_it():
    order, seeds = pass_order(0, TRAIN_STREAM, 0, 10)
    drawn = list(SeededShuffle(10, 0, TRAIN_STREAM))
    assert [i for i, _ in drawn] == order.tolist()
    assert all(seed == int(seeds[i]) for i, seed in drawn)  # seed of sample i, not of position


def test_successive_iterations_are_successive_passes():
    loader = _loader()
    first, second = _batches(loader), _batches(loader)
    assert first != second
    order0 = pass_order(7, TRAIN_STREAM, 0, 23)[0].tolist()
    order1 = pass_order(7, TRAIN_STREAM, 1, 23)[0].tolist()
    assert [k[0] for b in first for k in b] == order0
    assert [k[0] for b in second for k in b] == order1


@pytest.mark.parametrize("consumed", [0, 1, 3, 5, 6])
def test_a_loader_resumed_mid_pass_gives_the_remaining_batches(consumed):
    full = _loader()
    _batches(full)  # pass 0
    uninterrupted = _batches(full)  # pass 1: 6 batches
    assert len(uninterrupted) == 6

    killed = _loader()
    _batches(killed)
    it = iter(killed)
    for _ in range(consumed):
        next(it)
    state = killed.state_dict()
    expected_state = {"pass": 1, "batches": consumed} if consumed < 6 else {"pass": 2, "batches": 0}
    assert state == expected_state

    resumed = _loader()
    resumed.load_state_dict(state)
    rest = _batches(resumed)
    assert rest == (uninterrupted[consumed:] if consumed < 6 else _batches(_loader_at_pass(2)))
    # ...and the pass after it is the uninterrupted run's next pass.
    assert _batches(resumed) == _batches(_loader_at_pass(3 if consumed == 6 else 2))


def _loader_at_pass(pass_index: int) -> ResumableLoader:
    loader = _loader()
    loader.load_state_dict({"pass": pass_index, "batches": 0})
    return loader


def test_worker_processes_do_not_change_the_batches():
    assert _batches(_loader(workers=0)) == _batches(_loader(workers=1))


def test_a_position_that_does_not_fit_the_loader_is_refused():
    loader = _loader()
    loader.load_state_dict({"pass": 0, "batches": 7})  # the loader has 6 batches
    with pytest.raises(MTFASError, match="does not fit this loader of 6 batches"):
        iter(loader)
    with pytest.raises(MTFASError, match="Invalid loader position"):
        LoaderPosition().load_state_dict({"pass": -1, "batches": 0})


def test_the_position_is_shared_with_what_saves_it():
    position = LoaderPosition()
    loader = ResumableLoader(
        _Keys(8), batch_size=4, sampler=SeededShuffle(8, 0, TRAIN_STREAM), position=position
    )
    it = iter(loader)
    next(it)
    assert position.state_dict() == {"pass": 0, "batches": 1} == loader.state_dict()
    position.epoch_over = lambda: True  # the data module says the epoch's batches are done
    assert position.state_dict() == {"pass": 1, "batches": 0}
