"""Training order and augmentation draws that a resumed run repeats exactly.

A training loader's order and its augmentation draws are pure functions of
``(seed, stream, pass, sample index)``: pass ``p`` of stream ``s`` (0 = train, 1 =
meta-validation) visits the samples in the permutation drawn from
``SeedSequence([seed, s, p])``, and sample ``i`` of that pass is augmented from its own
seed drawn from the same sequence. Nothing depends on the history of the process (what
was drawn before, how many DataLoader workers there are, which worker loads which
sample), so a run killed in the middle of a pass and resumed from a checkpoint sees the
same batches, augmented the same way, as the run that was not interrupted:
:class:`ResumableLoader` records in checkpoints (Lightning's ``state_dict`` /
``load_state_dict`` loader interface) the pass in progress and how many of its batches
were consumed, and the resumed loader skips exactly those batches (their indices only:
skipped samples are neither read nor augmented).

A pass is one ``iter()`` of the loader: one epoch for the training loader, one cycle for
the meta-validation loader, which Lightning restarts whenever it runs out within an epoch.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from mtfas.errors import MTFASError
from mtfas.transforms.augment import SeededPerProcess

#: Streams of :func:`pass_order`.
TRAIN_STREAM, META_VAL_STREAM = 0, 1


def pass_order(seed: int, stream: int, pass_index: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    """The sample order and the per-sample augmentation seeds of one pass.

    Args:
        seed: The run's data seed.
        stream: Which loader (:data:`TRAIN_STREAM`, :data:`META_VAL_STREAM`).
        pass_index: The pass (0 = first).
        n: Number of samples.

    Returns:
        ``(order, seeds)``: a permutation of ``range(n)``, and ``seeds[i]`` the
        augmentation seed of sample ``i`` (not of position ``i``) in this pass.
    """
    rng = np.random.default_rng(np.random.SeedSequence([seed, stream, pass_index]))
    order = rng.permutation(n)
    seeds = rng.integers(0, 2**32, size=n, dtype=np.uint64)
    return order, seeds


class SeededShuffle(Sampler[tuple[int, int]]):
    """Yields ``(index, augmentation seed)`` of each sample of one pass, in shuffled order.

    The pass to draw is set by :class:`ResumableLoader` (:meth:`set_pass`) before each
    iteration.

    Args:
        n: Number of samples.
        seed: The run's data seed.
        stream: Which loader (:data:`TRAIN_STREAM`, :data:`META_VAL_STREAM`).
    """

    def __init__(self, n: int, seed: int, stream: int) -> None:
        self.n = int(n)
        self.seed = int(seed)
        self.stream = int(stream)
        self.pass_index = 0

    def set_pass(self, pass_index: int) -> None:
        """Draw pass ``pass_index`` at the next iteration."""
        self.pass_index = int(pass_index)

    def __len__(self) -> int:
        return self.n

    def __iter__(self) -> Iterator[tuple[int, int]]:
        order, seeds = pass_order(self.seed, self.stream, self.pass_index, self.n)
        for i in order.tolist():
            yield i, int(seeds[i])


class SeededItems(Dataset[Any]):
    """A dataset read by ``(index, seed)`` keys: each item is augmented from its own seed.

    The wrapped dataset's transform must be a :class:`SeededPerProcess` (or ``None``), called
    once per item in index order (as :class:`~mtfas.datamodules.dataset.FrameDataset`
    does). Plain integer keys (e.g. when Lightning swaps the sampler for a sequential one
    under ``overfit_batches``) read the item unseeded.

    Args:
        dataset: The dataset to read.
    """

    def __init__(self, dataset: Any) -> None:
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)

    def _split(self, keys: Sequence[Any]) -> tuple[list[int], list[int] | None]:
        if all(isinstance(k, tuple) for k in keys):
            return [int(k[0]) for k in keys], [int(k[1]) for k in keys]
        return [int(k) for k in keys], None

    def _queue(self, seeds: list[int] | None) -> SeededPerProcess | None:
        transform = getattr(self.dataset, "transform", None)
        if seeds is None or not isinstance(transform, SeededPerProcess):
            return None
        transform.queue_seeds(seeds)
        return transform

    def __getitem__(self, key: Any) -> Any:
        indices, seeds = self._split([key])
        transform = self._queue(seeds)
        item = self.dataset[indices[0]]
        _check_drained(transform)
        return item

    def __getitems__(self, keys: Sequence[Any]) -> list[Any]:
        """The items of a batch, through the wrapped dataset's ``__getitems__`` if it has one."""
        indices, seeds = self._split(keys)
        transform = self._queue(seeds)
        items: list[Any]
        if hasattr(self.dataset, "__getitems__"):
            items = self.dataset.__getitems__(indices)
        else:
            items = [self.dataset[i] for i in indices]
        _check_drained(transform)
        return items


def _check_drained(transform: SeededPerProcess | None) -> None:
    if transform is not None and transform.queued:
        left = transform.queued
        transform.clear_queue()
        raise MTFASError(
            f"The dataset did not call its augmentation once per item ({left} seeds left "
            "unused): SeededItems needs a dataset that transforms each item exactly once."
        )


class _SkippingBatches:
    """The loader's batch sampler, less the batches a resumed pass has already consumed.

    One per loader, kept by the loader's iterators (persistent workers reuse it for
    every pass); :class:`ResumableLoader` sets :attr:`skip` at the start of each pass
    (PyTorch may iterate it more than once while it sets up an iterator).
    """

    def __init__(self, batches: Any) -> None:
        self.batches = batches
        self.skip = 0

    def __len__(self) -> int:
        return len(self.batches)

    def __iter__(self) -> Iterator[Any]:
        return itertools.islice(iter(self.batches), self.skip, None)


def _find_shuffle(sampler: Any) -> SeededShuffle | None:
    """The :class:`SeededShuffle` inside ``sampler`` (itself, or wrapped by Lightning for DDP)."""
    for candidate in (sampler, getattr(getattr(sampler, "dataset", None), "_sampler", None)):
        if isinstance(candidate, SeededShuffle):
            return candidate
    return None


class LoaderPosition:
    """Where a training loader stands: the pass in progress and its consumed batches.

    Shared by a :class:`ResumableLoader` and whatever saves its position (the data
    module's ``state_dict``; Lightning's loader states), and by the copies of the loader
    that Lightning makes (e.g. to add a distributed sampler), so there is one truth.
    """

    def __init__(self) -> None:
        #: Tells whether the training epoch's batches are all done (set by the data
        #: module): then the next iteration is a new epoch, and every loader starts a new
        #: pass, whatever it had consumed of its current one.
        self.epoch_over: Callable[[], bool] | None = None
        self.passes_started = 0
        self.current_pass: int | None = None
        self.consumed = 0
        self.n_batches: int | None = None
        self.pending: tuple[int, int] | None = None

    def reset(self) -> None:
        """Back to the start of pass 0 (a new fit), keeping :attr:`epoch_over`."""
        self.passes_started = 0
        self.current_pass = None
        self.consumed = 0
        self.n_batches = None
        self.pending = None

    def state_dict(self) -> dict[str, int]:
        """The pass to continue and how many of its batches were consumed (plain ints)."""
        if self.pending is not None:
            pass_index, consumed = self.pending
        elif self.epoch_over is not None and self.epoch_over():
            pass_index, consumed = self.passes_started, 0
        elif self.current_pass is None:
            pass_index, consumed = self.passes_started, 0
        else:
            pass_index, consumed = self.current_pass, self.consumed
        if self.n_batches is not None and consumed >= self.n_batches:
            pass_index, consumed = pass_index + 1, 0
        return {"pass": int(pass_index), "batches": int(consumed)}

    def load_state_dict(self, state: dict[str, int]) -> None:
        """Continue pass ``state["pass"]`` after its first ``state["batches"]`` batches."""
        pass_index, consumed = int(state["pass"]), int(state["batches"])
        if pass_index < 0 or consumed < 0:
            raise MTFASError(f"Invalid loader position in the checkpoint: {state}.")
        self.pending = (pass_index, consumed)

    def start_pass(self, n_batches: int) -> tuple[int, int]:
        """Begin the next pass (or the pending one): its index and the batches to skip."""
        self.n_batches = n_batches
        if self.pending is not None:
            (pass_index, skip), self.pending = self.pending, None
            if skip > n_batches:
                raise MTFASError(
                    f"The checkpoint's loader position (pass {pass_index}, {skip} batches "
                    f"consumed) does not fit this loader of {n_batches} batches; resume with "
                    "the data settings (data, batch size, devices) of the run that saved it."
                )
        else:
            pass_index, skip = self.passes_started, 0
        self.passes_started = pass_index + 1
        self.current_pass, self.consumed = pass_index, skip
        return pass_index, skip


class ResumableLoader(DataLoader[Any]):
    """A DataLoader whose position (pass, consumed batches) is saved with checkpoints.

    Lightning calls :meth:`state_dict` when it saves a checkpoint mid-epoch and
    :meth:`load_state_dict` when it resumes one (the data modules also save the
    :class:`LoaderPosition` themselves, which covers checkpoints saved at the end of an
    epoch); the next iteration then continues the saved pass after its consumed batches.
    Takes the arguments of :class:`torch.utils.data.DataLoader`, plus ``position``;
    ``sampler`` should be a :class:`SeededShuffle` (possibly wrapped by Lightning's
    distributed sampler), which makes each pass a function of its index.

    Args:
        *args: Positional arguments of :class:`~torch.utils.data.DataLoader`.
        position: The position record (default: a new one).
        **kwargs: Keyword arguments of :class:`~torch.utils.data.DataLoader`.
    """

    def __init__(self, *args: Any, position: LoaderPosition | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.position = position if position is not None else LoaderPosition()
        self._skipping: _SkippingBatches | None = None

    @property
    def _index_sampler(self) -> Any:  # the DataLoader reads its batches of indices here
        if self._skipping is None:
            self._skipping = _SkippingBatches(super()._index_sampler)
        return self._skipping

    # DataLoader.__iter__ is typed as returning its private iterator class; this one yields
    # the same batches through a counting generator.
    def __iter__(self) -> Iterator[Any]:  # type: ignore[override]
        pass_index, skip = self.position.start_pass(len(self))
        shuffle = _find_shuffle(self.sampler)
        if shuffle is not None:
            shuffle.set_pass(pass_index)
        self._index_sampler.skip = skip
        return self._count(super().__iter__())

    def _count(self, batches: Iterator[Any]) -> Iterator[Any]:
        for batch in batches:
            self.position.consumed += 1
            yield batch

    def state_dict(self) -> dict[str, int]:
        """The position: the pass to continue and its consumed batches (plain ints)."""
        return self.position.state_dict()

    def load_state_dict(self, state: dict[str, int]) -> None:
        """Continue from a position returned by :meth:`state_dict`."""
        self.position.load_state_dict(state)


def loader_generator(seed: int) -> torch.Generator:
    """A private generator for a DataLoader's worker seeds.

    Loading then never draws from the global torch generator, and worker seeds do not
    depend on what ran before.
    """
    return torch.Generator().manual_seed(int(seed) % 2**63)
