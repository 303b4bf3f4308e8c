"""The base of every benchmark's data module: splits, the meta-validation slice, loaders.

A benchmark subclass implements two things: :meth:`FASDataModule.video_table` (one row
per video of a split, read from the benchmark's own protocol files) and
:meth:`FASDataModule.frame_store` (where the face crops are). Everything else, the
subject-disjoint meta-validation slice included, is shared, so every benchmark provides
it the same way:

* ``train_dataloader()`` returns ``{"train": ..., "meta_val": ...}``; Lightning cycles the
  shorter one, so each training batch is ``{"train": batch, "meta_val": batch}``. Their
  order and augmentation draws are functions of the data seed, the pass and the sample
  alone, and their position is saved with checkpoints, so a resumed run repeats the
  uninterrupted one exactly (:mod:`mtfas.datamodules.sampling`).
* ``val_dataloader()`` returns the dev loader.
* ``test_dataloader()`` returns ``[dev_loader, test_loader]`` so that the system chooses
  its threshold on dev and applies it unchanged to test in one ``trainer.test`` call.
"""

from __future__ import annotations

import abc
import os
from typing import Any, Literal

import numpy as np
import pandas as pd
import torch
from lightning.pytorch import LightningDataModule
from torch.utils.data import DataLoader

from mtfas.datamodules.dataset import (
    LABELS,
    REQUIRED_COLUMNS,
    CueMasks,
    FrameDataset,
    FrameStore,
    collate_frames,
)
from mtfas.datamodules.sampling import (
    META_VAL_STREAM,
    TRAIN_STREAM,
    LoaderPosition,
    ResumableLoader,
    SeededItems,
    SeededShuffle,
    loader_generator,
)
from mtfas.errors import ConfigError, DatasetError, EmptySplitError
from mtfas.transforms.augment import eval_transform, train_transform

Split = Literal["train", "dev", "test"]
SPLITS: tuple[Split, ...] = ("train", "dev", "test")


def carve_meta_val(
    table: pd.DataFrame, fraction: float, seed: int
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split a training table by subject into (train, meta-validation) parts.

    ``round(fraction * n_subjects)`` subjects (at least one when ``fraction > 0``) are
    drawn with a seeded generator; every video of a drawn subject goes to meta-validation,
    so the two parts share no identity.

    Args:
        table: Video table of the training split (needs a ``subject`` column).
        fraction: Fraction of training subjects for meta-validation, in [0, 1).
        seed: Seed of the draw.

    Returns:
        ``(train, meta_val)`` tables.

    Raises:
        ConfigError: If ``fraction`` is outside [0, 1), or leaves no training subject.
    """
    if not 0.0 <= fraction < 1.0:
        raise ConfigError(f"meta_val_fraction must lie in [0, 1), got {fraction}.")
    subjects = np.sort(table["subject"].unique())
    if fraction == 0.0:
        return table, table.iloc[:0]
    if len(subjects) < 2:
        raise ConfigError(
            f"cannot carve a meta-validation slice from {len(subjects)} training subject(s) "
            "(after any dev split was carved from them): at least 2 are needed, one for "
            "meta-validation and one for training. Use more training subjects (e.g. a "
            "smaller dev_fraction) or meta_val_fraction=0."
        )
    n_meta = max(1, round(fraction * len(subjects)))
    if n_meta >= len(subjects):
        raise ConfigError(
            f"meta_val_fraction={fraction} would move all {len(subjects)} training subjects "
            "to meta-validation; use a smaller fraction or more training subjects."
        )
    rng = np.random.default_rng(seed)
    meta_subjects = rng.choice(subjects, size=n_meta, replace=False)
    is_meta = table["subject"].isin(meta_subjects)
    return table[~is_meta], table[is_meta]


class FASDataModule(LightningDataModule, abc.ABC):
    """Base class of the benchmark data modules.

    Args:
        image_size: Side of the network input (crops are resized to it; divisible by 8).
        batch_size: Training batch size.
        meta_val_batch_size: Meta-validation batch size (default: ``batch_size``).
        eval_batch_size: Batch size of dev/test/predict loaders (default: ``batch_size``).
        num_workers: DataLoader worker processes.
        meta_val_fraction: Fraction of training subjects carved out (subject-disjoint) as
            the meta-validation slice; 0 disables it (baselines only).
        seed: Seed of the meta-validation draw.
        shuffle_seed: Seed of the training order and augmentation draws; ``None``
            (default) follows the run's global seed (``seed_everything``: the
            ``PL_GLOBAL_SEED`` environment variable it sets, else ``torch.initial_seed()``).
        augment: Augment training crops (see :mod:`mtfas.transforms.augment`).
        max_frames_per_video: Train on at most this many frames of each video (the first
            ones); ``None`` uses every stored frame.
        uint8_batches: Loaders give uint8 images in [0, 255], which the systems normalise
            to [-1, 1] on the device (a quarter of the bytes to collate and transfer);
            False gives float32 images in [-1, 1] (for loops outside the systems). The
            datasets (``self.datasets[split]``) give their items the same way; apply
            :func:`mtfas.transforms.normalise` to images used outside a system.
    """

    #: Species names by id; index 0 is ``"live"``. Set by each benchmark.
    pai_names: tuple[str, ...]

    def __init__(
        self,
        image_size: int = 256,
        batch_size: int = 32,
        meta_val_batch_size: int | None = None,
        eval_batch_size: int | None = None,
        num_workers: int = 0,
        meta_val_fraction: float = 0.2,
        seed: int = 0,
        shuffle_seed: int | None = None,
        augment: bool = True,
        max_frames_per_video: int | None = None,
        uint8_batches: bool = True,
    ) -> None:
        super().__init__()
        if image_size < 8 or image_size % 8:
            raise ConfigError(
                f"image_size must be a positive multiple of 8 (DepthNet's map is input/8), "
                f"got {image_size}."
            )
        if not 0.0 <= meta_val_fraction < 1.0:
            raise ConfigError(f"meta_val_fraction must lie in [0, 1), got {meta_val_fraction}.")
        self.image_size = image_size
        self.batch_size = batch_size
        self.meta_val_batch_size = meta_val_batch_size or batch_size
        self.eval_batch_size = eval_batch_size or batch_size
        self.num_workers = num_workers
        self.meta_val_fraction = meta_val_fraction
        self.seed = seed
        self.shuffle_seed = shuffle_seed
        self.augment = augment
        self.max_frames_per_video = max_frames_per_video
        self.uint8_batches = uint8_batches
        self.datasets: dict[str, FrameDataset] = {}
        #: Positions of the training loaders, saved with checkpoints (``state_dict``).
        self.loader_positions = {"train": LoaderPosition(), "meta_val": LoaderPosition()}
        for position in self.loader_positions.values():
            position.epoch_over = self._training_epoch_over
        self._tables: dict[str, pd.DataFrame] | None = None

    # ------------------------------------------------------------ benchmark hooks
    @classmethod
    def fold_plan(cls, init_args: dict[str, object]) -> tuple[str, list[int]] | None:
        """The folds (or sub-protocols) of the protocol ``init_args`` selects, if any.

        ``mtfas folds`` runs one fit per value, passing it as ``--data.init_args.<key>``.

        Args:
            init_args: The data module's arguments from the config (may be partial).

        Returns:
            ``(key, values)``, e.g. ``("fold", [1, 2, 3, 4, 5, 6])``, or None when the
            protocol has no folds (the default).
        """
        return None

    @abc.abstractmethod
    def video_table(self, split: Split) -> pd.DataFrame:
        """One row per video of ``split`` (``train``, ``dev`` or ``test``).

        Columns: at least ``video`` (id, e.g. a path relative to the root without
        extension), ``label`` (``"live"`` / ``"attack"``), ``pai`` (a name from
        :attr:`pai_names`) and ``subject`` (int).
        """

    @abc.abstractmethod
    def frame_store(self) -> FrameStore:
        """The store holding the face crops of every video (built in ``prepare_data``)."""

    def cue_masks(self) -> CueMasks | None:
        """Where the cue masks of the videos are, for the evaluation loaders (None: unknown).

        Benchmarks that know where the attack instrument is in each frame (the synthetic
        ones) override this; the dev and test loaders then carry a batch key
        ``cue_mask``, float32 ``(B, 1, H, W)`` in [0, 1] (1 where the instrument is seen),
        cropped and resized like the images. Training and meta-validation batches never
        carry it: it is for evaluation code only.
        """
        return None

    # ------------------------------------------------------------ splits
    def split_tables(self) -> dict[str, pd.DataFrame]:
        """Validated tables of ``train`` (minus meta-val), ``meta_val``, ``dev`` and ``test``."""
        if self._tables is None:
            tables: dict[str, pd.DataFrame] = {s: self._checked_table(s) for s in SPLITS}
            train, meta_val = self.carve_meta_val(tables["train"])
            tables["train"] = train.reset_index(drop=True)
            tables["meta_val"] = meta_val.reset_index(drop=True)
            self._tables = tables
        return self._tables

    def carve_meta_val(self, train: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
        """Split the training table into (train, meta-validation), subject-disjoint.

        The default draws ``meta_val_fraction`` of the training subjects with ``seed``
        (:func:`carve_meta_val`); a composite of domains overrides it to carve per domain.
        """
        return carve_meta_val(train, self.meta_val_fraction, self.seed)

    def _checked_table(self, split: Split) -> pd.DataFrame:
        table = self.video_table(split)
        name = type(self).__name__
        missing = [c for c in REQUIRED_COLUMNS if c not in table.columns]
        if missing:
            raise DatasetError(f"{name}.video_table({split!r}) lacks the columns {missing}.")
        if table.empty:
            raise EmptySplitError(
                f"{name}: the {split} split holds no videos. Check the dataset root and the "
                "protocol settings."
            )
        bad_label = ~table["label"].isin(list(LABELS))
        bad_pai = ~table["pai"].isin(list(self.pai_names))
        inconsistent = (table["pai"] == self.pai_names[0]) != (table["label"] == "live")
        if bad_label.any() or bad_pai.any() or inconsistent.any():
            row = table[bad_label | bad_pai | inconsistent].iloc[0]
            raise DatasetError(
                f"{name}: video {row['video']!r} of the {split} split has label "
                f"{row['label']!r} and species {row['pai']!r}; labels must be 'live'/'attack', "
                f"species one of {self.pai_names}, and only live videos have species "
                f"{self.pai_names[0]!r}."
            )
        return table.reset_index(drop=True)

    # ------------------------------------------------------------ Lightning hooks
    def setup(self, stage: str | None = None) -> None:  # noqa: D102
        if stage in ("fit", None):
            # A new fit starts at pass 0 (Lightning restores a resumed fit's positions from
            # the checkpoint after setup, through load_state_dict).
            for position in self.loader_positions.values():
                position.reset()
        tables = self.split_tables()
        store = self.frame_store()
        train_tf = train_transform(self.image_size, self.augment)
        eval_tf = eval_transform(self.image_size)
        masks = self.cue_masks()
        self.datasets = {
            "train": FrameDataset(
                tables["train"],
                store,
                self.pai_names,
                train_tf,
                self.max_frames_per_video,
                uint8=self.uint8_batches,
            ),
            "dev": FrameDataset(
                tables["dev"],
                store,
                self.pai_names,
                eval_tf,
                uint8=self.uint8_batches,
                cue_masks=masks,
            ),
            "test": FrameDataset(
                tables["test"],
                store,
                self.pai_names,
                eval_tf,
                uint8=self.uint8_batches,
                cue_masks=masks,
            ),
        }
        if len(tables["meta_val"]):
            self.datasets["meta_val"] = FrameDataset(
                tables["meta_val"],
                store,
                self.pai_names,
                train_tf,
                self.max_frames_per_video,
                uint8=self.uint8_batches,
            )
        for split, dataset in self.datasets.items():
            if len(dataset) == 0:
                raise EmptySplitError(
                    f"{type(self).__name__}: the {split} split has videos but no stored "
                    "frames; check the preprocessing summary for skipped frames."
                )

    def order_seed(self) -> int:
        """Seed of the training order and augmentation draws (see ``shuffle_seed``)."""
        if self.shuffle_seed is not None:
            return int(self.shuffle_seed)
        global_seed = os.environ.get("PL_GLOBAL_SEED")
        return int(global_seed) if global_seed is not None else torch.initial_seed()

    def _loader(
        self, split: str, batch_size: int, train: bool, stream: int = 0
    ) -> DataLoader[dict[str, Any]]:
        # Under DDP each process gets len / world_size samples: drop the last partial batch
        # only if a full one remains, or the loader would be empty (and cycling it hang).
        world = self.trainer.world_size if self.trainer is not None else 1
        per_process = len(self.datasets[split]) // world
        if per_process == 0:
            raise EmptySplitError(
                f"{type(self).__name__}: the {split} split has {len(self.datasets[split])} "
                f"frames, fewer than the {world} processes; use more data or fewer processes."
            )
        seed = self.order_seed()
        common: dict[str, Any] = dict(
            batch_size=batch_size,
            num_workers=self.num_workers,
            persistent_workers=self.num_workers > 0,
            collate_fn=collate_frames,
            generator=loader_generator(seed),
        )
        if not train:
            return DataLoader(self.datasets[split], shuffle=False, **common)
        dataset = SeededItems(self.datasets[split])
        return ResumableLoader(
            dataset,
            position=self.loader_positions[split],
            sampler=SeededShuffle(len(dataset), seed, stream),
            drop_last=per_process > batch_size,
            **common,
        )

    # ------------------------------------------------------------ checkpoints
    def state_dict(self) -> dict[str, dict[str, int]]:
        """The training loaders' positions (pass, consumed batches), for a resume."""
        return {f"{name}_loader": pos.state_dict() for name, pos in self.loader_positions.items()}

    def load_state_dict(self, state_dict: dict[str, dict[str, int]]) -> None:
        """Continue the training loaders where the checkpoint's run left them."""
        for name, position in self.loader_positions.items():
            if f"{name}_loader" in state_dict:
                position.load_state_dict(state_dict[f"{name}_loader"])

    def _training_epoch_over(self) -> bool:
        trainer = self.trainer
        if trainer is None:
            return False
        loop = trainer.fit_loop.epoch_loop
        return bool(loop.batch_progress.is_last_batch or loop._num_ready_batches_reached())

    def train_dataloader(self) -> dict[str, DataLoader[dict[str, Any]]]:  # noqa: D102
        loaders = {"train": self._loader("train", self.batch_size, True, TRAIN_STREAM)}
        if "meta_val" in self.datasets:
            loaders["meta_val"] = self._loader(
                "meta_val", self.meta_val_batch_size, True, META_VAL_STREAM
            )
        return loaders

    def val_dataloader(self) -> DataLoader[dict[str, Any]]:  # noqa: D102
        return self._loader("dev", self.eval_batch_size, train=False)

    def test_dataloader(self) -> list[DataLoader[dict[str, Any]]]:  # noqa: D102
        return [
            self._loader("dev", self.eval_batch_size, train=False),
            self._loader("test", self.eval_batch_size, train=False),
        ]

    def predict_dataloader(self) -> DataLoader[dict[str, Any]]:  # noqa: D102

        return self._loader("test", self.eval_batch_size, train=False)
