"""OULU-NPU made of synthetic faces: generated on first use, then read like a real copy.

:class:`SyntheticOULUNPUDataModule` is :class:`~mtfas.datamodules.OULUNPUDataModule`
whose ``prepare_data`` first writes a small synthetic release in OULU-NPU's exact layout
(:func:`mtfas.synthetic.layouts.write_oulu_npu`) at ``root`` when it is not there yet,
then preprocesses it like any copy (eye-position files, crop cache). It runs the whole
real-data path (videos on disk, protocol files, preprocessing, cache) without the licensed
dataset, which makes it the project demo.
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from mtfas.datamodules.generated import GeneratedReleaseDataModule
from mtfas.datamodules.oulu_npu import OULUNPUDataModule
from mtfas.synthetic.layouts.oulu_npu import LAYOUT


class SyntheticOULUNPUDataModule(GeneratedReleaseDataModule, OULUNPUDataModule):
    """A synthetic OULU-NPU release, generated at ``root`` on first use.

    Args:
        root: Folder of the release. Default: ``<cache base>/synthetic/oulu-npu-<hash of
            the release settings>`` (cache base as in :mod:`mtfas.datamodules.video`), so
            other settings give another folder.
        protocol: OULU-NPU protocol 1-4.
        fold: Fold 1-6 of protocols 3 and 4; with fewer phones only the folds of the
            included phones exist.
        phones: Phones (synthetic capture devices) 1-6 to film with.
        sessions: Sessions (lightings) 1-3. Protocols 1 and 4 test on session 3.
        users_per_split: Users in train, dev and test (the first of each official range).
        video_frames: Frames per rendered video.
        video_size: Side of the rendered frames.
        data_seed: Seed of the generator.
        generate_workers: Rendering processes (0: this process).
        crop_size: Side of the cached face crops.
        n_frames: Frames sampled per video (evenly spaced).
        image_size: Network input side.
        **kwargs: Other :class:`~mtfas.datamodules.OULUNPUDataModule` arguments.
    """

    release_layout = LAYOUT
    release_title = "synthetic OULU-NPU"

    def __init__(
        self,
        root: str | Path | None = None,
        protocol: int | str = 1,
        fold: int | None = None,
        phones: Sequence[int] = (1, 2),
        sessions: Sequence[int] = (1, 2, 3),
        users_per_split: Sequence[int] = (8, 4, 4),
        video_frames: int = 4,
        video_size: int = 128,
        data_seed: int = 0,
        generate_workers: int = 0,
        crop_size: int = 64,
        n_frames: int = 4,
        image_size: int = 64,
        **kwargs: Any,
    ) -> None:
        self.release_args = self.oulu_release_args(
            phones, sessions, users_per_split, video_frames, video_size, data_seed
        )
        self.generate_workers = generate_workers
        super().__init__(
            self.default_root(self.release_args) if root is None else root,
            protocol=protocol,
            fold=fold,
            crop_size=crop_size,
            n_frames=n_frames,
            image_size=image_size,
            **kwargs,
        )

    @classmethod
    def fold_plan(cls, init_args: dict[str, object]) -> tuple[str, list[int]] | None:
        """Protocols 3 and 4: one fold per phone of the release (fold k holds out phone k)."""
        plan = super().fold_plan(init_args)
        if plan is None:
            return None
        phones: Any = init_args.get("phones") or inspect.signature(cls).parameters["phones"].default
        return plan[0], sorted(int(p) for p in phones)
