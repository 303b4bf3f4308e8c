"""Partial attacks with known cue masks: a benchmark where handcrafted supervision is wrong.

:class:`SyntheticPartialDataModule` reads the synthetic release of
:mod:`mtfas.synthetic.layouts.partial` (generated at ``root`` on first use): OULU-NPU-like
videos with eye-position files, where the test split holds partial attacks (cut prints,
paper glasses, a mouth patch) of an unseen printer and an unseen face region. Faces are
cropped from the eye positions like OULU-NPU, and the *cue mask* videos beside the release
(``CueMasks/``) are cropped with the same boxes into the same crop cache, so that the dev
and test batches carry ``cue_mask`` (``(B, 1, H, W)`` float32 in [0, 1], 1 where the attack
instrument is seen), aligned pixel for pixel with ``image``. Training and meta-validation
batches never carry it.

>>> dm = SyntheticPartialDataModule(users_per_split=[4, 2, 2])  # doctest: +SKIP
>>> dm.prepare_data(); dm.setup("test")  # doctest: +SKIP
>>> next(iter(dm.test_dataloader()[1]))["cue_mask"].shape  # doctest: +SKIP
torch.Size([32, 1, 64, 64])
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mtfas.datamodules.base import Split
from mtfas.datamodules.dataset import CueMasks, FrameStore
from mtfas.datamodules.generated import GeneratedReleaseDataModule
from mtfas.datamodules.oulu_npu import protocol_table
from mtfas.preprocessing import EyePositionFile, Mirrored, VideoJob
from mtfas.protocols.oulu_npu import SPLIT_FOLDERS
from mtfas.synthetic.conditions import ALL_PAI_NAMES
from mtfas.synthetic.layouts.partial import (
    CUE_MASK_FOLDER,
    DEFAULT_SPECIES,
    LAYOUT,
    PROTOCOL_FOLDER,
    PartialName,
    check_species,
    cue_mask_video,
    protocol_path,
)


class CueMaskCrops:
    """The cropped cue masks of a video, read from the crop cache (picklable).

    Args:
        store: The frame store of the crop cache holding the ``CueMasks/`` videos.
    """

    def __init__(self, store: FrameStore) -> None:
        self.store = store

    def __call__(self, video: str) -> np.ndarray:
        """The crops of the cue-mask video of ``video``, ``(N, S, S, 3)`` uint8."""
        return self.store.frames(cue_mask_video(video))


class SyntheticPartialDataModule(GeneratedReleaseDataModule):
    """The synthetic partial-attack benchmark, generated at ``root`` on first use.

    Species ids are those of the generator (:data:`mtfas.synthetic.conditions.ALL_PAI_NAMES`),
    so every release shares one ``pai_names`` whatever species its splits hold (species
    absent from a split are left out of its APCER).

    Args:
        root: Folder of the release. Default: ``<cache base>/synthetic/oulu-npu-partial-<hash
            of the release settings>``.
        phones: Phones (synthetic capture devices) 1-6.
        sessions: Sessions (lightings) 1-3.
        users_per_split: Users in train, dev and test.
        train_species: Species of the training split (``"live"`` and attacks).
        dev_species: Species of the dev split; None: those of training.
        test_species: Species of the test split.
        video_frames: Frames per rendered video.
        video_size: Side of the rendered frames.
        data_seed: Seed of the generator.
        generate_workers: Rendering processes (0: this process).
        cue_masks: Give the dev and test batches their ``cue_mask`` (crops the mask videos
            too, in the same cache).
        crop_size: Side of the cached face crops.
        n_frames: Frames sampled per video (evenly spaced).
        image_size: Network input side.
        **kwargs: Other :class:`~mtfas.datamodules.VideoDataModule` arguments.
    """

    benchmark = "oulu-npu-partial"
    title = "synthetic partial attacks"
    required_entries = ("Train_files", "Dev_files", "Test_files", PROTOCOL_FOLDER)
    layout = "see mtfas.synthetic.layouts.partial (written by write_partial)"
    video_extensions = (".avi",)
    pai_names = ALL_PAI_NAMES
    release_layout = LAYOUT
    release_title = "synthetic partial-attack"

    def __init__(
        self,
        root: str | Path | None = None,
        phones: Sequence[int] = (1, 2),
        sessions: Sequence[int] = (1, 2, 3),
        users_per_split: Sequence[int] = (8, 4, 6),
        train_species: Sequence[str] = DEFAULT_SPECIES["train"],
        dev_species: Sequence[str] | None = None,
        test_species: Sequence[str] = DEFAULT_SPECIES["test"],
        video_frames: int = 4,
        video_size: int = 128,
        data_seed: int = 0,
        generate_workers: int = 0,
        cue_masks: bool = True,
        crop_size: int = 64,
        n_frames: int = 4,
        image_size: int = 64,
        **kwargs: Any,
    ) -> None:
        species: Mapping[str, Sequence[str]] = {
            "train": list(train_species),
            "dev": list(train_species if dev_species is None else dev_species),
            "test": list(test_species),
        }
        self.release_args = self.oulu_release_args(
            phones,
            sessions,
            users_per_split,
            video_frames,
            video_size,
            data_seed,
            species=check_species(species),
        )
        self.generate_workers = generate_workers
        self.with_cue_masks = bool(cue_masks)
        self._boxes = EyePositionFile()
        super().__init__(
            self.default_root(self.release_args) if root is None else root,
            crop_size=crop_size,
            n_frames=n_frames,
            image_size=image_size,
            **kwargs,
        )

    # ------------------------------------------------------------ benchmark hooks
    def cache_tag(self) -> str:
        """``partial-eyes0``: boxes from the eye positions (frames numbered from 0)."""
        return "partial-eyes0"

    def box_source(self, video: str) -> EyePositionFile:
        """The eye positions of the sibling ``.txt``."""
        return self._boxes

    def video_table(self, split: Split) -> pd.DataFrame:
        """The videos of ``split`` from its protocol file; no video is decoded.

        Columns: ``video`` (e.g. ``Test_files/1_1_36_08``), ``label``, ``pai``,
        ``subject`` (user), ``phone``, ``session``, ``file``.

        Raises:
            DatasetNotFoundError: If the release is missing.
            ProtocolError: If the protocol file is missing or malformed.
            MissingVideoError: If a listed video is not on disk.
        """

        def build() -> pd.DataFrame:
            path = self.root / protocol_path(split)
            table = protocol_table(path, SPLIT_FOLDERS[split], PartialName.parse)
            self.check_videos_exist(table, str(path))
            return table

        return self.memoized_split(split, build)

    def jobs(self) -> list[VideoJob]:
        """The videos' jobs, then (with ``cue_masks``) one per cue-mask video.

        A mask video is cropped with the boxes of its video (the same eye-position file),
        so its crops align with the video's.
        """
        jobs = super().jobs()
        if not self.with_cue_masks:
            return jobs
        masks = EyePositionFile(Mirrored(self.root / CUE_MASK_FOLDER, self.root, ".txt"))
        extra = []
        for job in jobs:
            path = self.root / CUE_MASK_FOLDER / job.path.relative_to(self.root)
            extra.append(VideoJob(cue_mask_video(job.video), path, masks))
        return jobs + extra

    def cue_masks(self) -> CueMasks | None:
        """The cropped cue masks of a video (``cue_masks=True``), else None."""
        return CueMaskCrops(self.frame_store()) if self.with_cue_masks else None
